"""Offline checks: each seeded fault is caught, standard configurations give nothing."""

from __future__ import annotations

import pytest

from red.verificaciones import Finding, offline_checks
from tests.unit.red_cumplimiento_case import as_backed_up, real

CHECK_OF = {
    "ref-indefinida": "undefined-reference",
    "as-errado": "peering",
    "ip-duplicada": "duplicate-address",
}


def configs(kind: str = "estandar") -> dict[str, str]:
    return {
        "lima/gw-lima.cfg": as_backed_up(real("gw-lima")),
        "emb-ar/gw-emb-ar.cfg": as_backed_up(real("gw-emb-ar", kind)),
        "emb-bo/gw-emb-bo.cfg": as_backed_up(real("gw-emb-bo")),
    }


@pytest.mark.parametrize("kind", ["estandar", "sin-syslog", "ruta-extra", "prefijo-abierto"])
def test_no_finding_on_configurations_that_agree(kind: str) -> None:
    assert offline_checks(configs(kind)) == []


def test_peering_site_side_wrong_remote_as() -> None:
    assert offline_checks(configs("as-errado")) == [
        Finding(
            "peering",
            "gw-emb-ar",
            24,
            "neighbor 198.18.0.5 remote-as 65099",
            "remote-as 65099, pero gw-lima tiene router bgp 65000",
            peer="gw-lima",
        )
    ]


def test_peering_headquarters_side_wrong_remote_as() -> None:
    cfg = configs()
    cfg["lima/gw-lima.cfg"] = cfg["lima/gw-lima.cfg"].replace(
        "remote-as 4200000002", "remote-as 4200000007"
    )
    (finding,) = offline_checks(cfg)
    assert (finding.kind, finding.device, finding.peer) == ("peering", "gw-lima", "gw-emb-bo")
    assert finding.text == "neighbor 198.18.0.10 remote-as 4200000007"
    assert "gw-emb-bo tiene router bgp 4200000002" in finding.message
    assert cfg["lima/gw-lima.cfg"].splitlines()[finding.line - 1] == " " + finding.text


def test_peering_neighbour_that_no_device_has_and_site_without_neighbour() -> None:
    cfg = configs()
    cfg["lima/gw-lima.cfg"] = cfg["lima/gw-lima.cfg"].replace("198.18.0.6 ", "198.18.0.66 ")
    found = offline_checks(cfg)
    assert {(f.kind, f.device) for f in found} == {("peering", "gw-lima")}
    assert "198.18.0.66" in found[0].message
    cfg = configs()
    cfg["emb-bo/gw-emb-bo.cfg"] = cfg["emb-bo/gw-emb-bo.cfg"].replace("198.18.0.9 ", "198.18.0.99 ")
    (finding,) = offline_checks(cfg)
    assert (finding.device, finding.text) == ("gw-emb-bo", "router bgp 4200000002")
    assert "no tiene vecino en 198.18.0.8/30" in finding.message


def test_undefined_prefix_list_and_route_map() -> None:
    (finding,) = offline_checks(configs("ref-indefinida"))
    assert (finding.kind, finding.device, finding.line) == ("undefined-reference", "gw-emb-ar", 43)
    assert "«PL-INEXISTENTE»" in finding.message
    cfg = configs()
    cfg["emb-bo/gw-emb-bo.cfg"] = cfg["emb-bo/gw-emb-bo.cfg"].replace(
        "route-map RM-HACIA-CENTRAL out", "route-map RM-OTRO out"
    )
    (finding,) = offline_checks(cfg)
    assert (finding.kind, finding.device) == ("undefined-reference", "gw-emb-bo")
    assert finding.text == "neighbor 198.18.0.9 route-map RM-OTRO out"


def test_duplicate_address_names_both_devices() -> None:
    found = offline_checks(configs("ip-duplicada"))
    assert [(f.kind, f.device, f.peer, f.text) for f in found] == [
        ("duplicate-address", "gw-emb-ar", "gw-emb-bo", "ip address 198.18.0.10/32"),
        ("duplicate-address", "gw-emb-bo", "gw-emb-ar", "ip address 198.18.0.10/30"),
    ]


@pytest.mark.parametrize("kind", sorted(CHECK_OF))
def test_each_seeded_fault_is_caught_by_its_check(kind: str) -> None:
    found = offline_checks(configs(kind))
    assert {f.kind for f in found} == {CHECK_OF[kind]}
    assert "gw-emb-ar" in {f.device for f in found}
