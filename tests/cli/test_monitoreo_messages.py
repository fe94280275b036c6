"""What monitoring commands say: the change log without the monitor's noise, times, plurals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from pukara.store import SQLiteStore
from pukara.text import count


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _db_with_monitor_changes(tmp_path: Path) -> Path:
    db = tmp_path / "p.db"
    store = SQLiteStore(db)
    store.upsert("site", [{"code": "lim", "name": "Lima"}], key=("code",))
    store.upsert("monitor_state", [{"entity": "lim", "state": "up",
                                    "since": "2026-12-01T11:34:20.990962Z"}],
                 key=("entity",))  # fmt: skip
    store.upsert("monitor_snmp", [{"site": "lim", "device": "gw-lim", "ok": True, "reason": None,
                                   "since": "2026-12-01T11:34:21.5Z"}], key=("site",))  # fmt: skip
    store.close()
    return db


def test_cambios_listar_hides_the_monitor_states_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(_db_with_monitor_changes(tmp_path))
    code, out, err = run(capsys, "--base-datos", db, "cambios", "listar", "-f", "json")
    assert code == 0 and [r["collection"] for r in json.loads(out)] == ["site"]
    assert "estado de monitoreo" in err and "estado SNMP" in err and "--todos" in err
    code, out, err = run(capsys, "--base-datos", db, "cambios", "listar", "-f", "json", "--todos")
    assert [r["collection"] for r in json.loads(out)] == ["site", "monitor_state", "monitor_snmp"]
    assert "--todos" not in err
    code, out, _ = run(capsys, "--base-datos", db, "cambios", "listar", "-f", "json",
                       "--coleccion", "estado SNMP")  # fmt: skip
    assert [r["collection"] for r in json.loads(out)] == ["monitor_snmp"]


def test_cambios_listar_without_monitor_changes_adds_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    store.upsert("site", [{"code": "lim"}], key=("code",))
    store.close()
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "cambios", "listar")
    assert code == 0 and "--todos" not in err


def test_monitoreo_estado_shows_since_as_a_person_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    db = str(_db_with_monitor_changes(tmp_path))
    code, out, _ = run(capsys, "--base-datos", db, "monitoreo", "estado")
    assert code == 0 and "1\u00a0dic.\u00a02026,\u00a011:34:20\u00a0UTC" in out  # never wraps
    out = out.replace("\u00a0", " ")
    assert "1 dic. 2026, 11:34:20 UTC" in out and "1 dic. 2026, 11:34:21 UTC" in out
    assert "2026-12-01T" not in out
    code, out, _ = run(capsys, "--base-datos", db, "monitoreo", "estado", "-f", "json")
    assert json.loads(out)[0]["since"] == "2026-12-01T11:34:20.990962Z"  # data stays raw


def test_count_agrees_with_the_figure() -> None:
    assert [count(n, "sede", "sedes") for n in (0, 1, 2)] == ["0 sedes", "1 sede", "2 sedes"]


def test_sondear_says_one_target_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "monitoreo", "sondear",
                       "127.0.0.1", "--tcp", "9", "-c", "1", "-t", "200",
                       "--no-guardar")  # fmt: skip
    assert "Sondeando 1 objetivo (1 sondeo cada uno)" in err, err
