"""The error boundary of real `pukara` and `pukara-inventario` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pukara.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    return {**env, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **extra}


def _sigint_default() -> None:
    # a shell starts background jobs with SIGINT ignored; a terminal's Ctrl-C is not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_when(
    argv: list[str], env: dict[str, str], ready: str, sig: signal.Signals = signal.SIGINT
) -> tuple[int, str]:
    """Run ``argv``, wait until its stderr shows ``ready``, press Ctrl-C (or send ``sig``)."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_sigint_default,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        seen = ""
        deadline = time.monotonic() + 30
        while ready not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert ready in seen, seen
        time.sleep(0.3)  # well inside the long-running part
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc.returncode, seen + rest


def test_ctrl_c_during_a_sweep_says_interrumpido_and_exits_130(tmp_path: Path) -> None:
    argv = [str(SCRIPTS / "pukara"), "--base-datos", str(tmp_path / "p.db"), "monitoreo",
            "sondear", "--no-guardar", "-c", "100000", "-p", "500", "127.0.0.1"]  # fmt: skip
    code, err = _interrupt_when(argv, _env(tmp_path), "Sondeando")
    assert code == 130, err
    assert "Interrumpido." in err and "Traceback" not in err


def test_sigterm_stops_a_command_as_ctrl_c_does(tmp_path: Path) -> None:
    argv = [str(SCRIPTS / "pukara"), "--base-datos", str(tmp_path / "p.db"), "monitoreo",
            "sondear", "--no-guardar", "-c", "100000", "-p", "500", "127.0.0.1"]  # fmt: skip
    code, err = _interrupt_when(argv, _env(tmp_path), "Sondeando", signal.SIGTERM)
    assert code == 130, err
    assert "Interrumpido." in err and "Traceback" not in err


def test_ctrl_c_with_debug_keeps_the_exit_code(tmp_path: Path) -> None:
    argv = [str(SCRIPTS / "pukara"), "--debug", "--base-datos", str(tmp_path / "p.db"),
            "monitoreo", "sondear", "--no-guardar", "-c", "100000", "-p", "500",
            "127.0.0.1"]  # fmt: skip
    code, err = _interrupt_when(argv, _env(tmp_path), "Sondeando")
    assert code == 130 and "Interrumpido." in err, err


def _inventory_script(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / "pukara-inventario"), *args], capture_output=True, text=True,
        env=_env(tmp_path, **env), check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_inventory_script_answers_and_refuses_bad_usage(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:
        store.upsert("site", [{"code": "lim", "name": "Lima"}], key=["code"])
        asset = {"name": "gw-lim", "kind": "router", "site": "lim", "mgmt_ipv4": "198.18.0.6",
                 "status": "activo"}  # fmt: skip
        store.upsert("asset", [asset], key=["name"])
    done = _inventory_script(tmp_path, "--list", PUKARA_DB=str(db))
    assert done.returncode == 0 and '"gw-lim"' in done.stdout, done.stderr
    done = _inventory_script(tmp_path, "--otra")
    assert done.returncode == 2 and done.stderr.startswith("uso: pukara-inventario")


@pytest.mark.parametrize("debug", [False, True])
def test_inventory_script_errors_are_spanish_with_a_trace_only_on_debug(
    tmp_path: Path, debug: bool
) -> None:
    bad = tmp_path / "no-es-sqlite.db"
    bad.write_bytes(b"esto no es una base de datos SQLite" * 100)
    args = ["--debug", "--list"] if debug else ["--list"]
    done = _inventory_script(tmp_path, *args, PUKARA_DB=str(bad))
    assert done.returncode == 1 and done.stdout == ""
    assert "pukara-inventario: Error" in done.stderr
    assert ("Traceback" in done.stderr) is debug, done.stderr


def test_inventory_script_config_error_exit_code(tmp_path: Path) -> None:
    done = _inventory_script(tmp_path, "--list", PUKARA_CONCURRENCY="muchos")
    assert done.returncode == 1 and "PUKARA_CONCURRENCY" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_ctrl_c_while_vigilar_hands_over_still_exits_130(tmp_path: Path) -> None:
    argv = [str(SCRIPTS / "pukara"), "--base-datos", str(tmp_path / "p.db"), "monitoreo",
            "vigilar", "--ronda", "1", "-c", "1", "--sin-snmp", "127.0.0.1"]  # fmt: skip
    env = {**_env(tmp_path), "PUKARA_DATA_DIR": str(tmp_path / "datos")}
    for gap_s in (0.0, 0.01, 0.05):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env=env, preexec_fn=_sigint_default)  # fmt: skip
        assert proc.stderr is not None
        try:
            seen = ""
            while "Vigilando" not in seen and proc.poll() is None:
                seen += proc.stderr.readline()
            time.sleep(1.2)
            proc.send_signal(signal.SIGINT)
            time.sleep(gap_s)
            proc.send_signal(signal.SIGINT)
            _, rest = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 130, seen + rest
        assert "Interrumpido." in rest and "Traceback" not in rest


PIPED = [["inventario", "listar"], ["inventario", "listar", "-f", "csv"],
         ["inventario", "exportar"], ["cambios", "listar", "-n", "5000"]]  # fmt: skip


@pytest.mark.parametrize("args", PIPED)
def test_a_reader_that_stops_early_ends_the_command_quietly(
    tmp_path: Path, args: list[str]
) -> None:
    """``pukara ... | head -1``: exit 0, nothing on stderr (no trace, no "Error")."""
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:  # far more output than a pipe holds (64 KiB)
        store.upsert("site", [{"code": "lim", "name": "Lima"}], key=["code"])
        assets = [{"name": f"srv-{i:05}", "kind": "servidor_fisico", "site": "lim",
                   "mgmt_ipv4": f"198.18.{i // 250}.{i % 250 + 1}", "model": "x" * 60}
                  for i in range(3000)]  # fmt: skip
        store.upsert("asset", assets, key=["name"])
    proc = subprocess.Popen(
        [str(SCRIPTS / "pukara"), "--base-datos", str(db), *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=_env(tmp_path), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    with proc.stderr:
        first = proc.stdout.readline()
        proc.stdout.close()  # what head does after its line
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert first and err == ""
