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
    # both ways: HQ's neighbour is nobody, and gw-emb-ar's neighbour towards HQ is not matched
    assert {(f.kind, f.device) for f in found} == {("peering", "gw-lima"), ("peering", "gw-emb-ar")}
    assert "198.18.0.66" in next(f for f in found if f.device == "gw-lima").message
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


def _without_hq_neighbour(text: str, address: str) -> str:
    return "\n".join(
        line for line in text.splitlines() if not line.strip().startswith(f"neighbor {address} ")
    )


def test_peering_mission_whose_neighbour_headquarters_lacks() -> None:
    cfg = configs()
    cfg["lima/gw-lima.cfg"] = _without_hq_neighbour(cfg["lima/gw-lima.cfg"], "198.18.0.6")
    (finding,) = offline_checks(cfg)
    assert (finding.kind, finding.device, finding.peer) == ("peering", "gw-emb-ar", "gw-lima")
    assert finding.text == "neighbor 198.18.0.5 remote-as 65000"
    assert "gw-lima no lo tiene de vecino" in finding.message and "198.18.0.6" in finding.message


def test_peering_without_headquarters_configuration_is_a_finding() -> None:
    cfg = configs()
    del cfg["lima/gw-lima.cfg"]  # its backup failed, or it is not in the folder
    found = offline_checks(cfg)
    assert [(f.kind, f.device, f.text) for f in found] == [
        ("peering", "gw-emb-ar", "neighbor 198.18.0.5 remote-as 65000"),
        ("peering", "gw-emb-bo", "neighbor 198.18.0.9 remote-as 65000"),
    ]
    assert all("ninguna configuración tiene router bgp 65000" in f.message for f in found)


def test_peering_neighbour_address_with_several_owners_is_reported() -> None:
    cfg = configs()
    # a third router claims gw-emb-bo's link address on a link of its own
    cfg["x/gw-x.cfg"] = (
        "hostname gw-x\ninterface wan0\n ip address 198.18.0.10/30\nexit\n"
        "router bgp 4200000009\nexit\nend\n"
    )
    found = [f for f in offline_checks(cfg) if f.kind == "peering"]
    (several,) = [f for f in found if f.device == "gw-lima"]
    assert several.text == "neighbor 198.18.0.10 remote-as 4200000002"
    assert "está en varios equipos (gw-emb-bo, gw-x)" in several.message


UNDEFINED = [
    (" neighbor 198.18.0.9 prefix-list PL-NADA in", "la lista de prefijos «PL-NADA»"),
    (" neighbor 198.18.0.9 filter-list AS-NADA out", "la lista de as-path «AS-NADA»"),
    (" neighbor 198.18.0.9 peer-group PG-NADA", "el peer-group «PG-NADA»"),
    (" table-map RM-NADA", "el route-map «RM-NADA»"),
    (" redistribute connected route-map RM-NADA", "el route-map «RM-NADA»"),
    (" redistribute static metric 10 route-map RM-NADA", "el route-map «RM-NADA»"),
    ("  neighbor 198.18.0.9 default-originate route-map RM-NADA", "el route-map «RM-NADA»"),
]


@pytest.mark.parametrize(("line", "what"), UNDEFINED)
def test_more_undefined_references_in_bgp(line: str, what: str) -> None:
    cfg = configs()
    text = cfg["emb-bo/gw-emb-bo.cfg"]
    cfg["emb-bo/gw-emb-bo.cfg"] = text.replace(
        " neighbor 198.18.0.9 description", line + "\n neighbor 198.18.0.9 description", 1
    )
    (finding,) = offline_checks(cfg)
    assert (finding.kind, finding.device, finding.text) == (
        "undefined-reference", "gw-emb-bo", line.strip())  # fmt: skip
    assert what in finding.message
    assert cfg["emb-bo/gw-emb-bo.cfg"].splitlines()[finding.line - 1] == line


def test_match_access_list_and_defined_objects_are_fine() -> None:
    cfg = configs()
    extra = (
        "access-list AL-SI seq 5 permit any\nbgp as-path access-list AS-SI seq 5 permit _65000_\n"
        "route-map RM-AL permit 10\n match ip address AL-SI\nexit\n"
        "route-map RM-AL permit 20\n match ip address AL-NO\nexit\n"
    )
    text = cfg["emb-bo/gw-emb-bo.cfg"].replace("\nend", "\n" + extra + "end")
    text = text.replace(
        " neighbor 198.18.0.9 description",
        " neighbor PG peer-group\n neighbor 198.18.0.9 filter-list AS-SI in\n"
        " neighbor 198.18.0.9 description",
        1,
    )
    cfg["emb-bo/gw-emb-bo.cfg"] = text
    (finding,) = offline_checks(cfg)
    assert finding.text == "match ip address AL-NO" and "la access-list «AL-NO»" in finding.message
