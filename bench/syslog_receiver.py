"""Syslog receiver benchmark: `pukara registros recibir` against Debian's rsyslog, side by side.

The same UDP stream (default 200,000 RFC 5424 and RFC 3164 lines: sshd logins and failures,
sudo, nftables drops from the kernel) is sent on loopback to:

- rsyslogd (its own configuration, pid file and work folder under a temporary folder: imudp
  on a free loopback port, omfile with the raw message, one line per message; the system's
  rsyslog is never touched), counted by the lines of its file;
- `pukara registros recibir --udp 127.0.0.1:PORT` into a fresh SQLite store, counted by the
  rows of its events table.

First at full speed (messages/s each, and their ratio: pukara parses to ECS and stores, rsyslog
writes the raw line), then paced at falling rates until rsyslog drops nothing; pukara is then
sent the same stream at that rate and its drops are shown.

    python bench/syslog_receiver.py [--mensajes N] [--tasas 100000,50000,...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pukara.formats import number

ROOT = Path(__file__).resolve().parents[1]
PUKARA = Path(sys.executable).parent / "pukara"
RATES = (200_000, 100_000, 50_000, 25_000, 12_500, 6_250)
IDLE_S = 2.0  # no growth for this long: the receiver is done


def stream(n: int) -> list[bytes]:
    """``n`` distinct, realistic lines: a third each of sshd (3164), sshd/sudo (5424), kernel."""
    out = []
    for i in range(n):
        k = i % 3
        if k == 0:
            out.append(b"<38>Dec  1 08:%02d:%02d srv%03d sshd[%d]: Failed password for invalid user "
                       b"u%d from 198.51.%d.%d port %d ssh2" % (i // 60 % 60, i % 60, i % 500,
                       1000 + i % 5000, i, i % 256, i % 250 + 1, 1024 + i % 60000))  # fmt: skip
        elif k == 1 and i % 2:
            out.append(b"<86>1 2026-12-01T08:00:00.%06dZ srv%03d sshd %d - - Accepted publickey "
                       b"for alice from 198.18.%d.%d port %d ssh2: ED25519 SHA256:%08x"
                       % (i % 1_000_000, i % 500, i, i % 256, i % 250 + 1, 1024 + i % 60000, i))  # fmt: skip
        elif k == 1:
            out.append(b"<85>1 2026-12-01T08:00:00.%06dZ srv%03d sudo - - - alice : TTY=pts/0 ; "
                       b"PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl status x%d"
                       % (i % 1_000_000, i % 500, i))  # fmt: skip
        else:
            out.append(b"<4>Dec  1 08:00:00 fw%02d kernel: [%d.%03d] pukara-drop: IN=eth0 OUT= "
                       b"MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.%d "
                       b"DST=198.18.0.5 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=%d DF PROTO=TCP "
                       b"SPT=%d DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0"
                       % (i % 40, i, i % 1000, i % 250 + 1, i % 65535, 1024 + i % 60000))  # fmt: skip
    return out


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(lines: list[bytes], port: int, rate: float | None) -> float:
    """Send ``lines`` to 127.0.0.1:``port`` (paced at ``rate`` per second); seconds taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        to = ("127.0.0.1", port)
        start = time.perf_counter()
        for i, line in enumerate(lines):
            if rate is not None and i % 200 == 0:
                ahead = start + i / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            s.sendto(line, to)
        return time.perf_counter() - start


def settle(count: Callable[[], int], expected: int, start: float) -> tuple[int, float]:
    """Wait until ``count()`` reaches ``expected`` or stops growing; (count, seconds from
    ``start`` to the last growth)."""
    last, last_at = -1, time.perf_counter()
    while True:
        n = count()
        now = time.perf_counter()
        if n != last:
            last, last_at = n, now
        if n >= expected or now - last_at >= IDLE_S:
            return n, last_at - start
        time.sleep(0.05)


class Rsyslog:
    """rsyslogd -n with a configuration of its own on a loopback port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_udp_port()
        self.out = folder / "mensajes.log"
        self.conf = folder / "rsyslog.conf"
        self.pid = folder / "rsyslogd.pid"
        (folder / "trabajo").mkdir(exist_ok=True)
        self.conf.write_text(f"""\
global(workDirectory="{folder / "trabajo"}")
module(load="imudp" threads="1")
template(name="crudo" type="string" string="%rawmsg%\\n")
ruleset(name="banco") {{
  action(type="omfile" file="{self.out}" template="crudo")
}}
input(type="imudp" address="127.0.0.1" port="{self.port}" ruleset="banco" rcvbufSize="8m")
""")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        self.proc = subprocess.Popen(
            [binary, "-n", "-f", str(self.conf), "-i", str(self.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _udp_bound(self.port) and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"rsyslogd no arrancó: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.05)

    def count(self) -> int:
        try:
            with self.out.open("rb") as f:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        except FileNotFoundError:
            return 0

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
            self.proc = None
        self.out.unlink(missing_ok=True)


class Pukara:
    """`pukara registros recibir --udp 127.0.0.1:PORT` into a fresh database."""

    def __init__(self, folder: Path, run: int, *extra: str) -> None:
        self.extra = extra
        self.db = folder / f"pukara-{run}.db"
        self.home = folder
        self.port = free_udp_port()
        self.proc: subprocess.Popen[str] | None = None
        self.summary = ""

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
        env.update(
            HOME=str(self.home),
            PYTHONPATH=str(ROOT),
            PUKARA_DATA_DIR=str(self.home / f"datos-{self.db.stem}"),
        )  # its own disk queue
        self.proc = subprocess.Popen(
            [str(PUKARA), "--base-datos", str(self.db), "registros", "recibir",
             "--udp", f"127.0.0.1:{self.port}", "--cifras", "0", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        err = self.proc.stderr
        first = err.readline() if err is not None else ""
        if "Escuchando" not in first:
            rest = err.read() if err is not None else ""
            raise SystemExit(f"pukara registros recibir no arrancó: {first}{rest}")

    def count(self) -> int:
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
                return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.Error:
            return 0

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            _, self.summary = self.proc.communicate(timeout=60)
            self.proc = None

    def kernel_and_inbox_drops(self) -> tuple[int, int]:
        inbox = re.search(r"Total: .*descartados ([\d,]+)", self.summary)
        kernel = re.search(r"El sistema descartó ([\d,]+)", self.summary)

        def value(m: re.Match[str] | None) -> int:
            return int(m.group(1).replace(",", "")) if m else 0

        return value(kernel), value(inbox)


def _udp_bound(port: int) -> bool:
    """Something listens on UDP ``port`` (``/proc/net/udp``: local address in column 2)."""
    with open("/proc/net/udp", encoding="ascii") as f:
        return any(line.split()[1].endswith(f":{port:04X}") for line in list(f)[1:])


@dataclass
class Run:
    stored: int
    seconds: float
    sent_s: float

    @property
    def drain_s(self) -> float:
        """From the last line sent to the last one stored."""
        return max(self.seconds - self.sent_s, 0.0)

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds > 0 else 0.0


def run_once(receiver: Rsyslog | Pukara, lines: list[bytes], rate: float | None) -> Run:
    receiver.start()
    try:
        start = time.perf_counter()
        sent_s = send(lines, receiver.port, rate)
        stored, seconds = settle(receiver.count, len(lines), start)
    finally:
        receiver.stop()
    return Run(stored, seconds, sent_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mensajes", type=int, default=200_000)
    parser.add_argument("--tasas", default=",".join(str(r) for r in RATES),
                        help="tasas (mensajes/s) a probar, de mayor a menor")  # fmt: skip
    args = parser.parse_args()
    n = args.mensajes
    rates = [float(r) for r in args.tasas.split(",") if r]
    lines = stream(n)
    folder = Path(tempfile.mkdtemp(prefix="pukara-bench-syslog-"))
    try:
        print(f"Flujo: {number(n)} mensajes UDP (sshd, sudo, nftables; RFC 5424 y 3164), "
              f"{number(sum(map(len, lines)) / n)} bytes de media, en 127.0.0.1; carga del "
              f"equipo {number(os.getloadavg()[0], 2)} en {os.cpu_count()} núcleos")  # fmt: skip
        rs = run_once(Rsyslog(folder), lines, None)
        pk_receiver = Pukara(folder, 0)
        pk = run_once(pk_receiver, lines, None)
        print("A toda velocidad (el emisor envió tan rápido como pudo):")
        for name, r in (("rsyslog", rs), ("pukara ", pk)):
            print(f"  {name}: {number(r.rate)} mensajes/s, guardados {number(r.stored)} de "
                  f"{number(n)}, perdidos {number(n - r.stored)} (envío en "
                  f"{number(r.sent_s, 2)} s, guardado el último {number(r.drain_s, 2)} s "
                  "después)")  # fmt: skip
        print(f"  razón pukara/rsyslog: {number(pk.rate / rs.rate if rs.rate else 0, 2)}")
        held = None
        for rate in rates:
            r = run_once(Rsyslog(folder), lines, rate)
            print(f"  rsyslog a {number(rate)}/s: perdidos {number(n - r.stored)}")
            if r.stored == n:
                held = rate
                break
        if held is None:
            print("rsyslog perdió mensajes en todas las tasas probadas")
            return
        p = Pukara(folder, 1)
        r = run_once(p, lines, held)
        kernel, inbox = p.kernel_and_inbox_drops()
        print(f"A la tasa que rsyslog sostiene sin pérdida ({number(held)} mensajes/s):")
        print(f"  rsyslog: perdidos 0; pukara: perdidos {number(n - r.stored)} de {number(n)} "
              f"(cola llena {number(inbox)}, búfer del sistema {number(kernel)}), "
              f"{number(r.rate)} mensajes/s guardados, el último {number(r.drain_s, 2)} s "
              "después del envío")  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
