"""`pukara registros reglas listar|probar|ejecutar` end to end, on a real SQLite file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cli import main
from pukara.store.sqlite import SQLiteStore
from tests.sigma_corpus import CORPUS, EXPECTED, corpus

HASTA = ["--desde", "2026-11-30T09:00", "--hasta", "2026-11-30T13:30"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pukara.db"
    with SQLiteStore(path) as store:
        store.write_events(corpus())
    return path


def test_listar_shows_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "registros", "reglas", "listar", "--formato", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) >= 20
    assert {r["kind"] for r in rows} == {"simple", "correlation", "silence"}


def test_probar_a_folder_with_a_bad_rule_exits_2_naming_file_and_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "propias"
    folder.mkdir()
    shutil.copy(Path("registros/reglas/kernel_oom.yml"), folder / "buena.yml")
    text = (folder / "buena.yml").read_text()
    bad = re.sub(r"(?m)^id: .*$", "id: 5a1e0000-0000-4000-8000-000000000001", text)
    (folder / "mala.yml").write_text(bad.replace("log.syslog.appname", "log.sylog.appname"))
    code, out, err = run(capsys, "registros", "reglas", "probar", "--reglas", str(folder),
                         "--sin-incluidas", "--eventos", str(CORPUS))  # fmt: skip
    assert code == 2
    assert out == ""
    assert str(folder / "mala.yml") in err
    assert "campo 'log.sylog.appname' desconocido" in err
    assert "buena.yml" not in err


def test_probar_over_a_file_prints_hits_without_storing_and_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--base-datos", str(tmp_path / "nada.db"), "registros",
                         "reglas", "probar", "--eventos", str(CORPUS), "--hasta",
                         "2026-11-30T13:30", "--formato", "json")  # fmt: skip
    assert code == 3, err
    alerts = json.loads(out)
    assert len(alerts) == sum(len(v) for v in EXPECTED.values())
    assert {a["event"]["kind"] for a in alerts} == {"alert"}
    assert not (tmp_path / "nada.db").exists()


def test_probar_one_rule_with_nothing_found_exits_0(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    code, out, err = run(capsys, "--base-datos", str(db), "registros", "reglas", "probar",
                         "--regla", "kernel_oom", "--desde", "2026-11-30T13:00",
                         "--hasta", "2026-11-30T13:30", "--formato", "json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == []
    assert "1 reglas, 0 aciertos" in err


def test_ejecutar_twice_stores_each_alert_once(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    args = ["--base-datos", str(db), "registros", "reglas", "ejecutar", *HASTA]
    code, out, err = run(capsys, *args, "--formato", "json")
    total = sum(len(v) for v in EXPECTED.values())
    assert code == 3, err
    first = json.loads(out)
    assert len(first) == total and all(a["stored"] for a in first)
    assert f"({total} nuevas)" in err
    code, out, err = run(capsys, *args, "--formato", "csv")
    assert code == 0, err
    assert "(0 nuevas)" in err
    assert out.splitlines()[0].startswith("@timestamp,log.level,rule.name")
    with SQLiteStore(db) as store:
        stored = list(store.search_events(dataset="registros.alerta"))
    assert len(stored) == total + 1  # and the corpus' own old alert
    assert {a["event"]["id"] for a in first} <= {a["event"]["id"] for a in stored}


def test_bad_window_is_a_usage_error(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, _, err = run(capsys, "--base-datos", str(db), "registros", "reglas", "probar",
                       "--desde", "ayer")  # fmt: skip
    assert code == 2
    assert "--desde ayer" in err


def test_probar_a_file_judges_silence_at_its_last_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "registros", "reglas", "probar", "--eventos", str(CORPUS),
                         "--regla", "fuente_silenciosa", "--formato", "json")  # fmt: skip
    assert code == 3, err
    (alert,) = json.loads(out)
    assert alert["host"]["name"] == "callao-srv1"
