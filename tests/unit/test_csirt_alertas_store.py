"""The store's bulk path for counted entities: one executemany, one change-log entry a batch."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from pukara.errors import StoreError
from pukara.events import make_event
from pukara.store import CountedBatch, SQLiteStore
from pukara.store.sqlite import BATCH_KEY


def row(ref: str, seen: str, *, severity: int = 2, **extra: Any) -> dict[str, Any]:
    return {"source": "x", "source_ref": ref, "count": 1, "first_seen": seen,
            "last_seen": seen, "severity": severity, "status": "nueva", **extra}  # fmt: skip


T1, T2, T3 = (f"2026-12-01T10:0{i}:00.000000Z" for i in (1, 2, 3))
KEY = ("source", "source_ref")


def test_a_repeat_counts_keeps_fields_and_the_same_sighting_changes_nothing(
    tmp_path: Path,
) -> None:
    with SQLiteStore(tmp_path / "p.db", actor="ana") as store:
        rows = [row("a", T2), row("b", T2), row("a", T3, severity=4, title="otro")]
        s = store.upsert_counted("alertas", rows, key=KEY, greatest=("severity",),
                                 request_id="r1")  # fmt: skip
        assert (s.inserted, s.counted, s.unchanged) == (2, 1, 0)
        a = store.get("alertas", ("x", "a"))
        assert a is not None
        assert (a["count"], a["first_seen"], a["last_seen"], a["severity"]) == (2, T2, T3, 4)
        assert "title" not in a  # only the counted fields change on a repeat
        # a workflow change made since is kept by the next repeat
        with store.transaction("r2") as tx:
            tx.put("alertas", ("x", "a"), {**a, "status": "promovida"})
        again = store.upsert_counted("alertas", [*rows, row("a", T1)], key=KEY,
                                     greatest=("severity",), request_id="r3")  # fmt: skip
        assert (again.inserted, again.counted, again.unchanged) == (0, 1, 3)
        a = store.get("alertas", ("x", "a"))
        assert a is not None
        assert (a["count"], a["first_seen"], a["status"]) == (3, T1, "promovida")
        assert len(list(store.entities("alertas"))) == 2


def test_repeats_of_a_new_key_in_one_batch_widen_its_window_both_ways(tmp_path: Path) -> None:
    first = row("a", T2)
    rows = [first, row("a", T1), row("a", T2, severity=4), row("a", T3, severity=1)]
    with SQLiteStore(tmp_path / "p.db") as store:
        s = store.upsert_counted("alertas", rows, key=KEY, greatest=("severity",))
        a = store.get("alertas", ("x", "a"))
    assert (s.inserted, s.counted, s.unchanged) == (1, 2, 1)  # T2 again is the same sighting
    assert a is not None
    assert (a["count"], a["first_seen"], a["last_seen"], a["severity"]) == (3, T1, T3, 2)
    assert first == row("a", T2)  # the caller's row is not the one merged into


def test_one_chained_change_per_batch_with_the_digest_of_its_rows(tmp_path: Path) -> None:
    rows = [row(f"r{i}", T1) for i in range(5)]
    events: list[CountedBatch] = []

    def summary(batch: CountedBatch) -> dict[str, Any]:
        events.append(batch)
        return make_event("prueba.lote", message=f"lote {batch.number}")

    with SQLiteStore(tmp_path / "p.db", actor="ana") as store:
        s = store.upsert_counted("alertas", rows, key=KEY, request_id="r1", on_batch=summary,
                                 batch_size=2)  # fmt: skip
        changes = list(store.changes())
        assert [c.key for c in changes] == [f'["{BATCH_KEY}","r1",{n}]' for n in (1, 2, 3)]
        assert {(c.actor, c.request_id, c.collection) for c in changes} == {
            ("ana", "r1", "alertas")
        }
        expected = hashlib.sha256()
        for r in rows[:2]:
            expected.update(orjson.dumps(r) + b"\n")
        assert changes[0].after is not None
        assert changes[0].after["batch"]["sha256"] == expected.hexdigest()
        assert changes[0].after["batch"]["inserted"] == 2
        # a row still as inserted is the very text the digest covers
        conn = sqlite3.connect(tmp_path / "p.db")
        (text,) = conn.execute("SELECT doc FROM entities WHERE key = ?", ('["x","r0"]',)).fetchone()
        conn.close()
        assert text.encode() == orjson.dumps(rows[0])
        assert [b.rows for b in s.batches] == [2, 2, 1]
        assert len(list(store.search_events(dataset="prueba.lote"))) == 3 == len(events)
        assert store.verify_changes().ok
    conn = sqlite3.connect(tmp_path / "p.db")
    conn.execute("UPDATE changes SET after = replace(after, '\"inserted\":2', '\"inserted\":9')")
    conn.commit()
    conn.close()
    with SQLiteStore(tmp_path / "p.db") as store:
        assert not store.verify_changes().ok


def test_a_row_without_its_key_or_times_writes_nothing_of_its_batch(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        bad = {**row("b", T1), "last_seen": None}
        with pytest.raises(StoreError):
            store.upsert_counted("alertas", [row("a", T1), bad], key=KEY)
        with pytest.raises(StoreError):
            store.upsert_counted("alertas", [row("a", T1), {**row("", T1)}], key=KEY)
        assert list(store.entities("alertas")) == []
        assert list(store.changes()) == []
        with pytest.raises(ValueError, match="letters, digits"):
            store.upsert_counted("alertas", [row("a", T1)], key=KEY, greatest=("x') --",))


def test_in_cluster_mode_the_rows_stay_local_and_the_summary_event_waits_in_the_outbox(
    tmp_path: Path,
) -> None:
    from pukara.config import load_settings
    from pukara.store.elastic import open_cluster_store

    # nothing listens on port 9 of loopback: the event waits in the outbox, nothing is lost
    settings = load_settings({"data_dir": tmp_path, "es_url": "http://127.0.0.1:9"}, environ={})
    store = open_cluster_store(settings)
    store.flush_timeout_s = 0.1
    with store:
        s = store.upsert_counted("alertas", [row("a", T1), row("a", T2)], key=KEY,
                                 request_id="r1",
                                 on_batch=lambda b: make_event("prueba.lote", message="x"))  # fmt: skip
        assert (s.inserted, s.counted) == (1, 1)
        a = store.get("alertas", ("x", "a"))
        assert a is not None and a["count"] == 2
        conn = store.local._conn
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert [c.request_id for c in store.changes()] == ["r1"]
