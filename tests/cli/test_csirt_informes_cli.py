"""`pukara csirt metricas|informe|cnsd` through the single error boundary."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from cli import main
from csirt.records import TIMELINE
from pukara.store import SQLiteStore
from tests.unit.csirt_informes_case import EVIL, write_case


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    path = tmp_path / "csirt.db"
    with SQLiteStore(path) as store:
        write_case(store, closed=True, notified=False)
    return ["--base-datos", str(path)]


def test_metricas_formats(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    code, out, err = run(capsys, *db, "csirt", "metricas")
    assert code == 0 and "Mes (UTC)" in out and "3 (alta)" in out
    assert "(casos con el dato), 1 caso " in out
    assert "2 h 40 min / 2 h 40 min (1)" in out and "15 h / 15 h (1)" in out
    assert "INC-2026-0003" in err  # no "creado" entry: said, not counted
    code, out, _ = run(capsys, *db, "csirt", "metricas", "--por", "mision")
    assert code == 0 and "m017 (Embajada en Argentina)" in out
    code, out, _ = run(capsys, *db, "csirt", "metricas", "--por", "mision,cnsd", "-f", "json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["site"] == "m017" and rows[0]["ttr_median_s"] == 900 * 60
    assert rows[0]["cnsd_class"] == "Recopilación de información" and rows[0]["ttn_count"] == 0
    code, out, _ = run(capsys, *db, "csirt", "metricas", "--por", "rsit", "-f", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and table[0]["rsit_class"] == "fraud" and table[0]["tta_median_s"] == "360.0"
    code, out, err = run(capsys, *db, "csirt", "metricas", "--desde", "2026-12-01", "-f", "json")
    assert code == 0 and json.loads(out) == [] and "No hay incidentes creados en ese" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [(("--por", "pais"), "dimensión desconocida: pais"),
     (("--desde", "ayer"), "--desde 'ayer': fecha inválida")],
)  # fmt: skip
def test_metricas_bad_options(
    capsys: pytest.CaptureFixture[str], db: list[str], args: tuple[str, ...], words: str
) -> None:
    code, out, err = run(capsys, *db, "csirt", "metricas", *args)
    assert code == 2 and out == "" and words in err


def test_informe_html_file(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "informe.html"
    target.write_text("viejo")
    code, out, err = run(capsys, *db, "csirt", "informe", "inc-2026-0007", "--html", str(target))
    assert code == 0 and out == "" and f"Informe de INC-2026-0007 escrito en {target}" in err
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and EVIL not in page and "&lt;script&gt;" in page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    code, out, _ = run(capsys, *db, "csirt", "informe", "INC-2026-0007")
    generated = re.compile(r"Generado el [^<]* por pukara")  # the second run is a moment later
    assert code == 0 and generated.sub("", out) == generated.sub("", page)


@pytest.mark.parametrize(
    ("args", "words"),
    [(("INC-2026-0099", "--html", "x.html"), "no existe el incidente INC-2026-0099"),
     (("INC-2026-0007", "--html", "/no/hay/x.html"), "--html /no/hay/x.html: no existe la carpeta"),
     (("INC-2026-0007", "--html", "/tmp"), "es una carpeta")],
)  # fmt: skip
def test_informe_errors(
    capsys: pytest.CaptureFixture[str], db: list[str], args: tuple[str, ...], words: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *db, "csirt", "informe", *args)
    assert code == 2 and out == "" and words in err
    assert not (tmp_path / "x.html").exists()


def test_cnsd_draft_formats(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, *db, "csirt", "cnsd", "INC-2026-0007")
    assert code == 0 and out.startswith("BORRADOR — ") and "pukara nunca lo envía" in out
    assert "PLAZO VENCIDO" in out  # detected in November 2026... and never notified
    code, out, err = run(capsys, *db, "csirt", "cnsd", "INC-2026-0007", "-f", "json")
    data = json.loads(out)
    assert code == 0 and data["deadline"]["level"] == "vencido" and "PLAZO VENCIDO" in err
    html = tmp_path / "cnsd.html"
    code, out, err = run(
        capsys, *db, "csirt", "cnsd", "INC-2026-0007", "-f", "html", "-o", str(html)
    )
    assert code == 0 and out == "" and "escrito en" in err
    page = html.read_text()
    assert "BORRADOR" in page and EVIL not in page and "&lt;script&gt;" in page


def test_cnsd_notificado(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    code, _, err = run(capsys, *db, "--analista", "luis", "csirt", "cnsd", "INC-2026-0007",
                       "--notificado", "--fecha", "2026-11-03T12:00:00-05:00",
                       "--referencia", "correo 118")  # fmt: skip
    assert code == 0 and "Notificación al CNSD registrada: 3 nov. 2026, 12:00 PET." in err
    with SQLiteStore(Path(db[1])) as store:
        entry = next(e for e in store.entities(TIMELINE) if e["kind"] == "notificacion_cnsd")
        change = next(c for c in store.changes() if c.collection == TIMELINE and c.after == entry)
    assert entry["tz"] == "-05:00" and entry["ts"] == "2026-11-03T17:00:00.000000Z"
    assert entry["analyst"] == "luis" and change.actor == "luis"
    code, out, _ = run(capsys, *db, "csirt", "metricas", "-f", "json")
    assert json.loads(out)[0]["ttn_median_s"] == 175 * 60  # created 14:05 UTC, sent 17:00
    code, out, _ = run(capsys, *db, "csirt", "cnsd", "INC-2026-0007")
    assert "Notificado al CNSD el 3 nov. 2026, 12:00 PET" in out and "--notificado" not in out
    code, _, err = run(capsys, *db, "csirt", "cnsd", "INC-2026-0007", "--notificado")
    assert code == 2 and "ya consta la notificación al CNSD" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [(("--fecha", "2026-11-03T12:00"), "--fecha y --referencia van con --notificado"),
     (("--notificado", "--fecha", "mañana"), "--fecha «mañana»: no es una fecha y hora"),
     (("--perfil", "/no/hay.toml"), "/no/hay.toml: no se puede leer")],
)  # fmt: skip
def test_cnsd_bad_options_write_nothing(
    capsys: pytest.CaptureFixture[str], db: list[str], args: tuple[str, ...], words: str
) -> None:
    with SQLiteStore(Path(db[1])) as store:
        before = len(list(store.changes()))
    code, out, err = run(capsys, *db, "csirt", "cnsd", "INC-2026-0007", *args)
    assert code == 2 and out == "" and words in err
    with SQLiteStore(Path(db[1])) as store:
        assert len(list(store.changes())) == before


def test_help_is_spanish(capsys: pytest.CaptureFixture[str]) -> None:
    for command, words in (("metricas", "Tiempos del CSIRT"), ("informe", "autocontenida"),
                           ("cnsd", "pukara nunca lo envía")):  # fmt: skip
        code, out, _ = run(capsys, "csirt", command, "--help")
        assert code == 0 and words in out


def test_metricas_says_it_leaves_discarded_cases_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ["--base-datos", str(tmp_path / "m.db"), "--analista", "ana"]
    code, out, err = run(capsys, *db, "csirt", "incidente", "nuevo", "Duplicado", "--tipo",
                         "phishing", "--severidad", "2")  # fmt: skip
    assert code == 0, err
    inc = out.strip()
    code, _, err = run(capsys, *db, "csirt", "incidente", "descartar", inc, "--disposicion",
                       "duplicate")  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsys, *db, "csirt", "metricas", "-f", "json")
    assert code == 0 and json.loads(out) == []
    assert "Se dejan fuera 1 caso descartado" in err
