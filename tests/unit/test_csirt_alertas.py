"""Alert intake: files (generic, TheHive, MISP), monitoreo's notices, dedup and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from csirt import alertas
from csirt.alertas_fuentes import AlertFileError
from csirt.records import ALERT
from monitoreo.states import Notice
from monitoreo.watch import notice_event
from pukara.errors import UsageError
from pukara.store import SQLiteStore

DATA = Path(__file__).parent.parent / "data" / "csirt"


def stored(store: SQLiteStore) -> dict[str, dict[str, Any]]:
    return {a["source_ref"]: a for a in store.scan(ALERT)}


def test_a_repeat_raises_count_and_last_seen_and_a_second_import_changes_nothing(
    tmp_path: Path,
) -> None:
    with SQLiteStore(tmp_path / "p.db", actor="ana") as store:
        first = alertas.import_sources(store, [DATA / "alertas.jsonl"])
        assert (first.inserted, first.counted, first.unchanged) == (2, 1, 0)
        scan = stored(store)["ids-0001"]
        assert (scan["count"], scan["severity"], scan["tlp"]) == (2, 3, "GREEN")
        assert scan["first_seen"] == "2026-11-30T10:00:00.000000Z"
        assert scan["last_seen"] == "2026-11-30T11:00:00.000000Z"
        again = alertas.import_sources(store, [DATA / "alertas.jsonl"])
        assert (again.inserted, again.counted, again.unchanged) == (0, 0, 3)
        assert stored(store)["ids-0001"]["count"] == 2
        assert len(stored(store)) == 2
        # one change-log entry per batch, signed, with the command's request id
        changes = list(store.changes(collection=ALERT))
        assert [c.request_id for c in changes] == [first.request_id, again.request_id]
        assert {c.actor for c in changes} == {"ana"}
        assert store.verify_changes().ok
        events = list(store.search_events(dataset="csirt.alerta"))
        assert [e["csirt"]["batch"]["inserted"] for e in events] == [2, 0]


def test_titles_that_look_like_commands_or_markup_are_kept_as_data(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        alertas.import_sources(store, [DATA / "alertas.jsonl"])
        alert = stored(store)["ids-0002"]
    assert alert["title"] == (
        "Inyección en formulario: $(reboot); rm -rf / <script>alert(1)</script>"
    )
    assert alert["first_seen"] == "2026-11-30T15:05:00.000000Z"  # -05:00 in the file
    assert {"type": "url", "value": "http://intranet.test/buscar?q=<script>"} in alert[
        "observables"
    ]


def test_thehive_alerts_map_tlp_pap_and_artifacts(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        report = alertas.import_sources(store, [DATA / "thehive_alertas.json"])
        assert report.inserted == 2
        a, b = stored(store)["SIRP-2026-11-0042"], stored(store)["SIRP-2026-11-0043"]
    assert a["source"] == "external:sirp-cancilleria"
    assert (a["severity"], a["tlp"], a["pap"]) == (3, "AMBER", "AMBER")
    assert (b["severity"], b["tlp"], b["pap"]) == (4, "AMBER+STRICT", "RED")
    assert a["first_seen"] == "2026-12-01T09:20:00.000000Z"
    assert a["observables"] == [
        {"type": "email", "value": "notificaciones@sunat-pe.test"},
        {"type": "url", "value": "https://portal.sunat-pe.test/declaracion?id=88"},
        {"type": "domain", "value": "sunat-pe.test"},
        {"type": "ipv4", "value": "198.51.100.23"},
    ]  # the user-agent stays in raw only
    assert {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"} in b["observables"]
    assert {"type": "ipv6", "value": "2001:db8::1f"} in b["observables"]
    assert b["raw"]["artifacts"][1]["data"].startswith("E3B0C442")


def test_a_misp_event_is_one_alert_with_its_attributes_and_tags(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        alertas.import_sources(store, [DATA / "misp_evento.json"])
        (alert,) = store.scan(ALERT)
    assert (alert["source"], alert["source_ref"]) == (
        "misp", "5f0c7a1e-2b3c-4d5e-8f90-a1b2c3d4e5f6"
    )  # fmt: skip
    assert (alert["severity"], alert["tlp"], alert["pap"]) == (3, "AMBER+STRICT", "GREEN")
    assert alert["first_seen"] == "2026-11-28T09:00:00.000000Z"
    assert [o["type"] for o in alert["observables"]] == [
        "domain", "ipv4", "email", "filename", "sha256"
    ]  # fmt: skip


def test_a_misp_event_keeps_its_strictest_tlp_and_each_attributes(tmp_path: Path) -> None:
    from csirt.casos import open_incident
    from csirt.records import OBSERVABLE, command

    event = {"Event": {
        "uuid": "5f0c3a4e-1111-4222-8333-944455556666", "info": "Campaña compartida",
        "threat_level_id": "2", "date": "2026-11-30",
        "Tag": [{"name": "tlp:red"}, {"name": "tlp:green"}, {"name": "PAP:RED"},
                {"name": "PAP:GREEN"}],
        "Attribute": [{"type": "ip-dst", "value": "203.0.113.99"}],
    }}  # fmt: skip
    mixed = {"Event": {
        "uuid": "5f0c3a4e-1111-4222-8333-944455556667", "info": "Evento verde",
        "threat_level_id": "2", "date": "2026-11-30", "Tag": [{"name": "tlp:green"}],
        "Attribute": [
            {"type": "ip-dst", "value": "203.0.113.98", "Tag": [{"name": "tlp:red"}]},
            {"type": "domain", "value": "shared.test", "Tag": [{"name": "tlp:clear"}]},
            {"type": "domain", "value": "plain.test"},
        ],
        "Object": [{"Attribute": [{"type": "url", "value": "http://obj.test/",
                                   "Tag": [{"name": "tlp:amber+strict"}]}]}],
    }}  # fmt: skip
    with SQLiteStore(tmp_path / "p.db", actor="ana") as store:
        alertas.import_sources(store, [_write(tmp_path / "m.json", [event, mixed])])
        alerts = stored(store)
        red, green = alerts[event["Event"]["uuid"]], alerts[mixed["Event"]["uuid"]]
        assert (red["tlp"], red["pap"]) == ("RED", "RED")
        assert red["observables"] == [{"type": "ipv4", "value": "203.0.113.99"}]
        assert green["tlp"] == "GREEN"
        assert {o["value"]: o.get("tlp") for o in green["observables"]} == {
            "203.0.113.98": "RED", "shared.test": None, "plain.test": None,
            "http://obj.test/": "AMBER+STRICT",
        }  # fmt: skip
        with command(store) as cmd:
            case = open_incident(cmd, title="Caso verde", severity=2, tlp="GREEN")
        with command(store) as cmd:
            alertas.merge(cmd, str(green["id"]), case["number"])
        tlps = {o["value"]: o["tlp"] for o in store.scan(OBSERVABLE)}
        assert tlps == {"203.0.113.98": "RED", "shared.test": "GREEN", "plain.test": "GREEN",
                        "http://obj.test/": "AMBER+STRICT"}  # fmt: skip


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


GOOD = {"source": "ids", "source_ref": "r1", "title": "t", "severity": 2}


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"observables": ["ipv4:999.1.1.1"]}, "999.1.1.1"),
        ({"observables": ["domain:evil..com"]}, "evil..com"),
        ({"observables": ["sha256:" + "a" * 63]}, "a" * 63),
        ({"severity": "urgente"}, "severidad desconocida"),
        ({"tlp": "NARANJA"}, "NARANJA"),
        ({"source_ref": ""}, "falta source_ref"),
    ],
)
def test_one_bad_alert_refuses_every_file_of_the_import_naming_its_line(
    tmp_path: Path, bad: dict[str, Any], says: str
) -> None:
    good = _write(tmp_path / "buenas.jsonl", [GOOD])
    mixed = _write(tmp_path / "malas.jsonl", [{**GOOD, "source_ref": "r2"},
                                              {**GOOD, "source_ref": "r3", **bad}])  # fmt: skip
    with SQLiteStore(tmp_path / "p.db") as store:
        with pytest.raises(AlertFileError) as e:
            alertas.import_sources(store, [good, mixed])
        assert f"{mixed}:2:" in e.value.message
        assert says in e.value.message
        assert "no se importó nada" in e.value.message
        assert e.value.exit_code == 1
        assert list(store.scan(ALERT)) == []
        assert list(store.changes()) == []


def test_an_array_names_the_alert_by_its_place(tmp_path: Path) -> None:
    path = tmp_path / "lista.json"
    path.write_text(json.dumps([GOOD, {**GOOD, "source_ref": "r2", "tlp": 9}]))
    with SQLiteStore(tmp_path / "p.db") as store, pytest.raises(AlertFileError) as e:
        alertas.import_sources(store, [path])
    assert f"{path}: alerta n.º 2: " in e.value.message


def test_thehive_tlp_outside_its_numbers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "th.json"
    doc = json.loads((DATA / "thehive_alertas.json").read_text())[0]
    path.write_text(json.dumps({**doc, "tlp": 7}))
    with SQLiteStore(tmp_path / "p.db") as store, pytest.raises(AlertFileError, match="TLP"):
        alertas.import_sources(store, [path])


def _notice(kind: str, current: str, at: datetime, muted: str | None = None) -> dict[str, Any]:
    n = Notice("m042", "m042", kind, "up", current, f"m042: activo → {current}", muted)
    return notice_event(n, at)


def test_monitoreo_outages_of_a_site_are_one_alert_that_counts(tmp_path: Path) -> None:
    t = [datetime(2026, 11, 30, h, tzinfo=UTC) for h in (8, 9, 10, 11)]
    with SQLiteStore(tmp_path / "p.db") as store:
        store.write_events([
            _notice("alert", "down", t[0]), _notice("recovery", "up", t[1]),
            _notice("alert", "down", t[2]), _notice("alert", "down", t[3], muted="mantenimiento"),
            _notice("flapping", "down", t[3]),
        ])  # fmt: skip
        report = alertas.import_sources(store, monitoreo=True)
        assert report.read == {"monitoreo": 3} and report.skipped == 2
        by_ref = stored(store)
        assert set(by_ref) == {"m042:alert:down", "m042:flapping"}
        down = by_ref["m042:alert:down"]
        assert (down["count"], down["severity"], down["source"]) == (2, 3, "monitoreo")
        assert down["last_seen"] == "2026-11-30T10:00:00.000000Z"
        again = alertas.import_sources(store, monitoreo=True)
        assert (again.inserted, again.counted) == (0, 0)


def test_by_hand_and_a_prefix_of_the_id(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        doc = alertas.by_hand(title="Llamada de la embajada", severity="crítica",
                              observables=["ip:198.51.100.9", "correo@malo.test"])  # fmt: skip
        alertas.ingest(store, [doc])
        other = alertas.by_hand(title="otra", severity="1")
        alertas.ingest(store, [other])
        found = alertas.find(store, doc["id"][-26:].lower()[:26])
        assert found["observables"] == [{"type": "ipv4", "value": "198.51.100.9"},
                                        {"type": "email", "value": "correo@malo.test"}]  # fmt: skip
        assert found["severity"] == 4
        common = 0
        while doc["id"][common] == other["id"][common]:
            common += 1
        assert alertas.find(store, doc["id"][: common + 1])["id"] == doc["id"]
        with pytest.raises(UsageError, match="dé más caracteres"):
            alertas.find(store, doc["id"][:common])
        with pytest.raises(alertas.AlertNotFound):
            alertas.find(store, "7ZZZZ")
    with pytest.raises(UsageError, match="severidad desconocida"):
        alertas.by_hand(title="x", severity="grave")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"source": "x", "source_ref": "1", "title": "t", "severity": 2}\n{a: 1}\n',
         "2: JSON mal formado (se esperaba una clave entre comillas, en la columna 2)"),
        ('{"source": "x",\n', "1: JSON mal formado (termina antes de cerrar lo abierto"),
        ('[1] x\n', "1: JSON mal formado (sobra texto después del valor"),
    ],
)  # fmt: skip
def test_bad_json_is_told_in_spanish(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "malo.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AlertFileError) as e:
        alertas.read_files([path])
    assert f"{path}:{reason}" in e.value.message
    assert "unexpected" not in e.value.message and "line 1" not in e.value.message


def test_a_missing_file_or_a_folder_is_told_in_spanish_only(tmp_path: Path) -> None:
    with pytest.raises(AlertFileError) as e:
        alertas.read_files([tmp_path / "no.json"])
    assert e.value.message == f"{tmp_path / 'no.json'}: no existe"
    with pytest.raises(AlertFileError) as e:
        alertas.read_files([tmp_path])
    assert e.value.message == f"{tmp_path}: es una carpeta, no un archivo"


def test_a_bad_observable_in_a_file_ends_its_sentence_once(tmp_path: Path) -> None:
    path = tmp_path / "ip.json"
    path.write_text(json.dumps({"source": "x", "source_ref": "1", "title": "t", "severity": 2,
                                "observables": ["ipv4:999.1.1.1"]}), encoding="utf-8")  # fmt: skip
    with pytest.raises(AlertFileError) as e:
        alertas.read_files([path])
    assert ".;" not in e.value.message and "no se importó nada" in e.value.message
