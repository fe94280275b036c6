"""Countermeasure records without a lab: expiry, allowlist, strict targets, approval, claims."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from csirt import contramedidas, permitidos
from csirt.contramedidas import CountermeasureError, parse_expiry
from csirt.records import COUNTERMEASURE, INCIDENT, TIMELINE, command
from pukara.config import Settings, load_settings
from pukara.store import SQLiteStore

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
HOST = {"name": "gw-x1", "kind": "router", "site": "x1", "mgmt_ipv4": "198.18.200.2",
        "mgmt_ipv6": None, "preferred_family": "4", "credential_profile": "lab"}  # fmt: skip
INCIDENT_DOC = {"id": "01JINCIDENTE0000000000000A", "number": "INC-2026-0001",
                "status": "contencion", "title": "prueba"}  # fmt: skip


@pytest.fixture
def seeded(store: SQLiteStore) -> SQLiteStore:
    with store.transaction("semilla") as tx:
        tx.put("asset", ("gw-x1",), HOST)
        tx.put("asset", ("srv-y",), {**HOST, "name": "srv-y", "mgmt_ipv4": "198.18.201.2"})
        tx.put("site", ("x1",), {"code": "x1", "vpn_peer": "198.18.202.2"})
        tx.put(INCIDENT, (INCIDENT_DOC["id"],), INCIDENT_DOC)
    return store


def _state(store: SQLiteStore) -> tuple[int, int, int]:
    """Countermeasures, timeline entries and change-log lines: what a refusal must not add."""
    return (len(list(store.scan(COUNTERMEASURE))), len(list(store.scan(TIMELINE))),
            len(list(store.changes())))  # fmt: skip


def _propose(
    store: SQLiteStore, settings: Settings, analyst: str = "ana", **kw: Any
) -> dict[str, Any]:
    args: dict[str, Any] = {"kind": "bloquear_ip", "host": "gw-x1", "expires": "4h",
                            "address": "198.51.100.7"}  # fmt: skip
    args.update(kw)
    with command(store, analyst) as cmd:
        return contramedidas.propose(cmd, settings, INCIDENT_DOC, **args)


def test_expiry_is_mandatory_future_and_bounded() -> None:
    assert parse_expiry("4h", NOW) == NOW + timedelta(hours=4)
    assert parse_expiry("1d 12h", NOW) == NOW + timedelta(days=1, hours=12)
    assert parse_expiry("30m", NOW) == NOW + timedelta(minutes=30)
    assert parse_expiry("2026-12-01T18:30Z", NOW) == NOW + timedelta(minutes=90)
    assert parse_expiry("2026-12-01T18:30", NOW) == NOW + timedelta(minutes=90)  # no zone: UTC
    assert parse_expiry("2026-12-01T13:30-05:00", NOW) == NOW + timedelta(minutes=90)
    for bad, words in [(None, "toda contramedida vence"), ("", "toda contramedida vence"),
                       ("2026-12-01T16:00Z", "ya pasó"), ("0h", "ya pasó"),
                       ("mañana", "duración"), ("31d", "a lo sumo 30 días")]:  # fmt: skip
        with pytest.raises(CountermeasureError, match=words):
            parse_expiry(bad, NOW)


@pytest.mark.parametrize(
    "text", ["$(reboot)", "; rm -rf /", "198.51.100.7; reboot", "198.51.100.7 ", "`id`",
             "999.1.1.1", "10.0.0.5/24", "0.0.0.0/0", "::/0", "224.0.0.1", "<script>"],
)  # fmt: skip
def test_a_target_address_is_parsed_strictly(text: str) -> None:
    if text == "198.51.100.7 ":  # surrounding blanks are trimmed, the rest is refused
        assert permitidos.parse_address(text) == ("198.51.100.7", "4")
        return
    with pytest.raises(permitidos.Refused):
        permitidos.parse_address(text)


def test_addresses_and_accounts_in_canonical_form() -> None:
    assert permitidos.parse_address("2001:0DB8:0::/64") == ("2001:db8::/64", "6")
    assert permitidos.parse_address("198.51.100.7/32") == ("198.51.100.7", "4")
    assert permitidos.parse_account("operador") == "operador"
    for bad in ("root", "$(reboot)", "a b", "Operador", "-x", "x" * 33, "../etc"):
        with pytest.raises(permitidos.Refused):
            permitidos.parse_account(bad)


@pytest.mark.parametrize(
    ("address", "why"),
    [("127.0.0.1", "loopback"), ("198.18.200.2", "activo gw-x1"),
     ("198.18.201.0/24", "activo srv-y"), ("198.18.202.2", "par VPN de la sede x1"),
     ("203.0.113.9", "csirt_permitidos"), ("198.18.0.0/15", "lista de permitidos")],
)  # fmt: skip
def test_allowlisted_targets_are_refused_and_nothing_is_written(
    seeded: SQLiteStore, settings: Settings, address: str, why: str
) -> None:
    configured = dataclasses.replace(settings, csirt_permitidos=("203.0.113.0/28",))
    before = _state(seeded)
    with pytest.raises(permitidos.Refused, match=why):
        _propose(seeded, configured, address=address)
    assert _state(seeded) == before


def test_this_machines_own_addresses_are_allowlisted(
    seeded: SQLiteStore, settings: Settings
) -> None:
    mine = [
        a for a in permitidos.monitoring_host() if "monitoreo (" in a.why and a.network.version == 4
    ]
    assert mine  # every machine has loopback at least
    with pytest.raises(permitidos.Refused, match="el equipo de monitoreo"):
        _propose(seeded, settings, address=str(mine[-1].network.network_address))


def test_bad_input_refused_before_anything_is_written(
    seeded: SQLiteStore, settings: Settings
) -> None:
    before = _state(seeded)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"expires": None}, "toda contramedida vence"),
        ({"expires": "2020-01-01T00:00Z"}, "ya pasó"),
        ({"address": "$(reboot)"}, "no es una dirección"),
        ({"address": "; rm -rf /"}, "no es una dirección"),
        ({"address": None}, "necesita --direccion"),
        ({"host": "no-existe"}, "no está en el inventario"),
        ({"kind": "borrar_todo"}, "tipo de contramedida desconocido"),
        ({"kind": "deshabilitar_cuenta", "account": "; rm -rf /"}, "nombre de cuenta"),
        ({"kind": "deshabilitar_cuenta", "account": "root"}, "root no se deshabilita"),
    ]
    for kw, words in cases:
        with pytest.raises(CountermeasureError if "vence" in words or "pasó" in words
                           or "necesita" in words or "desconocido" in words
                           else permitidos.Refused, match=words):  # fmt: skip
            _propose(seeded, settings, **kw)
    assert _state(seeded) == before


def test_proposal_is_pending_signed_and_on_the_timeline(
    seeded: SQLiteStore, settings: Settings
) -> None:
    cm = _propose(seeded, settings, reason="C2 conocido")
    stored = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert stored is not None and stored["status"] == "pendiente"
    assert stored["target"] == {"host": "gw-x1", "host_address": "198.18.200.2",
                                "address": "198.51.100.7", "family": "4"}  # fmt: skip
    assert stored["playbook"] == "csirt/bloquear.yml"
    assert stored["reverse_playbook"] == "csirt/desbloquear.yml"
    assert stored["proposed_by"] == "ana" and stored["approved_by"] is None
    line = list(seeded.scan(TIMELINE, (INCIDENT_DOC["id"],)))
    assert [x["kind"] for x in line] == ["contramedida"] and line[0]["raw_ref"] == cm["id"]
    changes = [c for c in seeded.changes() if c.collection == COUNTERMEASURE]
    assert changes[-1].actor == "ana" and changes[-1].request_id
    # the same target again while this one is open: refused
    with pytest.raises(CountermeasureError, match="ya hay una contramedida pendiente"):
        _propose(seeded, settings, address="198.51.100.0/24")
    # a closed incident takes none, as the command reads it (not the caller's old copy)
    with seeded.transaction("otro analista lo cierra") as tx:
        tx.put(INCIDENT, (INCIDENT_DOC["id"],), {**INCIDENT_DOC, "status": "cerrado"})
    for stale in (INCIDENT_DOC, "INC-2026-0001"):
        with command(seeded, "ana") as cmd, pytest.raises(CountermeasureError, match="cerrado"):
            contramedidas.propose(cmd, settings, stale, kind="aislar_host", host="gw-x1",
                                  expires="1h")  # fmt: skip


def test_two_person_rule(seeded: SQLiteStore, settings: Settings) -> None:
    two = dataclasses.replace(settings, csirt_dos_personas=True)
    cm = _propose(seeded, two)
    with command(seeded, "ana") as cmd, pytest.raises(CountermeasureError, match="otro analista"):
        contramedidas.approve(cmd, two, cm["id"])
    with command(seeded, "beto") as cmd:
        approved = contramedidas.approve(cmd, two, cm["id"][:10].lower())  # a start of the id
    assert approved["approved_by"] == "beto"
    with command(seeded, "beto") as cmd, pytest.raises(CountermeasureError, match="no espera"):
        contramedidas.approve(cmd, two, cm["id"])
    # one person may approve their own when the setting is off
    own = _propose(seeded, settings, address="198.51.100.99")
    with command(seeded, "ana") as cmd:
        assert contramedidas.approve(cmd, settings, own["id"])["approved_by"] == "ana"


def test_two_person_rule_from_the_csirt_table_of_pukara_toml(tmp_path: Path) -> None:
    conf = tmp_path / "pukara.toml"
    conf.write_text(
        'analyst = "ana"\n[csirt]\ndos_personas = true\npermitidos = ["203.0.113.0/24"]\n'
    )
    s = load_settings({"data_dir": tmp_path}, environ={"PUKARA_CONFIG": str(conf)})
    assert s.csirt_dos_personas is True and s.csirt_permitidos == ("203.0.113.0/24",)
    env = {"PUKARA_CSIRT_DOS_PERSONAS": "no", "PUKARA_CSIRT_PERMITIDOS": "10.1.0.0/16, 10.2.0.1"}
    s = load_settings({"data_dir": tmp_path}, environ=env)
    assert s.csirt_dos_personas is False and s.csirt_permitidos == ("10.1.0.0/16", "10.2.0.1")


def test_activation_needs_approval_and_an_unexpired_record(
    seeded: SQLiteStore, settings: Settings
) -> None:
    cm = _propose(seeded, settings)
    with pytest.raises(CountermeasureError, match="aún no está aprobada"):
        contramedidas.activate(seeded, settings, cm["id"], analyst="ana")
    with command(seeded, "ana") as cmd:
        contramedidas.reject(cmd, cm["id"], "falso positivo")
    with pytest.raises(CountermeasureError, match="rechazada"):
        contramedidas.activate(seeded, settings, cm["id"], analyst="ana")


def test_expired_pending_ones_are_rejected_and_past_expiry_is_reported(
    seeded: SQLiteStore, settings: Settings
) -> None:
    cm = _propose(seeded, settings, expires="1h")
    later = datetime.now(UTC) + timedelta(hours=2)
    assert contramedidas.active_past_expiry(seeded, INCIDENT_DOC["id"], later) == []
    with seeded.transaction("prueba") as tx:  # as if activated: active past its expiry
        tx.put(COUNTERMEASURE, (cm["id"],), {**cm, "status": "activa"})
    found = contramedidas.active_past_expiry(seeded, INCIDENT_DOC["id"], later)
    assert [c["id"] for c in found] == [cm["id"]]
    assert contramedidas.active_past_expiry(seeded, INCIDENT_DOC["id"]) == []  # not yet
    with seeded.transaction("prueba") as tx:
        tx.put(COUNTERMEASURE, (cm["id"],), {**cm, "status": "pendiente"})
    assert contramedidas.expire_due(seeded, settings, later) == []
    stored = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert stored is not None and stored["status"] == "rechazada"
    assert stored["reason"] == "venció sin activarse"


def test_a_batch_runs_once_per_playbook_and_never_twice_on_one_host() -> None:
    def cm(i: int, host: str, kind: str = "bloquear_ip") -> dict[str, Any]:
        playbook, reverse = contramedidas.KINDS[kind]
        return {"id": str(i), "target": {"host": host}, "playbook": playbook,
                "reverse_playbook": reverse}  # fmt: skip

    batch = [cm(1, "a"), cm(2, "b"), cm(3, "a"), cm(4, "c", "aislar_host"), cm(5, "b")]
    waves = contramedidas._waves(batch, reverse=False)
    assert [(p, [c["id"] for c in g]) for p, g in waves] == [
        ("csirt/bloquear.yml", ["1", "2"]),
        ("csirt/bloquear.yml", ["3", "5"]),
        ("csirt/aislar.yml", ["4"]),
    ]
    assert contramedidas._waves(batch[:1], reverse=True)[0][0] == "csirt/desbloquear.yml"


def test_the_csirt_table_beside_a_pukara_table(tmp_path: Path) -> None:
    conf = tmp_path / "pukara.toml"
    conf.write_text('[pukara]\nanalyst = "ana"\n[csirt]\ndos_personas = "sí"\n')
    s = load_settings({"data_dir": tmp_path}, environ={"PUKARA_CONFIG": str(conf)})
    assert s.analyst == "ana" and s.csirt_dos_personas is True
    conf.write_text("[csirt]\ndos_personas = 3\n")
    from pukara.errors import ConfigError

    with pytest.raises(ConfigError, match="csirt_dos_personas"):
        load_settings({"data_dir": tmp_path}, environ={"PUKARA_CONFIG": str(conf)})
