"""Countermeasure guards without a lab: closed cases, unverified runs, IPv4 written as IPv6,
over-broad networks, a failing ``ip``, huge expiries, the two-person rule's names."""

from __future__ import annotations

import dataclasses
import os
import pwd
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from csirt import contramedidas, permitidos
from csirt.contramedidas import CountermeasureError, parse_expiry
from csirt.contramedidas_run import Outcome
from csirt.records import COUNTERMEASURE, INCIDENT, TIMELINE, command
from pukara.config import Settings
from pukara.errors import ConfigError, PukaraError
from pukara.store import SQLiteStore

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
HOST = {"name": "gw-x1", "kind": "router", "site": "x1", "mgmt_ipv4": "198.18.200.2",
        "mgmt_ipv6": None, "preferred_family": "4", "credential_profile": "lab"}  # fmt: skip
INC = {"id": "01JINCIDENTE0000000000000A", "number": "INC-2026-0001", "status": "contencion",
       "title": "prueba"}  # fmt: skip


@pytest.fixture
def seeded(store: SQLiteStore) -> SQLiteStore:
    with store.transaction("semilla") as tx:
        tx.put("asset", ("gw-x1",), HOST)
        tx.put(INCIDENT, (INC["id"],), INC)
    return store


def _propose(store: SQLiteStore, settings: Settings, analyst: str = "ana",
             **kw: Any) -> dict[str, Any]:  # fmt: skip
    args: dict[str, Any] = {"kind": "bloquear_ip", "host": "gw-x1", "expires": "4h",
                            "address": "198.51.100.7", **kw}  # fmt: skip
    with command(store, analyst) as cmd:
        return contramedidas.propose(cmd, settings, INC, **args)


def _approve(store: SQLiteStore, settings: Settings, cm_id: str, analyst: str = "beto") -> None:
    with command(store, analyst) as cmd:
        contramedidas.approve(cmd, settings, cm_id)


def _set_incident(store: SQLiteStore, status: str) -> None:
    with store.transaction("el caso cambia") as tx:
        tx.put(INCIDENT, (INC["id"],), {**INC, "status": status})


def _no_run(*_: Any, **__: Any) -> Any:
    raise AssertionError("no playbook may run")


@pytest.mark.parametrize("final", ["descartado", "cerrado"])
def test_nothing_is_approved_or_activated_on_a_closed_or_discarded_case(
    seeded: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch, final: str
) -> None:
    monkeypatch.setattr(contramedidas, "run_countermeasures", _no_run)
    waiting = _propose(seeded, settings)
    approved = _propose(seeded, settings, address="198.51.100.8")
    _approve(seeded, settings, approved["id"])
    _set_incident(seeded, final)
    with pytest.raises(CountermeasureError, match=f"{final}: no se aprueban"):
        _approve(seeded, settings, waiting["id"])
    with pytest.raises(CountermeasureError, match=f"{final}: no se activan"):
        contramedidas.activate(seeded, settings, approved["id"], analyst="beto")
    many = contramedidas.activate_many(seeded, settings, [approved["id"]], analyst="beto")
    assert many[0].failed and "no se activan" in str(many[0].error)
    for cm in (waiting, approved):
        doc = seeded.get(COUNTERMEASURE, [cm["id"]])
        assert doc is not None and doc["status"] == "pendiente" and doc["claim"] is None
    assert (seeded.get(COUNTERMEASURE, [waiting["id"]]) or {})["approved_by"] is None


def _unverified(ran: list[str], **run: Any) -> Any:
    def fake(store: Any, settings: Any, group: Any, playbook: str, check: bool = False) -> Any:
        ran.append(playbook)
        record = {"playbook": playbook, "job_id": f"j{len(ran)}", "check": check, **run}
        ok = playbook.endswith("desbloquear.yml")  # the reverse is verified
        return {c["id"]: Outcome({**record, "verified": ok}, True, ok,
                                 None if ok else "el playbook terminó sin la verificación")
                for c in group}  # fmt: skip

    return fake


@pytest.mark.parametrize("run", [{"changed": True, "reached": True},
                                 {"changed": False, "reached": True}])  # fmt: skip
def test_an_unverified_activation_that_reached_the_host_is_reversed(
    seeded: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch, run: dict[str, Any]
) -> None:
    cm = _propose(seeded, settings, expires="30m")
    _approve(seeded, settings, cm["id"])
    ran: list[str] = []
    monkeypatch.setattr(contramedidas, "run_countermeasures", _unverified(ran, **run))
    result = contramedidas.activate(seeded, settings, cm["id"], analyst="beto")
    assert result.failed and result.data["status"] == "pendiente_retiro"
    doc = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert doc is not None and doc["status"] == "pendiente_retiro" and doc["claim"] is None
    assert doc["retire_reason"] == "activación sin verificar"
    line = [e["message"] for e in seeded.scan(TIMELINE, (INC["id"],))]
    assert any("queda pendiente de retiro" in m for m in line)
    # the very next vencer runs the reverse (before the expiry too), and it is retired
    done = contramedidas.expire_due(seeded, settings)
    assert [r.target for r in done] == [cm["id"]] and not done[0].failed
    assert ran == ["csirt/bloquear.yml", "csirt/desbloquear.yml"]
    final = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert final is not None and final["status"] == "retirada"


def test_an_unverified_activation_can_be_retired_by_hand(
    seeded: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cm = _propose(seeded, settings)
    _approve(seeded, settings, cm["id"])
    ran: list[str] = []
    monkeypatch.setattr(contramedidas, "run_countermeasures", _unverified(ran, changed=True))
    contramedidas.activate(seeded, settings, cm["id"], analyst="beto")
    assert not contramedidas.retire(seeded, settings, cm["id"], analyst="beto").failed
    assert (seeded.get(COUNTERMEASURE, [cm["id"]]) or {})["status"] == "retirada"


def test_a_host_never_reached_stays_pending_and_a_dead_activation_is_reversed_at_expiry(
    seeded: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cm = _propose(seeded, settings, expires="30m")
    _approve(seeded, settings, cm["id"])
    ran: list[str] = []
    monkeypatch.setattr(contramedidas, "run_countermeasures",
                        _unverified(ran, changed=False, reached=False))  # fmt: skip
    assert contramedidas.activate(seeded, settings, cm["id"], analyst="beto").failed
    doc = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert doc is not None and doc["status"] == "pendiente"  # nothing ran there: retry it
    # an activation whose process died while its playbook ran: the claim outlives it
    with seeded.transaction("el proceso murió") as tx:
        claim = {"what": "activar", "at": "2026-01-01T00:00:00.000Z", "by": "beto",
                 "request_id": "x"}  # fmt: skip
        tx.put(COUNTERMEASURE, (cm["id"],), {**doc, "claim": claim})
    later = datetime.now(UTC) + timedelta(hours=1)
    done = contramedidas.expire_due(seeded, settings, later)
    assert [r.target for r in done] == [cm["id"]] and ran[-1] == "csirt/desbloquear.yml"
    final = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert final is not None and final["status"] == "retirada"
    assert final["retire_reason"] == "activación interrumpida"


def test_an_interrupted_activation_is_left_for_the_reverse(
    seeded: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cm = _propose(seeded, settings)
    _approve(seeded, settings, cm["id"])

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(contramedidas, "run_countermeasures", interrupted)
    with pytest.raises(KeyboardInterrupt):
        contramedidas.activate(seeded, settings, cm["id"], analyst="beto")
    doc = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert doc is not None and doc["status"] == "pendiente_retiro" and doc["claim"] is None


def test_a_disabled_account_without_its_prior_state_changed_nothing() -> None:
    cm = {"kind": "deshabilitar_cuenta"}
    assert not contramedidas.may_have_changed(cm, {"reached": True, "changed": False})
    assert contramedidas.may_have_changed({**cm, "original": {"shell": "/bin/sh"}}, {})
    assert not contramedidas.may_have_changed({"kind": "bloquear_ip"}, {"check": True})


@pytest.mark.parametrize(
    "text",
    ["::ffff:127.0.0.2", "::ffff:7f00:2", "::ffff:198.18.200.2", "::ffff:0:0/96", "::7f00:2",
     "::ffff:0:c612:c802"],
)  # fmt: skip
def test_ipv4_written_as_ipv6_is_refused(text: str) -> None:
    with pytest.raises(permitidos.Refused, match="IPv4 escrita como IPv6"):
        permitidos.parse_address(text)


@pytest.mark.parametrize(
    "text",
    ["64:ff9b::c612:c802", "64:ff9b::198.18.200.2", "64:ff9b::/96", "2002:c612:c802::",
     "2002:c612:c802::/48", "2002:c612::/32", "2001:0:c612:c802::1"],
)  # fmt: skip
def test_nat64_6to4_and_teredo_of_an_allowlisted_ipv4_are_refused(
    seeded: SQLiteStore, settings: Settings, text: str
) -> None:
    with pytest.raises(permitidos.Refused, match=r"lista de permitidos: .*escrita como IPv6"):
        _propose(seeded, settings, address=text)
    assert list(seeded.scan(COUNTERMEASURE)) == []


def test_nat64_and_6to4_of_other_addresses_are_blocked(
    seeded: SQLiteStore, settings: Settings
) -> None:
    cm = _propose(seeded, settings, address="64:ff9b::198.51.100.7")
    assert cm["target"]["address"] == "64:ff9b::c633:6407"
    assert _propose(seeded, settings, address="2002:c633:6408::/48")["target"]["family"] == "6"


@pytest.mark.parametrize("text", ["16.0.0.0/4", "128.0.0.0/1", "8000::/1", "2001:db8::/31",
                                  "10.0.0.0/7"])  # fmt: skip
def test_over_broad_networks_are_refused(text: str) -> None:
    with pytest.raises(permitidos.Refused, match="demasiado amplia"):
        permitidos.parse_address(text)


def test_the_widest_networks_allowed() -> None:
    assert permitidos.MIN_PREFIX == {4: 8, 6: 32}
    assert permitidos.parse_address("10.0.0.0/8") == ("10.0.0.0/8", "4")
    assert permitidos.parse_address("2001:db8::/32") == ("2001:db8::/32", "6")


def _fake_ip(folder: Path, body: str) -> None:
    folder.mkdir(exist_ok=True)
    ip = folder / "ip"
    ip.write_text(f"#!/bin/sh\n{body}\n")
    ip.chmod(0o755)


@pytest.mark.parametrize(
    ("body", "words"),
    [("echo 'Cannot open netlink socket' >&2; exit 1", "salió con 1: Cannot open netlink"),
     ("echo 'no es json'", "no respondió JSON"), ("exit 0", "no respondió JSON"),
     ("echo '[]'", "no listó ninguna")],
)  # fmt: skip
def test_a_failing_ip_is_a_spanish_error_never_a_smaller_allowlist(
    seeded: SQLiteStore, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    body: str, words: str,
) -> None:  # fmt: skip
    _fake_ip(tmp_path / "bin", body)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with pytest.raises(ConfigError, match=words) as info:
        _propose(seeded, settings)
    assert "no se propone ninguna contramedida" in info.value.message
    assert list(seeded.scan(COUNTERMEASURE)) == []


def test_no_ip_at_all_is_a_spanish_error(
    seeded: SQLiteStore, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(permitidos, "_IP_PATHS", ())
    with pytest.raises(ConfigError, match="no se encuentra la orden «ip»"):
        _propose(seeded, settings)
    # cron's short PATH: ip is found in its usual places all the same
    monkeypatch.undo()
    monkeypatch.setenv("PATH", str(tmp_path))
    assert Path(permitidos.ip_command()).name == "ip"


def test_a_malformed_inventory_address_is_a_spanish_error(
    seeded: SQLiteStore, settings: Settings
) -> None:
    with seeded.transaction("inventario roto") as tx:
        tx.put("asset", ("srv-z",), {**HOST, "name": "srv-z", "mgmt_ipv4": "10.0.0.300"})
    with pytest.raises(ConfigError, match=r"activo srv-z \(mgmt_ipv4\): '10\.0\.0\.300'"):
        _propose(seeded, settings)


@pytest.mark.parametrize("text", ["1000000000d", "99999999999999999999m", "999999999999h",
                                  "1" * 40 + "m", "30d1m"])  # fmt: skip
def test_a_huge_expiry_is_refused_in_spanish(text: str) -> None:
    with pytest.raises(CountermeasureError) as info:
        parse_expiry(text, NOW)
    assert isinstance(info.value, PukaraError)
    assert "a lo sumo 30 días" in info.value.message or "se espera una duración" in (
        info.value.message
    )
    assert parse_expiry("30d", NOW) == NOW + timedelta(days=30)


@pytest.mark.parametrize("other", ["Ana", "ANA", " ana ", "Ａｎａ"])
def test_the_two_person_rule_ignores_case_and_keeps_the_system_user(
    seeded: SQLiteStore, settings: Settings, other: str
) -> None:
    two = dataclasses.replace(settings, csirt_dos_personas=True)
    cm = _propose(seeded, two)
    with pytest.raises(CountermeasureError, match=r"ana la propuso.*otro analista"):
        _approve(seeded, two, cm["id"], analyst=other)
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert contramedidas.os_user() == me
    _approve(seeded, two, cm["id"], analyst="beto")
    doc = seeded.get(COUNTERMEASURE, [cm["id"]])
    assert doc is not None and doc["proposed_by_os"] == me and doc["approved_by_os"] == me
    line = [e["message"] for e in seeded.scan(TIMELINE, (INC["id"],))]
    assert any(f"aprobada por beto (usuario del sistema {me})" in m for m in line)


def test_a_known_hosts_path_that_could_add_ssh_options_is_refused() -> None:
    from csirt.contramedidas_run import known_hosts_path
    from pukara.errors import SecretsError

    assert known_hosts_path("/etc/pukara/known_hosts") == "/etc/pukara/known_hosts"
    for bad in ("x -o ProxyCommand=id", "/tmp/kh -o ProxyCommand=id", "relative/kh",
                "/a/../etc/kh", "/tmp/kh;id"):  # fmt: skip
        with pytest.raises(SecretsError, match="known_hosts"):
            known_hosts_path(bad)
