"""A case's parts: observables (normalised, linked across cases), tasks (numbers, IRIS
statuses, NIST phases, the template applied on open) and the timeline (notes in their own
zone, events pulled from the log store once only)."""

from __future__ import annotations

from typing import Any

import pytest

from csirt import casos, linea, observables_db, tareas
from csirt.records import OBSERVABLE, TIMELINE, command
from pukara.errors import UsageError
from pukara.events import make_event
from pukara.store import SQLiteStore


def _open(store: SQLiteStore, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"title": "Caso", "severity": 2, "rsit_class": "intrusion-attempts",
                            "rsit_type": "brute-force"} | kw  # fmt: skip
    with command(store, "ana") as cmd:
        return casos.open_incident(cmd, **args)


def _add(store: SQLiteStore, doc: dict[str, Any], kind: str, value: str, **kw: Any) -> Any:
    with command(store, "ana") as cmd:
        return casos.add_observable(cmd, doc, kind, value, **kw)


def test_the_same_value_in_another_case_is_a_link(store: SQLiteStore) -> None:
    a, b = _open(store), _open(store)
    first = _add(store, a, "ipv4", "198.18.7.10", ioc=True)
    assert first["also_in"] == [] and first["tlp"] == "AMBER"
    second = _add(store, b, "ipv4", " 198.18.7.10 ", sighted=True)
    assert second["also_in"] == [a["number"]]
    entry = next(e for e in linea.entries(store, b["id"]) if e["kind"] == "observable")
    assert f"también en {a['number']}" in entry["message"]
    found = observables_db.find(store, "198.18.7.10")
    assert [(r["number"], r["ioc"], r["sighted"]) for r in found] == [
        (a["number"], True, False), (b["number"], False, True)]  # fmt: skip
    assert [o["also_in"] for o in observables_db.of_incident(store, a["id"])] == [[b["number"]]]
    # adding it again to a case keeps its flags and changes nothing
    before = len(list(store.changes()))
    again = _add(store, a, "ipv4", "198.18.7.10")
    assert again["ioc"] is True and again["also_in"] == [b["number"]]
    assert len(list(store.changes())) == before
    assert len(list(store.scan(OBSERVABLE))) == 2
    assert _add(store, a, "ipv4", "198.18.7.10", sighted=True)["sighted"] is True
    assert len(list(store.changes())) == before + 2  # the observable and its timeline entry


def test_values_are_normalised_so_two_spellings_are_one(store: SQLiteStore) -> None:
    a, b = _open(store), _open(store)
    _add(store, a, "domain", "EVIL.Example.TEST.")
    assert _add(store, b, "domain", "evil.example.test")["also_in"] == [a["number"]]
    assert [r["value"] for r in observables_db.find(store, "Evil.example.test")] == [
        "evil.example.test", "evil.example.test"]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "value"), [("ipv4", "999.1.1.1"), ("domain", "evil..com"), ("sha256", "a" * 63)]
)
def test_an_invalid_observable_is_refused_and_nothing_written(
    store: SQLiteStore, kind: str, value: str
) -> None:
    doc = _open(store)
    before = len(list(store.changes()))
    with pytest.raises(UsageError, match=value[:10]):
        _add(store, doc, kind, value)
    assert len(list(store.changes())) == before


def test_shell_text_in_an_observable_is_data(store: SQLiteStore) -> None:
    doc = _open(store)
    for value in ("$(reboot)", "; rm -rf /", "<script>alert(1)</script>"):
        assert _add(store, doc, "filename", value)["value"] == value
    assert {o["value"] for o in observables_db.of_incident(store, doc["id"])} == {
        "$(reboot)", "; rm -rf /", "<script>alert(1)</script>"}  # fmt: skip


def test_tasks_have_numbers_statuses_and_phases(store: SQLiteStore) -> None:
    doc = _open(store)
    base = len(tareas.tasks(store, doc["id"]))  # the template's
    with command(store, "ana") as cmd:
        t1 = tareas.add_task(cmd, doc, "Revisar auth.log", phase="analisis",
                             due_at="2026-12-03 18:00", tz="America/Lima")  # fmt: skip
        t2 = tareas.add_task(cmd, doc, "Bloquear origen", phase="contencion")
    assert (t1["n"], t2["n"]) == (base + 1, base + 2)
    assert t1["due_at"] == "2026-12-03T23:00:00.000000Z"
    assert t2["phase"] == "contencion_erradicacion_recuperacion"
    with command(store, "ana") as cmd:
        t3 = tareas.add_task(cmd, doc, "Informe", due_at="2026-12-04", tz="America/Lima")
    assert t3["due_at"] == "2026-12-05T04:59:59.000000Z"  # the end of that day in Lima
    with command(store, "ana") as cmd:
        tareas.update_task(cmd, doc, str(base + 2), status="en espera", assignee="lquispe")
    with command(store, "ana") as cmd:
        tareas.update_task(cmd, doc, t1["id"], status="hecha")
    got = {t["n"]: (t["status"], t["assignee"]) for t in tareas.tasks(store, doc["id"])[base:]}
    assert got == {base + 1: ("hecha", ""), base + 2: ("en_espera", "lquispe"),
                   base + 3: ("pendiente", "")}  # fmt: skip
    with pytest.raises(UsageError, match="no es un estado de tarea"), command(store) as cmd:
        tareas.update_task(cmd, doc, "1", status="terminada")
    with pytest.raises(UsageError, match="no tiene la tarea «77»"), command(store) as cmd:
        tareas.update_task(cmd, doc, "77", status="hecha")
    entries = [e for e in linea.entries(store, doc["id"]) if e["kind"] == "tarea"]
    assert [e["message"] for e in entries][-2:] == [
        f"Tarea {base + 2}: estado: pendiente → en espera; asignado: - → lquispe",
        f"Tarea {base + 1}: estado: pendiente → hecha",
    ]


@pytest.mark.parametrize("severity", [1, 4])
def test_the_template_of_the_type_is_applied_on_open(store: SQLiteStore, severity: int) -> None:
    from datetime import timedelta

    from csirt import plantillas
    from pukara.events import format_timestamp, parse_timestamp

    doc = _open(store, rsit_class="fraud", rsit_type="phishing", severity=severity)
    template = plantillas.for_incident("fraud", "phishing", severity)
    assert template is not None and doc["template"] == template.name
    found = tareas.tasks(store, doc["id"])
    assert [t["title"] for t in found] == [s.title for s in template.tasks]
    assert [t["n"] for t in found] == list(range(1, len(found) + 1))
    assert all(t["status"] == "pendiente" and t["phase"] in tareas.PHASES for t in found)
    opened = parse_timestamp(doc["created_at"])
    assert [t["due_at"] for t in found] == [
        format_timestamp(opened + timedelta(hours=s.due_hours)) if s.due_hours else None
        for s in template.tasks
    ]
    created = linea.entries(store, doc["id"])[0]
    assert created["fields"]["tasks"] == len(found)


def test_a_note_keeps_the_zone_it_was_told_in(store: SQLiteStore) -> None:
    doc = _open(store)
    with command(store, "ana") as cmd:
        linea.add_note(cmd, doc, "El usuario reportó el correo", ts="2026-11-30 09:15",
                       tz="America/Lima")  # fmt: skip
        linea.add_note(cmd, doc, "Llamada de la embajada", ts="2026-11-30T16:00+01:00")
    notes = [e for e in linea.entries(store, doc["id"]) if e["kind"] == "nota"]
    assert [(e["ts"], e["tz"]) for e in notes] == [
        ("2026-11-30T14:15:00.000000Z", "America/Lima"),
        ("2026-11-30T15:00:00.000000Z", "+01:00"),
    ]
    assert linea.shown_time(notes[0]).hour == 9
    with pytest.raises(UsageError, match="no es una zona horaria"), command(store) as cmd:
        linea.add_note(cmd, doc, "x", ts="2026-11-30 09:15", tz="Lima/Peru")


def test_importing_the_same_events_twice_adds_nothing(store: SQLiteStore) -> None:
    doc = _open(store)
    events = [make_event("registros.sshd", message=f"Failed password for root from 198.18.7.{i}",
                         fields={"host.name": "srv-correo", "source.ip": f"198.18.7.{i}"})
              for i in range(3)]  # fmt: skip
    store.write_events(events)
    for expected in ((3, 0), (0, 3)):
        with command(store, "ana") as cmd:
            assert linea.import_hits(cmd, doc, events, query="host.name=srv-correo") == expected
    rows = [e for e in store.scan(TIMELINE, (doc["id"],)) if e["kind"] == "registro"]
    assert sorted(r["raw_ref"] for r in rows) == sorted(e["event"]["id"] for e in events)
    assert {r["source"] for r in rows} == {"registros"}
    assert rows[0]["fields"]["host.name"] == "srv-correo"
