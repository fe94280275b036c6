"""The shipped example inventory is plain data, and the lab agrees with it."""

from __future__ import annotations

import csv
from importlib import resources

from inventario import sample
from inventario.model import ASSETS, SITES, parse_bool
from lab import frr
from lab.sites import VPN_INTERFACE, LabSite, default_sites, example_codes


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("inventario").joinpath("ejemplo", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_the_example_is_read_from_its_files() -> None:
    parsed = sample.parsed()
    assert len(parsed.rows[SITES]) == len(_rows("sedes.csv")) > 100
    assert len(parsed.rows[ASSETS]) == len(_rows("activos.csv")) > 180
    assert parsed.rows[ASSETS][0].where == "activos.csv línea 2"


def test_every_wan_gateway_of_the_example_is_a_lab_site() -> None:
    codes = example_codes()
    sites = {r["code"]: r for r in _rows("sedes.csv")}
    gateways = {r["site"]: r for r in _rows("activos.csv") if r["kind"] == "router"}
    hq = gateways.pop(frr.HQ_CODE)  # headquarters' router: the lab's HQ bgpd, not a site
    assert codes and set(codes) == set(gateways)
    v4, v6 = frr.hq_address(default_sites(len(codes)))
    assert (hq["name"], hq["serial"]) == (frr.hq_site().hostname, frr.hq_site().serial)
    assert (hq["mgmt_ipv4"], hq["mgmt_ipv6"]) == (str(v4), str(v6))
    assert (hq["os"], hq["device_type"], hq["credential_profile"]) == ("FRRouting", "linux", "lab")
    assert sorted(codes.values()) == list(range(1, len(codes) + 1))
    for code, index in codes.items():
        lab = LabSite(index=index, code=code)
        gw, site = gateways[code], sites[code]
        assert (gw["name"], gw["serial"]) == (lab.hostname, lab.serial)
        assert (gw["mgmt_ipv4"], gw["mgmt_ipv6"]) == (str(lab.v4), str(lab.v6))
        assert site["vpn_peer"] == str(lab.v4)
        if parse_bool(site["vpn_kit"]):
            assert (site["vpn_interface"], site["vpn_probe"]) == (VPN_INTERFACE, str(lab.lan))


def test_the_demo_lab_takes_the_example_codes() -> None:
    first = default_sites(3)
    assert [s.code for s in first] == ["emb-ar", "emb-bo", "emb-br"]
