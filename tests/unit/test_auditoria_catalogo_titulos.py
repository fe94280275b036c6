"""Licensed titles: imported into a local 0600 file, listed on request, never exported."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from auditoria import aplicabilidad, soa, soa_salida, titulos_locales
from cli import main
from tests.unit.auditoria_soa_case import CHECKS, NOW, results

MARK = "TITULO-LICENCIADO-XYZ"
CSV = (
    "edition,id,title,text\n"
    f"2022,A.8.15,{MARK} registro,{MARK} texto completo del control\n"
    f"2013,a.12.4.1,{MARK} eventos,\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "datos"
    monkeypatch.setenv("PUKARA_DATA_DIR", str(folder))
    return folder


def test_import_is_local_private_and_listed_on_request(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "titulos.csv"
    source.write_text(CSV, "utf-8")
    code, _, err = run(capsys, "auditoria", "controles", "importar-titulos", str(source))
    assert code == 0, err
    assert "2 títulos importados" in err
    target = titulos_locales.path(data_dir)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert json.loads(target.read_text("utf-8"))["2013"]["A.12.4.1"]["title"] == f"{MARK} eventos"
    code, out, _ = run(capsys, "auditoria", "controles", "listar", "--formato", "json")
    assert code == 0
    assert MARK not in out
    code, out, _ = run(
        capsys, "auditoria", "controles", "listar", "--titulos-locales", "-f", "json"
    )
    rows = {row["control"]: row for row in json.loads(out)}
    assert rows["A.8.15"]["local_title"] == f"{MARK} registro"
    assert rows["A.8.16"]["local_title"] == ""


def test_no_export_carries_the_local_titles(tmp_path: Path, data_dir: Path) -> None:
    source = tmp_path / "titulos.csv"
    source.write_text(CSV, "utf-8")
    titulos_locales.import_csv(source, data_dir)
    for edition in ("2013", "2022"):
        rows = soa.build(edition, results(), CHECKS, aplicabilidad.load(None, data_dir), now=NOW)
        for fmt in soa_salida.FORMATS:
            data = soa_salida.render(rows, fmt, edition, NOW)
            assert MARK.encode() not in data, fmt
    # only the listing reads the local file: no report, bundle or SoA module imports it
    package = Path(__file__).resolve().parents[2] / "auditoria"
    imports = re.compile(
        r"^\s*(from auditoria import [^\n]*\btitulos_locales\b|import auditoria\.titulos_locales"
        r"|from auditoria\.titulos_locales import)|import_module\([^)]*titulos_locales",
        re.MULTILINE,
    )
    readers = sorted(p.name for p in package.rglob("*.py") if imports.search(p.read_text("utf-8")))
    assert readers == ["cli_controles.py"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("edition,id\n2022,A.5.1\n", r"línea 1: faltan las columnas title"),
        ("edition,id,title\n2022,A.5.1,ok\n2021,A.5.1,x\n", r"línea 3, campo edition: edición desconocida"),
        ("edition,id,title\n2022,A.5.99,x\n", r"línea 2, campo id: .*¿quiso decir"),
        ("edition,id,title\n2013,A.5.1.1,\n", r"línea 2, campo title: está vacío"),
    ],
)  # fmt: skip
def test_bad_csv_names_line_and_field(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    source = tmp_path / "t.csv"
    source.write_text(text, "utf-8")
    code, _, err = run(capsys, "auditoria", "controles", "importar-titulos", str(source))
    assert code == 1
    assert re.search(expected, err), err
    assert str(source) in err
    assert not titulos_locales.path(data_dir).exists()
