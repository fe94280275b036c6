"""Each timeline entry keeps the TLP its case had when it was written: lowering the case's
TLP later does not let the notes, tasks, evidence or alerts of the stricter time out."""

from __future__ import annotations

from typing import Any

import pytest

from csirt import alertas, casos, evidencia, exportar, linea, tareas
from csirt.records import command
from pukara.config import Settings
from pukara.errors import UsageError
from pukara.store import SQLiteStore


def _case(store: SQLiteStore, tlp: str = "AMBER") -> dict[str, Any]:
    with command(store, "ana") as cmd:
        return casos.open_incident(cmd, title="Caso", severity=2, tlp=tlp)


def _kinds(store: SQLiteStore, doc: dict[str, Any]) -> dict[str, str]:
    return {e["message"]: e["tlp"] for e in linea.entries(store, doc["id"])}


def test_entries_written_under_amber_stay_amber_after_the_case_goes_green(
    settings: Settings, store: SQLiteStore
) -> None:
    doc = _case(store)
    with command(store, "ana") as cmd:
        linea.add_note(cmd, doc, "Llamada del jefe de misión en Madrid")
        task = tareas.add_task(cmd, doc, "Revisar el equipo")
        tareas.update_task(cmd, doc, str(task["n"]), assignee="beto")
        evidencia.add_bytes(cmd, settings, doc, "disco.img", b"datos", kind="disco",
                            host="ws-ana", purpose="peritaje")  # fmt: skip
    with command(store, "ana") as cmd:
        casos.update_incident(cmd, doc, tlp="GREEN")
    with command(store, "ana") as cmd:
        linea.add_note(cmd, casos.load_incident(cmd, doc["number"]), "Nota pública")
    shown = _kinds(store, doc)
    assert shown["Nota pública"] == "GREEN"
    amber = [m for m, t in shown.items() if t == "AMBER"]
    assert "Llamada del jefe de misión en Madrid" in amber
    assert any("→ beto" in m for m in amber)
    assert any("disco.img" in m for m in amber)
    result = exportar.export(store, doc["number"], "misp", "comunidad", now="2026-12-01T12:00:00Z")
    assert "Madrid" not in result.text and "disco.img" not in result.text
    assert "beto" not in result.text
    assert "Nota pública" in result.text
    assert any("Madrid" in h.text() for h in result.held)


def test_a_note_may_be_stricter_than_its_case_never_looser(store: SQLiteStore) -> None:
    doc = _case(store, "GREEN")
    with command(store, "ana") as cmd:
        entry = linea.add_note(cmd, doc, "Dicho en confianza", tlp="amber")
    assert entry["tlp"] == "AMBER"
    with (
        pytest.raises(UsageError, match="menos restringida que su caso"),
        command(store, "ana") as cmd,
    ):
        linea.add_note(cmd, doc, "Para todos", tlp="CLEAR")
    assert "Para todos" not in _kinds(store, doc)
    result = exportar.export(store, doc["number"], "stix", "comunidad", now="2026-12-01T12:00:00Z")
    assert "confianza" not in result.text


def test_the_entry_of_a_merged_alert_keeps_the_alerts_tlp(store: SQLiteStore) -> None:
    doc = _case(store, "GREEN")
    alert = alertas.by_hand(title="Malware en estación", severity="2", tlp="AMBER",
                            source="thehive-sector")  # fmt: skip
    alertas.ingest(store, [alert], alertas.Report())
    found = alertas.listing(store)[0]
    with command(store, "ana") as cmd:
        alertas.merge(cmd, found["id"], doc["number"])
    entry = next(e for e in linea.entries(store, doc["id"]) if e["kind"] == "alerta")
    assert entry["tlp"] == "AMBER"
    result = exportar.export(store, doc["number"], "misp", "comunidad", now="2026-12-01T12:00:00Z")
    assert "Malware" not in result.text
