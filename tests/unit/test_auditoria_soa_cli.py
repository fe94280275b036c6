"""`pukara auditoria soa`, `evidencia vencida` and `controles` through the error boundary."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from auditoria.modelo import Status
from cli import main
from tests.unit.auditoria_soa_case import result


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "datos"
    monkeypatch.setenv("PUKARA_DATA_DIR", str(folder))
    monkeypatch.setenv("PUKARA_DB", str(tmp_path / "p.db"))
    return folder


def test_listar_both_editions_and_themes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "auditoria", "controles", "listar", "--edicion", "2013", "-f", "csv")
    assert code == 0
    got = list(csv.reader(io.StringIO(out)))
    assert got[0] == ["control", "label", "group"]
    assert len(got) == 115
    code, out, _ = run(
        capsys, "auditoria", "controles", "listar", "--tema", "tecnológico", "-f", "json"
    )
    rows = json.loads(out)
    assert len(rows) == 34
    assert rows[14] == {
        "control": "A.8.15", "label": "Registro de eventos", "group": "tecnológico",
        "control_type": ["detective"], "properties": ["confidentiality", "integrity", "availability"],
    }  # fmt: skip
    code, out, _ = run(
        capsys,
        "auditoria",
        "controles",
        "listar",
        "--edicion",
        "2013",
        "--tema",
        "a.13",
        "-f",
        "json",
    )
    assert [r["control"] for r in json.loads(out)][-1] == "A.13.2.4"
    code, out, _ = run(capsys, "auditoria", "controles", "listar", "--tema", "A.13")
    assert code == 2
    code, _, err = run(capsys, "auditoria", "controles", "listar", "--edicion", "2005")
    assert code == 2
    assert "2005" in err


def test_mapear_shows_both_directions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "auditoria", "controles", "mapear", "A.13.2.3", "-f", "json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["direction"], r["source"], r["relation"], r["target"]) for r in rows] == [
        ("2013→2022", "A.13.2.3", "subset-of", "A.5.14"),
        ("2022→2013", "A.5.14", "superset-of", "A.13.2.1"),
        ("2022→2013", "A.5.14", "superset-of", "A.13.2.2"),
        ("2022→2013", "A.5.14", "superset-of", "A.13.2.3"),
    ]
    code, out, _ = run(capsys, "auditoria", "controles", "mapear", "a.8.16")
    assert code == 0
    assert "se cruza con" in out and "A.12.4.1" in out
    code, _, err = run(capsys, "auditoria", "controles", "mapear", "A.8.35")
    assert code == 2
    assert "¿quiso decir" in err
    code, _, err = run(capsys, "auditoria", "controles", "mapear", "A.12.4.1", "--edicion", "2022")
    assert code == 2
    assert "no existe en la edición 2022" in err


def test_soa_refuses_bad_input_before_reading_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "auditoria", "soa", "--formato", "xlsx")
    assert code == 2
    assert "--salida" in err
    bad = tmp_path / "apl.toml"
    bad.write_text('[2022]\n"A.5.1" = { applicable = "quizá", justification = "x" }\n', "utf-8")
    code, _, err = run(capsys, "auditoria", "soa", "-f", "csv", "--aplicabilidad", str(bad))
    assert code == 1
    assert f"{bad}, línea 2, campo applicable" in err
    code, _, err = run(
        capsys, "auditoria", "soa", "-f", "csv", "--salida", str(tmp_path / "no" / "x.csv")
    )
    assert code == 2


def test_soa_and_stale_evidence_from_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from auditoria import almacen

    comprobaciones = pytest.importorskip("auditoria.comprobaciones")
    from pukara.store import SQLiteStore

    checks = comprobaciones.load()
    assert "ntp_sync" in checks
    results = [
        result("ntp_sync", "srv-aud1", Status.PASS, age_days=1, valid_days=3650),
        result("ssh_root_login", "srv-aud1", Status.FAIL, age_days=1, valid_days=3650),
        result("syslog_remote", "srv-aud1", Status.PASS, age_days=900, valid_days=30),
    ]
    run_ = almacen.AuditRun(id="r1", started_at=results[0].observed_at,
                            finished_at=results[0].observed_at, operator="jperez", complete=True,
                            results=tuple(results))  # fmt: skip
    with SQLiteStore(tmp_path / "p.db") as store:
        almacen.save_run(store, run_)
    for edition, ntp, ssh in (("2013", "A.12.4.4", "A.9.2.3"), ("2022", "A.8.17", "A.8.2")):
        out_file = tmp_path / f"soa-{edition}.xlsx"
        code, _, err = run(
            capsys, "auditoria", "soa", "--edicion", edition, "--salida", str(out_file)
        )
        assert code == 0, err
        assert out_file.read_bytes()[:2] == b"PK"
        code, out, _ = run(capsys, "auditoria", "soa", "--edicion", edition, "-f", "csv")
        rows = {r[0]: r for r in csv.reader(io.StringIO(out))}
        assert rows[ntp][5] == "implementado"
        assert "ntp_sync@srv-aud1" in rows[ntp][6]
        assert rows[ssh][5] == "no implementado"
    code, out, _ = run(capsys, "auditoria", "evidencia", "vencida", "-f", "json")
    assert code == 3
    assert [r["id"] for r in json.loads(out)] == ["syslog_remote@srv-aud1"]


def test_soa_names_undeclared_controls_and_takes_o(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from auditoria import aplicabilidad

    text = aplicabilidad.default_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith('"A.6.1.5"')]
    assert len(lines) < len(text.splitlines())
    partial = tmp_path / "ap.toml"
    partial.write_text("\n".join(lines) + "\n", "utf-8")
    out_file = tmp_path / "soa.md"
    code, out, err = run(capsys, "auditoria", "soa", "--edicion", "2013", "-f", "md",
                         "--aplicabilidad", str(partial), "-o", str(out_file))  # fmt: skip
    assert code == 0 and out == ""
    assert "no declara 1 control de la edición 2013" in " ".join(err.split())
    assert "incompleta): A.6.1.5\n" in err
    assert "| sin declarar |" in out_file.read_text("utf-8")
    code, _, err = run(capsys, "auditoria", "soa", "--edicion", "2013", "-f", "md")
    assert code == 0 and "no declara" not in err
