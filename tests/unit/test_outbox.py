"""The outbox in a real SQLite file: order, exact backlog, once per event.id, the bound that
blocks and never discards, dead letters and sending them again, migration 4."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import orjson
import pytest

from pukara.errors import StoreError
from pukara.events import make_event
from pukara.store import SQLiteStore
from pukara.store import outbox as outbox_module
from pukara.store.cluster.engine import ItemResult
from pukara.store.migrations import MIGRATIONS, SCHEMA_VERSION
from pukara.store.outbox import Outbox


def _events(n: int, dataset: str = "monitoreo.sondeo") -> list[dict[str, object]]:
    return [make_event(dataset, fields={"host.name": f"h{i}"}) for i in range(n)]


def test_put_take_ack_oldest_first_with_exact_backlog(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        events = _events(7) + _events(2, "registros.syslog")
        assert box.put(events) == 9 and box.backlog() == 9
        taken = box.take(5, 10**9)
        assert [i.event_id for i in taken] == [e["event"]["id"] for e in events[:5]]  # type: ignore[index]
        assert taken[0].stream == "pukara-eventos-monitoreo.sondeo"
        assert orjson.loads(taken[0].doc) == events[0]
        assert box.take(5, 10**9)[0].seq == taken[0].seq  # nothing leaves before the ack
        assert box.ack(taken) == 5 and box.backlog() == 4
        rest = box.take(100, 10**9)
        assert [i.stream for i in rest][-1] == "pukara-logs-syslog"
        box.ack(rest)
        assert box.backlog() == 0 and box.oldest() is None and box.take(10, 10**9) == []


def test_same_event_id_twice_is_kept_once_and_a_missing_one_is_given(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        events = _events(3)
        assert box.put(events) == 3
        assert box.put(events[1:]) == 0 and box.backlog() == 3
        bare = {"@timestamp": "2026-12-01T10:00:00.000000Z", "event": {"dataset": "x.y"}}
        assert box.put([bare]) == 1
        item = box.take(10, 10**9)[-1]
        assert len(item.event_id) == 36 and orjson.loads(item.doc)["event"]["id"] == item.event_id


def test_events_the_cluster_cannot_take_are_refused_at_the_door(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        with pytest.raises(StoreError, match="@timestamp"):
            box.put([{"event": {"dataset": "x.y"}}])
        with pytest.raises(StoreError, match=r"event\.dataset"):
            box.put([{"@timestamp": "2026-12-01T10:00:00Z"}])
        assert box.backlog() == 0


def test_take_is_bounded_by_bytes_but_always_takes_one(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        box.put(_events(10))
        one = box.take(10, 1)
        assert len(one) == 1
        size = one[0].size
        assert len(box.take(10, size * 3)) == 3 and len(box.take(4, 10**9)) == 4


def test_put_is_synced_to_disk_and_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    seen: list[int] = []
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        real = box._durable_write

        def spy(work):  # type: ignore[no-untyped-def]
            def inner(conn):  # type: ignore[no-untyped-def]
                seen.append(conn.execute("PRAGMA synchronous").fetchone()[0])
                return work(conn)

            return real(inner)

        box._durable_write = spy  # type: ignore[method-assign]
        box.put(_events(2))
        assert seen == [2]  # FULL while the outbox commits
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL after


def test_full_backlog_warns_once_and_blocks_until_drained_never_discards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "POLL_S", 0.02)
    warnings: list[str] = []
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10, on_warning=warnings.append)
        assert box.put(_events(10)) == 10
        done = threading.Event()
        extra = _events(15)

        def writer() -> None:
            box.put(extra)
            done.set()

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.3)
        assert not done.is_set() and box.backlog() == 10  # blocked, nothing added past the bound
        assert len(warnings) == 1
        assert "10" in warnings[0] and "outbox_limit" in warnings[0]
        assert "pukara almacen estado" in warnings[0]
        drained = 0
        shipped: set[str] = set()
        while not done.is_set() and drained < 100:  # a shipper acknowledging a few at a time
            taken = box.take(4, 10**9)
            box.ack(taken)
            shipped |= {i.event_id for i in taken}
            drained += 1
            time.sleep(0.05)
            assert box.backlog() <= 10
        t.join(5)
        assert done.is_set()
        shipped |= {i.event_id for i in box.take(100, 10**9)}
        assert len(shipped) == 25 and shipped >= {e["event"]["id"] for e in extra}  # type: ignore[index]
        assert len(warnings) == 1  # one warning per episode, not one per poll


def test_dead_letters_keep_the_reason_and_go_back_on_retry(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        box.put(_events(4))
        a, b, c, d = box.take(10, 10**9)
        conflict = ItemResult(
            400, "mapper_parsing_exception", "failed to parse field [source.port]"
        )
        missing = ItemResult(404, "index_not_found_exception", "no such index")
        assert box.settle([a], [(b, conflict), (c, conflict), (d, missing)]) == 4
        assert box.backlog() == 0 and box.dead_letter_count() == 3
        groups = box.dead_letter_groups()
        assert [(g.status, g.error_type, g.count) for g in groups] == [
            (400, "mapper_parsing_exception", 2), (404, "index_not_found_exception", 1),
        ]  # fmt: skip
        letters = list(box.dead_letters())
        assert [x.event_id for x in letters] == [b.event_id, c.event_id, d.event_id]
        assert letters[0].doc == b.doc and letters[0].reason == conflict.reason
        assert box.retry_dead_letters([letters[2].id, 999_999]) == 1
        assert box.backlog() == 1 and box.dead_letter_count() == 2
        assert box.take(10, 10**9)[0].event_id == d.event_id
        assert box.retry_dead_letters() == 2 and box.dead_letter_count() == 0
        assert box.backlog() == 3 and box.retry_dead_letters() == 0


def _put_in_child(path: str, n: int) -> None:
    with SQLiteStore(path) as store:
        Outbox(store, limit=1_000_000).put(_events(n))


def test_two_processes_share_one_exact_backlog(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_put_in_child, args=(path, 3_000)) for _ in range(2)]
    for p in children:
        p.start()
    with SQLiteStore(path) as store:
        box = Outbox(store, limit=1_000_000)
        acked = 0
        while any(p.is_alive() for p in children) or box.backlog():
            acked += box.ack(box.take(500, 10**9))
        for p in children:
            p.join()
        assert acked == 6_000 and box.backlog() == 0
        assert store._one("SELECT count(*) FROM outbox")[0] == 0


def test_migration_4_on_a_database_of_schema_3(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:3]:
        for sql in step:
            conn.execute(sql)
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 4
        box = Outbox(store, limit=10)
        assert box.backlog() == 0 and box.dead_letter_count() == 0 and box.put(_events(1)) == 1


def test_a_late_ack_of_reused_seqs_never_removes_new_events(tmp_path: Path) -> None:
    """Two shippers take the same rows; B settles them, the queue empties, SQLite gives the
    same seqs to new events, then A's late ack must not remove those never sent."""
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        box.put(_events(3))
        a_taken, b_taken = box.take(10, 10**9), box.take(10, 10**9)
        assert box.ack(b_taken) == 3 and box.backlog() == 0
        fresh = _events(3)
        box.put(fresh)
        assert {i.seq for i in box.take(10, 10**9)} & {i.seq for i in a_taken}  # seqs reused
        assert box.ack(a_taken) == 0
        dead = [(i, ItemResult(400, "mapper_parsing_exception", "x")) for i in a_taken]
        assert box.to_dead_letters(dead) == 0
        assert box.backlog() == 3
        assert [i.event_id for i in box.take(10, 10**9)] == [e["event"]["id"] for e in fresh]  # type: ignore[index]


def test_an_event_id_the_cluster_would_refuse_is_replaced_by_a_derived_one(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        box = Outbox(store, limit=10_000)
        long_one = {
            "@timestamp": "2026-12-01T10:00:00Z",
            "event": {"dataset": "x.y", "id": "é" * 300},
        }
        control = {
            "@timestamp": "2026-12-01T10:00:00Z",
            "event.dataset": "x.y",
            "event.id": "a\x1bb",
        }
        fine = {"@timestamp": "2026-12-01T10:00:00Z", "event": {"dataset": "x.y", "id": "a" * 512}}
        assert box.put([long_one, control, fine]) == 3
        assert box.put([long_one, control]) == 0  # the same derived id for every copy
        items = box.take(10, 10**9)
        assert [len(i.event_id.encode()) <= 512 for i in items] == [True] * 3
        assert items[0].event_id.startswith("sha256-") and items[1].event_id.startswith("sha256-")
        assert orjson.loads(items[1].doc)["event.id"] == items[1].event_id
        assert items[2].event_id == "a" * 512


def test_shipping_warnings_reach_the_log_without_escapes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from pukara.config import load_settings
    from pukara.store.elastic import _outbox_sink

    settings = load_settings({"db": tmp_path / "a.db", "es_url": "http://127.0.0.1:9"}, environ={})
    with SQLiteStore(tmp_path / "a.db") as store:
        sink = _outbox_sink(store, settings)
        caplog.set_level("WARNING", logger="pukara.almacen")
        sink.outbox.on_warning("valor '\x1b[2J\x1b]0;título\x07x'")  # type: ignore[attr-defined]
        sink.shipper.on_warning("razón \x1b[31mroja")  # type: ignore[attr-defined]
        text = caplog.text
        assert "\x1b" not in text and "\x07" not in text and "roja" in text
