"""`pukara csirt exportar`: stdout or an atomic 0600 file, Spanish refusals with nothing
written, and what was held back said on stderr even with --silencioso."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import stix2
from pymisp import MISPEvent

from cli import main
from tests.unit.test_csirt_taxo_exportar import make_case


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "c.db"
    make_case(path)
    return path


def test_stix_to_stdout(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--base-datos", str(db), "csirt", "exportar",
                         "INC-2026-0001", "--destino", "nombres")  # fmt: skip
    assert code == 0, err
    bundle = stix2.parse(out, allow_custom=False)
    assert any(o.type == "incident" for o in bundle.objects)
    assert "Retenidos" not in err  # nothing is above RED


def test_misp_to_file_private_and_held_back_said(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "evento.json"
    code, out, err = run(capsys, "--base-datos", str(db), "csirt", "exportar", "INC-2026-0001",
                         "-d", "sector", "-f", "misp", "-o", str(target), "-q")  # fmt: skip
    assert code == 0, err
    assert out == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    event = MISPEvent()
    event.load(target.read_text("utf-8"))
    assert "tlp:amber" in {t.name for t in event.tags}
    # -q silences the "written" line, never the held-back list
    assert "Retenidos por TLP (destino sector, hasta TLP:AMBER): 3 elementos." in err
    assert "observable ipv4 198.18.0.99 (TLP:RED)" in err
    assert "observable ipv6 fd70:756b:6172::5 (TLP:AMBER+STRICT)" in err
    assert "línea de tiempo: nota del" in err
    assert "exportado en" not in err


def test_refused_above_the_audience_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "red.db"
    make_case(db, tlp="RED")
    target = tmp_path / "no.json"
    code, out, err = run(capsys, "--base-datos", str(db), "csirt", "exportar", "INC-2026-0001",
                         "--destino", "comunidad", "-o", str(target))  # fmt: skip
    assert code == 1
    assert out == "" and not target.exists()
    assert "INC-2026-0001 es TLP:RED" in err and "hasta TLP:GREEN" in err
    assert "no se exportó nada" in err
    code, out, err = run(capsys, "--base-datos", str(db), "csirt", "exportar", "INC-2026-0001",
                         "--destino", "organizacion")  # fmt: skip
    assert code == 1 and out == ""


def test_existing_file_is_replaced_only_when_the_export_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "red.db"
    make_case(db, tlp="RED")
    target = tmp_path / "previo.json"
    target.write_text("anterior")
    code, _, _ = run(capsys, "--base-datos", str(db), "csirt", "exportar", "INC-2026-0001",
                     "-d", "sector", "-o", str(target))  # fmt: skip
    assert code == 1 and target.read_text() == "anterior"
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "exportar", "INC-2026-0001",
                       "-d", "nombres", "-o", str(target))  # fmt: skip
    assert code == 0, err
    assert json.loads(target.read_text())["type"] == "bundle"
    assert "INC-2026-0001 exportado en STIX para «nombres»" in err


def test_bad_input(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("--base-datos", str(db), "csirt", "exportar")
    code, out, err = run(capsys, *base, "INC-2026-0404", "-d", "sector")
    assert code == 2 and "no existe el incidente INC-2026-0404" in err and out == ""
    code, _, err = run(capsys, *base, "INC-2026-0001", "-d", "todos")
    assert code == 2 and "--destino" in err
    code, _, err = run(capsys, *base, "INC-2026-0001")
    assert code == 2 and "--destino" in err
    code, _, err = run(capsys, *base, "INC-2026-0001", "-d", "sector", "-f", "csv")
    assert code == 2 and "--formato" in err
    code, _, err = run(capsys, *base, "INC-2026-0001", "-d", "sector",
                       "-o", str(tmp_path / "no" / "x.json"))  # fmt: skip
    assert code == 2 and "no existe la carpeta" in err


def test_a_case_opened_with_the_commands_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The records casos writes (incidente nuevo, observable agregar, linea agregar) are the
    ones the export reads."""
    base = ("--base-datos", str(tmp_path / "e.db"), "csirt")
    steps = [
        ("incidente", "nuevo", "Phishing $(reboot) <script>", "--severidad", "3",
         "--clase", "fraud", "--tipo", "phishing", "--tlp", "AMBER"),
        ("observable", "agregar", "INC-2026-0001", "198.18.0.5", "--ioc", "--avistado"),
        ("observable", "agregar", "INC-2026-0001", "evil.test", "--tipo", "domain", "--ioc",
         "--tlp", "RED"),
        ("linea", "agregar", "INC-2026-0001", "Se bloqueó en el cortafuegos"),
    ]  # fmt: skip
    for step in steps:
        code, _, err = run(capsys, *base, *step)
        assert code == 0, err
    code, out, err = run(capsys, *base, "exportar", "INC-2026-0001", "--destino", "sector")
    assert code == 0, err
    bundle = stix2.parse(out, allow_custom=False)
    kinds = [o.type for o in bundle.objects]
    assert kinds.count("indicator") == 1 and kinds.count("sighting") == 1
    notes = [o.content for o in bundle.objects if o.type == "note"]
    assert "Se bloqueó en el cortafuegos" in notes
    (incident,) = [o for o in bundle.objects if o.type == "incident"]
    assert incident.name == "INC-2026-0001: Phishing $(reboot) <script>"
    assert "evil.test" not in out
    assert "observable domain evil.test (TLP:RED)" in err
    code, out, err = run(capsys, *base, "exportar", "INC-2026-0001", "--destino", "nombres",
                         "-f", "misp")  # fmt: skip
    assert code == 0, err
    event = MISPEvent()
    event.load(out)
    assert {a.value for a in event.attributes} >= {"198.18.0.5", "evil.test"}
