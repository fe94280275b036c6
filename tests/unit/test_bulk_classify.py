"""Bulk outcomes, on responses recorded from a real OpenSearch 2.19.1 (grabado: recorded by
tests/data/grabado/record_bulk.py against a 1-node cluster with a 1-thread write pool), and
the shipper settling them in a real SQLite outbox. No live engine here: the live runs are in
tests/integration/test_zero_loss.py."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from pukara.events import make_event
from pukara.store import SQLiteStore
from pukara.store.cluster import bulk
from pukara.store.cluster.bulk import Outcome, classify
from pukara.store.cluster.engine import (
    Capabilities,
    EngineInfo,
    EngineUnavailable,
    ItemResult,
)
from pukara.store.cluster.opensearch import item_results
from pukara.store.cluster.shipper import Shipper
from pukara.store.outbox import Outbox, OutboxItem

RECORDED = json.loads(
    (Path(__file__).parents[1] / "data" / "grabado" / "bulk-opensearch-2.19.1.json").read_text()
)


def _outcomes(name: str) -> list[Outcome]:
    return [classify(r) for r in item_results(RECORDED[name])]


def test_recorded_created_and_mapping_conflict() -> None:
    assert _outcomes("created_and_mapping_conflict") == [
        Outcome.STORED, Outcome.STORED, Outcome.DEAD,
    ]  # fmt: skip
    dead = item_results(RECORDED["created_and_mapping_conflict"])[2]
    assert dead.error_type == "mapper_parsing_exception" and "source.port" in (dead.reason or "")


def test_recorded_409_on_create_is_a_duplicate_not_an_error() -> None:
    assert _outcomes("duplicate") == [Outcome.DUPLICATE]


def test_recorded_429_is_kept_and_its_neighbour_stored() -> None:
    assert _outcomes("rejected") == [Outcome.THROTTLED, Outcome.STORED]


def test_recorded_write_block_is_kept_not_dead() -> None:
    (result,) = item_results(RECORDED["write_block"])
    assert result.status == 403 and result.error_type == "cluster_block_exception"
    assert classify(result) is Outcome.BLOCKED


def test_recorded_index_missing_is_kept_not_dead() -> None:
    assert _outcomes("index_missing") == [Outcome.MISSING]


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (ItemResult(200), Outcome.STORED),
        (ItemResult(400, "document_parsing_exception", "x"), Outcome.DEAD),
        (ItemResult(400, "illegal_argument_exception", "x"), Outcome.DEAD),
        (ItemResult(413, None, "x"), Outcome.DEAD),
        (ItemResult(404, "index_not_found_exception", "x"), Outcome.MISSING),
        (ItemResult(408, None, "x"), Outcome.RETRY),
        (ItemResult(500, "node_closed_exception", "x"), Outcome.RETRY),
        (ItemResult(503, "unavailable_shards_exception", "x"), Outcome.RETRY),
        (ItemResult(429, "es_rejected_execution_exception", "x"), Outcome.THROTTLED),
        (ItemResult(403, "security_exception", "no privileges"), Outcome.BLOCKED),
        # Elasticsearch's disk flood-stage block comes as a 429: still a block, said loudly
        (ItemResult(429, "cluster_block_exception", "read-only-allow-delete"), Outcome.BLOCKED),
    ],
)
def test_classification_table(result: ItemResult, outcome: Outcome) -> None:
    assert classify(result) is outcome


def test_body_is_ndjson_create_with_event_id_and_stream() -> None:
    items = [OutboxItem(1, 'a"b', "pukara-eventos-x", b'{"k":1}'), OutboxItem(2, "c", "s", b"{}")]
    lines = bulk.body(items).split(b"\n")
    assert lines[-1] == b"" and len(lines) == 5
    assert orjson.loads(lines[0]) == {"create": {"_index": "pukara-eventos-x", "_id": 'a"b'}}
    assert lines[1] == b'{"k":1}' and orjson.loads(lines[2])["create"]["_id"] == "c"


def test_backoff_doubles_with_jitter_and_stops_at_60_s() -> None:
    b = bulk.Backoff(base=0.5, rng=random.Random(7))  # noqa: S311
    waits = [b.next() for _ in range(20)]
    for n, w in enumerate(waits):
        step = min(60.0, 0.5 * 2**n)
        assert step / 2 <= w <= step
    assert max(waits) <= 60.0 and len(set(waits)) == len(waits)  # jittered, never equal
    b.reset()
    assert b.next() <= 0.5


class RecordedEngine:
    """Answers each bulk with the next recorded answer (a response, or an exception)."""

    info = EngineInfo("opensearch", (2, 19, 1), "grabado")
    capabilities = Capabilities(shard_doc=False, lifecycle=None, flat_object_type="flat_object")

    def __init__(self, answers: list[Callable[[bytes], list[ItemResult]]]) -> None:
        self.answers = answers
        self.bodies: list[bytes] = []
        self.templates: list[str] = []

    def put_component_template(self, name: str, body: Any) -> None:
        self.templates.append(name)

    def put_index_template(self, name: str, body: Any) -> None:
        self.templates.append(name)

    def bulk(self, ndjson: bytes) -> list[ItemResult]:
        self.bodies.append(ndjson)
        return self.answers.pop(0)(ndjson)

    def close(self) -> None:
        pass


def _statuses(*codes: int) -> Callable[[bytes], list[ItemResult]]:
    def answer(_: bytes) -> list[ItemResult]:
        return [
            ItemResult(c, "mapper_parsing_exception" if c == 400 else None, "razón")
            if c >= 300 else ItemResult(c)
            for c in codes
        ]  # fmt: skip

    return answer


def _down(_: bytes) -> list[ItemResult]:
    raise EngineUnavailable("http://127.0.0.1:9: el clúster no responde (conexión rechazada)")


def test_shipper_settles_each_item_by_its_answer(tmp_path: Path) -> None:
    warnings: list[str] = []
    with SQLiteStore(tmp_path / "a.db") as store:
        outbox = Outbox(store, limit=10_000)
        events = [make_event("prueba.envio") for _ in range(5)]
        outbox.put(events)
        engine = RecordedEngine([
            _down,  # whole request: nothing leaves the outbox
            _statuses(201, 409, 429, 400, 403),
            _statuses(201, 201),  # the 429 and the 403 again
        ])  # fmt: skip
        shipper = Shipper(outbox, lambda: engine, on_warning=warnings.append, max_docs=10)
        first = shipper.ship_once()
        assert (first.unavailable, first.retried, outbox.backlog()) == (1, 5, 5)
        assert "no responde" in warnings[-1] and "5 eventos esperan" in warnings[-1]
        second = shipper.ship_once()
        assert (second.stored, second.duplicates, second.throttled, second.blocked,
                second.dead, second.retried) == (1, 1, 1, 1, 1, 2)  # fmt: skip
        assert outbox.backlog() == 2 and outbox.dead_letter_count() == 1
        assert "ATENCIÓN" in warnings[-1] and "bloquea" in warnings[-1]
        (dead,) = outbox.dead_letters()
        assert dead.event_id == events[3]["event"]["id"] and dead.status == 400
        assert dead.error_type == "mapper_parsing_exception" and dead.reason == "razón"
        third = shipper.ship_once()
        assert third.stored == 2 and outbox.backlog() == 0
        assert "vuelve a aceptar" in warnings[-1]
        # the resend carried exactly the kept ones, oldest first, with their event.id as _id
        ids = [
            orjson.loads(line)["create"]["_id"]
            for line in engine.bodies[2].split(b"\n")[::2]
            if line
        ]
        assert ids == [events[2]["event"]["id"], events[4]["event"]["id"]]
        assert engine.templates[:2] == ["pukara-ecs-mappings", "pukara-ecs-settings"]


def test_shipper_resends_all_when_the_answer_does_not_match(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        outbox = Outbox(store, limit=10_000)
        outbox.put([make_event("prueba.envio") for _ in range(3)])
        engine = RecordedEngine([_statuses(201)])
        report = Shipper(outbox, lambda: engine).ship_once()
        assert report.unavailable == 1 and outbox.backlog() == 3


def test_background_shipper_sends_what_is_put_and_stop_flushes_the_rest(tmp_path: Path) -> None:
    def all_stored(ndjson: bytes) -> list[ItemResult]:
        return [ItemResult(201)] * (ndjson.count(b"\n") // 2)

    with SQLiteStore(tmp_path / "a.db") as store:
        outbox = Outbox(store, limit=10_000)
        engine = RecordedEngine([all_stored] * 100)
        shipper = Shipper(outbox, lambda: engine, max_docs=7, idle_s=30)
        shipper.start_background()
        outbox.put([make_event("prueba.envio") for _ in range(20)])
        shipper.wake()  # without it the idle wait (30 s) would hold the first bulk back
        deadline = time.monotonic() + 10
        while outbox.backlog() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outbox.backlog() == 0
        outbox.put([make_event("prueba.envio") for _ in range(30)])
        report = shipper.stop(flush_timeout_s=10)  # what waits is sent before it returns
        assert outbox.backlog() == 0 and report.stored == 50 and report.bulks >= 8
        assert max(b.count(b"\n") // 2 for b in engine.bodies) == 7


def _all_stored(ndjson: bytes) -> list[ItemResult]:
    return [ItemResult(201)] * (ndjson.count(b"\n") // 2)


def test_a_write_into_a_full_outbox_returns_once_the_shipper_drains_it(tmp_path: Path) -> None:
    """The backlog is at the limit when the process starts: the first write must start the
    shipper before it waits for room, not after."""
    import threading

    from pukara.store.elastic import OutboxSink

    with SQLiteStore(tmp_path / "a.db") as store:
        outbox = Outbox(store, limit=50)
        outbox.put([make_event("prueba.envio") for _ in range(50)])  # left by an earlier run
        engine = RecordedEngine([_all_stored] * 100)
        sink = OutboxSink(outbox, Shipper(outbox, lambda: engine, max_docs=20, idle_s=30))
        done = threading.Event()

        def write() -> None:
            sink.put([make_event("prueba.envio")])
            done.set()

        threading.Thread(target=write, daemon=True).start()
        try:
            assert done.wait(10), "the write waits for a shipper that never started"
            assert sink.flush(10) and outbox.backlog() == 0
        finally:
            sink.close(10)


def test_the_background_shipper_outlives_a_locked_database(tmp_path: Path) -> None:
    """Another process holds the write lock past busy_timeout: settling fails with a
    StoreError; the thread warns, waits and sends everything once the lock is gone."""
    import sqlite3

    warnings: list[str] = []
    with SQLiteStore(tmp_path / "a.db", busy_timeout_ms=100) as store:
        outbox = Outbox(store, limit=10_000)
        outbox.put([make_event("prueba.envio") for _ in range(30)])
        other = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        engine = RecordedEngine([_all_stored] * 100)
        shipper = Shipper(outbox, lambda: engine, on_warning=warnings.append, max_docs=10,
                          idle_s=0.05, backoff=bulk.Backoff(base=0.05, cap=0.1))  # fmt: skip
        shipper.start_background()
        try:
            deadline = time.monotonic() + 5
            while not warnings and time.monotonic() < deadline:
                time.sleep(0.02)
            assert any("cola local" in w for w in warnings)
            other.execute("ROLLBACK")
            deadline = time.monotonic() + 10
            while outbox.backlog() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert outbox.backlog() == 0
        finally:
            other.close()
            shipper.stop(flush_timeout_s=5)


def test_an_index_missing_keeps_the_events_and_puts_the_templates_again(tmp_path: Path) -> None:
    warnings: list[str] = []
    with SQLiteStore(tmp_path / "a.db") as store:
        outbox = Outbox(store, limit=10_000)
        outbox.put([make_event("prueba.envio") for _ in range(2)])
        engine = RecordedEngine([
            lambda _: [ItemResult(404, "index_not_found_exception", "no such index")] * 2,
            _statuses(201, 201),
        ])  # fmt: skip
        shipper = Shipper(outbox, lambda: engine, on_warning=warnings.append)
        first = shipper.ship_once()
        assert first.retried == 2 and first.dead == 0 and outbox.dead_letter_count() == 0
        assert outbox.backlog() == 2 and "ATENCIÓN" in warnings[-1] and "plantilla" in warnings[-1]
        assert shipper.ship_once().stored == 2 and outbox.backlog() == 0
        assert engine.templates.count("pukara-ecs-mappings") == 2  # put again on reconnecting
