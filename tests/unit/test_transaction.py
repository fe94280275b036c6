"""One command's read-modify-write: one transaction, one request id, nothing on failure."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from csirt.records import command, new_ulid
from pukara.store import SQLiteStore


def test_changes_of_one_command_share_its_request_id_and_verify(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db", actor="ana") as store:
        with command(store) as cmd:
            cmd.tx.put("c", ("a",), {"n": 1})
            cmd.tx.put("c", ("b",), {"n": 2})
            cmd.emit("caso", "crear", "dos registros")
        with store.transaction("otro") as tx:
            assert tx.put("c", ("a",), {"n": 1}) is None  # the same: nothing logged
            assert tx.put("c", ("a",), {"n": 3}) == "update"
        changes = list(store.changes())
        assert [c.request_id for c in changes] == [cmd.request_id, cmd.request_id, "otro"]
        assert {c.actor for c in changes} == {"ana"}
        with command(store, "beto") as cmd:
            cmd.tx.put("c", ("z",), {"n": 9})
        assert next(iter(store.changes(limit=1))).actor == "beto"  # the analyst signs it
        assert store.verify_changes().ok
        assert [e["event"]["action"] for e in store.search_events(dataset="csirt.caso")] == [
            "crear"
        ]
    conn = sqlite3.connect(tmp_path / "p.db")
    conn.execute("UPDATE changes SET request_id = 'falso' WHERE seq = 1")
    conn.commit()
    with SQLiteStore(tmp_path / "p.db") as store:
        report = store.verify_changes()
    assert not report.ok and report.broken_seq == 1


def test_a_failing_command_writes_nothing(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db", actor="ana") as store:

        def fail() -> None:
            with command(store) as cmd:
                cmd.tx.put("c", ("a",), {"n": 1})
                cmd.tx.next_number("inc-2026")
                cmd.emit("caso", "crear", "x")
                raise RuntimeError("falla")

        with pytest.raises(RuntimeError):
            fail()
        assert store.get("c", ("a",)) is None
        assert list(store.changes()) == []
        assert list(store.search_events(dataset="csirt.caso")) == []
        with store.transaction() as tx:
            assert tx.next_number("inc-2026") == 1


def test_scan_by_key_prefix_and_field(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        with store.transaction() as tx:
            tx.put("o", ("ipv4", "198.51.100.7", "I1"), {"i": "I1", "ioc": True})
            tx.put("o", ("ipv4", "198.51.100.7", "I2"), {"i": "I2", "ioc": False})
            tx.put("o", ("ipv4", "198.51.100.70", "I3"), {"i": "I3", "ioc": True})
            tx.put("o", ("domain", "x.test", "I1"), {"i": "I1"})
            assert [d["i"] for d in tx.scan("o", ("ipv4", "198.51.100.7"))] == ["I1", "I2"]
        assert [d["i"] for d in store.scan("o", ("ipv4",), {"ioc": True})] == ["I1", "I3"]
        assert len(list(store.scan("o"))) == 4
        assert [d["i"] for d in store.scan("o", where={"i": "I1"})] == ["I1", "I1"]


def _bump(path: str, n: int) -> None:
    with SQLiteStore(path) as store:
        for _ in range(n):
            with store.transaction() as tx:
                doc = tx.get("c", ("x",)) or {"n": 0}
                tx.put("c", ("x",), {"n": doc["n"] + 1})


def test_two_processes_editing_one_record_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump, args=(path, 100)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    with SQLiteStore(path) as store:
        assert store.get("c", ("x",)) == {"n": 200}
        assert store.verify_changes().ok


def test_ulids_sort_in_the_order_they_were_made() -> None:
    ids = [new_ulid() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == 2000
    assert all(len(i) == 26 for i in ids)
