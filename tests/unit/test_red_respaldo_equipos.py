"""red.equipos: network devices from the inventory store."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventario.model import ASSETS, SITES
from pukara.config import load_settings
from pukara.errors import UsageError
from pukara.store import SQLiteStore
from red.equipos import NetDevice, select


def _fill(store: SQLiteStore) -> None:
    store.upsert(SITES, [{"code": "lima", "kind": "sede_central"},
                         {"code": "emb-ar", "kind": "embajada"}], key=["code"])  # fmt: skip
    store.upsert(
        ASSETS,
        [
            {"name": "gw-lima", "kind": "router", "site": "lima", "mgmt_ipv4": "198.18.0.1",
             "os": "FRRouting", "status": "activo", "device_type": "linux",
             "credential_profile": "lab"},
            {"name": "gw-emb-ar", "kind": "router", "site": "emb-ar", "mgmt_ipv4": "",
             "mgmt_ipv6": "FD70:756B:6172:1::2", "os": "frr", "credential_profile": "otro"},
            {"name": "fw-emb-ar", "kind": "firewall", "site": "emb-ar", "mgmt_ipv4": "198.18.0.9",
             "os": "FRRouting", "status": "dado_de_baja"},
            {"name": "srv-1", "kind": "servidor_fisico", "site": "lima",
             "mgmt_ipv4": "198.18.0.7", "os": "FRRouting"},
            {"name": "sw-linux", "kind": "switch", "site": "lima", "mgmt_ipv4": "198.18.0.8",
             "os": "Linux"},
            {"name": "gw-sin-ip", "kind": "router", "site": "lima", "mgmt_ipv4": "no-ip",
             "os": "FRRouting"},
        ],
        key=["name"],
    )  # fmt: skip


def test_select_every_network_device(store: SQLiteStore) -> None:
    _fill(store)
    devices = select(store, [])
    assert [d.name for d in devices] == ["gw-emb-ar", "gw-lima"]
    ar, lima = devices
    assert isinstance(ar, NetDevice)
    assert ar.address == "fd70:756b:6172:1::2" and ar.platform == "frr"
    # gw-lima's profile is its Linux shell's (device_type linux): red logs in with its own
    assert ar.credential_profile == "otro" and lima.credential_profile == "red"
    assert lima.site_kind == "sede_central" and ar.site_kind == "embajada"
    assert lima.path == "lima/gw-lima.cfg" and lima.role == "router"
    assert lima.asset["mgmt_ipv4"] == "198.18.0.1"


def test_select_by_name_or_site_and_profile_setting(store: SQLiteStore) -> None:
    _fill(store)
    assert [d.name for d in select(store, ["emb-ar"])] == ["gw-emb-ar"]
    assert [d.name for d in select(store, ["gw-lima", "lima"])] == ["gw-lima"]
    assert select(store, ["lima"], default_profile="x")[0].credential_profile == "x"


def test_unknown_names_are_a_usage_error(store: SQLiteStore) -> None:
    _fill(store)
    with pytest.raises(UsageError) as e:
        select(store, ["gw-lima", "nada", "srv-1"])
    assert "«nada»" in e.value.message and "«srv-1»" in e.value.message
    assert "gw-lima" not in e.value.message


def test_red_credenciales_setting(tmp_path: Path) -> None:
    assert load_settings({"data_dir": tmp_path}, environ={}).red_credenciales == "red"
    env = {"PUKARA_RED_CREDENCIALES": "routers"}
    assert load_settings({"data_dir": tmp_path}, environ=env).red_credenciales == "routers"
    toml = tmp_path / "pukara.toml"
    toml.write_text('[red]\ncredenciales = "desde-archivo"\n')
    env = {"PUKARA_CONFIG": str(toml)}
    assert load_settings({"data_dir": tmp_path}, environ=env).red_credenciales == "desde-archivo"
