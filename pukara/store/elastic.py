"""The Store in cluster mode: events in Elasticsearch or OpenSearch, the rest in SQLite.

What goes where:

- **Events and logs** go to the cluster's data streams (``pukara-eventos-<dataset>``,
  ``pukara-logs-<name>``), but never straight: :meth:`ElasticStore.write_events` commits them
  to the local outbox first (a table of the SQLite store, synced to disk) and a background
  shipper sends them on, so an event a writer was told is stored survives a cluster outage,
  a crash of pukara, a full queue on the engine. Every read of events (search, counts,
  statistics, purges, queries, top values) goes to the cluster, streamed with a point in
  time (:mod:`pukara.store.cluster.reads`), with the same semantics as the SQLite store.
- **Entities and the change log** always stay in SQLite (ARCHITECTURE): the chain of hashes
  must be one file's transaction, and an upsert compares the stored row to the new one.
- **Round summaries and their rollups** (the inputs of the SLA and capacity reports) stay in
  SQLite as well: they are compact derived rows (one per site per round, then per 5 minutes
  and per hour), rebuilt in place and upserted, not events; a month of them is small, and a
  report reads them with the same SQL on both stores, so it comes out identical.

The cluster is reached lazily: opening the store does not connect, so a writer (``vigilar``)
keeps recording into the outbox while the cluster is down; the first read connects.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from pukara.config import Settings
from pukara.errors import StoreError
from pukara.store import rollups
from pukara.store.changelog import ChainReport, Change
from pukara.store.cluster import dsl, reads, retention
from pukara.store.cluster.engine import ALL_STREAMS, EngineRefused, SearchEngine
from pukara.store.query import EventQuery, TopValues
from pukara.store.sqlite import (
    BATCH,
    CountedBatch,
    CountedSummary,
    DatasetStats,
    EntityBatch,
    SQLiteStore,
    StoreInfo,
    UpsertSummary,
)
from pukara.store.transaction import Transaction

FLUSH_TIMEOUT_S = 10.0  # how long close() lets the shipper send what is queued
_log = logging.getLogger("pukara.almacen")
_STATS_PAGE = 100  # datasets per page of the statistics aggregation


class EventSink(Protocol):
    """Where :meth:`ElasticStore.write_events` puts events: the outbox and its shipper."""

    def put(self, events: Iterable[Mapping[str, Any]]) -> int: ...

    def flush(self, timeout_s: float) -> bool: ...

    def close(self, flush_timeout_s: float) -> None: ...


class _Queue(Protocol):  # pukara.store.outbox.Outbox
    on_full: Callable[[], None] | None

    def put(self, events: Iterable[Mapping[str, Any]]) -> int: ...

    def backlog(self) -> int: ...


class _Sender(Protocol):  # pukara.store.cluster.shipper.Shipper
    def wake(self) -> None: ...

    def start_background(self) -> None: ...

    def stop(self, flush_timeout_s: float) -> object: ...


class OutboxSink:
    """The outbox of the local store and the shipper that empties it into the cluster.

    The shipper's thread starts with the first write (a command that only reads starts
    none); :meth:`close` lets it send what waits for a bounded time, and what is still queued
    then stays in the outbox, on disk, for the next process that writes (or ``almacen
    enviar``).
    """

    def __init__(self, outbox: _Queue, shipper: _Sender) -> None:
        self.outbox = outbox
        self.shipper = shipper
        self._started = False
        self._lock = threading.Lock()
        outbox.on_full = shipper.wake  # a writer waiting for room hurries the shipper on

    def put(self, events: Iterable[Mapping[str, Any]]) -> int:
        # the shipper runs before the first put: a put that waits for room (a backlog
        # already at the limit, a batch larger than what is left) waits for it to drain;
        # start_background also starts again a thread that ended
        with self._lock:
            self.shipper.start_background()
            self._started = True
        queued = self.outbox.put(events)  # committed to disk before it returns
        self.shipper.wake()
        return queued

    def flush(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty, at most ``timeout_s``; whether it is."""
        deadline = time.monotonic() + timeout_s
        while self.outbox.backlog():
            if time.monotonic() >= deadline:
                return False
            self.shipper.wake()
            time.sleep(0.05)
        return True

    def close(self, flush_timeout_s: float) -> None:
        with self._lock:
            started, self._started = self._started, False
        if started:
            self.shipper.stop(flush_timeout_s)


TOP_PAGE = 1000  # buckets per page of the exact top-values count


class ElasticStore:
    """:class:`~pukara.store.Store` over a cluster for events and ``local`` for the rest.

    ``connect`` gives the engine (called once, on the first read); ``sink`` takes the
    events written (None for a store opened to read only).
    """

    def __init__(
        self,
        local: SQLiteStore,
        connect: Callable[[], SearchEngine],
        *,
        sink: EventSink | None = None,
        location: str = "",
    ) -> None:
        self.local = local
        self._connect = connect
        self._engine: SearchEngine | None = None
        self._engine_lock = threading.Lock()
        self.sink = sink
        self.location = location
        self.flush_timeout_s = FLUSH_TIMEOUT_S  # close() lets the shipper send for this long

    # -- plumbing ----------------------------------------------------------------------
    @property
    def actor(self) -> str:
        return self.local.actor

    @actor.setter
    def actor(self, value: str) -> None:
        self.local.actor = value

    @property
    def engine(self) -> SearchEngine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._connect()
            return self._engine

    @property
    def schema_version(self) -> int:
        return self.local.schema_version

    def close(self) -> None:
        try:
            if self.sink is not None:
                self.sink.close(self.flush_timeout_s)
        finally:
            try:
                if self._engine is not None:
                    self._engine.close()
            finally:
                self.local.close()

    def __enter__(self) -> ElasticStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ------------------------------------------------------------------------
    def write_events(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Commit events to the local outbox; the shipper sends them to the cluster.

        Returns how many were queued. Writing an event twice stores it once: its
        ``event.id`` is the document's ``_id`` and the bulk uses ``create``.
        """
        if self.sink is None:
            raise StoreError(
                "el almacén está abierto solo para lectura"
                if self.local.read_only
                else "el almacén en modo clúster no tiene cola local para escribir eventos"
            )
        return self.sink.put(events)

    def query_events(self, q: EventQuery) -> Iterator[dict[str, Any]]:
        """The events of ``q`` from the cluster, streamed (same order and filters as SQLite)."""
        return reads.query_hits(self.engine, q)

    def search_events(
        self,
        *,
        dataset: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Events in ``[since, until)`` whose dotted fields equal ``where``'s, streamed."""
        q = dsl.where_query(
            dataset=dataset, since=since, until=until, where=dict(where or {}),
            newest_first=newest_first, limit=limit,
        )  # fmt: skip
        return reads.query_hits(self.engine, q)

    @staticmethod
    def _filter(datasets: Sequence[str] | None, before: datetime | None) -> dict[str, Any]:
        clauses: list[dict[str, Any]] = []
        if datasets is not None:
            clauses.append({"terms": {dsl.DATASET: list(datasets)}})
        if before is not None:
            clauses.append({"range": {dsl.TIMESTAMP: {"lt": dsl.stamp(before)}}})
        return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}

    def count_events(
        self, *, datasets: Sequence[str] | None = None, before: datetime | None = None
    ) -> int:
        """How many events are stored (of ``datasets``, older than ``before``, if given)."""
        if datasets is not None and not datasets:
            return 0
        index = dsl.indices(datasets or ())
        return self.engine.count(index, {"query": self._filter(datasets, before)})

    def event_stats(self) -> list[DatasetStats]:
        """Per dataset: how many events, the oldest and the newest, by dataset name."""
        found: list[DatasetStats] = []
        after: dict[str, Any] | None = None
        while True:
            agg = self._stats_page(after)
            buckets = agg.get("buckets", [])
            for b in buckets:
                oldest = dsl.from_ns(b["oldest"]["hits"]["hits"][0]["sort"][0])
                newest = dsl.from_ns(b["newest"]["hits"]["hits"][0]["sort"][0])
                found.append(DatasetStats(b["key"]["dataset"], int(b["doc_count"]), oldest, newest))
            after = agg.get("after_key")
            if not buckets or after is None:
                break
        return sorted(found, key=lambda s: s.dataset)

    def _stats_page(self, after: dict[str, Any] | None) -> dict[str, Any]:
        composite: dict[str, Any] = {
            "size": _STATS_PAGE,
            "sources": [{"dataset": {"terms": {"field": dsl.DATASET}}}],
        }
        if after is not None:
            composite["after"] = after

        def edge(newest: bool) -> dict[str, Any]:
            sort = dsl.sort(newest, shard_doc=False)[:1]
            return {"top_hits": {"_source": False, "size": 1, "sort": sort}}

        body = {
            "size": 0,
            "track_total_hits": False,
            "aggs": {
                "datasets": {
                    "composite": composite,
                    "aggs": {"oldest": edge(False), "newest": edge(True)},
                }
            },
        }
        answer = self.engine.search(ALL_STREAMS, body)
        agg: dict[str, Any] = answer.get("aggregations", {}).get("datasets", {})
        return agg

    def top_values(self, field: str, q: EventQuery, size: int = 5) -> TopValues:
        """The ``size`` most frequent values of ``field`` among the events of ``q``, exactly.

        A ``terms`` aggregation over several indices (one data stream per dataset) is only
        approximate when many values tie (each index hands back its first ``shard_size``), so
        every value is counted through a paged ``composite`` aggregation, in the field's own
        order (addresses by their bytes, numbers by value): ties then fall as in SQLite.
        """
        name = dsl.MESSAGE_EXACT if field == "message" else field
        index = dsl.indices(q.datasets)
        query = dsl.query(q, reads.field_types(self.engine, index, q))
        best: list[tuple[int, int, dict[str, Any]]] = []  # (-count, seen order, bucket)
        total = missing = 0
        after: dict[str, Any] | None = None
        seen = 0
        while True:
            composite: dict[str, Any] = {
                "size": TOP_PAGE, "sources": [{"v": {"terms": {"field": name}}}],
            }  # fmt: skip
            if after is not None:
                composite["after"] = after
            body: dict[str, Any] = {
                "size": 0,
                "query": query,
                "aggs": {"all": {"composite": composite}},
            }
            if after is None:
                body["track_total_hits"] = True
                body["aggs"]["missing"] = {"missing": {"field": name}}
            answer = self.engine.search(index, body)
            aggs = answer.get("aggregations", {})
            if after is None:
                total = int(answer["hits"]["total"]["value"])
                missing = int(aggs.get("missing", {}).get("doc_count", total))
            buckets = aggs.get("all", {}).get("buckets", [])
            for b in buckets:
                entry = (
                    -int(b["doc_count"]),
                    seen,
                    {"key": b["key"]["v"], "doc_count": b["doc_count"]},
                )
                seen += 1
                if size > 0:
                    best.append(entry)
            if size > 0 and len(best) > 4 * size + TOP_PAGE:
                best = heapq.nsmallest(size, best)
            after = aggs.get("all", {}).get("after_key")
            if not buckets or after is None or len(buckets) < TOP_PAGE:
                break
        top = heapq.nsmallest(size, best) if size > 0 else []
        values = tuple((_bucket_text(b), -count) for count, _, b in top)
        return TopValues(field, total, missing, values)

    def purge_events(self, before: datetime, datasets: Sequence[str] | None = None) -> int:
        """Delete events older than ``before`` (of ``datasets``, or all); returns how many.

        Backing indices all of whose events are past the cut-off are deleted whole, and the
        rest by a delete by query, so the purge is exact to the microsecond, as in SQLite
        (see :mod:`pukara.store.cluster.retention`).
        """
        if datasets is not None and not datasets:
            return 0
        index = dsl.indices(datasets or ())
        query = self._filter(datasets, before)
        dropped = retention.drop_expired(self.engine, index, query)
        try:
            return dropped.events + self.engine.delete_by_query(index, {"query": query})
        except EngineRefused as e:
            if e.status == 404:
                return dropped.events
            raise

    def compact(self) -> int:
        """The local store's pages (outbox, summaries); the engine merges its own segments."""
        return self.local.compact()

    def info(self) -> StoreInfo:
        """The local store's figures, with the cluster named in ``location``."""
        local = self.local.info()
        where = f"{self.location} (eventos) y {local.location}" if self.location else local.location
        return StoreInfo(where, local.schema_version, local.size_bytes, local.free_bytes)

    # -- entities and the change log: always SQLite --------------------------------------
    def upsert(
        self, collection: str, rows: Iterable[Mapping[str, Any]], *, key: Sequence[str]
    ) -> UpsertSummary:
        return self.local.upsert(collection, rows, key=key)

    def write_entities(self, batches: Sequence[EntityBatch]) -> UpsertSummary:
        return self.local.write_entities(batches)

    def upsert_counted(
        self,
        collection: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        key: Sequence[str],
        count: str = "count",
        first: str = "first_seen",
        last: str = "last_seen",
        greatest: Sequence[str] = (),
        request_id: str | None = None,
        on_batch: Callable[[CountedBatch], Mapping[str, Any] | None] | None = None,
        batch_size: int = BATCH,
    ) -> CountedSummary:
        """The entities go to the local file; each batch's summary event to the outbox once
        its batch has committed (as :meth:`transaction` does)."""
        events: list[Mapping[str, Any]] = []

        def collect(batch: CountedBatch) -> None:
            event = on_batch(batch) if on_batch is not None else None
            if event is not None:
                events.append(event)

        summary = self.local.upsert_counted(
            collection, rows, key=key, count=count, first=first, last=last, greatest=greatest,
            request_id=request_id, on_batch=collect, batch_size=batch_size,
        )  # fmt: skip
        if events:
            self.write_events(events)
        return summary

    @contextmanager
    def transaction(
        self, request_id: str | None = None, *, actor: str | None = None
    ) -> Iterator[Transaction]:
        """The entities' transaction is the local file's; its events go to the outbox once
        it has committed."""
        with self.local.transaction(request_id, actor=actor) as tx:
            yield tx
            events, tx.events = tx.events, []  # not the local file's events table
        if events:
            self.write_events(events)

    def scan(
        self,
        collection: str,
        prefix: Sequence[Any] = (),
        where: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        return self.local.scan(collection, prefix, where)

    def get(self, collection: str, key: Sequence[Any]) -> dict[str, Any] | None:
        return self.local.get(collection, key)

    def entities(self, collection: str) -> Iterator[dict[str, Any]]:
        return self.local.entities(collection)

    def delete(self, collection: str, key: Sequence[Any]) -> bool:
        return self.local.delete(collection, key)

    def changes(
        self,
        *,
        limit: int | None = None,
        actor: str | None = None,
        collection: str | None = None,
        key: Sequence[Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        exclude: Sequence[str] = (),
    ) -> Iterator[Change]:
        return self.local.changes(
            limit=limit, actor=actor, collection=collection, key=key, since=since,
            until=until, exclude=exclude,
        )  # fmt: skip

    def verify_changes(self) -> ChainReport:
        return self.local.verify_changes()

    # -- round summaries and rollups: SQLite (compact derived rows, see the docstring) ----
    def write_summaries(self, rows: Iterable[rollups.Summary]) -> int:
        return self.local.write_summaries(rows)

    def build_rollups(self, until: datetime) -> dict[str, int]:
        return self.local.build_rollups(until)

    def purge_summaries(
        self, before_summaries: datetime, before_rollups: datetime
    ) -> dict[str, int]:
        return self.local.purge_summaries(before_summaries, before_rollups)

    def availability(
        self, entity: str, since: datetime, until: datetime,
        excluded: Sequence[tuple[datetime, datetime]],
    ) -> rollups.Availability:  # fmt: skip
        return self.local.availability(entity, since, until, excluded)

    def down_runs(self, entity: str, since: datetime, until: datetime) -> list[rollups.Run]:
        return self.local.down_runs(entity, since, until)

    def hourly(
        self, entity: str, since: datetime, until: datetime, *, size_s: int = 3600,
        excluded: Sequence[tuple[datetime, datetime]] = (),
    ) -> list[rollups.Hour]:  # fmt: skip
        return self.local.hourly(entity, since, until, size_s=size_s, excluded=excluded)

    def last_state(self, entity: str, since: datetime, until: datetime) -> tuple[bool, int | None]:
        return self.local.last_state(entity, since, until)

    def mean_busy_rate(self, entity: str, since: datetime, until: datetime) -> float | None:
        return self.local.mean_busy_rate(entity, since, until)


def _bucket_text(bucket: Mapping[str, Any]) -> str:
    """A terms bucket's value as text: a keyword as it is, a boolean as ``true``/``false``
    (its ``key_as_string``), a whole number without a decimal point."""
    key = bucket["key"]
    if isinstance(key, str):
        return key
    if isinstance(key, bool):  # a composite bucket's boolean
        return "true" if key else "false"
    text = bucket.get("key_as_string")
    if text in ("true", "false"):
        return str(text)
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def cluster_engine(settings: Settings, *, install: bool = False) -> SearchEngine:
    """The engine ``es_url`` names, connected; with ``install`` (the writers: the shipper,
    ``almacen enviar``/``migrar``/``depurar``) pukara's templates and lifecycle policy are
    put in place first. A read never installs: it would need administration privileges and
    would rewrite the whole cluster's retention with this machine's ``retention_days``."""
    from pukara.store.cluster import templates
    from pukara.store.cluster.client import connect

    engine = connect(settings)
    if not install:
        return engine
    try:
        try:
            templates.install(engine)
            retention.install_lifecycle(engine, settings.retention_days, _log.warning)
        except EngineRefused as e:
            # a key without administration privileges: fine when the templates are there
            if e.status != 403 or not templates.installed(engine):
                raise
            _log.info("sin permiso para instalar plantillas (%s); ya están en su versión", e)
    except BaseException:
        engine.close()
        raise
    return engine


def _outbox_sink(local: SQLiteStore, settings: Settings) -> EventSink:
    """The outbox of ``local`` and its shipper to the cluster; warnings go to the
    ``pukara.almacen`` logger (a full backlog, the cluster away, dead letters)."""
    from pukara.store.cluster.shipper import Shipper
    from pukara.store.outbox import Outbox
    from pukara.text import clean

    def warn(text: str) -> None:  # the engine's reasons quote event values: no escapes out
        _log.warning("%s", clean(text))

    outbox = Outbox(local, limit=settings.outbox_limit, on_warning=warn)
    shipper = Shipper(outbox, lambda: cluster_engine(settings, install=True), on_warning=warn)
    return OutboxSink(outbox, shipper)


def open_cluster_store(settings: Settings, *, read_only: bool = False) -> ElasticStore:
    """:class:`ElasticStore` for ``settings``; URL, credentials and CA file checked now."""
    from pukara.store.cluster.detect import connection_from_settings

    where = connection_from_settings(settings).where
    local = SQLiteStore(settings.db, actor=settings.analyst, read_only=read_only)
    try:
        sink = None if read_only else _outbox_sink(local, settings)
    except BaseException:
        local.close()
        raise
    # a reader (read_only) never installs templates or the lifecycle policy
    install = not read_only
    connect = lambda: cluster_engine(settings, install=install)  # noqa: E731
    return ElasticStore(local, connect, sink=sink, location=where)
