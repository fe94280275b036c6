"""D1-D6 judged on recorded answers of the lab's net-snmp 5.9 and FRR 8.4 (tests/data/ipv6)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ipv6 import equipos
from ipv6.equipos_reglas import (
    COLUMNS,
    SCALARS,
    Collected,
    evaluate,
    is_global,
    parse_interface_brief,
    parse_ipv6_routes,
)
from pukara.errors import ConfigError, UsageError

DATA = Path(__file__).resolve().parents[1] / "data" / "ipv6"
LAB = [ipaddress.IPv6Network("fd70:756b:6172::/48")]
_LINE = re.compile(r"^\.(\S+) = (\w[\w-]*): ?(.*)$")


def _value(kind: str, text: str) -> Any:
    if kind in ("INTEGER", "Gauge32"):
        return int(text)
    if kind == "Hex-STRING":
        return bytes.fromhex(text.replace(" ", ""))
    return text.strip('"').encode()


def recorded(name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A snmpbulkwalk -On recording as :meth:`pukara.snmp.Session.fetch` returns it."""
    scalars: dict[str, Any] = dict.fromkeys(SCALARS)
    walked: dict[str, dict[str, Any]] = {c: {} for c in COLUMNS}
    for line in (DATA / name).read_text().splitlines():
        found = _LINE.match(line)
        if not found:
            continue
        oid, value = found.group(1), _value(found.group(2), found.group(3))
        if oid in scalars:
            scalars[oid] = value
        for column in COLUMNS:
            if oid.startswith(column + "."):
                walked[column][oid[len(column) + 1 :]] = value
    return scalars, walked


def cli(name: str) -> dict[str, str]:
    parts = re.split(r"^### (.+)$", (DATA / name).read_text(), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _collected(walk: str, cli_file: str | None, **kw: Any) -> Collected:
    scalars, walked = recorded(walk)
    text = cli(cli_file) if cli_file else {"show interface brief": "", "show ipv6 route": ""}
    return Collected(role="router", scalars=scalars, walked=walked, cli=text, **kw)


def _statuses(c: Collected, extra: list[ipaddress.IPv6Network] = LAB) -> dict[str, str]:
    return {x.check: x.status for x in evaluate(c, extra)}


def test_standard_site_passes_everything() -> None:
    c = _collected("estandar.walk", "frr-estandar.txt", snmp_v6="ok", ssh_v6="ok",
                   mgmt_ipv6="fd70:756b:6172:d5d::2")  # fmt: skip
    assert set(_statuses(c).values()) == {"pass"}
    checks = {x.check: x for x in evaluate(c, LAB)}
    assert checks["D1"].evidence["source"] == "IPV6-MIB ipv6IfAdminStatus"
    assert checks["D1"].evidence["enabled_ifindexes"] == [2]  # lo (ifIndex 1) is not counted
    assert checks["D4"].evidence["fallback_used"] == ["ipv6IfTable"]


def test_the_ula_is_global_only_through_the_setting() -> None:
    c = _collected("estandar.walk", "frr-estandar.txt", snmp_v6="ok", ssh_v6="ok")
    got = {x.check: x for x in evaluate(c, [])}
    assert got["D2"].status == "fail" and got["D2"].evidence["other"] == ["fd70:756b:6172:d5d::2"]
    assert got["D5"].status == "fail"  # no mgmt_ipv6 and no global address to try
    assert got["D6"].status == "fail"


def test_disabled_ipv6_fails_d1_d2_d3_d5_d6() -> None:
    c = _collected("sin-ipv6.walk", None, mgmt_ipv6="fd70:756b:6172:d5e::2",
                   snmp_v6="sin respuesta SNMP (tiempo agotado)", ssh_v6="SSH no conecta")  # fmt: skip
    assert _statuses(c) == {"D1": "fail", "D2": "fail", "D3": "fail", "D4": "pass",
                            "D5": "fail", "D6": "fail"}  # fmt: skip


def test_link_local_only_fails_d2_d5_d6() -> None:
    c = _collected("solo-enlace-local.walk", "frr-solo-enlace-local.txt",
                   mgmt_ipv6="fd70:756b:6172:d5f::2", snmp_v6="tiempo agotado",
                   ssh_v6="SSH no conecta")  # fmt: skip
    got = {x.check: x for x in evaluate(c, LAB)}
    assert {k: v.status for k, v in got.items()} == {
        "D1": "pass", "D2": "fail", "D3": "pass", "D4": "pass", "D5": "fail", "D6": "fail"}  # fmt: skip
    assert got["D2"].message == "solo direcciones de enlace local (fe80::/10)"
    assert got["D2"].evidence["link_local"] == ["fe80::6881:edff:fe27:148c"]


def test_without_snmp_d1_to_d4_are_not_tested_never_pass() -> None:
    c = Collected(role="router", snmp_error="sin respuesta SNMP", cli_error="CLI no leída: x")
    got = {x.check: x for x in evaluate(c, LAB)}
    assert [got[k].status for k in ("D1", "D2", "D3", "D4", "D5", "D6")] == ["not-tested"] * 6
    # its addresses were never read: not a fail, and the SNMP error says why
    assert got["D5"].evidence["error"] == "sin respuesta SNMP"


def test_d5_passes_only_when_snmp_and_ssh_both_answer() -> None:
    base = _collected("estandar.walk", "frr-estandar.txt", mgmt_ipv6="fd70:756b:6172:d5d::2")
    both = {x.check: x for x in evaluate(replace(base, snmp_v6="ok", ssh_v6="ok"), LAB)}["D5"]
    assert both.status == "pass" and both.evidence["not_asked"] == []
    snmp_only = {x.check: x for x in evaluate(replace(base, snmp_v6="ok"), LAB)}["D5"]
    assert snmp_only.status == "not-tested" and snmp_only.evidence["not_asked"] == ["SSH"]
    assert "SSH no se probó" in snmp_only.message
    # SNMP over IPv4 failed, so SNMP over IPv6 was never tried: SSH alone is no pass
    no_snmp = Collected(role="router", snmp_error="sin respuesta SNMP (tiempo agotado)",
                        mgmt_ipv6="fd70:756b:6172:d5d::2", ssh_v6="ok")  # fmt: skip
    d5 = {x.check: x for x in evaluate(no_snmp, LAB)}["D5"]
    assert d5.status == "not-tested" and d5.evidence["not_asked"] == ["SNMP"]
    assert d5.evidence["error"] == "sin respuesta SNMP (tiempo agotado)"
    failed = {x.check: x for x in evaluate(replace(base, snmp_v6="ok", ssh_v6="SSH no conecta"),
                                           LAB)}["D5"]  # fmt: skip
    assert failed.status == "fail" and "SSH no conecta" in failed.message


def test_d2_counts_only_rows_whose_status_is_preferred() -> None:
    scalars, walked = recorded("estandar.walk")
    status = walked["1.3.6.1.2.1.4.34.1.7"]
    ula = next(i for i in status if i.startswith("2.16.253."))
    status[ula] = 2  # deprecated
    d2 = {x.check: x for x in evaluate(Collected("router", scalars, walked), LAB)}["D2"]
    assert d2.status == "fail" and d2.evidence["global"] == []
    del status[ula]  # a walk that stopped early: no status for that row, never "preferred"
    d2 = {x.check: x for x in evaluate(Collected("router", scalars, walked), LAB)}["D2"]
    assert d2.status == "fail"
    walked["1.3.6.1.2.1.4.34.1.7"] = {}  # the agent has no status column at all
    d2 = {x.check: x for x in evaluate(Collected("router", scalars, walked), LAB)}["D2"]
    assert d2.status == "not-tested" and d2.evidence["status_column"] == "ausente"


def test_d3_ignores_neighbour_rows_without_a_physical_address() -> None:
    scalars, walked = recorded("estandar.walk")
    column = walked["1.3.6.1.2.1.4.35.1.4"]
    v6 = [i for i in column if ".2.16." in "." + i]
    assert v6
    for index in v6:
        column[index] = b""  # incomplete entries
    d3 = {x.check: x for x in evaluate(Collected("router", scalars, walked), LAB)}["D3"]
    assert d3.status == "fail" and d3.evidence["neighbour_count"] == 0


def test_d1_is_partial_when_an_ipv4_interface_lacks_ipv6() -> None:
    scalars, walked = recorded("estandar.walk")
    walked["1.3.6.1.2.1.4.34.1.3"]["1.4.198.18.99.1"] = 7  # a second L3 interface, IPv4 only
    d1 = {x.check: x for x in evaluate(Collected("router", scalars, walked), LAB)}["D1"]
    assert d1.status == "partial" and d1.evidence["ipv4_without_ipv6"] == [7]
    assert d1.evidence["ipv4_ifindexes"] == [2, 7]


def test_d6_needs_a_route_that_is_not_connected_and_names_the_acl_gap() -> None:
    text = cli("frr-estandar.txt")
    base = _collected("estandar.walk", "frr-estandar.txt", platform="frr")
    d6 = {x.check: x for x in evaluate(base, LAB)}["D6"]
    assert d6.status == "pass" and d6.evidence["learned_routes"] == ["K ::/0"]
    assert d6.evidence["acl"] == "no aplica en FRR"
    routes = "\n".join(line for line in text["show ipv6 route"].splitlines()
                       if not line.startswith("K"))  # fmt: skip
    connected = replace(base, cli={**text, "show ipv6 route": routes})
    d6 = {x.check: x for x in evaluate(connected, LAB)}["D6"]
    assert d6.status == "fail" and d6.evidence["learned_routes"] == []
    assert {x.check: x for x in evaluate(replace(connected, role="switch"), LAB)}["D6"].status \
        == "pass"  # fmt: skip


def test_a_router_not_forwarding_fails_d3_a_switch_only_warns_without_neighbours() -> None:
    scalars, walked = recorded("estandar.walk")
    scalars["1.3.6.1.2.1.4.25.0"] = 2
    assert _statuses(Collected(role="router", scalars=scalars, walked=walked))["D3"] == "fail"
    walked["1.3.6.1.2.1.4.35.1.4"] = {}
    assert _statuses(Collected(role="switch", scalars=scalars, walked=walked))["D3"] == "warn"


def test_legacy_ipv6_mib_address_and_neighbour_tables() -> None:
    index = "3." + ".".join(str(b) for b in ipaddress.IPv6Address("2800:4f0:1::5").packed)
    walked = {"1.3.6.1.2.1.55.1.5.1.9": {"3": 1}, "1.3.6.1.2.1.55.1.8.1.5": {index: 1},
              "1.3.6.1.2.1.55.1.12.1.2": {index: b"\x00\x11\x22\x33\x44\x55"}}  # fmt: skip
    c = Collected(role="router", scalars={"1.3.6.1.2.1.55.1.1.0": 1}, walked=walked)
    got = {x.check: x for x in evaluate(c, [])}
    assert [got[k].status for k in ("D1", "D2", "D3", "D4")] == ["pass"] * 4
    assert got["D2"].evidence["source"] == "IPV6-MIB ipv6AddrTable"
    assert sorted(got["D4"].evidence["fallback_used"]) == [
        "ipv6AddrTable", "ipv6Forwarding", "ipv6IfTable", "ipv6NetToMediaTable"]  # fmt: skip


def test_an_agent_without_any_ipv6_mib_fails_d4() -> None:
    got = _statuses(Collected(role="router"))
    assert got["D4"] == "fail" and got["D1"] == "not-tested"


def test_frr_parsers() -> None:
    text = cli("frr-estandar.txt")
    assert parse_interface_brief(text["show interface brief"]) == {
        "lo": [], "wan0": ["198.18.53.118/30", "fd70:756b:6172:d5d::2/64"]}  # fmt: skip
    assert parse_ipv6_routes(text["show ipv6 route"]) == [
        ("K", "::/0"), ("C", "fd70:756b:6172:d5d::/64"), ("C", "fe80::/64")]  # fmt: skip


@pytest.mark.parametrize(
    ("address", "expected"),
    [("2800:4f0::1", True), ("2001:db8::1", False), ("fd70:756b:6172::1", False),
     ("fe80::1", False), ("::ffff:198.18.0.1", False), ("3fff::1", False)],
)  # fmt: skip
def test_global_means_2000_3_and_not_special(address: str, expected: bool) -> None:
    assert is_global(ipaddress.IPv6Address(address), []) is expected


def test_the_setting_must_hold_prefixes() -> None:
    assert equipos.global_prefixes(["fd70:756b:6172::/48"]) == LAB
    with pytest.raises(ConfigError, match="«nada»"):
        equipos.global_prefixes(["nada"])


ASSETS = [
    {"name": "gw-a", "kind": "router", "site": "a", "mgmt_ipv4": "198.18.0.6",
     "mgmt_ipv6": "fd70:756b:6172:1::2", "os": "FRRouting", "status": "activo"},
    {"name": "sw-a", "kind": "switch", "site": "a", "mgmt_ipv6": "2800:4f0::9",
     "credential_profile": "sw", "status": "activo"},
    {"name": "gw-b", "kind": "router", "site": "b", "mgmt_ipv4": "198.18.0.10",
     "credential_profile": "lab", "device_type": "linux", "os": "FRR", "status": "activo"},
    {"name": "pc-a", "kind": "pc", "site": "a", "mgmt_ipv4": "198.19.0.2", "status": "activo"},
    {"name": "gw-c", "kind": "router", "site": "c", "mgmt_ipv4": "198.18.0.14",
     "status": "dado_de_baja"},
]  # fmt: skip


def test_devices_from_the_inventory() -> None:
    found = {d.name: d for d in equipos.from_assets(ASSETS, snmp_profile="lab", cli_profile="red")}
    assert sorted(found) == ["gw-a", "gw-b", "sw-a"]  # no pc, nothing retired
    assert (found["gw-a"].address, found["gw-a"].mgmt_ipv6) == ("198.18.0.6", "fd70:756b:6172:1::2")
    assert (found["gw-a"].snmp_profile, found["gw-a"].cli_profile) == ("lab", "red")
    assert found["sw-a"].address == "2800:4f0::9" and found["sw-a"].platform == ""
    assert (found["sw-a"].snmp_profile, found["sw-a"].cli_profile) == ("sw", "sw")
    assert (found["gw-b"].snmp_profile, found["gw-b"].cli_profile) == ("lab", "red")


def test_one_failing_device_is_its_own_result() -> None:
    """Two devices with no agent behind them (loopback): each is not-tested with its reason,
    the run finishes."""
    lab = {"community": "x"}
    from pukara.secrets import CredentialProfile, Secret

    def loader(name: str) -> CredentialProfile:
        if name == "roto":
            raise UsageError("perfil roto")
        return CredentialProfile(name, {k: Secret(v) for k, v in lab.items()})

    devices = [
        equipos.Device("a", "s", "router", "127.0.0.9", None, "", "lab", "red"),
        equipos.Device("b", "s", "router", "127.0.0.10", None, "", "roto", "red"),
    ]
    reports = equipos.collect(devices, timeout_s=0.3, concurrency=4, extra=[], ssh=False,
                              profiles=equipos._Profiles(loader))  # fmt: skip
    assert [r.name for r in reports] == ["a", "b"]
    assert all(r.failed and r.error for r in reports)
    assert "tiempo agotado" in (reports[0].error or "") and reports[1].error == "perfil roto"
    assert all(c.status != "pass" for r in reports for c in r.checks)


def test_lab_sites_declare_their_ipv6_kind() -> None:
    from lab.sites import IPV6_KINDS, LabSite, default_sites
    from pukara.errors import LabError

    assert LabSite(index=1, code="a", ipv6="sin-ipv6").ipv6 in IPV6_KINDS
    with pytest.raises(LabError, match="sin-ipv6 o solo-enlace-local"):
        LabSite(index=1, code="a", ipv6="apagado")
    assert {s.ipv6 for s in default_sites(20)} == {""}  # only a test fixture picks them


def test_an_exception_in_one_devices_ipv6_snmp_step_is_only_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The IPv4 walk answers for both (recorded); the IPv6 GET of "b" meets an address the
    SNMP session cannot even parse (a plain ValueError): "b" alone says so, "a" goes on."""
    from pukara.secrets import CredentialProfile, Secret

    scalars, walked = recorded("estandar.walk")

    async def walk(device: equipos.Device, creds: Any, engines: Any, timeout_s: float) -> Any:
        return Collected(role=device.role, scalars=scalars, walked=walked,
                         mgmt_ipv6=device.mgmt_ipv6), creds[0]  # fmt: skip

    monkeypatch.setattr(equipos, "_walk", walk)
    devices = [
        equipos.Device("a", "s", "router", "127.0.0.9", "::1", "", "lab", "red"),
        equipos.Device("b", "s", "router", "127.0.0.10", "no-es-una-ip", "", "lab", "red"),
    ]
    profiles = equipos._Profiles(lambda n: CredentialProfile(n, {"community": Secret("x")}))
    reports = equipos.collect(devices, timeout_s=0.3, concurrency=4, extra=[], ssh=False,
                              profiles=profiles)  # fmt: skip
    d5 = {r.name: next(c for c in r.checks if c.check == "D5") for r in reports}
    assert d5["b"].status == "fail" and "ValueError" in d5["b"].evidence["snmp"]
    assert d5["a"].evidence["snmp"] and "ValueError" not in d5["a"].evidence["snmp"]
    assert {c.check: c.status for c in reports[0].checks}["D1"] == "pass"
