"""The shared SNMP layer: odd answers fail one target with a readable error, one serial rule."""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from inventario import ansible_facts, model, snmp_discovery, ssh_discovery
from monitoreo import device
from monitoreo.sites import Site
from pukara import oids
from pukara.console import RichReporter
from pukara.errors import LabError
from pukara.results import Result, Status
from pukara.snmp import MalformedAnswer, index_address

ROOT = Path(__file__).resolve().parents[2]


def _walked(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    columns = oids.ENTITY + oids.INTERFACES + oids.ADDRESSES + oids.LLDP + oids.LEGACY_ADDRESSES
    walked: dict[str, dict[str, Any]] = {c: {} for c in columns}
    walked[oids.IF_DESCR] = {"1": b"lo", "2": b"wan0"}
    walked[oids.IF_MTU] = {"1": 65536, "2": 1500}
    walked[oids.IP_ADDRESS_IFINDEX] = {"1.4.198.18.12.2": 2, "2.16." + ".".join(["253"] * 16): 2}
    walked[oids.IP_ADDRESS_PREFIX] = {
        "1.4.198.18.12.2": "1.3.6.1.2.1.4.32.1.5.2.1.4.198.18.12.0.30"
    }
    for column, rows in extra.items():
        walked[getattr(oids, column)] = rows
    return walked


def test_a_good_answer_parses() -> None:
    facts = snmp_discovery.parse({oids.SYS_NAME: b"gw-x"}, _walked())
    assert facts["name"] == "gw-x"
    assert {a["ip"] for a in facts["addresses"]} == {
        "198.18.12.2",
        "fdfd:" + ":".join(["fdfd"] * 7),
    }
    assert facts["addresses"][0]["prefix_len"] == 30


@pytest.mark.parametrize(
    ("column", "rows", "named"),
    [
        ("IP_ADDRESS_IFINDEX", {"1.4.198.18.300.1": 2}, "ipAddressIfIndex.1.4.198.18.300.1"),
        ("IP_ADDRESS_IFINDEX", {"1.4.198.18": 2}, "ipAddressIfIndex"),
        ("IP_AD_ENT_IFINDEX", {"198.18.300.1": 2}, "ipAdEntIfIndex.198.18.300.1"),
        ("IF_MTU", {"2": b"1500"}, "ifMtu.2"),
        ("IF_DESCR", {"x.1": b"wan0"}, "ifDescr.x.1"),
        ("ENT_CLASS", {"1.1": 3}, "entPhysicalClass.1.1"),
        ("IP_ADDRESS_PREFIX", {"1.4.198.18.12.2": 30}, "ipAddressPrefix"),
    ],
)
def test_a_malformed_value_or_index_names_its_object(
    column: str, rows: dict[str, Any], named: str
) -> None:
    with pytest.raises(MalformedAnswer) as e:
        snmp_discovery.parse({}, _walked(**{column: rows}))
    assert named in str(e.value) and "mal formada" in str(e.value)


def test_a_non_utf8_name_is_read_not_fatal() -> None:
    assert (
        snmp_discovery.parse({oids.SYS_NAME: b"gw-\xff\xfe"}, _walked())["name"]
        == "gw-\ufffd\ufffd"
    )


def test_index_address() -> None:
    assert index_address("1.4.10.0.0.1") == ipaddress.IPv4Address("10.0.0.1")
    assert index_address("3.8.10.0.0.1.0.0.0.5") == ipaddress.IPv4Address("10.0.0.1")
    assert index_address("16.2.1.1") is None  # another address type: not an error
    for bad in ("1.4.10.0.0.256", "1.5.10.0.0.1", "2.16.1.2", "a.b"):
        with pytest.raises(ValueError, match=r"\S"):
            index_address(bad)


def _site(address: str) -> Site:
    return Site("x", "X", "UTC", address, "gw-x", None, 10.0, 99.0, 5.0, 500.0, False, None,
                None, "lab")  # fmt: skip


def test_the_poller_finds_an_ipv6_management_address_in_ip_address_table() -> None:
    v6 = "fd70:756b:6172:c1d::2"
    octets = ".".join(str(b) for b in ipaddress.IPv6Address(v6).packed)
    walked = {oids.IP_ADDRESS_IFINDEX: {"1.4.198.18.300.1": 9, f"2.16.{octets}": 2}}
    assert device._wan_index(_site(v6), walked) == 2
    assert (
        device._wan_index(_site("198.18.12.2"), {oids.IP_AD_ENT_IFINDEX: {"198.18.12.2": 2}}) == 2
    )


def test_counters_of_the_wrong_type_are_none_with_a_reason() -> None:
    got = {oids.SYS_UPTIME: None, f"{oids.IF_HC_IN}.2": b"no-es-un-contador",
           f"{oids.IF_HC_OUT}.2": 5}  # fmt: skip
    counters, why = device._counters(got, 2)
    assert counters is None and why and "ifHCInOctets.2" in why and "sysUpTime" in why
    got.update({oids.SYS_UPTIME: 100, f"{oids.IF_HC_IN}.2": 7})
    counters, why = device._counters(got, 2)
    assert why is None and counters is not None and counters.in_octets == 7


def test_one_placeholder_serial_rule_for_every_source() -> None:
    assert ssh_discovery.valid_serial is model.valid_serial
    assert ansible_facts.valid_serial is model.valid_serial
    assert snmp_discovery.valid_serial is model.valid_serial
    for filler in ("N/A", "0000000", "To Be Filled By O.E.M.", b"\x00\x00", "  "):
        assert model.valid_serial(filler) is None
    assert model.valid_serial(b"PKLAB00001\x00") == "PKLAB00001"
    with pytest.raises(ValueError, match="relleno"):
        model.parse_serial("XXXXXXXX")


def test_shared_pieces_live_once() -> None:
    assert importlib.util.find_spec("inventario.snmp") is None
    assert importlib.util.find_spec("inventario.oids") is None
    literal = [
        str(p.relative_to(ROOT))
        for pkg in ("pukara", "inventario", "monitoreo", "lab")
        for p in (ROOT / pkg).rglob("*.py")
        if '"kbcs0"' in p.read_text(encoding="utf-8")
    ]
    assert literal == ["inventario/model.py"]
    from lab import sites

    assert sites.VPN_INTERFACE == model.DEFAULT_VPN_INTERFACE == "kbcs0"


def test_each_progress_task_counts_its_own_failures() -> None:
    rep = RichReporter(quiet=True)
    rep.start(1, "SNMP")
    rep.advance(Result("a", Status.FAILED, error="x"))
    rep.finish()
    rep.start(1, "SSH")
    rep.advance(Result("a", Status.OK))
    rep.finish()
    assert [t.fields["failed"] for t in rep._progress.tasks] == [1, 0]


def test_lab_agents_can_speak_one_version_or_answer_badly(tmp_path: Path) -> None:
    from lab import services, sites

    creds = services.LabCredentials("c0mm", "pukara", "a" * 24, "p" * 24)
    conf = services.snmpd_conf(sites.LabSite(1, "x", snmp_only="v3"), creds, tmp_path)
    assert "rocommunity" not in conf and "rouser pukara priv" in conf
    conf = services.snmpd_conf(sites.LabSite(1, "x", snmp_only="v2c", snmp_malo=True), creds,
                               tmp_path)  # fmt: skip
    assert "createUser" not in conf and "rocommunity c0mm" in conf
    assert f"pass .1.3.6.1.2.1.31.1.1.1.6 {tmp_path / 'snmp-pass.sh'}" in conf
    table = tmp_path / "sedes.csv"
    table.write_text("codigo,retardo_ms,variacion_ms,perdida_pct,caida,snmp,snmp_malo\n"
                     "a,10,0,0,no,v3,\nb,10,0,0,no,,sí\n")  # fmt: skip
    a, b = sites.read_site_table(table)
    assert (a.snmp_only, a.snmp_malo, b.snmp_only, b.snmp_malo) == ("v3", False, "", True)
    table.write_text("codigo,retardo_ms,variacion_ms,perdida_pct,caida,snmp\na,1,0,0,no,v1\n")
    with pytest.raises(LabError, match="«snmp» debe ser"):
        sites.read_site_table(table)


def test_odd_ansible_facts_are_that_hosts_error() -> None:
    facts: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for host, raw in (("a", {"vcpus": "muchas"}), ("b", {"vcpus": 2, "serial": "N/A"})):
        event = {"event": "runner_on_ok", "event_data": {
            "host": host, "task": ansible_facts.FACTS_TASK, "res": {"pukara_facts": raw}}}  # fmt: skip
        ansible_facts.take_event(event, facts, errors)
    assert "hechos ilegibles" in errors["a"] and "a" not in facts
    assert facts["b"] == {"cpu_count": 2, "ipv6_enabled": False}  # no filler serial


@pytest.mark.parametrize("unreadable", ["a directory", "not utf-8"])
def test_an_unreadable_credentials_file_fails_those_devices_not_the_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unreadable: str
) -> None:
    path = tmp_path / "credenciales.toml"
    if unreadable == "a directory":
        path.mkdir(mode=0o700)  # private, so its mode passes; reading it fails (OSError)
    else:
        path.write_bytes(b'[lab]\ncommunity = "\xff\xfe"\n')  # UnicodeDecodeError in tomllib
        path.chmod(0o600)
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(path))
    poller = device.Poller(timeout_s=0.2, retries=0)
    polls = asyncio.run(poller.cycle([_site("127.0.0.1"), _site("127.0.0.2")]))
    assert [p.requests for p in polls] == [0, 0] and all(p.counters is None for p in polls)
    assert all(
        p.error and p.error.startswith("perfil de credenciales «lab» ilegible (") for p in polls
    )
