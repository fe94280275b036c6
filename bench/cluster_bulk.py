"""Cluster bulk path (research logs.md, goal G1) against raw pre-serialised ``_bulk``.

The same N ECS syslog documents (default 200,000, ~600 B each) go to the same real
OpenSearch (a 1-node cluster of its own, from the tests' Maven Central jars, unless
``--url`` names one), each run into a fresh data stream (1 shard, 0 replicas,
``refresh_interval`` 30 s):

- referencia: the documents already serialised as NDJSON create actions, posted back to back
  on one keep-alive HTTP connection (``http.client``), nothing else;
- pukara: a writer thread puts the events (dicts) into the outbox of a real SQLite file,
  a batch of 1,000 at a time, while the background shipper takes, builds the bulk, sends it
  through the OpenSearch adapter, classifies each item and acknowledges (the path of every
  event in cluster mode). The clock stops when the outbox is empty.

Both use one request in flight and the same bulk size, chosen first by doubling the docs per
bulk on the reference until the rate stops growing by 5 % (Elastic's "tune for indexing
speed"). Prints both rates, their ratio (target >= 0.80) and the bulk size chosen; median of
``--repeticiones`` runs.

    python bench/cluster_bulk.py [--eventos N] [--repeticiones 3] [--url http://...]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pukara.config import load_settings  # noqa: E402
from pukara.events import make_event  # noqa: E402
from pukara.formats import number  # noqa: E402
from pukara.store import SQLiteStore  # noqa: E402
from pukara.store.cluster.client import connect  # noqa: E402
from pukara.store.cluster.shipper import Shipper  # noqa: E402
from pukara.store.cluster.templates import COMPONENT_MAPPINGS, COMPONENT_SETTINGS, install  # noqa: E402
from pukara.store.outbox import Outbox  # noqa: E402

BENCH_PATTERN = "pukara-logs-banco*"
WRITER_BATCH = 1_000


def syslog_events(n: int, tag: str) -> list[dict[str, Any]]:
    """N ECS documents as the syslog receiver makes them (sshd, ~600 bytes each)."""
    out = []
    for i in range(n):
        host = f"emb-{i % 135:03d}-fw1"
        ip = f"198.18.{(i // 250) % 256}.{i % 250 + 1}"
        line = (f"<38>1 2026-12-01T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z {host} sshd {4000 + i % 900}"
                f" - - Failed password for invalid user admin{i % 97} from {ip} port "
                f"{1024 + i % 60000} ssh2")  # fmt: skip
        out.append(make_event(f"registros.banco{tag}", message=line[line.index("Failed"):],
                              outcome="failure", fields={
            "host.name": host, "source.ip": ip, "source.port": 1024 + i % 60000,
            "user.name": f"admin{i % 97}", "process.name": "sshd", "process.pid": 4000 + i % 900,
            "event.category": ["authentication"], "event.type": ["start"],
            "event.action": "ssh_login", "log.syslog.priority": 38,
            "log.syslog.facility.code": 4, "log.syslog.facility.name": "auth",
            "log.syslog.severity.code": 6, "log.syslog.severity.name": "info",
            "log.syslog.hostname": host, "log.syslog.appname": "sshd", "log.syslog.version": "1",
            "event.original": line,
        }))  # fmt: skip
    return out


@contextmanager
def cluster(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.opensearch_cluster import OpenSearchCluster

    base = Path(tempfile.mkdtemp(prefix="pukara-banco-os-"))
    c = OpenSearchCluster(base, nodes=1, heap="1g")
    c.start()
    try:
        yield c.url
    finally:
        c.stop(keep_data=False)


class Raw:
    """Posts NDJSON bodies on one keep-alive connection; nothing but HTTP."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 9200,
                                               timeout=120)  # fmt: skip

    def post(self, path: str, body: bytes, method: str = "POST") -> dict[str, Any]:
        self.conn.request(method, path, body=body, headers={"Content-Type": "application/x-ndjson"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{path}: HTTP {resp.status}: {data[:300]!r}")
        result: dict[str, Any] = orjson.loads(data)
        return result

    def json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.conn.request(method, path, body=None if body is None else orjson.dumps(body),
                          headers={"Content-Type": "application/json"})  # fmt: skip
        resp = self.conn.getresponse()
        result: dict[str, Any] = orjson.loads(resp.read() or b"{}")
        return result


def prepare(url: str, timeout_s: float = 120.0) -> None:
    """pukara's templates, and one for the bench streams: 1 shard, 0 replicas, 30 s refresh."""
    settings = load_settings({"es_url": url, "timeout_s": timeout_s}, environ={})
    engine = connect(settings)
    install(engine)
    engine.put_index_template("pukara-banco", {
        "index_patterns": [BENCH_PATTERN], "data_stream": {}, "priority": 300,
        "composed_of": [COMPONENT_MAPPINGS, COMPONENT_SETTINGS],
        "template": {"settings": {"index.number_of_shards": 1, "index.number_of_replicas": 0,
                                  "index.refresh_interval": "30s"}},
    })  # fmt: skip
    engine.close()


def raw_bodies(events: list[dict[str, Any]], stream: str, per_bulk: int) -> list[bytes]:
    lines = [orjson.dumps({"create": {"_index": stream, "_id": e["event"]["id"]}}) + b"\n"
             + orjson.dumps(e) + b"\n" for e in events]  # fmt: skip
    return [b"".join(lines[i : i + per_bulk]) for i in range(0, len(lines), per_bulk)]


def raw_run(url: str, events: list[dict[str, Any]], stream: str, per_bulk: int) -> float:
    """docs/s of the reference: pre-serialised bodies, posted back to back."""
    bodies = raw_bodies(events, stream, per_bulk)
    raw = Raw(url)
    started = time.perf_counter()
    for b in bodies:
        answer = raw.post("/_bulk", b)
        if answer.get("errors"):
            bad = next(i for i in answer["items"] if i["create"]["status"] >= 300)
            raise RuntimeError(f"la referencia recibió errores: {bad}")
    elapsed = time.perf_counter() - started
    check(raw, stream, len(events))
    return len(events) / elapsed


def check(raw: Raw, stream: str, expected: int) -> None:
    raw.json("POST", f"/{stream}/_refresh")
    count = raw.json("GET", f"/{stream}/_count")["count"]
    if count != expected:
        raise RuntimeError(f"{stream}: {count} documentos, se esperaban {expected}")


def pukara_run(url: str, events: list[dict[str, Any]], stream: str, per_bulk: int,
               timeout_s: float = 120.0) -> tuple[float, Any]:  # fmt: skip
    """docs/s of pukara's path: writer thread -> outbox -> background shipper -> ack."""
    settings = load_settings({"es_url": url, "timeout_s": timeout_s}, environ={})
    with tempfile.TemporaryDirectory(prefix="pukara-banco-") as tmp:
        store = SQLiteStore(Path(tmp) / "pukara.db")
        box = Outbox(store, limit=10_000_000)
        shipper = Shipper(box, lambda: connect(settings), max_docs=per_bulk,
                          max_bytes=64 * 1024 * 1024)  # fmt: skip

        def writer() -> None:
            for i in range(0, len(events), WRITER_BATCH):
                box.put(events[i : i + WRITER_BATCH])
                shipper.wake()

        started = time.perf_counter()
        shipper.start_background()
        t = threading.Thread(target=writer)
        t.start()
        t.join()
        while box.backlog():
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        report = shipper.stop(flush_timeout_s=5)
        store.close()
    check(Raw(url), stream, len(events))
    return len(events) / elapsed, report


def tune(url: str, events: list[dict[str, Any]]) -> tuple[int, list[tuple[int, float]]]:
    """Docs per bulk by doubling from 500 until the reference gains less than 5 %."""
    tried: list[tuple[int, float]] = []
    size = 500
    while size <= 16_000:
        rate = raw_run(url, events, f"pukara-logs-bancoajuste{size}", size)
        tried.append((size, rate))
        if len(tried) > 1 and rate < tried[-2][1] * 1.05:
            break
        size *= 2
    best = max(tried, key=lambda t: t[1])[0]
    return best, tried


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eventos", type=int, default=200_000)
    parser.add_argument("--repeticiones", type=int, default=3)
    parser.add_argument("--url", default=None, help="un clúster ya levantado (solo loopback)")
    parser.add_argument(
        "--docs-por-bulk", type=int, default=None, help="sin ajuste por duplicación"
    )
    args = parser.parse_args()
    with cluster(args.url) as url:
        prepare(url)
        if args.docs_por_bulk:
            per_bulk, tried = args.docs_por_bulk, []
        else:
            per_bulk, tried = tune(url, syslog_events(min(args.eventos, 50_000), "ajuste"))
        for size, rate in tried:
            print(f"ajuste: {number(size)} docs por bulk -> {number(rate)} docs/s (referencia)")
        raw_rates, pukara_rates = [], []
        report = None
        for k in range(args.repeticiones):
            events = syslog_events(args.eventos, f"x{k}")
            raw_rates.append(raw_run(url, events, f"pukara-logs-bancoref{k}", per_bulk))
            rate, report = pukara_run(url, events, f"pukara-logs-bancox{k}", per_bulk)
            pukara_rates.append(rate)
        doc_bytes = statistics.mean(len(orjson.dumps(e)) for e in syslog_events(1_000, "t"))
    raw_rate, pukara_rate = statistics.median(raw_rates), statistics.median(pukara_rates)
    ratio = pukara_rate / raw_rate
    print(f"documentos: {number(args.eventos)} ECS syslog de {number(doc_bytes)} B; "
          f"{number(per_bulk)} docs por bulk (elegido por duplicación); "
          f"mediana de {args.repeticiones}")  # fmt: skip
    print(f"referencia _bulk NDJSON preserializado: {number(raw_rate)} docs/s "
          f"({', '.join(number(r) for r in raw_rates)})")  # fmt: skip
    print(f"pukara (serializar, cola local, bulk, clasificar, confirmar): {number(pukara_rate)} "
          f"docs/s ({', '.join(number(r) for r in pukara_rates)})")  # fmt: skip
    if report is not None:
        print(f"último envío de pukara: {number(report.bulks)} bulks, {number(report.stored)} "
              f"guardados, {number(report.retried)} reintentos, {number(report.throttled)} 429")  # fmt: skip
    print(f"razón pukara/referencia: {number(ratio, 2)} (meta >= {number(0.8, 2)}) "
          f"{'OK' if ratio >= 0.8 else 'NO'}")  # fmt: skip


if __name__ == "__main__":
    main()
