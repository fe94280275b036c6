"""The address-plan linter: a clean plan passes, each seeded fault is caught on its line."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from ipv6 import delegaciones, plan
from ipv6.plan_reglas import RULES, obvious_global_id
from tests.unit.ipv6_plan_case import CLEAN, FAULTS, SITES


def _check(text: str, sites: list[str] | None = SITES, *, yaml_format: bool = False
           ) -> list[plan.Finding]:  # fmt: skip
    return plan.check(plan.parse_plan(text, origin="plan", yaml_format=yaml_format), sites)


def test_the_clean_plan_has_no_findings() -> None:
    assert _check(CLEAN) == []


@pytest.mark.parametrize("rule", sorted(FAULTS))
def test_each_seeded_fault_is_caught_on_its_line(rule: str) -> None:
    row, says = FAULTS[rule]
    text = CLEAN + row + "\n" if row else CLEAN
    if rule == "P10":  # the inventory has a site the plan lacks
        found = _check(text, [*SITES, "emb-bo"])
        assert [(f.rule, f.line) for f in found] == [("P10", None)]
    else:
        found = [f for f in _check(text, [*SITES, "emb-bo", "emb-cl"]) if f.rule == rule]
        assert found, f"{rule} no encontró la falla sembrada"
        assert {f.line for f in found} == {CLEAN.count("\n") + 1}
    assert says in found[0].message
    assert all(f.rule in RULES for f in found)


def test_every_rule_has_a_seeded_fault() -> None:
    assert set(FAULTS) == set(RULES)


def test_a_row_with_host_bits_names_the_prefix_it_meant() -> None:
    found = _check(CLEAN + "2800:4f0:10:7::1/64,lan,lima,Bits\n")
    assert [(f.rule, f.line) for f in found] == [("P01", 15)]
    assert "2800:4f0:10:7::/64" in found[0].message


def test_an_ipv4_prefix_and_an_unknown_kind_are_p01() -> None:
    found = _check(CLEAN + "198.18.0.0/24,lan,lima,v4\n2800:4f0:10:8::/64,vlan,lima,x\n")
    assert [(f.rule, f.line) for f in found] == [("P01", 15), ("P01", 16)]
    assert "IPv4" in found[0].message and "vlan" in found[1].message


def test_a_plan_with_no_allocation_warns_once() -> None:
    found = _check("prefix,kind,site,name\n2800:4f0:10::/48,site,lima,Lima\n", ["lima"])
    assert [(f.rule, f.severity, f.line) for f in found] == [("P07", "warning", None)]


def test_site_codes_of_the_plan_not_in_the_inventory_warn() -> None:
    found = _check(CLEAN, ["lima"])
    assert [(f.rule, f.severity, f.line) for f in found] == [("P10", "warning", 11)]


def test_without_the_inventory_p10_is_not_run() -> None:
    assert _check(CLEAN, None) == []


def test_second_loopback_block_of_a_site_warns() -> None:
    found = _check(CLEAN + "2800:4f0:10:fd::/64,reserved-loopback,lima,Loopbacks 2\n")
    assert [(f.rule, f.severity) for f in found] == [("P05", "warning")]


@pytest.mark.parametrize(
    ("gid", "obvious"),
    [
        ("fd00:0000:0000", True), ("fd12:3456:789a", True), ("fdaa:aaaa:aaaa", True),
        ("fd01:0000:0001", True), ("fdab:abab:abab", True), ("fdde:adbe:efca", True),
        ("fd98:7654:3210", True), ("fd70:756b:6172", False), ("fd3c:9e21:0b7d", False),
    ],
)  # fmt: skip
def test_obvious_ula_global_ids(gid: str, obvious: bool) -> None:
    value = (int(ipaddress.IPv6Network(f"{gid}::/48").network_address) >> 80) & ((1 << 40) - 1)
    assert (obvious_global_id(value) is not None) is obvious


def test_fc00_is_not_a_local_ula() -> None:
    found = _check(CLEAN + "fc3c:9e21:0b7d::/48,ula,,Mal\n")
    assert [f.rule for f in found] == ["P09"] and "fd00::/8" in found[0].message


YAML = """\
prefixes:
  - prefix: 2800:4f0::/32
    kind: allocation
    name: LACNIC
  - prefix: 2800:4f0:10::/48
    kind: site
    site: lima
    name: Lima
  - {prefix: "2800:4f0:10:1::/65", kind: lan, site: lima, name: Corta}
  - prefix: nada
    kind: lan
"""


def test_yaml_findings_carry_the_line_of_their_item() -> None:
    found = _check(YAML, ["lima"], yaml_format=True)
    assert [(f.rule, f.line) for f in found] == [("P02", 9), ("P01", 10)]


def test_broken_yaml_names_its_line() -> None:
    with pytest.raises(plan.PlanError, match=r"línea 3"):
        plan.parse_plan("prefixes:\n  - prefix: a\n   kind: [\n", origin="p.yaml",
                        yaml_format=True)  # fmt: skip


def test_csv_without_a_prefix_column_names_the_header_line() -> None:
    with pytest.raises(plan.PlanError, match=r"línea 2: .*columna prefix"):
        plan.parse_plan("# plan\nprefijo_x,tipo\n", origin="p.csv", yaml_format=False)


@pytest.mark.parametrize(
    ("text", "yaml_format", "what"),
    [("prefix,kind,site,name\n", False, "solo tiene el encabezado"),
     ("prefixes: []\n", True, "la lista está vacía")],
)  # fmt: skip
def test_a_plan_with_no_prefix_is_an_error_not_a_clean_pass(
    text: str, yaml_format: bool, what: str
) -> None:
    with pytest.raises(plan.PlanError, match=f"no tiene ningún prefijo \\({what}\\)"):
        plan.parse_plan(text, origin="p", yaml_format=yaml_format)


def test_a_file_not_in_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_bytes(b"prefix,kind\n2800::/32,allocation\n\xff\n")
    with pytest.raises(plan.PlanError, match=r"línea 3: .*UTF-8"):
        plan.read_plan(path)


def test_delegations_on_and_off_nibble_boundaries() -> None:
    entries = plan.parse_plan(
        CLEAN + "2800:4f0:30::/47,site,emb-bo,Bolivia\n", origin="p", yaml_format=False
    )
    zones = {z["prefix"]: z for z in delegaciones.delegations(entries)}
    assert zones["2800:4f0::/32"]["zone"] == "0.f.4.0.0.0.8.2.ip6.arpa"
    assert zones["2800:4f0:10::/48"]["zone"] == "0.1.0.0.0.f.4.0.0.0.8.2.ip6.arpa"
    assert zones["2800:4f0:30::/48"]["block"] == zones["2800:4f0:31::/48"]["block"]
    assert zones["fd70:756b:6172::/48"]["public"] is False
    assert "2800:4f0:10:1::/64" not in zones  # LANs are not delegated
    assert len(zones) == 6


def test_a_site_with_two_blocks_keeps_both_and_warns_on_the_second() -> None:
    text = (
        CLEAN + "2800:4f0:21::/48,site,emb-ar,Segundo bloque\n2800:4f0:21:1::/64,lan,emb-ar,Más\n"
    )
    got = [(f.rule, f.severity, f.line) for f in _check(text)]
    assert got == [("P13", "warning", 15)]  # the LAN of the second block is inside its site


def test_plan_results_one_per_rule_with_findings_as_evidence() -> None:
    from ipv6 import plan_corrida

    text = CLEAN + FAULTS["P08"][0] + "\n"
    found = _check(text)
    results = {r.check: r for r in plan_corrida.results(found, "plan.csv", sites_checked=True)}
    assert list(results) == list(RULES)
    assert results["P08"].status == "fail" and results["P08"].evidence["lines"] == [15]
    assert results["P08"].evidence["findings"][0]["rule"] == "P08"
    assert results["P02"].status == "pass" and not results["P02"].evidence
    unread = plan_corrida.results(_check(CLEAN, None), "plan.csv", sites_checked=False)
    assert {r.check: r.status.value for r in unread}["P10"] == "not-tested"


def test_delegations_label_only_fc00_7_as_ula() -> None:
    entries = plan.parse_plan(CLEAN + "2001:db8::/48,site,doc,Doc\n", origin="x.csv",
                              yaml_format=False)  # fmt: skip
    public = {z["block"]: z["public"] for z in delegaciones.delegations(entries)}
    assert public["2001:db8::/48"] is True and public["fd70:756b:6172::/48"] is False
    assert delegaciones.unreadable(entries) == []
