"""`pukara ipv6 plan verificar|delegaciones` end to end: formats, exit codes, the inventory."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli import main
from tests.unit.ipv6_plan_case import CLEAN

SEDES = """code,name,kind,country,city,timezone
lima,Sede central,sede_central,PE,Lima,America/Lima
emb-ar,Embajada en Argentina,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires
emb-bo,Embajada en Bolivia,embajada,BO,La Paz,America/La_Paz
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.csv"
    path.write_text(CLEAN, "utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    base = ["--base-datos", str(tmp_path / "inv.db")]
    (tmp_path / "sedes.csv").write_text(SEDES, "utf-8")
    assert main([*base, "inventario", "importar", str(tmp_path / "sedes.csv"), "-q"]) == 0
    capsys.readouterr()
    return base


def test_clean_plan_exits_0(capsys: pytest.CaptureFixture[str], plan_file: Path) -> None:
    code, out, _ = run(capsys, "ipv6", "plan", "verificar", str(plan_file), "-f", "json")
    assert (code, json.loads(out)) == (0, [])


def test_inventory_site_without_block_exits_3(
    capsys: pytest.CaptureFixture[str], plan_file: Path, db: list[str]
) -> None:
    code, out, _ = run(capsys, *db, "ipv6", "plan", "verificar", str(plan_file), "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 3
    assert [(r["rule"], r["severity"], r["line"]) for r in rows] == [("P10", "error", "")]
    assert "«emb-bo»" in rows[0]["message"]
    code, _, _ = run(capsys, *db, "ipv6", "plan", "verificar", str(plan_file), "--sin-inventario")
    assert code == 0


def test_table_and_junit_name_line_and_rule(
    capsys: pytest.CaptureFixture[str], plan_file: Path
) -> None:
    plan_file.write_text(CLEAN + "2001:db8::/64,lan,lima,Doc\n", "utf-8")
    code, out, err = run(capsys, "ipv6", "plan", "verificar", str(plan_file))
    assert code == 3 and "P08" in out and "documentación" in out and "3 errores" in err
    code, out, _ = run(capsys, "ipv6", "plan", "verificar", str(plan_file), "-f", "junit")
    assert code == 3
    assert out.startswith('<?xml version="1.0"') and 'failures="3"' in out
    assert "línea 15: 2001:db8::/64 está en el prefijo de documentación" in out


def test_a_malformed_file_names_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("- prefix: 2800::/32\n  kind: allocation\n - mal\n", "utf-8")
    code, out, err = run(capsys, "ipv6", "plan", "verificar", str(path))
    assert code == 2 and out == ""
    assert f"{path}, línea 3" in err


def test_delegaciones_lists_the_zones(capsys: pytest.CaptureFixture[str], plan_file: Path) -> None:
    code, out, _ = run(capsys, "ipv6", "plan", "delegaciones", str(plan_file), "-f", "json")
    zones = [z["zone"] for z in json.loads(out)]
    assert code == 0
    assert zones[:2] == ["0.f.4.0.0.0.8.2.ip6.arpa", "0.1.0.0.0.f.4.0.0.0.8.2.ip6.arpa"]
    assert zones[-1] == "2.7.1.6.b.6.5.7.0.7.d.f.ip6.arpa"
