"""`pukara red cumplimiento` on the lab's real FRR routers, after a real backup over SSH.

The report must find exactly the sites the lab declared non-standard, each by the features
and offline checks ``lab.frr.NONSTANDARD`` names. Runs only with the lab (root, FRR):
``flock /tmp/pukara-lab.lock pytest tests/integration/test_red_cumplimiento.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from lab import manage
from lab.sites import LabSite
from red.cumplimiento import FEATURES
from red.verificaciones import KINDS as CHECKS
from tests.conftest import running_lab

KINDS = ("sin-syslog", "ruta-extra", "prefijo-abierto", "ref-indefinida", "as-errado",
         "ip-duplicada")  # fmt: skip
SITES = [LabSite(index=3761, code="c1"), LabSite(index=3762, code="c2")] + [
    LabSite(index=3763 + i, code=f"c{3 + i}", router=kind) for i, kind in enumerate(KINDS)
]


@pytest.fixture(scope="module")
def cumpl_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, SITES, "pkc")


def _inventory(folder: Path) -> list[Path]:
    from lab import frr

    hq_v4, _ = frr.hq_address(SITES)
    folder.mkdir(parents=True, exist_ok=True)
    sedes = folder / "sedes.csv"
    sedes.write_text(
        "code,name,kind,country,city,timezone\nlima,Sede central,sede_central,PE,Lima,America/Lima\n"
        + "".join(
            f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,America/Lima\n" for s in SITES
        )
    )
    activos = folder / "activos.csv"
    rows = [f"gw-lima,router,lima,{hq_v4},,FRRouting,activo"]
    rows += [f"{s.hostname},router,{s.code},{s.v4},{s.v6},FRRouting,activo" for s in SITES]
    activos.write_text("name,kind,site,mgmt_ipv4,mgmt_ipv6,os,status\n" + "\n".join(rows) + "\n")
    return [sedes, activos]


def test_the_report_finds_exactly_the_declared_non_standard_sites(
    cumpl_lab: manage.Lab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lab import frr

    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(data))
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(cumpl_lab.credentials_file))
    for path in _inventory(tmp_path / "inv"):
        assert main(["inventario", "importar", str(path), "--silencioso"]) == 0
    assert main(["red", "respaldar", "--silencioso", "--formato", "json"]) == 0
    capsys.readouterr()

    code = main(["red", "cumplimiento", "--formato", "json"])
    out, err = capsys.readouterr()
    assert code == 3, err  # the declared non-standard sites: drift to review
    report = json.loads(out)
    declared = {s.hostname: s.router for s in SITES if s.router}
    status = {d["device"]: d["status"] for d in report["devices"]}
    assert len(status) == len(SITES) + 1  # and gw-lima
    non_compliant = {name for name, st in status.items() if st != "compliant"}
    assert non_compliant == set(declared), report
    for device in report["devices"]:
        if device["device"] not in declared:
            continue
        must = frr.NONSTANDARD[declared[device["device"]]]
        failing = {f["feature"] for f in device["features"] if not f["compliant"]}
        assert failing == {m for m in must if m in FEATURES}, device
        found = {f["kind"] for f in report["findings"] if f["device"] == device["device"]}
        assert {m for m in must if m in CHECKS} <= found, (device["device"], found)
    for finding in report["findings"]:
        # a standard device shows up only as the other side of a non-standard one's fault
        assert finding["device"] in declared or finding["peer"] in declared, finding

    page = tmp_path / "cumplimiento.html"
    assert main(["red", "cumplimiento", "--formato", "html", "--salida", str(page)]) == 3
    text = page.read_text("utf-8")
    assert all(name in text for name in declared)
    assert not any(secret in text for secret in frr.secrets(cumpl_lab))
