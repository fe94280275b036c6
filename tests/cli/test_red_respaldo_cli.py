"""`pukara red respaldar|historial|diff|buscar`: Spanish, exit codes, formats."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli import main
from pukara.store import SQLiteStore
from red.repositorio import ConfigRepo

SITE = {"code": "emb-zz", "kind": "embajada"}
ROUTER = {"name": "gw-emb-zz", "kind": "router", "site": "emb-zz", "mgmt_ipv4": "127.0.0.2",
          "os": "FRRouting", "status": "activo"}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    with SQLiteStore(data / "pukara.db") as store, store.transaction("semilla") as tx:
        tx.put("site", (SITE["code"],), SITE)
        tx.put("asset", (ROUTER["name"],), ROUTER)
    key = tmp_path / "llave"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    creds = tmp_path / "credenciales.toml"
    creds.write_text(f'[red]\nusername = "red"\nkey_file = "{key}"\n')
    creds.chmod(0o600)
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))
    monkeypatch.setenv("PUKARA_DATA_DIR", str(data))
    return []


def _repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "datos" / "red" / "respaldos")
    path = "emb-zz/gw-emb-zz.cfg"
    when = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    repo.commit({path: b"hostname gw-emb-zz\nlog syslog\n!\nend\n"}, "Respaldo: gw-emb-zz",
                author="ana", when=when)  # fmt: skip
    repo.commit({path: b"hostname gw-emb-zz\n!\nend\n"}, "Respaldo: gw-emb-zz", author="luis",
                when=when.replace(day=25))  # fmt: skip
    return repo


def test_respaldar_failing_device_exits_3(capsys: pytest.CaptureFixture[str], base: None) -> None:
    code, out, err = run(capsys, "red", "respaldar", "emb-zz", "--formato", "json")
    assert code == 3, err
    doc = json.loads(out)
    assert doc["commit"] is None and doc["devices"][0]["status"] == "error"
    assert "SSH" in doc["devices"][0]["error"]
    code, out, err = run(capsys, "red", "respaldar", "--paralelo", "2")
    assert code == 3 and "gw-emb-zz" in out and "error" in out
    assert "1 equipo: 0 con cambios, 1 con error; sin commit (nada cambió)." in err


def test_respaldar_unknown_target(capsys: pytest.CaptureFixture[str], base: None) -> None:
    code, _, err = run(capsys, "red", "respaldar", "gw-nada")
    assert code == 2 and "«gw-nada»" in err


def test_historial_diff_buscar(
    capsys: pytest.CaptureFixture[str], base: None, tmp_path: Path
) -> None:
    repo = _repo(tmp_path)
    first = repo.log()[-1].commit
    code, out, _ = run(capsys, "red", "historial", "gw-emb-zz")
    assert code == 0 and "25 nov. 2026" in out and "20 nov. 2026" in out and "luis" in out
    code, out, _ = run(capsys, "red", "historial", "gw-emb-zz", "-f", "json")
    assert [r["author"] for r in json.loads(out)] == ["luis", "ana"]
    code, out, _ = run(capsys, "red", "diff", "gw-emb-zz")
    assert code == 0 and "\n-log syslog\n" in out and "\x1b[" not in out  # not a terminal
    code, out, _ = run(capsys, "red", "diff", "gw-emb-zz", "--desde", first[:8])
    assert "-log syslog" in out
    code, out, err = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-11-30")
    assert code == 0 and out == "" and "Sin diferencias" in err
    code, out, _ = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-11-21T00:00")
    assert f"({first[:12]})" in out and "\n-log syslog\n" in out  # in force on the 21st
    code, out, _ = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-11-01")
    assert code == 0 and "(vacío)" in out and "\n+log syslog\n" not in out  # before the first
    assert "\n+hostname gw-emb-zz\n" in out
    code, out, _ = run(capsys, "red", "buscar", "^host", "--contexto", "1")
    assert out == "emb-zz/gw-emb-zz.cfg:1:hostname gw-emb-zz\nemb-zz/gw-emb-zz.cfg-2-!\n"
    code, out, _ = run(capsys, "red", "buscar", "end", "-f", "json")
    assert json.loads(out) == [{"path": "emb-zz/gw-emb-zz.cfg", "line": 3, "text": "end",
                                "match": True}]  # fmt: skip
    code, _, err = run(capsys, "red", "buscar", "(sin")
    assert code == 2 and "expresión regular inválida «(sin»" in err


def test_diff_since_a_date_starts_that_day(
    capsys: pytest.CaptureFixture[str], base: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date is the start of that day: a change made on it shows (the 25th at 15:30 UTC)."""
    _repo(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    code, out, _ = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-11-25")
    assert code == 0 and "\n-log syslog\n" in out
    code, out, _ = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-11-25T12:00")
    assert code == 0 and "\n-log syslog\n" in out
    monkeypatch.setenv("TZ", "America/Lima")  # 12:00 in Lima is 17:00 UTC: after the change
    code, out, err = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-11-25T12:00")
    assert code == 0 and out == "" and "Sin diferencias" in err
    code, out, _ = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-11-25")
    assert code == 0 and "\n-log syslog\n" in out
    code, _, err = run(capsys, "red", "diff", "gw-emb-zz", "--desde", "2026-13-01")
    assert code == 2 and "--desde" in err


def test_diff_coloured_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from red import cli_respaldo

    text = "--- a\n+++ b\n@@ -1 +1 @@\n-uno\n+dos\n"
    cli_respaldo._write_diff(text)
    assert capsys.readouterr().out == text
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    cli_respaldo._write_diff(text)
    out = capsys.readouterr().out
    assert "\x1b[31m-uno" in out and "\x1b[32m+dos" in out
