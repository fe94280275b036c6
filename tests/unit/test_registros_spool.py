"""The disk queue for real: a burst larger than the inbox in memory through a real receiver
and SQLite store (nothing dropped, order kept), a process killed with SIGKILL, a torn record."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pukara.errors import PukaraError
from pukara.store import SQLiteStore
from registros.receiver import Endpoint, Inbox, Receiver, figures_line, summary_lines
from registros.spool import Spool, encode

ROOT = Path(__file__).resolve().parents[2]


def _messages(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT doc FROM events ORDER BY id").fetchall()
    return [json.loads(doc)["message"] for (doc,) in rows]


def test_a_burst_larger_than_memory_goes_to_disk_and_comes_back_in_order(tmp_path: Path) -> None:
    db = tmp_path / "rx.db"
    SQLiteStore(db, actor="prueba").close()
    gate = tmp_path / "gate"

    class SlowStore(SQLiteStore):  # stalls until the test opens the gate: the burst piles up
        def write_events(self, events: Any) -> int:
            while not gate.exists():
                time.sleep(0.01)
            return super().write_events(events)

    spool = Spool(tmp_path / "cola", 64 << 20)
    inbox = Inbox(max_items=50, spool=spool)
    ready = threading.Event()
    rx = Receiver(lambda: SlowStore(db, actor="receptor"), [Endpoint("udp", "127.0.0.1", 0)],
                  inbox=inbox, workers=1, on_ready=lambda b: ready.set())  # fmt: skip
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(rx.run()))
    thread.start()
    try:
        assert ready.wait(5)
        n = 3000
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            for i in range(n):
                u.sendto(b"<13>1 - h a - - - m%05d" % i, ("127.0.0.1", rx.bound[0].port))
                if i % 200 == 0:
                    time.sleep(0.002)  # the kernel's buffer is not what this test is about
        deadline = time.monotonic() + 5
        while rx.report.total().received < n and time.monotonic() < deadline:
            time.sleep(0.02)
        spilled = spool.size()
        assert spilled > 0 and spool.active  # the inbox held 50: the rest is on disk
        rx.report.spool_bytes = spilled
        assert "en la cola en disco " in figures_line(rx.report, 1.0, previous={})
        gate.touch()
        deadline = time.monotonic() + 20
        while rx.report.total().stored < n and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        rx.stop()
        thread.join(20)
    report = result[0]
    total = report.total()
    assert (total.received, total.stored, total.dropped) == (n, n, 0)
    assert _messages(db) == [f"m{i:05d}" for i in range(n)]  # one writer: stored in order
    assert spool.size() == 0 and os.path.getsize(spool.path) == 0  # drained: emptied
    assert not any("cola en disco" in line for line in summary_lines(report))
    assert oct(os.stat(tmp_path / "cola").st_mode & 0o777) == "0o700"
    assert oct(os.stat(spool.path).st_mode & 0o777) == "0o600"


def test_the_bound_drops_and_counts_past_it(tmp_path: Path) -> None:
    items = [(b"x" * 100, "198.51.100.7", 514, float(i)) for i in range(10)]
    spool = Spool(tmp_path / "cola", len(encode(items[2:5])))
    inbox = Inbox(max_items=2, spool=spool)
    assert inbox.offer_many(items) == 5  # 2 in memory, 3 on disk, 5 dropped
    assert inbox.offer_many(items[:1]) == 0 and not inbox.offer(items[0])
    assert [i[3] for i in inbox.take(10, 0.01)] == [0.0, 1.0]
    batch, token = inbox.take_batch(10, 0.01)
    assert [i[3] for i in batch] == [2.0, 3.0, 4.0] and batch[0][1:3] == ("198.51.100.7", 514)
    inbox.stored(token)
    assert inbox.take_batch(10, 0.01) == ([], -1) and not spool.active
    assert inbox.offer(items[0]) and len(inbox) == 1  # drained: memory again


_KILLED = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from registros.spool import Spool
    spool = Spool(Path(sys.argv[1]), 64 << 20)
    for i in range(0, 20000, 500):
        spool.put([(b"<13>1 - h a - - - k%05d" % j, "127.0.0.1", 9, 1.0) for j in range(i, i + 500)])
    spool.flush()
    batch, token = spool.take(1000)  # taken, never stored: stays for the next start
    print("listo", flush=True)
    time.sleep(60)
""")


def test_sigkill_leaves_the_spool_and_the_next_start_stores_it_first(tmp_path: Path) -> None:
    folder = tmp_path / "datos" / "registros" / "cola"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT), PUKARA_DATA_DIR=str(tmp_path / "datos"))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(folder)], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "listo\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    torn = encode([(b"<13>1 - h a - - - cortado", "127.0.0.1", 9, 1.0)])[:-7]
    with open(folder / "cola.bin", "ab") as f:  # and a record cut in the middle of its write
        f.write(torn)
    db = tmp_path / "rx.db"
    argv = [str(Path(sys.executable).parent / "pukara"), "--base-datos", str(db),
            "registros", "recibir", "--udp", "127.0.0.1:0",
            "--cifras", "0.2"]  # fmt: skip
    rx = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)  # fmt: skip
    assert rx.stderr is not None
    seen = ""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen += rx.stderr.readline()
            if db.exists() and len(_messages(db)) >= 20000:
                break
        rx.send_signal(signal.SIGINT)
        _, rest = rx.communicate(timeout=30)
    finally:
        rx.kill()
    err = seen + rest
    assert "incompleto" in err and f"se descartaron sus {len(torn)} bytes" in err, err
    assert "La cola en disco tiene 20,000 registros" in err and "se guardan primero" in err, err
    stored = _messages(db)  # several writers: batches in any order, each whole
    assert sorted(stored) == [f"k{i:05d}" for i in range(20000)]
    assert "cola en disco" not in rest.split("Total:")[-1]  # all of it stored: nothing left
    assert os.path.getsize(folder / "cola.bin") == 0


def test_a_stop_stores_memory_keeps_the_disk_and_the_next_run_stores_it(tmp_path: Path) -> None:
    db = tmp_path / "rx.db"
    SQLiteStore(db, actor="prueba").close()
    gate = tmp_path / "gate"

    class SlowStore(SQLiteStore):
        def write_events(self, events: Any) -> int:
            while not gate.exists():
                time.sleep(0.01)
            return super().write_events(events)

    def run(inbox: Inbox, send: int, stop_when: Any) -> Any:
        ready = threading.Event()
        rx = Receiver(lambda: SlowStore(db, actor="receptor"), [Endpoint("udp", "127.0.0.1", 0)],
                      inbox=inbox, workers=1, on_ready=lambda b: ready.set())  # fmt: skip
        result: list[Any] = []
        thread = threading.Thread(target=lambda: result.append(rx.run()))
        thread.start()
        assert ready.wait(5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for i in range(send):
                u.sendto(b"<13>1 - h a - - - s%04d" % i, ("127.0.0.1", rx.bound[0].port))
        deadline = time.monotonic() + 20
        while not stop_when(rx) and time.monotonic() < deadline:
            time.sleep(0.02)
        rx.stop()
        while not rx._stopping.is_set() and thread.is_alive():
            time.sleep(0.01)
        gate.touch()  # the store answers only once the stop has begun
        thread.join(20)
        return result[0]

    inbox = Inbox(max_items=100, spool=Spool(tmp_path / "cola", 64 << 20))
    first = run(inbox, 1000, lambda rx: rx.report.total().received == 1000)
    kept = first.total().stored  # what was in memory (and the batch being stored)
    assert first.total().dropped == 0 and 100 <= kept < 1000
    assert first.spool_bytes > 0
    assert any("Quedan " in line and "cola en disco" in line for line in summary_lines(first))
    again = Spool(tmp_path / "cola", 64 << 20)
    assert again.found.items == 1000 - kept and again.found.torn_bytes == 0
    second = run(Inbox(max_items=100, spool=again), 0,
                 lambda rx: rx.report.total().stored == 1000 - kept)  # fmt: skip
    assert second.total().stored == 1000 - kept and second.spool_bytes == 0
    assert _messages(db) == [f"s{i:04d}" for i in range(1000)]


def test_one_receiver_per_spool(tmp_path: Path) -> None:
    first = Spool(tmp_path / "cola", 1 << 20)
    with pytest.raises(PukaraError, match="otro «registros recibir» usa la cola en disco"):
        Spool(tmp_path / "cola", 1 << 20)
    first.close()
    Spool(tmp_path / "cola", 1 << 20).close()


def test_a_damaged_record_ends_the_file_and_is_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "cola", 1 << 20)
    items = [(b"<13>1 - h a - - - d%d" % i, "::1", 514, 2.5) for i in range(30)]
    assert spool.put(items[:10]) == 10 and spool.put(items[10:]) == 20
    spool.close()
    first = len(encode(items[:10]))
    with open(spool.path, "r+b") as f:  # one byte of the second block changed on disk
        f.seek(first + 20)
        byte = f.read(1)
        f.seek(first + 20)
        f.write(bytes([byte[0] ^ 0xFF]))
    again = Spool(tmp_path / "cola", 1 << 20)
    assert again.found.items == 10 and again.found.torn_bytes == len(encode(items[10:]))
    batch, token = again.take(100)
    assert batch == items[:10]
    again.stored(token)
    assert again.take(100) == ([], -1) and os.path.getsize(again.path) == 0
    again.close()


_FULL = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from pukara.errors import PukaraError
    from registros.spool import Spool
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    spool = Spool(Path(sys.argv[1]), 64 << 20)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))  # the disk is "full" at 2 MiB
    taken = [spool.put([(b"%06d" % (i * 100 + j) + b"x" * 1000, "127.0.0.1", 9, 1.0)
                        for j in range(100)]) for i in range(100)]
    print(sum(taken), taken[-1])
    while True:
        try:
            items, token = spool.take(1000)
        except PukaraError as e:
            print(e.message)
            break
        spool.stored(token)
""")


def test_a_full_disk_drops_and_counts_and_then_says_why(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _FULL, str(tmp_path / "cola")], env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    taken, last = out.splitlines()[0].split()
    assert 2000 < int(taken) < 10_000 and last == "0"  # past the disk's end: refused, counted
    assert "no se pudo escribir la cola en disco" in out, out
