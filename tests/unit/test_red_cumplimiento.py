"""Compliance per rule kind and per feature, against real FRR 8.4 running configurations."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pukara.errors import UsageError
from pukara.store.sqlite import SQLiteStore
from red import cumplimiento, intencion
from red.cumplimiento import Line, check, load_rules
from tests.unit.red_cumplimiento_case import (
    FEATURE_OF,
    KINDS,
    as_backed_up,
    device,
    real,
    small_inventory,
)


@pytest.fixture
def golden(store: SQLiteStore, tmp_path: Path) -> dict[str, str]:
    small_inventory(store, tmp_path)
    return {
        n: intencion.render(device(store, n), store) for n in ("gw-lima", "gw-emb-ar", "gw-emb-bo")
    }


@pytest.mark.parametrize("name", ["gw-lima", "gw-emb-ar", "gw-emb-bo"])
@pytest.mark.parametrize("backed_up", [True, False])
def test_standard_router_is_compliant_as_frr_prints_it(
    golden: dict[str, str], name: str, backed_up: bool
) -> None:
    running = real(name)
    result = check(
        name, as_backed_up(running) if backed_up else running, golden[name], load_rules()
    )
    assert [f.feature for f in result.features] == list(cumplimiento.FEATURES)
    assert result.compliant, result.to_dict()


@pytest.mark.parametrize("kind", KINDS)
def test_each_non_standard_kind_fails_exactly_its_feature(
    golden: dict[str, str], kind: str
) -> None:
    result = check(
        "gw-emb-ar", as_backed_up(real("gw-emb-ar", kind)), golden["gw-emb-ar"], load_rules()
    )
    assert result.failing == (FEATURE_OF[kind],)


def test_missing_and_extra_lines_name_their_parents(golden: dict[str, str]) -> None:
    result = check("gw-emb-ar", real("gw-emb-ar", "as-errado"), golden["gw-emb-ar"], load_rules())
    bgp = result.feature("bgp")
    assert bgp.missing == (Line(("router bgp 4200000001",), "neighbor 198.18.0.5 remote-as 65000"),)
    assert bgp.extra == (Line(("router bgp 4200000001",), "neighbor 198.18.0.5 remote-as 65099"),)
    assert bgp.to_dict()["missing"] == [
        {"parents": ["router bgp 4200000001"], "line": "neighbor 198.18.0.5 remote-as 65000"}
    ]


def test_hostname_feature(golden: dict[str, str]) -> None:
    running = real("gw-emb-ar").replace("hostname gw-emb-ar", "hostname router-viejo")
    result = check("gw-emb-ar", running, golden["gw-emb-ar"], load_rules())
    assert result.failing == ("hostname",)
    assert [x.text for x in result.feature("hostname").extra] == ["hostname router-viejo"]


def test_passwords_regex_accepts_any_secret_but_not_a_missing_line(golden: dict[str, str]) -> None:
    rules = load_rules()
    changed = real("gw-emb-ar").replace("enable password enaSecret1", "enable password otra")
    assert check("gw-emb-ar", changed, golden["gw-emb-ar"], rules).compliant
    gone = real("gw-emb-ar").replace("enable password enaSecret1\n", "")
    result = check("gw-emb-ar", gone, golden["gw-emb-ar"], rules)
    assert result.failing == ("passwords",)
    assert [x.text for x in result.feature("passwords").missing] == ["enable password <secreto>"]


def test_unordered_ignores_order_and_counts_lines(golden: dict[str, str]) -> None:
    lines = real("gw-emb-ar").splitlines()
    i = lines.index(" neighbor 198.18.0.5 remote-as 65000")
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    assert check("gw-emb-ar", "\n".join(lines), golden["gw-emb-ar"], load_rules()).compliant


def _rules(text: str) -> cumplimiento.Rules:
    return load_rules(tomllib.loads(text))


ORDERED = """
[comparacion]
secreto = "<s>"
[[caracteristica]]
nombre = "route-maps"
lineas = '^route-map\\b'
tipo = "ordered"
[[caracteristica]]
nombre = "rm-sin-orden"
lineas = '^route-map\\b'
tipo = "unordered"
"""


def test_ordered_reports_lines_out_of_order() -> None:
    golden = "route-map A permit 10\n match ip address prefix-list X\n set metric 5\nexit\n"
    swapped = "route-map A permit 10\n set metric 5\n match ip address prefix-list X\nexit\n"
    result = check("r", swapped, golden, _rules(ORDERED))
    ordered = result.feature("route-maps")
    assert not ordered.compliant
    assert {x.text for x in (*ordered.missing, *ordered.extra)} <= {
        "match ip address prefix-list X",
        "set metric 5",
    }
    assert ordered.missing and ordered.extra
    # the same rule as unordered: compliant (the first matching feature wins, so test apart)
    unordered = _rules(ORDERED.replace('tipo = "ordered"', 'tipo = "unordered"', 1))
    assert check("r", swapped, golden, unordered).compliant


def test_ordered_groups_prefix_lists_by_name() -> None:
    rules = _rules(
        """
[[caracteristica]]
nombre = "prefix-lists"
lineas = '^ip prefix-list\\b'
tipo = "ordered"
grupo = '^ip prefix-list \\S+'
"""
    )
    golden = "ip prefix-list A seq 5 permit 10.0.0.0/8\nip prefix-list B seq 5 permit 0.0.0.0/0\n"
    other_lists_first = (
        "ip prefix-list B seq 5 permit 0.0.0.0/0\nip prefix-list A seq 5 permit 10.0.0.0/8\n"
    )
    assert check("r", other_lists_first, golden, rules).compliant
    entries_swapped = (
        "ip prefix-list A seq 10 deny any\nip prefix-list A seq 5 permit 10.0.0.0/8\n"
        "ip prefix-list B seq 5 permit 0.0.0.0/0\n"
    )
    want = (
        "ip prefix-list A seq 5 permit 10.0.0.0/8\nip prefix-list A seq 10 deny any\n"
        "ip prefix-list B seq 5 permit 0.0.0.0/0\n"
    )
    result = check("r", entries_swapped, want, rules)
    assert not result.compliant


def test_ignore_lines_and_values() -> None:
    rules = _rules(
        """
[comparacion]
ignorar = ['^frr version ', 'description ']
ignorar_valores = ['<secreto:hmac-sha256:[0-9a-f]+>']
secreto = "<s>"
[[caracteristica]]
nombre = "todo"
lineas = '.'
tipo = "unordered"
"""
    )
    golden = "frr version 8.4.4\ninterface wan0\n description uno\nneighbor x password <s>\n"
    running = (
        "frr version 9.0\ninterface wan0\n description otra\n"
        "neighbor x password <secreto:hmac-sha256:0123456789ab>\n"
    )
    assert check("r", running, golden, rules).compliant
    clear = running.replace("<secreto:hmac-sha256:0123456789ab>", "clara")
    assert not check("r", clear, golden, rules).compliant


def test_a_line_under_another_parent_is_another_line() -> None:
    rules = _rules('[[caracteristica]]\nnombre = "i"\nlineas = "^interface"\ntipo = "unordered"\n')
    golden = "interface a\n ip address 10.0.0.1/30\nexit\ninterface b\nexit\n"
    running = "interface a\nexit\ninterface b\n ip address 10.0.0.1/30\nexit\n"
    result = check("r", running, golden, rules).feature("i")
    assert result.missing == (Line(("interface a",), "ip address 10.0.0.1/30"),)
    assert result.extra == (Line(("interface b",), "ip address 10.0.0.1/30"),)


def test_a_regex_that_does_not_compile_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"«\(sin cerrar» de la característica x no compila"):
        _rules('[[caracteristica]]\nnombre = "x"\nlineas = "(sin cerrar"\n')
    with pytest.raises(UsageError, match="tipo"):
        _rules('[[caracteristica]]\nnombre = "x"\nlineas = "a"\ntipo = "desordenado"\n')


def test_shipped_rules_define_the_contract_features() -> None:
    rules = load_rules()
    assert tuple(f.name for f in rules.features) == cumplimiento.FEATURES
    assert {f.kind for f in rules.features} == {"ordered", "unordered", "regex"}


def test_lines_of_no_feature_are_reported_under_otras(golden: dict[str, str]) -> None:
    extra = (
        "router ospf\n ospf router-id 198.18.0.6\n network 198.18.0.4/30 area 0\nexit\n!\n"
        "router rip\n network wan0\nexit\n!\n"
        "access-list AL-X seq 5 permit any\n!\n"
        "line vty\n exec-timeout 0 0\nexit\n!\n"
        "key chain K\n key 1\n  key-string <secreto:hmac-sha256:0123456789ab>\n exit\nexit\n!\n"
        "vrf OTRA\n ip route 198.18.9.0/24 198.18.0.5\nexit-vrf\n!\n"
    )
    running = real("gw-emb-ar").replace("\nend", "\n" + extra + "end")
    result = check("gw-emb-ar", running, golden["gw-emb-ar"], load_rules())
    assert result.failing == ("otras",)
    otras = result.feature("otras")
    assert not otras.missing
    tops = {line.parents[0] if line.parents else line.text for line in otras.extra}
    assert tops == {"router ospf", "router rip", "access-list AL-X seq 5 permit any",
                    "line vty", "key chain K", "vrf OTRA"}  # fmt: skip
    assert Line(("vrf OTRA",), "ip route 198.18.9.0/24 198.18.0.5") in otras.extra
    assert cumplimiento.FEATURES[-1] == "otras"
