"""Alert intake with dedup against a bare sqlite3.executemany of the same rows.

Writes N alerts (default 100,000; 30 % of them repeats of earlier ones, seen later) to a
JSON-lines file in the generic shape, each with an IPv4 address and a domain as observables
(drawn from pools of 5,000 and 2,000 values: real alert streams repeat their indicators), and
takes them in through ``csirt.alertas.import_sources`` (what ``csirt alertas importar FILE``
calls: reads and parses the file, normalises severity, TLP and observables, deduplicates into
the store, one change-log entry and one event per batch). Beside it, in the same run: the
rows that intake stored, already serialised, through one ``executemany`` of ``INSERT .. ON
CONFLICT DO UPDATE SET count = count + 1`` into a plain table with the same unique key
(source, source_ref), in one transaction, WAL and synchronous NORMAL like the store. Target:
intake rate >= 0.5 of the bare rate. Each is run ``--veces`` times, alternating, on fresh
files; the best run of each is compared (the machine is shared: load slows both alike).

    python bench/csirt_alertas.py [--alertas N] [--repeticiones 0.3] [--veces 3]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from csirt import alertas
from csirt.records import ALERT
from pukara.store import SQLiteStore

START = datetime(2026, 11, 1, tzinfo=UTC)


def write_file(path: Path, n: int, repeats: float) -> int:
    """The alerts file; returns how many distinct (source, source_ref) it holds."""
    rng = random.Random(13)
    unique = n - int(n * repeats)
    with path.open("wb") as out:
        for i in range(n):
            ref = i if i < unique else rng.randrange(unique)
            obj = {
                "source": "ids-lima",
                "source_ref": f"ids-{ref:07d}",
                "title": f"Escaneo de puertos desde 198.51.{ref % 20}.{ref % 250 + 1}",
                "description": "Suricata ET SCAN: varios puertos en pocos segundos",
                "severity": 1 + ref % 4,
                "tlp": "AMBER",
                "seen": (START + timedelta(seconds=i)).isoformat(),
                "observables": [
                    f"ipv4:198.51.{ref % 5000 // 250}.{ref % 250 + 1}",
                    f"domain:c{ref % 2000}.malo.test",
                ],
            }
            out.write(orjson.dumps(obj) + b"\n")
    return unique


def intake(db: Path, path: Path) -> tuple[float, float, alertas.Report]:
    with SQLiteStore(db, actor="bench") as store:
        t0, c0 = time.perf_counter(), time.process_time()
        report = alertas.import_sources(store, [path])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return elapsed, cpu, report


def bare(db: Path, rows: list[tuple[str, str, str, str]]) -> tuple[float, float]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE alerts (source TEXT NOT NULL, source_ref TEXT NOT NULL, doc TEXT NOT NULL,"
        " count INTEGER NOT NULL, last_seen TEXT NOT NULL, PRIMARY KEY (source, source_ref))"
        " WITHOUT ROWID"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO alerts (source, source_ref, doc, count, last_seen) VALUES (?, ?, ?, 1, ?)"
        " ON CONFLICT (source, source_ref) DO UPDATE SET count = count + 1,"
        " last_seen = max(last_seen, excluded.last_seen)",
        rows,
    )
    conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    return elapsed, cpu


def same_rows(path: Path) -> list[tuple[str, str, str, str]]:
    """The documents intake stores, for the same alerts (made before the clock starts)."""
    docs: list[dict[str, Any]] = alertas.read_files([path])
    return [(d["source"], d["source_ref"], orjson.dumps(d).decode(), d["last_seen"]) for d in docs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alertas", type=int, default=100_000)
    parser.add_argument("--repeticiones", type=float, default=0.3)
    parser.add_argument("--veces", type=int, default=3, help="corridas de cada uno (la mejor)")
    args = parser.parse_args()
    n = args.alertas
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "alertas.jsonl"
        unique = write_file(path, n, args.repeticiones)
        rows = same_rows(path)
        bare_runs, intake_runs = [], []
        for i in range(args.veces):  # interleaved: a busy machine slows both alike
            bare_runs.append(bare(folder / f"bare{i}.db", rows))
            *times, report = intake(folder / f"pukara{i}.db", path)
            intake_runs.append((times[0], times[1]))
        (bare_s, bare_cpu), (intake_s, intake_cpu) = min(bare_runs), min(intake_runs)
        with SQLiteStore(folder / "pukara0.db") as store:
            stored = sum(1 for _ in store.scan(ALERT))
            changes = sum(1 for _ in store.changes())
            ok = store.verify_changes().ok
    print(f"alertas: {n:,} ({n - unique:,} repeticiones), distintas: {unique:,}; la mejor de "
          f"{args.veces} corridas alternadas")  # fmt: skip
    print(f"importar (archivo -> almacén): {intake_s:.2f} s, {n / intake_s:,.0f} alertas/s; "
          f"nuevas {report.inserted:,}, repetidas {report.counted:,}, sin cambios "
          f"{report.unchanged:,}; filas {stored:,}, entradas del registro de cambios {changes} "
          f"(cadena {'íntegra' if ok else 'ROTA'})")  # fmt: skip
    print(f"executemany directo:           {bare_s:.2f} s, {n / bare_s:,.0f} filas/s")
    print(f"razón importar/directo: {bare_s / intake_s:.2f} (objetivo >= 0,5); en tiempo de CPU "
          f"del proceso: {bare_cpu / intake_cpu:.2f} ({intake_cpu:.2f} s frente a "
          f"{bare_cpu:.2f} s)")  # fmt: skip
    if stored != unique:
        raise SystemExit(f"se esperaban {unique} alertas guardadas, hay {stored}")


if __name__ == "__main__":
    main()
