"""``almacen migrar``: the SQLite store's events copied to the cluster, through the outbox.

Events are read in ``(ts_us, id)`` order, a chunk at a time, and committed to the outbox;
the cursor (the last ``(ts_us, id)`` queued) is kept in the ``meta`` table right after, so a
migration stopped at any point goes on from there. The shipper then takes them as any other
event: ``_id`` = ``event.id`` makes a copy sent twice a 409, counted as already there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from pukara.store.cluster.shipper import Shipper, ShipReport

CURSOR_KEY = "migrate.cursor"
CHUNK = 10_000  # events read and queued at a time


@dataclass(slots=True)
class MigrationReport:
    queued: int = 0  # events put in the outbox by this run
    pending: int = 0  # events left to queue when this run began
    shipped: ShipReport = field(default_factory=ShipReport)
    resumed: bool = False  # a cursor of an earlier run was there
    finished: bool = False


def _cursor(shipper: Shipper) -> tuple[int, int] | None:
    row = shipper.outbox.local._one("SELECT value FROM meta WHERE key = ?", (CURSOR_KEY,))
    if row is None:
        return None
    ts_us, rowid = orjson.loads(row[0])
    return int(ts_us), int(rowid)


def _save_cursor(shipper: Shipper, cursor: tuple[int, int]) -> None:
    with shipper.outbox.local._write() as conn:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (CURSOR_KEY, orjson.dumps(list(cursor)).decode()),
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
    cursor = _cursor(shipper)
    report = MigrationReport(resumed=cursor is not None)
    start = cursor or (-(2**63), -(2**63))
    report.pending = int(
        local._one("SELECT count(*) FROM events WHERE (ts_us, id) > (?, ?)", start)[0]
    )
    done = 0
    while not stop.is_set():
        rows = list(
            local._rows(
                "SELECT ts_us, id, doc FROM events WHERE (ts_us, id) > (?, ?)"
                " ORDER BY ts_us, id LIMIT ?",
                (*start, chunk),
            )
        )
        if not rows:
            break
        report.queued += len(rows)
        shipper.outbox.put(orjson.loads(doc) for _, _, doc in rows)
        start = (int(rows[-1][0]), int(rows[-1][1]))
        _save_cursor(shipper, start)
        # ship until little waits, so the outbox holds about one chunk, not the database
        while not stop.is_set() and shipper.outbox.backlog() >= shipper.max_docs:
            before = shipper.outbox.backlog()
            report.shipped += shipper.drain(stop, below=max(before - shipper.max_docs + 1, 1))
            done += max(0, before - shipper.outbox.backlog())
            if progress is not None:
                progress(min(done, report.pending), report.pending)
    if not stop.is_set():
        report.shipped += shipper.drain(stop, below=1)
        if progress is not None:
            progress(report.pending, report.pending)
        report.finished = not stop.is_set()
    return report
