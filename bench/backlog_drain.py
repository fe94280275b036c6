"""Backlog drain after an outage (research logs.md, goal G4) against the steady rate.

On a 1-node OpenSearch of its own (the tests' Maven Central jars):

1. steady: N events (default 100,000) through pukara's whole path (writer thread -> outbox
   -> background shipper -> bulk -> ack), as bench/cluster_bulk.py measures it, after a
   warm-up run of N/2 that is not counted (the drain then runs on a JVM just restarted, cold:
   the harder side of the comparison);
2. outage: the cluster is stopped (its data kept) for 60 s while the writer puts another N
   events into the outbox (they wait there), then started again on its data; the background
   shipper, backing off meanwhile, finds it and drains the backlog.

Prints the steady rate, the drain rate (from the first acknowledgement after the restart to
an empty outbox), their ratio (target >= 0.80), and how long after the cluster was green the
shipper's backoff took to send again.

    python bench/backlog_drain.py [--eventos N] [--corte-s 60] [--docs-por-bulk 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cluster_bulk import prepare, pukara_run, syslog_events  # noqa: E402

from pukara.config import load_settings  # noqa: E402
from pukara.formats import number  # noqa: E402
from pukara.store import SQLiteStore  # noqa: E402
from pukara.store.cluster.client import connect  # noqa: E402
from pukara.store.cluster.shipper import Shipper  # noqa: E402
from pukara.store.outbox import Outbox  # noqa: E402
from tests.opensearch_cluster import OpenSearchCluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eventos", type=int, default=100_000)
    parser.add_argument("--corte-s", type=float, default=60.0)
    parser.add_argument("--docs-por-bulk", type=int, default=1_000)
    args = parser.parse_args()
    n, per_bulk = args.eventos, args.docs_por_bulk
    c = OpenSearchCluster(Path(tempfile.mkdtemp(prefix="pukara-banco-os-")), nodes=1, heap="1g")
    c.start()
    try:
        prepare(c.url)
        # the steady rate on a warm engine (JIT, caches): a first run that is not counted
        pukara_run(c.url, syslog_events(n // 2, "calentar"), "pukara-logs-bancocalentar", per_bulk)
        steady, _ = pukara_run(c.url, syslog_events(n, "estable"), "pukara-logs-bancoestable",
                               per_bulk)  # fmt: skip
        settings = load_settings({"es_url": c.url, "timeout_s": 120.0}, environ={})
        events = syslog_events(n, "corte")
        with tempfile.TemporaryDirectory(prefix="pukara-banco-") as tmp:
            store = SQLiteStore(Path(tmp) / "pukara.db")
            box = Outbox(store, limit=10_000_000)
            shipper = Shipper(box, lambda: connect(settings), max_docs=per_bulk,
                              max_bytes=64 * 1024 * 1024)  # fmt: skip
            shipper.start_background()
            c.stop(keep_data=True)
            down = time.monotonic()
            writer = threading.Thread(target=lambda: [box.put(events[i : i + 1_000])
                                                      for i in range(0, n, 1_000)])  # fmt: skip
            writer.start()
            writer.join()
            queued = box.backlog()
            time.sleep(max(0.0, args.corte_s - (time.monotonic() - down)))
            c.start()
            green = time.monotonic()
            while box.backlog() == queued:
                time.sleep(0.005)
            first = time.monotonic()
            while box.backlog():
                time.sleep(0.005)
            drained = time.monotonic()
            report = shipper.stop(flush_timeout_s=5)
            store.close()
    finally:
        c.stop(keep_data=False)
    drain = queued / (drained - first)
    ratio = drain / steady
    print(f"eventos: {number(n)} ECS syslog; {number(per_bulk)} docs por bulk; corte de "
          f"{number(args.corte_s)} s con {number(queued)} eventos en la cola local")  # fmt: skip
    print(f"ritmo estable (cola local -> bulk -> confirmación): {number(steady)} docs/s")
    print(f"vaciado tras el corte: {number(drain)} docs/s ({number(drained - first, 1)} s)")
    print(f"primer envío tras el clúster en verde: {number(first - green, 1)} s (espera "
          f"exponencial con tope de 60 s); envíos sin respuesta durante el corte: "
          f"{number(report.unavailable)}")  # fmt: skip
    print(f"razón vaciado/estable: {number(ratio, 2)} (meta >= {number(0.8, 2)}) "
          f"{'OK' if ratio >= 0.8 else 'NO'}")  # fmt: skip


if __name__ == "__main__":
    main()
