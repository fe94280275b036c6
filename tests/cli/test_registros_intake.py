"""`pukara registros recibir` and `registros importar` as real processes and through the
boundary: ports on loopback, Ctrl-C/SIGTERM flush and 130, messages and exit codes."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli import main

ROOT = Path(__file__).resolve().parents[2]
PUKARA = Path(sys.executable).parent / "pukara"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    return {**env, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_recibir_stores_everything_read_and_exits_130(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "rx.db"
    argv = [str(PUKARA), "--base-datos", str(db), "registros", "recibir", "--udp", "127.0.0.1:0",
            "--tcp", "[::1]:0", "--cifras", "0.2"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(tmp_path), preexec_fn=_sigint_default)  # fmt: skip
    assert proc.stderr is not None
    try:
        first = proc.stderr.readline()
        m = re.search(r"UDP 127\.0\.0\.1:(\d+), TCP \[::1\]:(\d+)", first)
        assert m is not None, first + proc.stderr.read()
        udp, tcp = int(m.group(1)), int(m.group(2))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for i in range(2000):
                u.sendto(b"<38>Dec  1 08:01:02 srv1 sshd[1]: Failed password for root from "
                         b"198.51.100.7 port %d ssh2" % i, ("127.0.0.1", udp))  # fmt: skip
        with socket.create_connection(("::1", tcp)) as c:
            m5424 = b"<13>1 2026-12-01T10:00:00Z h app - - - tcp"
            c.sendall(b"%d %s" % (len(m5424), m5424) * 1000)
        seen, deadline = "", time.monotonic() + 20
        while "recibidos 3,000" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "recibidos 3,000" in seen, seen
        proc.send_signal(sig)
        out, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    err = first + seen + rest
    assert proc.returncode == 130, err
    assert out == "" and "Interrumpido." in err and "Traceback" not in err
    assert "127.0.0.1: recibidos 2,000, guardados 2,000, fallos de lectura 0, descartados 0" in err
    assert "::1: recibidos 1,000, guardados 1,000" in err
    assert "Total: recibidos 3,000, guardados 3,000" in err
    assert "por origen: " in err
    assert _count(db) == 3000


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_recibir_refuses_bad_addresses(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = ["--base-datos", str(tmp_path / "x.db")]
    code, _, err = run(capsys, *db, "registros", "recibir", "--udp", "::1:514")
    assert code == 2 and "--udp ::1:514: una dirección IPv6 va entre corchetes" in err
    code, _, err = run(capsys, *db, "registros", "recibir", "--tcp", "nombre.test:514")
    assert code == 2 and "no es una dirección IP" in err
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run(capsys, *db, "registros", "recibir", "--tcp", f"127.0.0.1:{port}")
    assert code == 1 and f"no se pudo escuchar en TCP 127.0.0.1:{port}: la dirección ya está" in err
    assert "¿otro receptor syslog" in err


def test_importar_summary_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = ["--base-datos", str(tmp_path / "x.db")]
    auth = tmp_path / "auth.log"
    auth.write_text("Dec  1 08:01:02 srv1 sshd[1]: Invalid user x from 198.51.100.9 port 2\n"
                    "\x1b[31mnot\x07 a log line\n")  # fmt: skip
    code, out, err = run(capsys, *db, "registros", "importar", str(auth))
    assert code == 3 and out == ""  # stored, tagged, and said: someone should look
    assert "auth.log (auth): leídas 2, guardadas 2, fallos de lectura 1; líneas que no se " in err
    assert "Código 3: 1 línea no tiene forma de registro; se guardaron igual" in err
    code, _, err = run(capsys, *db, "registros", "importar", str(auth), "--tipo", "auth")
    assert code == 3 and "guardadas 0" in err and "(2 ya estaban guardadas)" in err
    good = tmp_path / "bueno.log"
    good.write_text("Dec  1 08:01:02 srv1 sshd[1]: Invalid user x from 198.51.100.9 port 2\n")
    assert run(capsys, *db, "registros", "importar", str(good))[0] == 0
    code, _, err = run(capsys, *db, "registros", "importar", str(auth), str(tmp_path / "no.log"))
    assert code == 2 and "no.log: no se puede leer: no existe" in err
    code, _, err = run(capsys, *db, "registros", "importar", str(auth), "--tipo", "csv")
    assert code == 2
    code, _, err = run(capsys, *db, "registros", "importar", "-q", str(auth))
    assert code == 3 and err == ""  # quiet: the exit code alone says it
