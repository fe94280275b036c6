"""The error boundary of real `pukara` and `pukara-inventario` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cli
from inventario import catalog
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
    """``pukara ... | head -1``: exit 141 (as SIGPIPE), nothing on stderr (no trace, no "Error")."""
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
    assert proc.wait(timeout=60) == 141, err
    assert first and err == ""


def _many_assets(db: Path, n: int = 3000) -> None:
    with SQLiteStore(db) as store:  # far more output than a pipe holds (64 KiB)
        store.upsert("site", [{"code": "lim", "name": "Lima"}], key=["code"])
        assets = [{"name": f"srv-{i:05}", "kind": "servidor_fisico", "site": "lim",
                   "mgmt_ipv4": f"198.18.{i // 250}.{i % 250 + 1}", "model": "x" * 60}
                  for i in range(n)]  # fmt: skip
        store.upsert("asset", assets, key=["name"])


def test_a_shell_pipe_to_head_exits_141_as_sigpipe_would(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    _many_assets(db)
    script = (f"set -o pipefail; {SCRIPTS / 'pukara'} --base-datos {db} inventario listar "
              "-f csv | head -1")  # fmt: skip
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env=_env(tmp_path), check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    assert (done.returncode, done.stderr) == (141, ""), done
    assert done.stdout.startswith("name,kind,site,") and done.stdout.count("\n") == 1


def test_a_run_with_fails_piped_to_head_does_not_exit_0(tmp_path: Path) -> None:
    """``ipv6 dominios … | head -1`` (exit 3 to a file): a cut output is never success."""
    names = tmp_path / "dominios.txt"  # ~2 KB of CSV each: more than a pipe holds
    names.write_text("".join(f"m{i:03}.test\n" for i in range(40)))
    base = f"{SCRIPTS / 'pukara'} --base-datos {tmp_path / 'p.db'} ipv6 dominios"
    args = f"--lista {names} --resolutor 127.0.0.1 -q -f csv"
    script = f"set -o pipefail; {base} {args} | head -1"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env=_env(tmp_path), check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    # nothing on stderr but the error -q never hides (no resolver listens on 127.0.0.1)
    said = "Error: el resolutor 127.0.0.1 no responde; no se pudo consultar ningún dominio.\n"
    assert (done.returncode, done.stderr) == (141, said), done
    assert done.stdout.startswith("run_id,subject,check,")


def _write_to_a_closed_pipe(*_: object) -> list[dict[str, object]]:
    """What a library call does when the process at the other end of its pipe is gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        os.write(write_end, b"orden")  # a real EPIPE
    finally:
        os.close(write_end)
    return []


def _fd_identity(fd: int) -> tuple[int, int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino, st.st_mode


def test_a_broken_pipe_of_library_code_is_an_error_not_a_closed_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    _many_assets(db, 3)
    monkeypatch.setattr(catalog, "filtered_assets", _write_to_a_closed_pipe)
    stdout_fd = _fd_identity(1)
    code = cli.main(["--base-datos", str(db), "inventario", "listar"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, ""), err
    assert err.startswith("Error: el otro extremo cerró la conexión (Broken pipe)"), err
    assert _fd_identity(1) == stdout_fd  # fd 1 not pointed at /dev/null
    sys.stdout.write("sigue\n")
    assert capsys.readouterr().out == "sigue\n"


def test_in_process_a_closed_stdout_ends_quietly_and_is_not_redirected(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``main()`` called by a program whose stdout is a pipe nobody reads any more."""
    db = tmp_path / "p.db"
    _many_assets(db)
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = open(write_end, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    monkeypatch.setattr("sys.stdout", stream)
    try:
        code = cli.main(["--base-datos", str(db), "inventario", "listar", "-f", "csv"])
        fifo = _fd_identity(write_end)
    finally:
        monkeypatch.undo()
        with contextlib.suppress(BrokenPipeError):  # what it could not write
            stream.close()
        os.close(write_end)
    assert code == cli.OUTPUT_CLOSED == 141 and capsys.readouterr().err == ""
    assert fifo[2] & 0o170000 == 0o010000  # still the pipe (S_IFIFO), not /dev/null
