"""Golden configurations rendered from the inventory; template and value errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jinja2
import pytest

from inventario import catalog
from pukara.errors import UsageError
from pukara.store.sqlite import SQLiteStore
from red import intencion
from tests.unit.red_cumplimiento_case import ACTIVOS, Device, device, small_inventory


def test_mission_router_from_the_inventory(store: SQLiteStore, tmp_path: Path) -> None:
    small_inventory(store, tmp_path)
    text = intencion.render(device(store, "gw-emb-bo"), store)
    for line in (
        "hostname gw-emb-bo",
        " ip address 198.18.0.10/30",
        " ipv6 address fd70:756b:6172:2::2/64",
        "router bgp 4200000002",
        " neighbor 198.18.0.9 remote-as 65000",
        " neighbor 198.18.0.9 password <secreto>",
        "  network 198.19.128.2/32",
        "ip prefix-list PL-SEDE-EMB-BO seq 5 permit 198.19.128.2/32",
    ):
        assert line in text.splitlines()


def test_headquarters_router_has_one_neighbour_per_mission_router(
    store: SQLiteStore, tmp_path: Path
) -> None:
    catalog.import_sample(store, dry_run=False)
    hq = Device("gw-lima", "lima", "sede_central", "router", "198.19.192.1")
    lines = intencion.render(hq, store).splitlines()
    routers = [
        a
        for a in store.entities("asset")
        if a["kind"] == "router" and str(a.get("mgmt_ipv4", "")).startswith("198.18.")
    ]
    remote = [
        x for x in lines if x.endswith(tuple(f"remote-as {4200000000 + i}" for i in range(1000)))
    ]
    assert len(remote) == len(routers) > 100
    assert " neighbor 198.18.0.6 remote-as 4200000001" in lines
    assert " neighbor 198.18.0.6 description gw-emb-ar" in lines
    assert "router bgp 65000" in lines and " bgp router-id 198.19.192.1" in lines


def test_every_example_router_renders(store: SQLiteStore) -> None:
    catalog.import_sample(store, dry_run=False)
    sites = {s["code"]: s for s in store.entities("site")}
    count = 0
    for a in store.entities("asset"):
        if a["kind"] == "router":
            d = Device(
                a["name"], a["site"], sites[a["site"]]["kind"], "router", a["mgmt_ipv4"], "frr", a
            )
            assert f"hostname {a['name']}\n" in intencion.render(d, store)
            count += 1
    assert count > 140


def test_a_value_that_is_not_what_the_template_needs_is_refused(
    store: SQLiteStore, tmp_path: Path
) -> None:
    small_inventory(store, tmp_path, ACTIVOS.replace("198.18.0.10,", "198.18.0.11,"))
    with pytest.raises(UsageError, match=r"gw-emb-bo: .*198\.18\.0\.11 no es la dirección \.2"):
        intencion.render(device(store, "gw-emb-bo"), store)
    bad = dataclasses.replace(device(store, "gw-emb-ar"), name="gw-emb-ar\nip route 0.0.0.0/0 x")
    with pytest.raises(UsageError, match="no es válido como nombre de equipo"):
        intencion.render(bad, store)


def test_the_lan_comes_from_the_site_or_the_plan(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_inventory(store, tmp_path)
    site = store.get("site", ["emb-bo"])
    assert site is not None
    store.upsert("site", [site | {"vpn_probe": "198.19.130.7"}], key=["code"])
    assert "  network 198.19.130.7/32" in intencion.render(device(store, "gw-emb-bo"), store)
    store.upsert("site", [site | {"vpn_probe": None}], key=["code"])
    # link number 2 (198.18.0.8/30) -> the plan's LAN block + 2
    assert "  network 198.19.128.2/32" in intencion.render(device(store, "gw-emb-bo"), store)
    plan = dataclasses.replace(intencion.load_plan(), lans=None)
    monkeypatch.setattr(intencion, "load_plan", lambda: plan)
    with pytest.raises(UsageError, match=r"gw-emb-bo: .*«vpn_probe»"):
        intencion.render(device(store, "gw-emb-bo"), store)


def test_no_template_for_the_role(store: SQLiteStore, tmp_path: Path) -> None:
    small_inventory(store, tmp_path)
    switch = dataclasses.replace(device(store, "gw-emb-ar"), role="switch")
    with pytest.raises(UsageError, match="no hay plantilla para el rol «switch»"):
        intencion.render(switch, store)


HEAD = "{% extends 'base.j2' %}\n{% block bgp %}\n"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (f"{HEAD}router bgp {{{{ bgp.asn }}\n{{% endblock %}}\n", 3, "error de sintaxis"),
        (f"{HEAD}!\n\nrouter bgp {{{{ bgp.asn_typo }}}}\n{{% endblock %}}\n", 5, "asn_typo"),
    ],
)
def test_a_template_error_names_template_and_line(
    store: SQLiteStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    line: int,
    what: str,
) -> None:
    small_inventory(store, tmp_path)
    folder = tmp_path / "plantillas"
    folder.mkdir()
    shipped = Path(intencion.__file__).parent / "plantillas" / "base.j2"
    (folder / "base.j2").write_text(shipped.read_text("utf-8"), "utf-8")
    (folder / "router-mision.j2").write_text(text, "utf-8")
    env = intencion.make_environment(jinja2.FileSystemLoader(folder))
    monkeypatch.setattr(intencion, "environment", lambda: env)
    where = rf"gw-emb-ar: plantilla red/plantillas/router-mision\.j2, línea {line}: .*{what}"
    with pytest.raises(UsageError, match=where):
        intencion.render(device(store, "gw-emb-ar"), store)
