"""The spooling writer against a real SQLite file, real spool files, locks and processes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from monitoreo import rounds
from monitoreo.prober import ProbeOptions, Target
from monitoreo.rounds import TargetRound
from monitoreo.spool import SpoolBusy, SpoolingWriter
from monitoreo.stats import summarize
from monitoreo.summaries import SummaryWriter
from pukara.events import make_event
from pukara.store import SQLiteStore, Store


def events(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [make_event("prueba.cola", fields={"host.name": "s1", "prueba.n": i})
            for i in range(start, start + n)]  # fmt: skip


def wait_for(check: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def stored(db: Path) -> list[int]:
    with SQLiteStore(db) as s:
        docs = list(s.search_events(dataset="prueba.cola"))
    ids = [d["event"]["id"] for d in docs]
    assert len(ids) == len(set(ids)), "an event.id is in the store twice"
    return sorted(d["prueba"]["n"] for d in docs)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pukara.db"
    SQLiteStore(path).close()
    return path


@pytest.fixture
def opener(db: Path) -> Callable[[], Store]:
    return lambda: SQLiteStore(db, busy_timeout_ms=50)


@contextlib.contextmanager
def locked(db: Path) -> Iterator[None]:
    """The database held by another real connection's exclusive transaction."""
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_events_reach_the_store_and_the_spool_is_emptied(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    w = SpoolingWriter(opener, tmp_path / "cola" / "m.jsonl", retry_s=0.05)
    w.put(events(10))
    report = w.close()
    assert stored(db) == list(range(10))
    assert report.ok and report.spooled == 0 and report.in_memory == 0 and report.written == 10
    assert (tmp_path / "cola" / "m.jsonl").stat().st_size == 0


def test_truncated_and_corrupt_lines_go_to_quarantine_and_the_rest_is_replayed(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    good = events(5)
    lines = [orjson.dumps(e) + b"\n" for e in good]
    lines.insert(2, b'{"@timestamp": "2026-10-01T00:00:00.000000Z", "event": {"datas\n')
    cut = orjson.dumps(events(1, 99)[0])[:40]  # a crash in the middle of an append
    spool.write_bytes(b"".join(lines) + cut)
    w = SpoolingWriter(opener, spool, retry_s=0.05)
    report = w.close()
    assert stored(db) == [0, 1, 2, 3, 4]
    quarantine = spool.with_name("m.jsonl.cuarentena").read_bytes().splitlines()
    assert quarantine == [lines[2].rstrip(b"\n"), cut]
    assert report.quarantined == 2
    assert any("2 líneas dañadas" in r and "cuarentena" in r for r in report.reports)
    assert oct(spool.with_name("m.jsonl.cuarentena").stat().st_mode & 0o777) == "0o600"
    assert oct(spool.stat().st_mode & 0o777) == "0o600"  # the rewritten spool too


def test_a_locked_database_spools_then_the_events_arrive(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    w = SpoolingWriter(opener, tmp_path / "m.jsonl", retry_s=0.05, max_retry_s=0.2)
    with locked(db):
        w.put(events(7))
        w.put(events(7, 7))
        assert wait_for(lambda: w.health().spooled == 14 and w.health().last_error is not None)
        health = w.health()
        assert not health.ok and "el almacén no recibe eventos" in (health.last_error or "")
        assert stored(db) == []
    assert wait_for(lambda: w.health().ok)
    w.put(events(1, 14))
    w.close()
    assert stored(db) == list(range(15))


def test_a_closed_store_is_reopened(tmp_path: Path, db: Path) -> None:
    opened: list[SQLiteStore] = []

    def opener() -> Store:
        opened.append(SQLiteStore(db))
        return opened[-1]

    w = SpoolingWriter(opener, tmp_path / "m.jsonl", retry_s=0.05)
    w.put(events(3))
    assert wait_for(lambda: w.health().written == 3)
    opened[0].close()  # closed under the writer
    w.put(events(3, 3))
    assert wait_for(lambda: w.health().written == 6)
    w.close()
    assert len(opened) == 2 and stored(db) == list(range(6))


def test_an_unwritable_spool_sends_events_straight_to_the_store(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    spool.mkdir()  # not a file: every open fails, for root too
    w = SpoolingWriter(opener, spool, retry_s=0.05)
    w.put(events(4))
    assert wait_for(lambda: w.health().written == 4)
    health = w.health()
    assert not health.ok and "no se puede" in (health.last_error or "")
    w.close()
    assert stored(db) == [0, 1, 2, 3]


def test_with_both_failing_events_wait_in_memory_bounded_and_counted(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    spool.mkdir()
    w = SpoolingWriter(opener, spool, retry_s=0.05, max_retry_s=0.1, max_held=10)
    with locked(db):
        w.put(events(8))
        assert wait_for(lambda: w.health().held == 8)
        w.put(events(7, 8))
        assert wait_for(lambda: w.health().dropped == 5)
        health = w.health()
        assert health.held == 10 and not health.ok
        reports = w.health(drain=True).reports
        assert any("se descartaron los 5 eventos más antiguos" in r for r in reports)
    report = w.close()
    assert stored(db) == list(range(5, 15))  # the newest 10, and the loss was said
    assert report.dropped == 5 and report.held == 0


def _read_only(folder: Path) -> Callable[[], None]:
    """Make ``folder`` and its files unwritable, for root too; return the undo."""
    paths = [*folder.iterdir(), folder]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        return lambda: subprocess.run(["chattr", "-i", *map(str, paths)], check=True) and None
    for p in paths:
        p.chmod(0o500 if p.is_dir() else 0o400)
    return lambda: [p.chmod(0o700 if p.is_dir() else 0o600) for p in paths] and None


def test_a_read_only_spool_folder_loses_nothing(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    folder = tmp_path / "cola"
    w = SpoolingWriter(opener, folder / "m.jsonl", retry_s=0.05, max_retry_s=0.1)
    w.put(events(2))
    assert wait_for(lambda: w.health().written == 2)
    undo = _read_only(folder)
    try:
        with pytest.raises(PermissionError), (folder / "m.jsonl").open("ab") as fh:
            fh.write(b"x")  # it really is read-only, for this user too
        with locked(db):
            w.put(events(3, 2))
            assert wait_for(lambda: w.health().held == 3)
            assert "no se puede escribir la cola local" in (w.health().last_error or "")
        assert wait_for(lambda: w.health().written == 5)  # from memory, once the store is back
        w.put(events(2, 5))
        assert wait_for(lambda: w.health().written == 7)
        report = w.close()
    finally:
        undo()
    assert stored(db) == list(range(7)) and report.held == 0


def test_a_replay_after_a_crash_skips_what_was_already_committed(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    docs = events(40)
    spool.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in docs))
    with SQLiteStore(db) as s:  # the crash came after this commit, before the truncation
        s.write_events(docs[:23])
    w = SpoolingWriter(opener, spool, retry_s=0.05)
    report = w.close()
    assert stored(db) == list(range(40))
    assert any("23 eventos de la cola local ya estaban" in r for r in report.reports)


def test_close_says_what_it_could_not_hand_over(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    with locked(db):
        w = SpoolingWriter(opener, spool, retry_s=0.05)
        w.put(events(6))
        report = w.close()
    assert report.spooled == 6 and report.in_memory == 0 and report.last_error
    assert len(spool.read_bytes().splitlines()) == 6
    again = SpoolingWriter(opener, spool, retry_s=0.05)  # the next run hands them over
    assert again.close().ok
    assert stored(db) == list(range(6))


def test_a_second_writer_on_the_same_spool_is_refused_with_the_holder_pid(tmp_path: Path) -> None:
    spool = tmp_path / "cola" / "m.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from monitoreo.spool import SpoolLock\n"
         f"lock = SpoolLock(Path({str(spool)!r} + '.lock')); print('ok', flush=True)\n"
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(SpoolBusy) as e:
            SpoolingWriter(lambda: SQLiteStore(tmp_path / "x.db"), spool)
        assert e.value.pid == holder.pid and str(holder.pid) in e.value.message
    finally:
        holder.communicate("")
    w = SpoolingWriter(lambda: SQLiteStore(tmp_path / "x.db"), spool)  # released on exit
    with pytest.raises(SpoolBusy):
        SpoolingWriter(lambda: SQLiteStore(tmp_path / "x.db"), spool)
    w.close()
    SpoolingWriter(lambda: SQLiteStore(tmp_path / "x.db"), spool).close()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB file system (tmpfs), to be filled up."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI debe correr como root para montar un disco pequeño")
        pytest.skip("montar un tmpfs necesita root")
    mnt = tmp_path / "disco"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                   check=True)  # fmt: skip
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 1024)
    finally:
        os.close(fd)
    assert os.statvfs(path).f_bavail == 0


def test_a_full_disk_keeps_events_in_memory_without_a_half_line_then_spools_again(
    tiny_disk: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tiny_disk / "m.jsonl"
    w = SpoolingWriter(opener, spool, retry_s=0.05, max_retry_s=0.1)
    _fill(tiny_disk / "relleno")
    with locked(db):
        w.put(events(50))
        assert wait_for(lambda: w.health().held == 50)
        assert "No space left" in (w.health().last_error or "")
        assert not spool.exists() or spool.stat().st_size == 0  # cut back: no half line
    assert wait_for(lambda: w.health().written == 50)  # from memory once the store answers
    (tiny_disk / "relleno").unlink()
    with locked(db):
        w.put(events(5, 50))
        assert wait_for(lambda: w.health().spooled == 5)  # the spool takes them again
    report = w.close()
    assert report.ok and stored(db) == list(range(55))


def test_a_line_the_store_would_refuse_is_quarantined_and_the_rest_delivered(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    bad_time, bad_id = events(2, 100)
    bad_time["@timestamp"] = "2026-13-45T99:00:00Z"
    bad_id["event"]["id"] = 5
    lines = [orjson.dumps(e) + b"\n" for e in [*events(2), bad_time, bad_id]]
    spool.write_bytes(b"".join(lines))
    w = SpoolingWriter(opener, spool, retry_s=0.05)
    w.put(events(5, 2))
    report = w.close()
    assert stored(db) == list(range(7))
    assert report.quarantined == 2 and report.written == 7 and report.spooled == 0
    quarantine = spool.with_name("m.jsonl.cuarentena").read_bytes().splitlines(keepends=True)
    assert quarantine == lines[2:]


def test_an_event_that_cannot_be_serialised_is_quarantined_and_the_writer_goes_on(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    w = SpoolingWriter(opener, spool, retry_s=0.05)
    w.put([make_event("prueba.cola", fields={"host.name": "s1", "prueba.x": {1, 2}})])
    w.put(events(5))
    assert wait_for(lambda: w.health().written == 5)
    assert w.health().alive and w.health().held == 0
    report = w.close()
    assert stored(db) == list(range(5)) and report.quarantined == 1 and report.held == 0
    assert any("no serializable" in r for r in report.reports)
    (line,) = spool.with_name("m.jsonl.cuarentena").read_bytes().splitlines()
    assert b"prueba.cola" in line


def test_the_head_already_stored_is_handed_on_again_for_the_summaries(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    docs = events(10)
    spool.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in docs))
    with SQLiteStore(db) as s:  # a crash after this commit, before the summaries were written
        s.write_events(docs[:6])
    handed: list[int] = []
    w = SpoolingWriter(opener, spool, retry_s=0.05,
                       on_stored=lambda b: handed.extend(d["prueba"]["n"] for d in b))  # fmt: skip
    report = w.close()
    assert stored(db) == list(range(10)) and report.written == 4
    assert handed == list(range(10))


def _round_at(at: datetime, n: int) -> list[dict[str, Any]]:
    return [make_event("prueba.cola", timestamp=at, fields={"prueba.n": i}) for i in range(n)]


def test_a_replay_is_never_cut_inside_a_round(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    t0 = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)
    docs = _round_at(t0, 3) + _round_at(t0 + timedelta(seconds=30), 3)
    docs += _round_at(t0 + timedelta(seconds=60), 2)
    spool.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in docs))
    batches: list[list[str]] = []
    w = SpoolingWriter(opener, spool, retry_s=0.05, replay_chunk=2,
                       on_stored=lambda b: batches.append([d["@timestamp"] for d in b]))  # fmt: skip
    assert w.close().written == 8
    stamps = [b[0] for b in batches]
    assert all(len(set(b)) == 1 for b in batches) and len(stamps) == len(set(stamps)) == 3


def test_a_round_at_a_replay_chunk_boundary_keeps_its_whole_summary(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    """The tunnel's probe and its verdict on either side of a chunk: one full summary."""
    spool = tmp_path / "m.jsonl"
    at = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)
    rtts: list[float | None] = [10.0, 11.0, 12.0, None]
    probe = TargetRound(Target("m1/vpn", "198.18.0.1", site="m1"), rtts, summarize(rtts), None)
    docs = rounds.round_events(rounds.Round("r", at, ProbeOptions(count=4), [probe]))
    docs.append(make_event("monitoreo.vpn", timestamp=at, fields={
        "host.name": "m1", "monitoreo.vpn.working": True}))  # fmt: skip
    spool.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in docs))
    store = SQLiteStore(db)
    summaries = SummaryWriter(store)
    w = SpoolingWriter(opener, spool, retry_s=0.05, replay_chunk=1,
                       on_stored=summaries.put_stored)  # fmt: skip
    assert w.close().ok and summaries.close() == 0
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT up, sent, received FROM round_summaries WHERE entity = 'm1/vpn'"
        ).fetchall()
    finally:
        conn.close()
    assert row == [(1, 4, 3)]
    store.close()


def test_events_in_memory_wait_for_a_spool_that_cannot_be_read_yet(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    """Its older events go to the store first: held ones are never written before it is read."""
    spool = tmp_path / "m.jsonl"
    spool.symlink_to(spool)  # a loop: every stat fails (ELOOP), for root too
    w = SpoolingWriter(opener, spool, retry_s=0.05)
    w.put(events(3, 10))
    assert wait_for(lambda: w.health().last_error is not None)
    time.sleep(0.3)
    assert w.health().written == 0 and w.health().held == 3
    spool.unlink()
    spool.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events(2)))
    w.put(events(1, 13))  # wakes the writer, which reads the spool again
    report = w.close()
    assert stored(db) == [0, 1, 10, 11, 12, 13] and report.ok


def test_events_waiting_for_an_unreadable_spool_stay_within_the_bound(
    tmp_path: Path, db: Path, opener: Callable[[], Store]
) -> None:
    spool = tmp_path / "m.jsonl"
    spool.symlink_to(spool)
    w = SpoolingWriter(opener, spool, retry_s=0.05, max_held=2)
    w.put(events(5))
    assert wait_for(lambda: w.health().dropped == 3)
    assert w.health().held == 2
    spool.unlink()
    w.put(events(1, 5))
    assert w.close().written == 3
    assert stored(db) == [3, 4, 5]
