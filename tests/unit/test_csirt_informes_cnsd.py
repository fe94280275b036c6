"""The CNSD draft and the recorded notification, from a real store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from csirt import cnsd, metricas, records
from csirt.records import INCIDENT, TIMELINE
from pukara.errors import UsageError
from pukara.events import format_timestamp
from pukara.store import SQLiteStore
from tests.unit.csirt_informes_case import CREATED, EVIL, write_case


def _field(data: dict[str, object], key: str) -> dict[str, object]:
    fields = data["fields"]
    assert isinstance(fields, list)
    return next(f for f in fields if f["key"] == key)


def test_draft_fills_the_form_from_the_case(store: SQLiteStore) -> None:
    write_case(store)
    data = cnsd.draft(store, "INC-2026-0007", cnsd.load_profile(), now=CREATED + timedelta(days=7))
    keys = [f["key"] for f in data["fields"]]
    assert keys[:5] == ["reporting_entity", "affected_entity", "affected_assets", "occurred_at",
                        "detected_at"]  # fmt: skip
    assert _field(data, "reporting_entity")["text"].startswith(
        "Ministerio de Relaciones Exteriores; RUC: (por completar)")  # fmt: skip
    assert "m017 (Embajada en Argentina)" in _field(data, "affected_entity")["text"]
    assert _field(data, "affected_assets")["text"] == "gw-emb-ar (router, 198.18.17.1)"
    # occurrence and detection come from the case's "creado" entry
    assert _field(data, "occurred_at")["text"] == "3 nov. 2026, 06:05 PET"
    assert _field(data, "detected_at")["value"] == "2026-11-03T13:45:00.000000Z"
    assert _field(data, "people_affected")["value"] == 2
    assert _field(data, "personal_data")["text"] == "Sí: correo, credenciales"
    measures = _field(data, "measures")["value"]
    assert isinstance(measures, list)
    assert any("Bloqueo de dirección IP 203.0.113.9 en gw-emb-ar: retirada" in m for m in measures)
    assert "Fase «Contención» desde el 3 nov. 2026, 09:50 PET." in measures
    assert measures[-1] == "Caso cerrado el 4 nov. 2026, 00:05 PET."
    assert _field(data, "contact")["text"] == "(por completar)"
    assert data["deadline"]["level"] == "notificado"
    assert "dentro del plazo de 24 h (plazo no verificado)" in data["deadline"]["warning"]
    assert data["personal_deadline"]["hours"] == 48
    json.dumps(data)  # all of it JSON-able


def test_text_and_html_say_it_is_a_draft_and_escape(store: SQLiteStore) -> None:
    write_case(store)
    data = cnsd.draft(store, "INC-2026-0007", cnsd.load_profile())
    text = cnsd.text(data)
    assert text.startswith("BORRADOR — Reporte de incidente de seguridad digital al CNSD")
    assert "pukara nunca lo envía" in text and "no verificados" in text
    assert EVIL in text  # plain text keeps the title as it is, for the form
    page = cnsd.html(data)
    assert EVIL not in page and "<script" not in page
    assert "&lt;script&gt;" in page and "pukara nunca lo envía" in page
    assert "href=" not in page and "src=" not in page


@pytest.mark.parametrize(
    ("hours_after_detection", "level", "words"),
    [(5, None, None), (13, "50", "AVISO: transcurrió el 54\u00a0% del plazo"),
     (22, "90", "AVISO: transcurrió el 92\u00a0% del plazo"), (30, "vencido", "PLAZO VENCIDO")],
)  # fmt: skip
def test_deadline_warnings(
    store: SQLiteStore, hours_after_detection: int, level: str | None, words: str | None
) -> None:
    write_case(store, closed=False, notified=False)
    detected = CREATED - timedelta(minutes=20)
    now = detected + timedelta(hours=hours_after_detection)
    clock = cnsd.draft(store, "INC-2026-0007", cnsd.load_profile(), now=now)["deadline"]
    assert clock["level"] == level
    assert clock["summary"] == ("Plazo de notificación al CNSD: 24 h desde la detección; vence "
                                "el 4 nov. 2026, 08:45 PET (plazo no verificado).")  # fmt: skip
    if level is None:
        shown = cnsd.text(cnsd.draft(store, "INC-2026-0007", cnsd.load_profile(), now=now))
        assert clock["warning"] is None and clock["summary"] in " ".join(shown.split())
    if words:
        assert words in clock["warning"] and "(plazo no verificado)" in clock["warning"]
    assert clock["due_at"] == format_timestamp(detected + timedelta(hours=24))


def test_an_edited_profile_changes_entity_fields_and_deadline(
    store: SQLiteStore, tmp_path: Path
) -> None:
    write_case(store, closed=False, notified=False)
    path = tmp_path / "perfil.toml"
    path.write_text(
        'name = "propio"\nverified = true\n[reporting_entity]\nname = "Cancillería"\n'
        'ruc = "20131380951"\n[deadline]\nhours = 2\nverified = true\nstarts = "apertura"\n'
        '[[fields]]\nkey = "reporting_entity"\nlabel = "Quién reporta"\n'
        '[[fields]]\nkey = "sello"\nlabel = "Sello del ministerio"\n'
    )  # fmt: skip
    data = cnsd.draft(store, "INC-2026-0007", cnsd.load_profile(path),
                      now=CREATED + timedelta(hours=1))  # fmt: skip
    assert [(f["label"], f["text"]) for f in data["fields"]] == [
        ("Quién reporta", "Cancillería; RUC: 20131380951"),
        ("Sello del ministerio", "(por completar)")]  # fmt: skip
    assert data["deadline"]["level"] == "50" and "desde la apertura del caso" in (
        data["deadline"]["warning"])  # fmt: skip
    assert "no verificado" not in data["deadline"]["warning"]


@pytest.mark.parametrize(
    ("content", "words"),
    [("name = [", "no es un TOML válido"), ('name = "x"\n', "faltan datos"),
     ('[reporting_entity]\nname = "x"\n[deadline]\nhours = 0\n[[fields]]\nkey = "a"\n'
      'label = "b"\n', r"deadline\.hours \(> 0\)")],
)  # fmt: skip
def test_bad_profiles_are_usage_errors(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(content)
    with pytest.raises(cnsd.ProfileError, match=words):
        cnsd.load_profile(path)
    with pytest.raises(cnsd.ProfileError, match="no se puede leer"):
        cnsd.load_profile(tmp_path / "falta.toml")


def test_notification_is_a_timeline_entry_and_ttn_comes_from_it(store: SQLiteStore) -> None:
    incident = write_case(store, closed=False, notified=False)
    assert metricas.compute(store).rows[0]["ttn_count"] == 0
    at = CREATED + timedelta(hours=3)
    with records.command(store, "luis") as cmd:
        entry = cnsd.record_notification(cmd, "inc-2026-0007", when="2026-11-03T12:05-05:00",
                                         reference="CNSD-2026-118")  # fmt: skip
    stored = store.get(TIMELINE, [incident["id"], entry["id"]])
    assert stored is not None and stored["kind"] == "notificacion_cnsd"
    assert stored["analyst"] == "luis" and stored["raw_ref"] == "CNSD-2026-118"
    assert stored["tz"] == "-05:00" and stored["ts"] == format_timestamp(at)
    doc = store.get(INCIDENT, [incident["id"]])
    assert doc is not None and doc["notified_at"] == format_timestamp(at)
    row = metricas.compute(store).rows[0]
    assert row["ttn_count"] == 1 and row["ttn_median_s"] == 3 * 3600
    events = list(store.search_events(dataset="csirt.cnsd"))
    assert len(events) == 1 and events[0]["csirt"]["cnsd"]["reference"] == "CNSD-2026-118"
    changes = [c for c in store.changes() if c.request_id == cmd.request_id]
    assert sorted(c.collection for c in changes) == [INCIDENT, TIMELINE]


def test_refused_notifications_write_nothing(store: SQLiteStore) -> None:
    write_case(store, closed=False, notified=False)
    before = len(list(store.changes()))
    for when, words in (("2026-11-03T13:00Z", "es anterior a la apertura del caso"),
                        ("2036-11-03T13:00Z", "es posterior a ahora"),
                        ("el martes", "no es una fecha y hora")):  # fmt: skip
        with pytest.raises(UsageError, match=words), records.command(store, "ana") as cmd:
            cnsd.record_notification(cmd, "INC-2026-0007", when=when)
    with records.command(store, "ana") as cmd:
        cnsd.record_notification(cmd, "INC-2026-0007", when=format_timestamp(CREATED))
    for ref, words in (("INC-2026-0007", r"ya consta la notificación al CNSD del 3 nov\. 2026"),
                       ("INC-2026-9999", "no existe el incidente")):  # fmt: skip
        with pytest.raises(UsageError, match=words), records.command(store, "ana") as cmd:
            cnsd.record_notification(cmd, ref)
    assert len(list(store.changes())) == before + 2  # the one accepted: entry and incident


TRIED = (("198.51.100.1", "pendiente"), ("198.51.100.2", "rechazada"),
         ("203.0.113.50", "activa"), ("198.51.100.4", "pendiente_retiro"))  # fmt: skip


def test_measures_are_only_those_taken_and_the_draft_states_the_tlp(store: SQLiteStore) -> None:
    incident = write_case(store)
    with records.command(store, "ana") as cmd:
        cmd.put(records.OBSERVABLE, {
            "type": "ipv4", "value": "203.0.113.50", "incident_id": incident["id"], "ioc": True,
            "sighted": True, "tlp": "RED", "description": "", "created_at": cmd.now,
            "analyst": "ana", "ignore_similarity": False,
        })  # fmt: skip
        for address, status in TRIED:
            taken = status not in ("pendiente", "rechazada")
            cmd.put(records.COUNTERMEASURE, {
                "id": records.new_ulid(), "incident_id": incident["id"], "kind": "bloquear_ip",
                "target": {"host": "gw-emb-ar", "address": address}, "status": status,
                "expires_at": cmd.now, "activated_at": cmd.now if taken else None, "runs": [],
            })  # fmt: skip
    data = cnsd.draft(store, "INC-2026-0007", cnsd.load_profile())
    measures = "\n".join(_field(data, "measures")["value"])  # type: ignore[arg-type]
    assert "198.51.100.1" not in measures and "198.51.100.2" not in measures
    assert "203.0.113.9" in measures and "203.0.113.50" in measures
    assert "198.51.100.4" in measures  # in force until its retirement finishes
    notice = data["tlp_notice"]
    assert notice.startswith("Caso TLP:AMBER+STRICT: solo la organización")
    assert "«Medidas adoptadas» nombra observables hasta TLP:RED" in notice
    assert "203.0.113.50" not in notice
    assert notice in cnsd.text(data).replace("\n", " ")
    assert "Caso TLP:AMBER+STRICT" in cnsd.html(data)
