"""One reading of a target for every area (pukara.targets), seen through discovery and monitoring."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main
from inventario import discovery
from monitoreo import sites
from pukara.errors import UsageError
from pukara.store import SQLiteStore
from pukara.targets import ADDRESS, ASSET, NAME, NETWORK, SITE, UNKNOWN, classify

SEDES = """code,name,kind,country,city,timezone,parent
lima,Sede central,sede_central,PE,Lima,America/Lima,
emb-x,Embajada X,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires,lima
vacia,Embajada sin equipos,embajada,CL,Santiago,America/Santiago,lima
"""
ACTIVOS = """name,kind,site,mgmt_ipv4,status,retired_reason
gw-emb-x,router,emb-x,198.18.0.6,activo,
srv-emb-x,servidor_fisico,emb-x,198.18.0.7,en_reparacion,
sw-viejo,switch,emb-x,198.18.0.8,dado de baja,Reemplazado
emb-x,pc,lima,198.19.0.9,activo,
"""


def test_the_order_is_site_asset_address_prefix_name() -> None:
    codes, names = {"emb-x"}, {"emb-x", "gw-emb-x"}
    assert classify("EMB-X", sites=codes, assets=names).kind == SITE  # a site code wins
    assert classify("gw-emb-x", sites=codes, assets=names).kind == ASSET
    assert classify("198.18.0.6", sites=codes).value == "198.18.0.6"
    assert classify("fd70:756b:6172:1:0::2", sites=codes).kind == ADDRESS
    assert classify("198.18.0.0/30", sites=codes).kind == NETWORK
    assert classify("gw.mision.test.", sites=codes).value == "gw.mision.test"
    assert classify("gw.mision.test", sites=codes).kind == NAME
    for bad in ("1.2.3", "nada", "-x.test"):
        with pytest.raises(ValueError, match="no es una sede"):
            classify(bad, sites=codes)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    db = tmp_path / "p.db"
    for name, text in (("sedes.csv", SEDES), ("activos.csv", ACTIVOS)):
        (tmp_path / name).write_text(text)
        assert main(["--base-datos", str(db), "inventario", "importar", str(tmp_path / name),
                     "-q"]) == 0  # fmt: skip
    return SQLiteStore(db)


def test_a_site_code_means_the_sites_equipment_in_service(store: SQLiteStore) -> None:
    with store:
        found = discovery.resolve(store, ["EMB-X"], [])
        probed = sites.resolve(["EMB-X"], sites.load_sites(store))
    # discovery asks every device in service (not the retired switch, not the pc named emb-x)
    assert sorted(t.address for t in found) == ["198.18.0.6", "198.18.0.7"]
    assert [(t.label, t.address) for t in probed] == [("emb-x", "198.18.0.6")]  # its gateway


def test_a_site_with_nothing_to_reach_is_a_site_not_an_unknown_target(
    store: SQLiteStore,
) -> None:
    with store:
        with pytest.raises(UsageError, match="la sede «vacia» no tiene equipos en servicio"):
            discovery.resolve(store, ["vacia"], [])
        with pytest.raises(UsageError, match="«vacia»: la sede no tiene pasarela"):
            sites.resolve(["vacia"], sites.load_sites(store))


def test_an_unknown_target_gets_the_same_reason_in_both_areas(store: SQLiteStore) -> None:
    with store:
        with pytest.raises(UsageError) as from_discovery:
            discovery.resolve(store, ["nada"], [])
        with pytest.raises(UsageError) as from_monitoring:
            sites.resolve(["nada"], sites.load_sites(store))
    assert UNKNOWN in from_discovery.value.message and UNKNOWN in from_monitoring.value.message
