"""auditoria.propios: checks 33–40 on real store files filled through the product's functions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditoria import propios
from auditoria.modelo import Result, Status
from csirt import casos
from csirt.records import command
from inventario import catalog, files, observations
from inventario.model import ASSETS, SITES
from pukara import results
from pukara.config import Settings
from pukara.store import SQLiteStore
from pukara.store.rollups import Summary
from red import cumplimiento_registro, informe, respaldo
from tests.unit.red_cumplimiento_case import as_backed_up, device, real, small_inventory

SEDES = """code,name,kind,country,city,timezone
lima,Sede central,sede_central,PE,Lima,America/Lima
emb-ar,Embajada en Argentina,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires
emb-cl,Embajada en Chile,embajada,CL,Santiago,America/Santiago
"""
HEAD = "name,kind,site,mgmt_ipv4,os,device_type,credential_profile,status,tags,custodian,serial\n"
GATEWAYS = [
    "gw-emb-ar,router,emb-ar,198.18.0.6,FRRouting,linux,lab,activo,monitoreo,Oficina TI,PKLAB00001",
    "gw-emb-cl,router,emb-cl,198.18.0.10,FRRouting,linux,lab,activo,monitoreo,Oficina TI,PKLAB00002",
]
NOW = datetime.now(UTC).replace(microsecond=0)
STAMP = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
F = Status.FAIL


def _import(store: SQLiteStore, sedes: str, activos: str) -> None:
    for text, name, kind in ((sedes, "sedes.csv", SITES), (activos, "activos.csv", ASSETS)):
        catalog.import_file(store, files.read_csv(text, name, kind), dry_run=False)


def _by_check(out: list[Result]) -> dict[str, Result]:
    assert [r.check_id for r in out] == list(propios.CHECKS)
    assert {r.host for r in out} == {"pukara"}
    return {r.check_id: r for r in out}


def test_an_empty_store_never_passes(store: SQLiteStore, settings: Settings) -> None:
    got = _by_check(propios.run(store, settings, STAMP))
    assert {c: r.status for c, r in got.items()} == {
        **dict.fromkeys(propios.CHECKS, Status.FAIL),
        "rec_csirt_cases": Status.NOT_APPLICABLE,
    }
    assert got["rec_change_log"].message == "la bitácora de cambios está vacía"
    assert "no tiene casos" in got["rec_csirt_cases"].message
    for r in got.values():
        assert r.observed_at == STAMP and r.valid_until > STAMP and r.message


def test_owners_and_the_change_log(store: SQLiteStore, settings: Settings) -> None:
    _import(store, SEDES, HEAD + "\n".join(GATEWAYS) + "\n")
    got = _by_check(propios.run(store, settings, STAMP))
    assert got["rec_asset_owners"].status is Status.PASS
    assert got["rec_change_log"].status is Status.PASS
    assert got["rec_change_log"].evidence["checked"] > 0
    # a server without custodian
    _import(store, SEDES, HEAD + "srv-lima-01,servidor_fisico,lima,198.19.0.11,Linux,,,activo,,,\n")
    got = _by_check(propios.run(store, settings, STAMP))
    assert got["rec_asset_owners"].status is Status.FAIL
    assert got["rec_asset_owners"].evidence["without_owner"] == ["srv-lima-01"]
    # one change rewritten behind the store's back: the chain no longer verifies
    store.close()
    conn = sqlite3.connect(settings.db)
    with conn:
        conn.execute("""UPDATE changes SET after = '{"name":"otro"}' WHERE seq = 2""")
    conn.close()
    again = SQLiteStore(settings.db)
    try:
        got = _by_check(propios.run(again, settings, STAMP))
    finally:
        again.close()
    assert got["rec_change_log"].status is Status.FAIL
    assert got["rec_change_log"].evidence["broken_seq"] is not None


def _seen(target: str, name: str, serial: str) -> results.Result:
    facts = {"name": name, "serial": serial}
    return results.Result(target, results.Status.OK, data={"facts": facts, "credential": "lab"})


def test_reconciliation_compares_discovery_with_the_inventory(
    store: SQLiteStore, settings: Settings
) -> None:
    _import(store, SEDES, HEAD + "\n".join(GATEWAYS) + "\n")
    observations.record(store, "snmp", [_seen("198.18.0.6", "gw-emb-ar", "PKLAB00001")])
    got = _by_check(propios.run(store, settings, STAMP))["rec_inventory_reconciled"]
    assert got.status is Status.FAIL  # gw-emb-cl was never discovered
    assert got.evidence["not_discovered"] == ["gw-emb-cl"]
    observations.record(store, "snmp", [_seen("198.18.0.10", "gw-emb-cl", "PKLAB00002")])
    got = _by_check(propios.run(store, settings, STAMP))["rec_inventory_reconciled"]
    assert got.status is Status.PASS, got.message
    # a serial that is not the declared one, and a device the inventory lacks
    observations.record(store, "snmp", [_seen("198.18.0.10", "gw-emb-cl", "OTRA0000009"),
                                        _seen("198.18.0.14", "gw-x", "PKLAB00003")])  # fmt: skip
    got = _by_check(propios.run(store, settings, STAMP))["rec_inventory_reconciled"]
    assert got.status is Status.FAIL
    states = {(d["field"], d["state"]) for d in got.evidence["differences"]}
    assert ("serial", observations.DIFFER) in states
    assert ("name", observations.UNKNOWN_DEVICE) in states


def _rounds(store: SQLiteStore, entity: str, hours: int = 3) -> None:
    start = int((NOW - timedelta(hours=hours)).timestamp() * 1e6)
    step = 60_000_000
    store.write_summaries(
        Summary(entity, start + i * step, step, 1, 5, 5, rtt_median_us=20_000)
        for i in range(hours * 60)
    )
    store.build_rollups(NOW)


def test_monitoring_rollups_and_availability(store: SQLiteStore, settings: Settings) -> None:
    _import(store, SEDES, HEAD + "\n".join(GATEWAYS) + "\n")
    _rounds(store, "emb-ar")
    got = _by_check(propios.run(store, settings, STAMP))
    for check in ("rec_monitoring_capacity", "rec_availability"):
        assert got[check].status is Status.FAIL, check  # emb-cl has nothing
        assert "emb-cl" in got[check].message
    _rounds(store, "emb-cl")
    got = _by_check(propios.run(store, settings, STAMP))
    assert got["rec_monitoring_capacity"].status is Status.PASS, got["rec_monitoring_capacity"]
    assert got["rec_availability"].status is Status.PASS
    site = got["rec_availability"].evidence["sites"]["emb-ar"]
    assert site["availability_pct"] == pytest.approx(100.0)
    assert got["rec_monitoring_capacity"].evidence["sites"]["emb-cl"]["buckets"] >= 2


def _backup(name: str, site: str, status: str = "ok") -> dict[str, object]:
    done = respaldo.DeviceBackup(name, site, f"{site}/{name}.cfg", status,
                                 "sin ruta" if status == "error" else None)  # fmt: skip
    return respaldo._event(done, "abc123" if status == "changed" else None)


def test_backups_within_the_window(store: SQLiteStore, settings: Settings) -> None:
    _import(store, SEDES, HEAD + "\n".join(GATEWAYS) + "\n")
    store.write_events([_backup("gw-emb-ar", "emb-ar", "changed"),
                        _backup("gw-emb-cl", "emb-cl", "error")])  # fmt: skip
    got = _by_check(propios.run(store, settings, STAMP))["rec_config_backups"]
    assert got.status is Status.FAIL
    assert got.evidence["devices"]["gw-emb-cl"] is None
    store.write_events([_backup("gw-emb-cl", "emb-cl")])
    got = _by_check(propios.run(store, settings, STAMP))["rec_config_backups"]
    assert got.status is Status.PASS
    # observed 8 days later, both are out of the window
    later = (NOW + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = _by_check(propios.run(store, settings, later))["rec_config_backups"]
    assert got.status is Status.FAIL


def test_compliance_run_lists_the_drift(
    store: SQLiteStore, settings: Settings, tmp_path: Path
) -> None:
    assert propios.COMPLIANCE_DATASET == cumplimiento_registro.DATASET
    small_inventory(store, tmp_path)
    configs = {
        "lima/gw-lima.cfg": as_backed_up(real("gw-lima")),
        "emb-ar/gw-emb-ar.cfg": as_backed_up(real("gw-emb-ar", "sin-syslog")),
    }  # emb-bo has no backup
    devices = [device(store, n) for n in ("gw-lima", "gw-emb-ar", "gw-emb-bo")]
    when = NOW - timedelta(days=1)
    report = informe.build(devices, configs, store, source="prueba", when=when)
    store.write_events(cumplimiento_registro.events(report))
    got = _by_check(propios.run(store, settings, STAMP))["rec_config_compliance"]
    assert got.status is Status.PASS, got.message
    assert got.evidence["drift"] == {"gw-emb-ar": ["logging"]}
    assert got.evidence["unchecked"] == {"gw-emb-bo": informe.NO_BACKUP}
    assert got.evidence["devices"] == 3
    # a month later the run is too old to count
    later = (NOW + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _by_check(propios.run(store, settings, later))["rec_config_compliance"].status is F


def test_csirt_cases_with_their_timeline(store: SQLiteStore, settings: Settings) -> None:
    _import(store, SEDES, HEAD + "\n".join(GATEWAYS) + "\n")
    with command(store, "ana") as cmd:
        casos.open_incident(cmd, title="Correo sospechoso", severity=2, rsit_class="fraud",
                            rsit_type="phishing", assets=["gw-emb-ar"])  # fmt: skip
    got = _by_check(propios.run(store, settings, STAMP))["rec_csirt_cases"]
    assert got.status is Status.PASS, got.message
    assert got.evidence["incidents"] == 1
    # the case's timeline lost behind the store's back
    store.close()
    conn = sqlite3.connect(settings.db)
    with conn:
        conn.execute("DELETE FROM entities WHERE collection = 'csirt.linea'")
    conn.close()
    again = SQLiteStore(settings.db)
    try:
        got = _by_check(propios.run(again, settings, STAMP))["rec_csirt_cases"]
    finally:
        again.close()
    assert got.status is Status.FAIL
    assert len(got.evidence["without_timeline"]) == 1


def test_one_checks_unexpected_error_is_its_error(
    store: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(store: SQLiteStore, now: datetime) -> propios.Verdict:
        raise KeyError("owner")

    monkeypatch.setattr(propios, "asset_owners", boom)
    got = _by_check(propios.run(store, settings, STAMP))
    assert got["rec_asset_owners"].status is Status.ERROR
    assert "error inesperado al juzgar los registros: KeyError" in got["rec_asset_owners"].message
    assert got["rec_change_log"].status is Status.FAIL  # the other checks still ran
