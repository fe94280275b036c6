"""The outbox: events committed to the SQLite store before the cluster sees them.

Every event bound for the cluster is first written here, in a transaction synced to disk
(``synchronous = FULL``); the shipper (:mod:`pukara.store.cluster.shipper`) reads the oldest,
sends them in one ``_bulk``, and acknowledges after the engine answered. An event the engine
refuses as it is (a mapping conflict) moves to the dead letters with the engine's reason,
until an operator fixes the mapping and sends it again (``pukara almacen reintentar``).

The backlog is bounded: a writer that finds it full warns once and waits for the shipper to
drain it; nothing is ever discarded. Its size is kept exact in ``outbox_size``, updated in the
same transaction as every change, so reading it costs one row however long the queue is.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pukara.errors import StoreError
from pukara.events import utc_now
from pukara.store.cluster.engine import ItemResult, stream_name
from pukara.store.sqlite import SQLiteStore, _from_us, event_identity, to_us

BATCH = 5_000  # events per transaction of put()
POLL_S = 0.2  # how often a blocked writer looks at the backlog again
ACTION_BYTES = 80  # what the bulk action line adds to a document, roughly


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    event_id: str
    stream: str
    doc: bytes  # the event as JSON, exactly as it is sent

    @property
    def size(self) -> int:
        return len(self.doc) + ACTION_BYTES


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    event_id: str
    stream: str
    status: int
    error_type: str | None
    reason: str | None
    failed_at: datetime
    doc: bytes


@dataclass(frozen=True, slots=True)
class DeadLetterGroup:
    status: int
    error_type: str | None
    count: int
    example: str | None  # the reason of the latest one


def _row(doc: Mapping[str, Any]) -> tuple[str, str, bytes]:
    """``(event_id, stream, json)`` of one event; an event without ``event.id`` gets one."""
    doc, dataset, event_id = event_identity(doc)
    try:
        text = orjson.dumps(doc)
    except TypeError as e:
        raise StoreError(f"evento no serializable a JSON: {e}") from e
    return event_id, stream_name(dataset), text


class Outbox:
    """The queue of events for the cluster, in ``local``'s database file.

    Several processes may share it (a receiver writing, ``almacen enviar`` shipping): every
    change is one transaction of the store, and the backlog count lives in the file.
    """

    def __init__(
        self, local: SQLiteStore, *, limit: int, on_warning: Callable[[str], None] | None = None
    ) -> None:
        self.local = local
        self.limit = limit
        self.on_warning = on_warning
        self.on_full: Callable[[], None] | None = None  # a writer waits for room: wake the shipper
        self._warned = False
        self._warn_lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------------
    def _durable_write(self, work: Callable[[Any], int]) -> int:
        """Run ``work(conn)`` in one write transaction synced to disk before it returns."""
        local = self.local
        with local._lock:
            local._conn.execute("PRAGMA synchronous = FULL")
            try:
                with local._write() as conn:
                    return work(conn)
            finally:
                local._conn.execute("PRAGMA synchronous = NORMAL")

    def _room(self) -> int:
        """How many events fit now; waits while the backlog is full, warning once (and once
        more only after the backlog fell below half the limit: a queue that stays near full
        says so once, not on every batch)."""
        while True:
            backlog = self.backlog()
            if backlog < self.limit:
                if backlog < self.limit // 2:  # a new episode only after a real drain
                    with self._warn_lock:
                        self._warned = False
                return self.limit - backlog
            with self._warn_lock:
                first, self._warned = not self._warned, True
            if first and self.on_warning is not None:
                from pukara.formats import number

                self.on_warning(
                    f"la cola hacia el clúster está llena: {number(backlog)} eventos esperan "
                    f"(límite outbox_limit = {number(self.limit)}); la escritura espera a que "
                    "el envío la vacíe, sin descartar nada. Revise `pukara almacen estado`."
                )
            if self.on_full is not None:
                self.on_full()
            time.sleep(POLL_S)

    def put(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Commit events to the outbox; returns how many were new (an ``event.id`` already
        waiting is kept once). Blocks while the backlog is at the limit; never discards."""
        total = 0
        rows: Iterator[tuple[str, str, bytes]] = (_row(doc) for doc in events)
        sql = (
            "INSERT INTO outbox (event_id, stream, queued_us, doc) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (event_id) DO NOTHING"
        )
        first = next(rows, None)  # wait for room only when there is something to put
        while first is not None:
            size = min(BATCH, self._room())
            now = to_us(utc_now())
            batch = [(e, s, now, d) for e, s, d in (first, *itertools.islice(rows, size - 1))]

            def insert(conn: Any, batch: list[tuple[str, str, int, bytes]] = batch) -> int:
                added = int(conn.executemany(sql, batch).rowcount)
                conn.execute("UPDATE outbox_size SET backlog = backlog + ? WHERE id = 1", (added,))
                return added

            total += self._durable_write(insert)
            first = next(rows, None)
        return total

    # -- reading ---------------------------------------------------------------------------
    def backlog(self) -> int:
        """How many events wait for the cluster (exact, one row read)."""
        return int(self.local._one("SELECT backlog FROM outbox_size WHERE id = 1")[0])

    def oldest(self) -> datetime | None:
        """When the event waiting longest was queued."""
        row = self.local._one("SELECT queued_us FROM outbox ORDER BY seq LIMIT 1")
        return None if row is None else _from_us(int(row[0]))

    def take(self, max_docs: int, max_bytes: int) -> list[OutboxItem]:
        """The oldest waiting events, at most ``max_docs`` and about ``max_bytes`` (always at
        least one). They stay in the outbox until :meth:`ack` or :meth:`to_dead_letters`."""
        items: list[OutboxItem] = []
        size = 0
        rows = self.local._rows(
            "SELECT seq, event_id, stream, doc FROM outbox ORDER BY seq LIMIT ?", (max_docs,)
        )
        for seq, event_id, stream, doc in rows:
            item = OutboxItem(seq, event_id, stream, bytes(doc))
            if items and size + item.size > max_bytes:
                break
            items.append(item)
            size += item.size
        return items

    # -- settling ----------------------------------------------------------------------------
    def settle(
        self, acked: Sequence[OutboxItem], dead: Iterable[tuple[OutboxItem, ItemResult]] = ()
    ) -> int:
        """Acknowledge ``acked`` and move ``dead`` to the dead letters, in one transaction.
        Returns how many left the outbox.

        A row is removed by its whole identity, ``seq`` and ``event_id``: SQLite may give a
        deleted ``seq`` to a new event, and a second shipper settling a batch another one
        already settled must not remove events that were never sent."""
        dead = list(dead)
        if not acked and not dead:
            return 0
        now = to_us(utc_now())

        def work(conn: Any) -> int:
            gone = 0
            if acked:
                gone += int(
                    conn.executemany(
                        "DELETE FROM outbox WHERE seq = ? AND event_id = ?",
                        [(i.seq, i.event_id) for i in acked],
                    ).rowcount
                )
            if dead:
                conn.executemany(
                    "INSERT INTO dead_letters (event_id, stream, status, error_type, reason,"
                    " failed_us, doc) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO"
                    " UPDATE SET stream = excluded.stream, status = excluded.status,"
                    " error_type = excluded.error_type, reason = excluded.reason,"
                    " failed_us = excluded.failed_us, doc = excluded.doc",
                    [(i.event_id, i.stream, r.status, r.error_type, r.reason, now, i.doc)
                     for i, r in dead],
                )  # fmt: skip
                gone += int(
                    conn.executemany(
                        "DELETE FROM outbox WHERE seq = ? AND event_id = ?",
                        [(i.seq, i.event_id) for i, _ in dead],
                    ).rowcount
                )
            conn.execute("UPDATE outbox_size SET backlog = backlog - ? WHERE id = 1", (gone,))
            return gone

        return self._durable_write(work)

    def ack(self, items: Sequence[OutboxItem]) -> int:
        """The engine stored these (or had them already): they leave the outbox."""
        return self.settle(list(items))

    def to_dead_letters(self, items_and_reasons: Iterable[tuple[OutboxItem, ItemResult]]) -> int:
        """The engine refused these as they are: kept aside with its reason."""
        return self.settle([], items_and_reasons)

    # -- dead letters ----------------------------------------------------------------------
    def dead_letter_count(self) -> int:
        return int(self.local._one("SELECT count(*) FROM dead_letters")[0])

    def dead_letter_groups(self) -> list[DeadLetterGroup]:
        """Dead letters by the engine's status and error type, the largest group first."""
        rows = self.local._rows(
            "SELECT status, error_type, count(*), (SELECT reason FROM dead_letters AS d"
            " WHERE d.status = g.status AND d.error_type IS g.error_type ORDER BY id DESC"
            " LIMIT 1) FROM dead_letters AS g GROUP BY status, error_type"
            " ORDER BY count(*) DESC, status"
        )
        return [DeadLetterGroup(int(s), t, int(n), r) for s, t, n, r in rows]

    def dead_letters(self, limit: int | None = None) -> Iterator[DeadLetter]:
        sql = (
            "SELECT id, event_id, stream, status, error_type, reason, failed_us, doc"
            " FROM dead_letters ORDER BY id"
        )
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        for i, e, s, st, t, r, f, d in self.local._rows(sql, params):
            yield DeadLetter(int(i), e, s, int(st), t, r, _from_us(int(f)), bytes(d))

    def retry_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Dead letters (``ids``, or all) back into the outbox, to be sent again; returns how
        many went back. An unknown id is ignored."""
        now = to_us(utc_now())

        def work(conn: Any) -> int:
            if ids is None:
                chosen = [r[0] for r in conn.execute("SELECT id FROM dead_letters ORDER BY id")]
            else:
                chosen = sorted(set(ids))
            moved = int(
                conn.executemany(
                    "INSERT INTO outbox (event_id, stream, queued_us, doc)"
                    " SELECT event_id, stream, ?, doc FROM dead_letters WHERE id = ?"
                    " ON CONFLICT (event_id) DO NOTHING",
                    [(now, i) for i in chosen],
                ).rowcount
            )
            conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(i,) for i in chosen])
            conn.execute("UPDATE outbox_size SET backlog = backlog + ? WHERE id = 1", (moved,))
            return moved

        return self._durable_write(work)
