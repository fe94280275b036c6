"""`pukara red remediar` against the lab's routers: real SSH to vtysh, SNMP, BGP to HQ.

Runs only with the lab (root, FRR): ``flock /tmp/pukara-lab.lock pytest
tests/integration/test_red_remediar_lab.py``. Needs the backup (red.respaldo) and golden
config (red.intencion) parts of red.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import main
from lab import manage
from lab.sites import LabSite
from tests.conftest import running_lab

pytest.importorskip("red.respaldo")
pytest.importorskip("red.intencion")

SITES = [
    LabSite(index=3951, code="x1"),
    LabSite(index=3952, code="x2", router="ruta-extra"),
    LabSite(index=3953, code="x3", router="sin-syslog"),
]


@pytest.fixture(scope="module")
def rem_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    for the_lab in running_lab(tmp_path_factory, SITES, "pkx"):
        manage.wait_ready(the_lab, 60)
        yield the_lab


def _inventory(folder: Path) -> Path:
    from lab import frr

    hq_v4, hq_v6 = frr.hq_address(SITES)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sedes.csv").write_text(
        "code,name,kind,country,city,timezone,vpn_kit,vpn_probe\n"
        "lima,Sede central,sede_central,PE,Lima,America/Lima,no,\n"
        + "".join(
            f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,America/Lima,no,{s.lan}\n"
            for s in SITES
        )
    )
    # as in inventario/ejemplo: a Linux host running FRR whose inventory profile is the lab's
    # (SNMP, the host's SSH); the router's CLI is red_credenciales (vtysh)
    rows = [f"gw-lima,router,lima,{hq_v4},{hq_v6},FRRouting,linux,lab,activo"]
    rows += [
        f"{s.hostname},router,{s.code},{s.v4},{s.v6},FRRouting,linux,lab,activo" for s in SITES
    ]
    (folder / "activos.csv").write_text(
        "name,kind,site,mgmt_ipv4,mgmt_ipv6,os,device_type,credential_profile,status\n"
        + "\n".join(rows)
        + "\n"
    )
    return folder


@pytest.fixture
def env(rem_lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(data))
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(rem_lab.credentials_file))
    inv = _inventory(tmp_path / "inv")
    for name in ("sedes.csv", "activos.csv"):
        assert main(["inventario", "importar", str(inv / name)]) == 0
    return data


def _remediar(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[Any], str]:
    code = main(["red", "remediar", "--formato", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else []), err


def _running(lab: manage.Lab, code: str) -> str:
    from lab import frr

    return frr.vtysh(lab, code, "show running-config")


def _failing(capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[str, ...]]:
    """The compliance report's failing features per device, from a fresh backup."""
    from pukara.config import load_settings
    from pukara.store import opened_store
    from red import cumplimiento, equipos, intencion, repositorio

    assert main(["red", "respaldar", "--formato", "json"]) == 0
    capsys.readouterr()
    settings = load_settings()
    latest = repositorio.ConfigRepo(repositorio.default_path(settings.data_dir)).latest()
    rules = cumplimiento.load_rules()
    out = {}
    with opened_store(settings, read_only=True) as store:
        for device in equipos.select(store, [s.code for s in SITES]):
            running = latest[device.path].decode()
            golden = intencion.render(device, store)
            out[device.name] = cumplimiento.check(device.name, running, golden, rules).failing
    return out


def test_nonstandard_sites_are_brought_to_standard(
    rem_lab: manage.Lab, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab import frr

    failing = _failing(capsys)
    assert failing["gw-x1"] == () and failing["gw-x2"] and failing["gw-x3"], failing
    # --simular: the diff and the commands, nothing changes on the routers
    before = {s.code: _running(rem_lab, s.code) for s in SITES}
    code, doc, err = _remediar(capsys, "--simular", "x1", "x2", "x3")
    assert code == 0, err
    by = {d["device"]: d for d in doc}
    assert {d: v["status"] for d, v in by.items()} == {
        "gw-x1": "sin_cambios", "gw-x2": "simulado", "gw-x3": "simulado",
    }, doc  # fmt: skip
    assert by["gw-x2"]["commands"] == [f"no ip route {frr.EXTRA_ROUTE}/32 {SITES[1].v4_host}"]
    assert by["gw-x3"]["commands"] == ["log syslog informational"]
    assert {s.code: _running(rem_lab, s.code) for s in SITES} == before
    # the table: the diff as -/+ lines, then the commands
    assert main(["red", "remediar", "--simular", "x2"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[:4] == [
        "== gw-x2: simulado (sin cambios en el equipo)",
        f"- ip route {frr.EXTRA_ROUTE}/32 {SITES[1].v4_host}",
        "órdenes:",
        f"  no ip route {frr.EXTRA_ROUTE}/32 {SITES[1].v4_host}",
    ], table

    # applied: pre-check, backup, change, post-check; compliant afterwards
    code, doc, err = _remediar(capsys, "x2", "x3")
    assert code == 0, (doc, err)
    assert [d["status"] for d in doc] == ["aplicado", "aplicado"], doc
    code, doc, _ = _remediar(capsys, "--simular", "--todos")
    assert {d["device"]: d["status"] for d in doc} == {
        "gw-lima": "sin_cambios", "gw-x1": "sin_cambios", "gw-x2": "sin_cambios",
        "gw-x3": "sin_cambios",
    }, doc  # fmt: skip
    assert all(frr.bgp_established(rem_lab, s) for s in SITES)
    assert _failing(capsys) == dict.fromkeys(["gw-x1", "gw-x2", "gw-x3"], ())
    secrets = frr.secrets(rem_lab)
    assert not any(s in json.dumps(doc) for s in secrets)


def test_a_cutting_change_is_rolled_back_by_itself(
    rem_lab: manage.Lab, env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from lab import frr
    from red import repositorio

    site = SITES[0]
    assert frr.bgp_established(rem_lab, site)
    before = _running(rem_lab, site.code)
    orders = tmp_path / "corte.txt"
    orders.write_text(
        f"router bgp {frr.asn(site)}\n neighbor {site.v4_host} remote-as 65099\nexit\n"
    )
    code, doc, err = _remediar(capsys, "--ordenes", str(orders), "--espera-bgp", "10", "x1")
    assert code == 3, (doc, err)
    (out,) = doc
    assert out["status"] == "revertido" and out["rollback_ok"] is True, out
    assert f"BGP no establecido con {site.v4_host}" in out["reason"]
    assert out["rollback"] == [
        f"router bgp {frr.asn(site)}", f"neighbor {site.v4_host} remote-as 65000", "exit",
    ]  # fmt: skip
    assert frr.bgp_established(rem_lab, site)
    assert _running(rem_lab, site.code) == before
    # the backup taken just before the change is in the repository
    repo = repositorio.ConfigRepo(env / "red" / "respaldos")
    assert "remote-as 65000" in (repo.read("x1/gw-x1.cfg") or b"").decode()


def test_the_playbook_path_works(
    rem_lab: manage.Lab, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab import frr

    site = SITES[2]
    frr.vtysh(rem_lab, site.code, "configure terminal\nno log syslog")
    # the defaults: the site's Linux account operador (in the vty group of the site's /etc),
    # with the key of the asset's inventory profile (the lab's)
    code, doc, err = _remediar(capsys, "--ansible", "x3")
    assert code == 0, (doc, err)
    assert doc[0]["status"] == "aplicado", doc
    assert "log syslog informational" in _running(rem_lab, site.code).splitlines()
