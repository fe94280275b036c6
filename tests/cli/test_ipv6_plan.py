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


def test_verificar_stores_one_result_per_rule_for_the_report(
    capsys: pytest.CaptureFixture[str], plan_file: Path, tmp_path: Path
) -> None:
    db = ["--base-datos", str(tmp_path / "runs.db")]
    code, _, err = run(capsys, *db, "ipv6", "plan", "verificar", str(plan_file))
    assert code == 0 and "Corrida guardada" in err
    # the second run reads a store that holds only IPv6 runs: still no inventory, no P10 noise
    plan_file.write_text(CLEAN + "2001:db8::/64,lan,lima,Doc\n", "utf-8")
    code, out, _ = run(capsys, *db, "ipv6", "plan", "verificar", str(plan_file), "-f", "json")
    assert code == 3 and {f["rule"] for f in json.loads(out)} <= {"P07", "P08", "P13"}
    code, out, err = run(capsys, *db, "ipv6", "informe", "-f", "json")
    assert code == 0, err
    section = json.loads(out)["diagnostico"]["plan"]
    assert section is not None and section["run"]["kind"] == "plan"
    checks = {c["check"]: c for c in section["checks"]}
    assert sorted(checks) == [f"P{i:02d}" for i in range(1, 14)]
    assert section["findings"], section  # the failing rules with their evidence
    findings = {f["check"]: f for f in section["findings"]}
    assert findings["P08"]["status"] == "fail"
    assert findings["P08"]["evidence"]["lines"] == [15]
    code, out, _ = run(capsys, *db, "ipv6", "diff", "--tipo", "plan", "-f", "json")
    assert code == 0 and "P08" in out


def test_delegaciones_names_unreadable_rows_and_exits_3(
    capsys: pytest.CaptureFixture[str], plan_file: Path
) -> None:
    plan_file.write_text(CLEAN + "2800:4f0:zz::/48,site,cusco,Cusco\n2001:db8::/48,site,doc,Doc\n",
                         "utf-8")  # fmt: skip
    code, out, _ = run(capsys, "ipv6", "plan", "delegaciones", str(plan_file), "-f", "json")
    rows = json.loads(out)
    assert code == 3 and [(r["rule"], r["line"]) for r in rows] == [("P01", 15)]
    plan_file.write_text(CLEAN + "2001:db8::/48,site,doc,Doc\n", "utf-8")
    code, out, _ = run(capsys, "ipv6", "plan", "delegaciones", str(plan_file), "-f", "json")
    doc = next(z for z in json.loads(out) if z["block"] == "2001:db8::/48")
    assert code == 0 and doc["public"] is True  # documentation space, but no ULA
