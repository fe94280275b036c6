"""Zero loss, against a real OpenSearch: the fault matrix (research logs.md, goal G3).

N events go through the outbox to a 1-node cluster of its own whose write pool has one
thread and a queue of one (real 429s: the test stream has 3 shards, so every bulk is split
into more shard requests than the pool takes), while the shipper (`pukara almacen enviar`,
a real process) is killed with SIGKILL three times mid-batch, the stream's write index is
blocked for 10 s (403), the cluster is stopped for 60 s and started again on its data, and
1 % of the events carry a string in ``source.port``, which the template maps ``long``.

The end: every event stored exactly once (``_count`` == N - dead letters, no ``event.id``
twice), the dead letters exactly the injected conflicts, the outbox empty.

N is 100,000 (``PUKARA_ZERO_LOSS_N`` may lower it on a crowded machine).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from pukara.config import load_settings
from pukara.events import make_event
from pukara.store import SQLiteStore
from pukara.store.cluster.client import connect
from pukara.store.cluster.engine import stream_name
from pukara.store.cluster.templates import COMPONENT_MAPPINGS, COMPONENT_SETTINGS, install
from pukara.store.outbox import Outbox
from tests.conftest import skip_or_fail
from tests.opensearch_cluster import OpenSearchCluster, runner_version, why_not

pytestmark = pytest.mark.integration

PUKARA = str(Path(sys.executable).parent / "pukara")
N = int(os.environ.get("PUKARA_ZERO_LOSS_N", "100000"))
CONFLICT_EVERY = 100  # 1 %
DATASET = "prueba.perdida"
STREAM = stream_name(DATASET)
OUTAGE_S = float(os.environ.get("PUKARA_ZERO_LOSS_OUTAGE_S", "60"))
BLOCK_S = 10


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSearchCluster]:
    reason = why_not(runner_version())
    if reason:
        skip_or_fail(reason)
    cluster = OpenSearchCluster(
        tmp_path_factory.mktemp("os-ocupado"), nodes=1, heap="768m",
        settings={"thread_pool.write.size": 1, "thread_pool.write.queue_size": 1},
    )  # fmt: skip
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop(keep_data=False)


def _events(start: int, count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + count):
        port: int | str = "no-es-un-puerto" if i % CONFLICT_EVERY == 0 else 1024 + i % 60000
        out.append(make_event(DATASET, message=f"Failed password for invalid user u{i} from "
                              f"198.18.{i % 250}.{i % 200} port {i % 65535} ssh2",
                              fields={"host.name": f"h{i % 50:02d}", "source.port": port,
                                      "source.ip": f"198.18.{i % 250}.{i % 200}",
                                      "labels.seq": str(i)}))  # fmt: skip
    return out


class Feed:
    """Puts the test's events into the outbox, a slice at a time, and remembers them."""

    def __init__(self, box: Outbox) -> None:
        self.box = box
        self.next = 0
        self.conflicts: set[str] = set()

    def put(self, count: int) -> None:
        count = min(count, N - self.next)
        events = _events(self.next, count)
        self.box.put(events)
        self.conflicts |= {e["event"]["id"] for e in events if isinstance(e["source"]["port"], str)}
        self.next += count


def _shipper(env: dict[str, str], log: IO[str], *, report: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PUKARA, "almacen", "enviar", "--seguir", "--formato", "json"], env=env, text=True,
        stdout=subprocess.PIPE if report else subprocess.DEVNULL, stderr=log,
    )  # fmt: skip


def _stored_but_not_acked(busy: OpenSearchCluster, box: Outbox) -> int:
    """Events at the head of the outbox that the cluster has: a bulk the kill cut after the
    engine stored it and before the shipper acknowledged it."""
    ids = [i.event_id for i in box.take(8_000, 10**9)]
    if not ids:
        return 0
    busy.request("POST", f"/{STREAM}/_refresh")
    answer = busy.request("POST", f"/{STREAM}/_count", {"query": {"terms": {"event.id": ids}}})
    return int(answer.get("count", 0))


def _wait(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no llegó a tiempo: {what}")
        time.sleep(0.2)


def test_fault_matrix_every_event_once_dead_letters_exactly_the_conflicts(
    busy: OpenSearchCluster, tmp_path: Path
) -> None:
    db = tmp_path / "pukara.db"
    env = {**os.environ, "PUKARA_DB": str(db), "PUKARA_ES_URL": busy.url,
           "PUKARA_TIMEOUT_S": "30"}  # fmt: skip
    log_path = tmp_path / "enviar.log"
    log = log_path.open("a")
    settings = load_settings({"db": db, "es_url": busy.url, "timeout_s": 30}, environ={})
    engine = connect(settings)
    install(engine)
    # the test stream: 3 shards, so one bulk is more shard requests than the pool holds
    engine.put_index_template("pukara-prueba-429", {
        "index_patterns": ["pukara-eventos-prueba.*"], "data_stream": {}, "priority": 300,
        "composed_of": [COMPONENT_MAPPINGS, COMPONENT_SETTINGS],
        "template": {"settings": {"index.number_of_shards": 3, "index.number_of_replicas": 0}},
    })  # fmt: skip
    engine.close()
    store = SQLiteStore(db)
    box = Outbox(store, limit=1_000_000)
    feed = Feed(box)
    rng = random.Random(12)  # noqa: S311
    try:
        # 1. three SIGKILLs, each cutting a bulk: the engine stored it, the outbox still has it
        cuts, kills = [], 0
        while len(cuts) < 3 and kills < 10:
            feed.put(N // 10)
            proc = _shipper(env, log)
            before = box.backlog()
            step = min(3_000, before // 4)
            _wait("el envío avanza", lambda b=before, s=step: box.backlog() < b - s, 180)
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            kills += 1
            assert proc.returncode == -signal.SIGKILL
            cut = _stored_but_not_acked(busy, box)
            if cut:
                cuts.append(cut)
        assert len(cuts) == 3, f"{kills} SIGKILL, {len(cuts)} a mitad de un bulk"
        final = _shipper(env, log, report=True)
        feed.put(N * 2 // 10)
        # 2. a write block on the stream's write index for 10 s, with events arriving
        write_index = busy.get(f"/_data_stream/{STREAM}")["data_streams"][0]["indices"][-1][
            "index_name"
        ]
        busy.request("PUT", f"/{write_index}/_settings", {"index.blocks.write": True})
        feed.put(N // 10)
        time.sleep(BLOCK_S)
        busy.request("PUT", f"/{write_index}/_settings", {"index.blocks.write": None})
        rejected = busy.get("/_nodes/stats/thread_pool")["nodes"]
        rejected_429 = sum(n["thread_pool"]["write"]["rejected"] for n in rejected.values())
        # 3. the cluster away for 60 s, events still coming in; then back on its data
        busy.stop(keep_data=True)
        outage_started = time.monotonic()
        feed.put(N // 10)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
        busy.start()
        feed.put(N)  # the rest
        assert feed.next == N
        _wait("la cola se vacía", lambda: box.backlog() == 0, 900)
        final.send_signal(signal.SIGTERM)
        out, _ = final.communicate(timeout=60)
        assert final.returncode == 130, log_path.read_text()[-2000:]
        report = json.loads(out.strip().splitlines()[-1])
        dead = {d.event_id for d in box.dead_letters()}
    finally:
        store.close()
        log.close()
        for p in ("proc", "final"):
            running = locals().get(p)
            if running is not None and running.poll() is None:
                running.kill()
                running.wait()

    busy.request("POST", f"/{STREAM}/_refresh")
    count = busy.get(f"/{STREAM}/_count")["count"]
    twice = busy.request("POST", f"/{STREAM}/_search", {
        "size": 0, "aggs": {"twice": {"terms": {"field": "event.id", "min_doc_count": 2,
                                                "size": 10}}},
    })["aggregations"]["twice"]["buckets"]  # fmt: skip
    expected_conflicts = N // CONFLICT_EVERY
    assert len(feed.conflicts) == expected_conflicts
    assert dead == feed.conflicts  # the dead letters are exactly the injected conflicts
    assert count == N - len(dead)  # every other event is there ...
    assert twice == []  # ... once
    with SQLiteStore(db) as again:
        assert Outbox(again, limit=10).backlog() == 0
        assert again._one("SELECT count(*) FROM outbox")[0] == 0  # the outbox is empty
    # each fault was really met
    assert rejected_429 > 0 and report["throttled"] > 0, report  # real 429s
    assert report["blocked"] > 0, report  # the write block's 403s
    assert report["unavailable"] > 0, report  # the outage
    assert report["duplicates"] > 0, report  # the batch the last SIGKILL cut, sent again
    summary = (f"\nmatriz de fallos: {N} eventos, {count} en el clúster, {len(dead)} cartas "
               f"muertas; último envío: {report}; rechazos 429 del nodo antes del corte: "
               f"{rejected_429}; SIGKILL: {kills}, bulks cortados: {cuts}")  # fmt: skip
    print(summary)  # noqa: T201


def test_migrar_is_resumable_and_stores_each_event_once(
    busy: OpenSearchCluster, tmp_path: Path
) -> None:
    import sqlite3

    n, dataset = 25_000, "migracion.prueba"
    db = tmp_path / "pukara.db"
    with SQLiteStore(db) as s:
        s.write_events(make_event(dataset, fields={"labels.seq": str(i)}) for i in range(n))
    env = {**os.environ, "PUKARA_DB": str(db), "PUKARA_ES_URL": busy.url,
           "PUKARA_TIMEOUT_S": "30"}  # fmt: skip
    argv = [PUKARA, "almacen", "migrar", "--formato", "json"]
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        _wait("la migración guarda su cursor",
              lambda: conn.execute("SELECT 1 FROM meta WHERE key = 'migrate.rowid'").fetchone(),
              120)  # fmt: skip
    finally:
        conn.close()
    first.kill()
    first.communicate(timeout=30)
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["resumed"] is True and result["queued"] < n and result["backlog"] == 0
    assert "retomada" in again.stderr
    stream = stream_name(dataset)
    busy.request("POST", f"/{stream}/_refresh")
    assert busy.get(f"/{stream}/_count")["count"] == n
    twice = busy.request("POST", f"/{stream}/_search", {
        "size": 0, "aggs": {"t": {"terms": {"field": "event.id", "min_doc_count": 2}}},
    })["aggregations"]["t"]["buckets"]  # fmt: skip
    assert twice == []
    # a third run has nothing left to queue and stores nothing twice
    third = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert third.returncode == 0 and json.loads(third.stdout)["queued"] == 0, third.stderr


def test_migrar_with_a_small_outbox_finishes_and_a_later_run_copies_old_timestamps(
    opensearch: OpenSearchCluster, tmp_path: Path
) -> None:
    """outbox_limit (1 000) below the chunk (10 000): migrar ships between chunks instead of
    waiting for itself; an event stored later with an older @timestamp is copied next time."""
    from datetime import UTC, datetime

    n, dataset = 5_000, "migracion.pequena"
    db = tmp_path / "pukara.db"
    with SQLiteStore(db) as s:
        s.write_events(make_event(dataset, fields={"labels.seq": str(i)}) for i in range(n))
    env = {**os.environ, "PUKARA_DB": str(db), "PUKARA_ES_URL": opensearch.url,
           "PUKARA_OUTBOX_LIMIT": "1000"}  # fmt: skip
    argv = [PUKARA, "almacen", "migrar", "--formato", "json"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["queued"] == n
    with SQLiteStore(db) as s:
        s.write_events([make_event(dataset, timestamp=datetime(2020, 1, 1, tzinfo=UTC))])
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["queued"] == 1
    stream = stream_name(dataset)
    opensearch.request("POST", f"/{stream}/_refresh")
    assert opensearch.get(f"/{stream}/_count")["count"] == n + 1


def test_an_event_id_the_cluster_refuses_is_replaced_and_nothing_stops(
    opensearch: OpenSearchCluster, tmp_path: Path
) -> None:
    """A foreign event.id of 600 characters (HTTP 400 for the whole bulk) or with a newline
    is replaced at the door by one derived from it: the 10 valid ones and it are stored."""
    import threading

    from pukara.store.cluster.shipper import Shipper

    dataset = "registros.ajeno"
    events = [make_event(dataset) for _ in range(10)]
    events.insert(5, {**make_event(dataset), "event": {"dataset": dataset, "id": "x" * 600}})
    events.insert(2, {**make_event(dataset), "event": {"dataset": dataset, "id": "a\nb"}})
    settings = load_settings({"db": tmp_path / "p.db", "es_url": opensearch.url}, environ={})
    with SQLiteStore(tmp_path / "p.db") as store:
        outbox = Outbox(store, limit=10_000)
        assert outbox.put(events) == 12
        assert outbox.put(events) == 0  # a copy of each, the derived ids too, is recognised
        shipper = Shipper(outbox, lambda: connect(settings))
        report = shipper.run(threading.Event(), until_empty=True)
        shipper.stop(5)
        assert report.stored == 12 and outbox.backlog() == 0 and outbox.dead_letter_count() == 0
    stream = stream_name(dataset)
    opensearch.request("POST", f"/{stream}/_refresh")
    assert opensearch.get(f"/{stream}/_count")["count"] == 12
