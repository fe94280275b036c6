"""An alert becomes a case, joins an open one, or is discarded: one command each."""

from __future__ import annotations

from pathlib import Path

import pytest

from csirt import alertas
from csirt.casos import change_status, load_incident
from csirt.records import ALERT, INCIDENT, OBSERVABLE, TIMELINE, command
from pukara.store import SQLiteStore

DATA = Path(__file__).parent.parent / "data" / "csirt"
NOW = "2026-12-01T16:00:00.000Z"


def _alerts(store: SQLiteStore) -> dict[str, dict[str, object]]:
    return {str(a["source_ref"]): a for a in store.scan(ALERT)}


def test_promote_opens_a_case_with_the_alerts_observables(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db", actor="ana") as store:
        alertas.import_sources(store, [DATA / "thehive_alertas.json"])
        alert = _alerts(store)["SIRP-2026-11-0042"]
        with command(store) as cmd:
            _, case = alertas.promote(cmd, str(alert["id"]).lower(),
                                      rsit_class="fraud", rsit_type="phishing")  # fmt: skip
        assert case["number"].startswith("INC-")
        stored = store.get(INCIDENT, (case["id"],))
        assert stored is not None
        assert stored["alerts"] == [alert["id"]]
        assert (stored["title"], stored["severity"], stored["tlp"]) == (
            alert["title"], 3, "AMBER"
        )  # fmt: skip
        assert stored["detected_at"] == "2026-12-01T09:20:00.000000Z"
        assert stored["template"]  # the phishing task template was applied
        observables = list(store.scan(OBSERVABLE, where={"incident_id": case["id"]}))
        assert {(o["type"], o["value"]) for o in observables} == {
            (o["type"], o["value"])
            for o in alert["observables"]  # type: ignore[attr-defined]
        }
        assert all(o["sighted"] for o in observables)
        after = store.get(ALERT, (alert["source"], alert["source_ref"]))
        assert after is not None
        assert (after["status"], after["incident_id"]) == ("promovida", case["id"])
        changes = [c for c in store.changes() if c.request_id == cmd.request_id]
        assert {c.collection for c in changes} >= {INCIDENT, ALERT, OBSERVABLE, TIMELINE}
        assert {c.actor for c in changes} == {"ana"}
        rows = alertas.listing(store, status="promovida")
        assert [r["incident_number"] for r in rows] == [case["number"]]
        with pytest.raises(alertas.AlertState, match="ya está promovida"), command(store) as cmd:
            alertas.promote(cmd, str(alert["id"]))
        assert len(list(store.scan(INCIDENT))) == 1  # the refused command wrote nothing


def test_merge_adds_observables_and_a_timeline_entry_to_an_open_case(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        alertas.import_sources(store, [DATA / "thehive_alertas.json", DATA / "misp_evento.json"])
        first, second = (
            _alerts(store)["SIRP-2026-11-0042"],
            _alerts(store)["5f0c7a1e-2b3c-4d5e-8f90-a1b2c3d4e5f6"],
        )
        with command(store) as cmd:
            _, case = alertas.promote(cmd, str(first["id"]))
        with command(store) as cmd:
            merged, after = alertas.merge(cmd, str(second["id"]), case["number"])
        assert merged["status"] == "unida"
        assert after["alerts"] == [first["id"], second["id"]]
        entries = [e for e in store.scan(TIMELINE, (case["id"],)) if e["kind"] == "alerta"]
        assert len(entries) == 1
        assert entries[0]["raw_ref"] == second["id"]
        assert entries[0]["ts"] == second["first_seen"]
        values = {o["value"] for o in store.scan(OBSERVABLE, where={"incident_id": case["id"]})}
        assert {"mrree-gob.test", "203.0.113.9"} <= values
        # a closed (discarded) case takes no alert
        third = _alerts(store)["SIRP-2026-11-0043"]
        with command(store) as cmd:
            change_status(cmd, load_incident(cmd, case["number"]), "descartado",
                          reason="duplicado", disposition="duplicate")  # fmt: skip
        with pytest.raises(alertas.AlertState, match="casos abiertos") as e, command(store) as cmd:
            alertas.merge(cmd, str(third["id"]), case["number"])
        assert "reábralo" not in e.value.message and "no se reabre" in e.value.message
        assert _alerts(store)["SIRP-2026-11-0043"]["status"] == "nueva"


def _red_alert(store: SQLiteStore, ref: str) -> dict[str, object]:
    alertas.ingest(store, [alertas.by_hand(
        title="Aviso del socio (RED)", severity="2", tlp="RED", source_ref=ref,
        observables=["ipv4:203.0.113.66"],
    )])  # fmt: skip
    return _alerts(store)[ref]


def test_a_red_alert_merged_into_a_green_case_keeps_its_tlp(tmp_path: Path) -> None:
    from csirt import exportar
    from csirt.casos import open_incident

    with SQLiteStore(tmp_path / "r.db", actor="ana") as store:
        with command(store) as cmd:
            case = open_incident(cmd, title="Caso verde", severity=2, tlp="GREEN")
        alert = _red_alert(store, "x1")
        with command(store) as cmd:
            alertas.merge(cmd, str(alert["id"]), case["number"])
        (obs,) = store.scan(OBSERVABLE, where={"incident_id": case["id"]})
        assert obs["tlp"] == "RED"
        (entry,) = [e for e in store.scan(TIMELINE, (case["id"],)) if e["kind"] == "alerta"]
        assert entry["fields"]["tlp"] == "RED"
        for fmt in ("stix", "misp"):
            done = exportar.export(store, case["number"], fmt, "comunidad", now=NOW)
            assert "203.0.113.66" not in done.text and "Aviso" not in done.text
            assert {h.kind for h in done.held} >= {"observable", "linea"}
            named = exportar.export(store, case["number"], fmt, "nombres", now=NOW)
            assert "203.0.113.66" in named.text


def test_promoting_with_a_lower_tlp_keeps_the_alerts_on_its_observables(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "r.db", actor="ana") as store:
        alert = _red_alert(store, "x2")
        with command(store) as cmd:
            _, case = alertas.promote(cmd, str(alert["id"]), tlp="GREEN", title="Caso verde")
        assert store.get(INCIDENT, (case["id"],))["tlp"] == "GREEN"  # type: ignore[index]
        (obs,) = store.scan(OBSERVABLE, where={"incident_id": case["id"]})
        assert obs["tlp"] == "RED"


def test_promote_takes_the_class_from_the_type(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        alertas.import_sources(store, [DATA / "thehive_alertas.json"])
        alert = _alerts(store)["SIRP-2026-11-0042"]
        with command(store) as cmd:
            _, case = alertas.promote(cmd, str(alert["id"]), rsit_type="brute-force")
        assert (case["rsit_class"], case["rsit_type"]) == ("intrusion-attempts", "brute-force")


def test_a_closed_case_is_offered_to_be_reopened(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        alertas.import_sources(store, [DATA / "thehive_alertas.json"])
        first, other = _alerts(store)["SIRP-2026-11-0042"], _alerts(store)["SIRP-2026-11-0043"]
        with command(store) as cmd:
            _, case = alertas.promote(cmd, str(first["id"]))
        with command(store) as cmd:
            cmd.put(INCIDENT, load_incident(cmd, case["number"]) | {"status": "cerrado"})
        with pytest.raises(alertas.AlertState, match="reábralo antes"), command(store) as cmd:
            alertas.merge(cmd, str(other["id"]), case["number"])
