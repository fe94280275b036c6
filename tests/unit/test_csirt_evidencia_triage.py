"""Which hosts `evidencia recolectar --equipo` names: inventory assets, sites, IP addresses."""

from __future__ import annotations

import ipaddress

import pytest

from csirt import evidencia_triage as triage
from pukara.errors import UsageError
from pukara.store import SQLiteStore


@pytest.fixture
def inventory(store: SQLiteStore) -> SQLiteStore:
    with store.transaction() as tx:
        tx.put("site", ["ar"], {"code": "ar", "name": "Embajada en Argentina"})
        tx.put("site", ["cl"], {"code": "cl", "name": "Embajada en Chile"})
        for doc in (
            {"name": "gw-emb-ar", "site": "ar", "mgmt_ipv4": "198.18.1.1",
             "mgmt_ipv6": "fd70:756b:6172:1::1", "credential_profile": "lab", "status": "activo"},
            {"name": "srv-emb-ar", "site": "ar", "mgmt_ipv4": "198.18.1.2", "preferred_family": "6",
             "mgmt_ipv6": "fd70:756b:6172:1::2", "credential_profile": "lab", "status": "activo"},
            {"name": "viejo-ar", "site": "ar", "mgmt_ipv4": "198.18.1.9", "status": "dado_de_baja",
             "credential_profile": "lab"},
            {"name": "sin-perfil", "site": "cl", "mgmt_ipv4": "198.18.2.1", "status": "activo"},
        ):  # fmt: skip
            tx.put("asset", [doc["name"]], doc)
    return store


def test_an_asset_by_name_in_any_case_or_by_either_address(inventory: SQLiteStore) -> None:
    [t] = triage.resolve(inventory, "GW-EMB-AR")
    assert (t.name, str(t.address), t.profile) == ("gw-emb-ar", "198.18.1.1", "lab")
    [t] = triage.resolve(inventory, "fd70:756b:6172:1:0::1")  # parsed, not compared as text
    assert (t.name, str(t.address)) == ("gw-emb-ar", "fd70:756b:6172:1::1")
    [t] = triage.resolve(inventory, "srv-emb-ar")
    assert t.address == ipaddress.ip_address("fd70:756b:6172:1::2")  # its preferred family
    [t] = triage.resolve(inventory, "gw-emb-ar", "otro")
    assert t.profile == "otro"


def test_a_site_is_its_assets_with_an_address_retired_ones_left_out(
    inventory: SQLiteStore,
) -> None:
    assert [t.name for t in triage.resolve(inventory, "AR")] == ["gw-emb-ar", "srv-emb-ar"]


def test_an_address_outside_the_inventory_needs_a_profile(inventory: SQLiteStore) -> None:
    with pytest.raises(UsageError, match="indique el perfil con --credencial"):
        triage.resolve(inventory, "198.18.7.7")
    [t] = triage.resolve(inventory, "198.18.7.7", "lab")
    assert (t.name, t.profile) == ("198.18.7.7", "lab")


@pytest.mark.parametrize(
    ("ref", "needle"),
    [
        ("gw-emb-ar; reboot", "no es un activo ni una sede del inventario, ni una dirección IP"),
        ("$(reboot)", "no es un activo ni una sede"),
        ("999.1.1.1", "no es un activo ni una sede"),
        ("viejo-ar", "no es un activo ni una sede"),
        ("sin-perfil", "no tiene perfil de credenciales"),
        ("  ", "falta el equipo"),
    ],
)
def test_what_names_no_host_is_refused(inventory: SQLiteStore, ref: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")):
        triage.resolve(inventory, ref)


@pytest.mark.parametrize(
    "path",
    ["var/log/auth.log", "/var/log/{{ lookup('pipe', 'id') }}", "/var/log/../shadow",
     "/var/log/a b", "/var/log/$(reboot)", "/var//log"],
)  # fmt: skip
def test_log_paths_are_checked_before_they_reach_ansible(path: str) -> None:
    with pytest.raises(UsageError, match="ruta de registro inválida"):
        triage.check_log_path(path)
    assert triage.check_log_path("/var/log/auth.log") == "/var/log/auth.log"
