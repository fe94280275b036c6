"""`pukara inventario` through the single error boundary: outputs, messages and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--base-datos", str(tmp_path / "inv.db")]


def test_import_export_round_trip(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, *db, "inventario", "importar", "--ejemplo", "--silencioso")
    assert code == 0 and err == ""
    code, out, _ = run(capsys, *db, "inventario", "exportar", "--formato", "json")
    data = json.loads(out)
    assert len(data["assets"]) > 180 and data["sites"][0]["code"]
    export = tmp_path / "inv.json"
    assert run(capsys, *db, "inventario", "exportar", "--archivo", str(export))[0] == 0
    code, _, err = run(capsys, *db, "inventario", "importar", str(export))
    assert code == 0 and "0 cambios aplicados" in err
    code, out, _ = run(capsys, *db, "inventario", "listar", "--pais", "AR", "--formato", "csv")
    assert code == 0 and "gw-emb-ar" in out and "gw-emb-bo" not in out


def test_bad_file_names_line_and_field_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    bad = tmp_path / "malo.csv"
    bad.write_text("name,kind,mgmt_ipv4\nr1,router,10.0.0.999\nr2,tostadora,\n")
    code, out, err = run(capsys, *db, "inventario", "importar", str(bad))
    assert code == 1 and out == ""
    assert "malo.csv: línea 2: campo «IPv4 de gestión» (mgmt_ipv4)" in err
    assert "línea 3: campo «Tipo» (kind)" in err
    assert "no se aplicó ningún cambio" in err and "2 errores;" in err
    code, out, _ = run(capsys, *db, "inventario", "exportar", "--formato", "csv")
    assert out.count("\n") == 1  # header only
    bad.write_text("name,kind,site\nr1,tostadora,\n")
    assert (
        "malo.csv: 1 error; no se aplicó" in run(capsys, *db, "inventario", "importar", str(bad))[2]
    )


def test_simulate_shows_the_diff(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys, *db, "inventario", "importar", "--ejemplo", "--simular", "-f", "json"
    )
    assert code == 0 and any(r["action"] == "alta" for r in json.loads(out))
    assert json.loads(run(capsys, *db, "inventario", "exportar")[1])["assets"] == []


def test_unknown_target_is_refused_before_any_probe(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    run(capsys, *db, "inventario", "importar", "--ejemplo", "-q")
    code, _, err = run(capsys, *db, "inventario", "descubrir", "no-existe")
    assert code == 2 and "objetivo «no-existe»" in err
    code, _, err = run(capsys, *db, "inventario", "descubrir", "10.0.0.0/8")
    assert code == 2 and "más de 4096" in err
    # methods repeated or separated by commas; an unknown one named alone
    code, _, err = run(capsys, *db, "inventario", "descubrir", "-m", "snmp,ssh", "no-existe")
    assert code == 2 and "objetivo «no-existe»" in err
    code, _, err = run(capsys, *db, "inventario", "descubrir", "-m", "snmp, tostadora", "x")
    assert code == 2 and "método desconocido: tostadora;" in err


def test_ansible_list_and_host(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    run(capsys, *db, "inventario", "importar", "--ejemplo", "-q")
    code, out, _ = run(capsys, *db, "inventario", "ansible", "--list")
    listed = json.loads(out)
    assert code == 0 and "srv-lima-01" in listed["tipo_servidor_fisico"]["hosts"]
    code, out, _ = run(capsys, *db, "inventario", "ansible", "--host", "srv-lima-01")
    assert json.loads(out)["pukara_site"] == "dc1"
    assert run(capsys, *db, "inventario", "ansible")[0] == 2


def test_lifecycle_report(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    # a fixed reference date: the example's dates are fixed, so the verdicts are too
    run(capsys, *db, "inventario", "importar", "--ejemplo", "-q")
    code, out, err = run(
        capsys, *db, "inventario", "informe", "ciclo-de-vida", "--fecha", "2026-06-01", "-f", "json"
    )
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 3 and len(rows) == 172  # findings: exit 3 (gw-lima included)
    assert rows["blade-lima-06"]["warranty_end"] == "2026-07-14"
    assert (rows["blade-lima-06"]["warranty_state"], rows["blade-lima-06"]["eol_state"]) == (
        "por vencer", "vigente",
    )  # fmt: skip
    assert (
        rows["blade-lima-01"]["warranty_state"] == rows["blade-lima-01"]["eol_state"] == "vencido"
    )
    assert rows["blade-lima-03"]["eol_state"] == "desconocido"
    assert rows["blade-lima-06"]["age_years"] == 4.9
    assert "Antigüedad" in err
    # a later date: what was about to expire has expired
    code, out, _ = run(
        capsys, *db, "inventario", "informe", "ciclo-de-vida", "--fecha", "2026-08-01", "-f", "json"
    )
    assert {r["name"]: r for r in json.loads(out)}["blade-lima-06"]["warranty_state"] == "vencido"


def test_lifecycle_report_refuses_a_bad_date(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, _, err = run(capsys, *db, "inventario", "informe", "ciclo-de-vida", "--fecha", "ayer")
    assert code == 2 and "«ayer»" in err


def test_list_filters_take_the_same_labels_as_files(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    run(capsys, *db, "inventario", "importar", "--ejemplo", "-q")
    code, out, _ = run(
        capsys, *db, "inventario", "listar", "--tipo", "Servidor físico", "-f", "json"
    )
    assert code == 0 and len(json.loads(out)) == 22
    code, _, err = run(capsys, *db, "inventario", "listar", "--tipo", "tostadora")
    assert code == 2 and "no es un tipo de activo válido" in err


def _stdin(monkeypatch: pytest.MonkeyPatch, data: str) -> None:
    """Standard input as a pipe gives it: bytes behind a text wrapper, not a terminal."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data.encode()), "utf-8"))


def test_export_neutralises_formulas_and_import_gives_them_back(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "f.json"  # JSON keeps a leading apostrophe as it is
    path.write_text(json.dumps({"assets": [{
        "name": "f1", "kind": "pc", "custodian": "=cmd|' /C calc'!A0", "model": "+SUM(1)",
        "vendor": "'=ya protegido", "os": "@SUM(A1)", "os_version": "-5",
    }]}))  # fmt: skip
    assert run(capsys, *db, "inventario", "importar", str(path), "-q")[0] == 0
    code, out, _ = run(capsys, *db, "inventario", "exportar", "-f", "csv")
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["name"] == "f1")
    assert row["custodian"] == "'=cmd|' /C calc'!A0" and row["model"] == "'+SUM(1)"
    assert row["vendor"] == "''=ya protegido" and row["os"] == "'@SUM(A1)"
    assert row["os_version"] == "-5"  # a number stays a number
    export = tmp_path / "export.csv"
    export.write_text(out)
    code, _, err = run(capsys, *db, "inventario", "importar", str(export))
    assert code == 0 and "0 cambios aplicados" in err
    _, shown, _ = run(capsys, *db, "inventario", "mostrar", "f1", "-f", "json")
    record = json.loads(shown)[0]
    assert (record["custodian"], record["model"], record["vendor"], record["os"]) == (
        "=cmd|' /C calc'!A0", "+SUM(1)", "'=ya protegido", "@SUM(A1)",
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_import_reads_standard_input(
    capsys: pytest.CaptureFixture[str], db: list[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    run(capsys, *db, "inventario", "importar", "--ejemplo", "-q")
    _, out, _ = run(capsys, *db, "inventario", "exportar", "-f", fmt)
    _stdin(monkeypatch, out)
    code, _, err = run(capsys, *db, "inventario", "importar", "-")
    assert code == 0 and "0 cambios aplicados" in err
    _stdin(monkeypatch, "name,kind\r\nnuevo-01,pc\r\n")
    code, _, err = run(capsys, *db, "inventario", "importar", "-", "--tipo", "activos")
    assert code == 0 and "1 cambio aplicado (1 alta" in err


def test_importing_a_folder_says_it_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--base-datos", str(tmp_path / "p.db"), "inventario", "importar",
                 str(tmp_path)]) != 0  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())
    assert "es una carpeta" in err and "extensión" not in err
