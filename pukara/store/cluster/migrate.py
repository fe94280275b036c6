"""``almacen migrar``: the SQLite store's events copied to the cluster, through the outbox.

Events are read in insertion order (the ``events`` rowid), a chunk at a time, and committed
to the outbox; the cursor (the last rowid queued) is kept in the ``meta`` table right after,
so a migration stopped at any point goes on from there, and a later one copies every event
stored since, whatever its ``@timestamp`` (an imported log of yesterday too). A chunk is never
larger than the room left in the outbox: this thread is the one that empties it. The shipper
then takes them as any other event: ``_id`` = ``event.id`` makes a copy sent twice a 409,
counted as already there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from pukara.store.cluster.shipper import Shipper, ShipReport

CURSOR_KEY = "migrate.rowid"  # "migrate.cursor" held (ts_us, id) before: ignored, resent
CHUNK = 10_000  # events read and queued at a time


@dataclass(slots=True)
class MigrationReport:
    queued: int = 0  # events put in the outbox by this run
    pending: int = 0  # events left to queue when this run began
    shipped: ShipReport = field(default_factory=ShipReport)
    resumed: bool = False  # a cursor of an earlier run was there
    finished: bool = False


def _cursor(shipper: Shipper) -> int | None:
    row = shipper.outbox.local._one("SELECT value FROM meta WHERE key = ?", (CURSOR_KEY,))
    return None if row is None else int(orjson.loads(row[0]))


def _save_cursor(shipper: Shipper, cursor: int) -> None:
    with shipper.outbox.local._write() as conn:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (CURSOR_KEY, orjson.dumps(cursor).decode()),
        )


def migrate(
    shipper: Shipper,
    stop: threading.Event,
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> MigrationReport:
    """Copy every stored event to the cluster; ``progress(done, total)`` after each bulk.

    Returns when all were acknowledged (or dead-lettered), or when ``stop`` is set; what
    was queued then stays in the outbox for ``almacen enviar``."""
    local = shipper.outbox.local
    outbox = shipper.outbox
    cursor = _cursor(shipper)
    report = MigrationReport(resumed=cursor is not None)
    start = cursor if cursor is not None else -(2**63)
    report.pending = int(local._one("SELECT count(*) FROM events WHERE id > ?", (start,))[0])
    done = 0

    def ship_down_to(below: int) -> None:
        nonlocal done
        before = outbox.backlog()
        report.shipped += shipper.drain(stop, below=max(below, 1))
        done += max(0, before - outbox.backlog())
        if progress is not None:
            progress(min(done, report.pending), report.pending)

    while not stop.is_set():
        room = outbox.limit - outbox.backlog()
        if room <= 0:  # put() would wait for this very thread: ship first
            ship_down_to(outbox.limit // 2)
            continue
        rows = list(
            local._rows(
                "SELECT id, doc FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (start, min(chunk, room)),
            )
        )
        if not rows:
            break
        report.queued += len(rows)
        outbox.put(orjson.loads(doc) for _, doc in rows)
        start = int(rows[-1][0])
        _save_cursor(shipper, start)
        # ship until little waits, so the outbox holds about one chunk, not the database
        while not stop.is_set() and outbox.backlog() >= shipper.max_docs:
            ship_down_to(outbox.backlog() - shipper.max_docs + 1)
    if not stop.is_set():
        report.shipped += shipper.drain(stop, below=1)
        if progress is not None:
            progress(report.pending, report.pending)
        report.finished = not stop.is_set()
    return report
