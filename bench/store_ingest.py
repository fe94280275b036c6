"""Store ingest and query benchmark against a bare sqlite3.executemany of the same rows.

Writes N ECS events (default 1,000,000) through ``SQLiteStore.write_events`` and the same
rows through ``sqlite3.executemany`` into an identical table (same indexes, WAL, synchronous
NORMAL, one transaction), then times a one-hour time-range query and a field-equality query
on the store. Targets: store ingest >= 50 % of the bare rate; each query < 100 ms.

    python bench/store_ingest.py [--eventos N]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pukara.events import make_event
from pukara.store import SQLiteStore
from pukara.store.migrations import MIGRATIONS

START = datetime(2026, 10, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
HOSTS = 1000


def build_events(n: int) -> list[dict[str, object]]:
    step = SPAN / n
    return [
        make_event(
            "monitoreo.sondeo",
            timestamp=START + i * step,
            outcome="success" if i % 50 else "failure",
            fields={
                "host.name": f"m{i % HOSTS:04d}",
                "source.ip": f"198.18.{(i // 250) % 256}.{i % 250 + 1}",
                "observer.name": "lima-sonda-1",
                "network.rtt.us": 20_000 + i % 280_000,
                "event.sequence": i,
            },
        )
        for i in range(n)
    ]


def bare_ingest(path: Path, events: list[dict[str, object]]) -> float:
    """The reference: the same rows, already serialised, through one executemany."""
    rows = [
        (
            int((datetime.fromisoformat(str(e["@timestamp"])) - START).total_seconds() * 1e6),
            "monitoreo.sondeo",
            e["host"]["name"],  # type: ignore[index]
            json.dumps(e, ensure_ascii=False, separators=(",", ":")),
        )
        for e in events
    ]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO events (ts_us, dataset, host_name, doc) VALUES (?, ?, ?, ?)", rows
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def timed(fn: object, repeat: int = 5) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = sum(1 for _ in fn())  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eventos", type=int, default=1_000_000)
    n = parser.parse_args().eventos
    events = build_events(n)
    with tempfile.TemporaryDirectory(prefix="pukara-bench-") as tmp:
        bare_s = bare_ingest(Path(tmp) / "bare.db", events)
        store = SQLiteStore(Path(tmp) / "store.db")
        t0 = time.perf_counter()
        store.write_events(events)
        store_s = time.perf_counter() - t0
        hour = START + SPAN / 2
        range_ms, range_n = timed(
            lambda: store.search_events(since=hour, until=hour + timedelta(hours=1))
        )
        eq_ms, eq_n = timed(lambda: store.search_events(where={"host.name": "m0042"}))
        week = {"since": START, "until": START + timedelta(days=7)}
        both_ms, both_n = timed(
            lambda: store.search_events(
                dataset="monitoreo.sondeo", where={"host.name": "m0042"}, **week
            )
        )
        json_ms, json_n = timed(
            lambda: store.search_events(where={"source.ip": "198.18.7.9"}), repeat=1
        )
        store.close()
    bare_rate, store_rate = n / bare_s, n / store_s
    ratio = store_rate / bare_rate
    print(f"eventos: {n:,}")
    print(f"ingesta sqlite3.executemany (referencia): {bare_rate:,.0f} eventos/s ({bare_s:.2f} s)")
    print(
        f"ingesta Store SQLite de pukara:           {store_rate:,.0f} eventos/s ({store_s:.2f} s)"
    )
    print(f"razón Store/referencia: {ratio:.2f} (meta >= 0.50) {'OK' if ratio >= 0.5 else 'NO'}")
    print(f"consulta rango de 1 hora: {range_ms:.1f} ms, {range_n} eventos (meta < 100 ms)")
    print(f"consulta host.name = m0042: {eq_ms:.1f} ms, {eq_n} eventos (meta < 100 ms)")
    print(f"consulta dataset + host.name + 7 días: {both_ms:.1f} ms, {both_n} eventos")
    print(
        f"consulta campo no indexado source.ip (recorrido completo): {json_ms:.1f} ms, {json_n} eventos"
    )


if __name__ == "__main__":
    main()
