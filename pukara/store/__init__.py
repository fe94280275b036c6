"""The Store protocol and how to open one.

SQLite is the embedded default; a cluster (``es_url``: Elasticsearch or OpenSearch) is the
scale-out backend for events, beside the SQLite file that keeps the rest
(:class:`pukara.store.elastic.ElasticStore`).
The protocol stays small: events in and out by time window and field equality (idempotent on
``event.id``, with a retention purge), entities upserted by natural key, and the hash-chained
change log, each entry signed by the store's ``actor``. Reads stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pukara.config import Settings
from pukara.errors import UsageError
from pukara.store.changelog import ChainReport, Change
from pukara.store.query import EventQuery, TopValues
from pukara.store.rollups import Availability, Hour, Run, Summary
from pukara.store.sqlite import (
    CountedBatch,
    CountedSummary,
    DatasetStats,
    EntityBatch,
    SQLiteStore,
    StoreInfo,
    UpsertSummary,
)
from pukara.store.transaction import Transaction

__all__ = [
    "Availability",
    "ChainReport",
    "Change",
    "CountedBatch",
    "CountedSummary",
    "DatasetStats",
    "EntityBatch",
    "Hour",
    "Run",
    "SQLiteStore",
    "Store",
    "StoreInfo",
    "Summary",
    "Transaction",
    "UpsertSummary",
    "open_store",
    "opened_store",
]


class Store(Protocol):
    actor: str  # who signs the change-log entries this store writes

    @property
    def schema_version(self) -> int: ...

    def write_events(self, events: Iterable[Mapping[str, Any]]) -> int: ...

    def search_events(
        self,
        *,
        dataset: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Iterator[dict[str, Any]]: ...

    # searches (``registros buscar|resumen``); semantics in pukara.store.query
    def query_events(self, q: EventQuery) -> Iterator[dict[str, Any]]: ...

    def top_values(self, field: str, q: EventQuery, size: int = 5) -> TopValues: ...

    def count_events(
        self, *, datasets: Sequence[str] | None = None, before: datetime | None = None
    ) -> int: ...

    def event_stats(self) -> list[DatasetStats]: ...

    def purge_events(self, before: datetime, datasets: Sequence[str] | None = None) -> int: ...

    def compact(self) -> int: ...

    def info(self) -> StoreInfo: ...

    def upsert(
        self, collection: str, rows: Iterable[Mapping[str, Any]], *, key: Sequence[str]
    ) -> UpsertSummary: ...

    def write_entities(self, batches: Sequence[EntityBatch]) -> UpsertSummary: ...

    # bulk intake of counted entities (alerts): one change-log entry per batch; see
    # SQLiteStore.upsert_counted
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
        batch_size: int = ...,
    ) -> CountedSummary: ...

    def get(self, collection: str, key: Sequence[Any]) -> dict[str, Any] | None: ...

    # one command's read-modify-write of entities; see pukara.store.transaction
    def transaction(
        self, request_id: str | None = None, *, actor: str | None = None
    ) -> AbstractContextManager[Transaction]: ...

    def scan(
        self,
        collection: str,
        prefix: Sequence[Any] = (),
        where: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]: ...

    def entities(self, collection: str) -> Iterator[dict[str, Any]]: ...

    def delete(self, collection: str, key: Sequence[Any]) -> bool: ...

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
    ) -> Iterator[Change]: ...

    def verify_changes(self) -> ChainReport: ...

    def close(self) -> None: ...

    # round summaries and their rollups (see pukara.store.rollups)
    def write_summaries(self, rows: Iterable[Summary]) -> int: ...

    def build_rollups(self, until: datetime) -> dict[str, int]: ...

    def purge_summaries(
        self, before_summaries: datetime, before_rollups: datetime
    ) -> dict[str, int]: ...

    def availability(
        self, entity: str, since: datetime, until: datetime,
        excluded: Sequence[tuple[datetime, datetime]],
    ) -> Availability: ...  # fmt: skip

    def down_runs(self, entity: str, since: datetime, until: datetime) -> list[Run]: ...

    def hourly(
        self, entity: str, since: datetime, until: datetime, *, size_s: int = 3600,
        excluded: Sequence[tuple[datetime, datetime]] = (),
    ) -> list[Hour]: ...  # fmt: skip

    def last_state(
        self, entity: str, since: datetime, until: datetime
    ) -> tuple[bool, int | None]: ...

    def mean_busy_rate(self, entity: str, since: datetime, until: datetime) -> float | None: ...


def check_db_path(settings: Settings) -> None:
    """A database path someone typed (``--base-datos``, ``PUKARA_DB``, pukara.toml) must name
    a file in a folder that exists: a typo is a usage error, not a new empty database in new
    folders. The default one, under the data directory, is created as needed."""
    origin = settings.db_origin
    if origin is None or str(settings.db) == ":memory:":
        return
    db = settings.db
    folder = db.parent if str(db.parent) else Path(".")
    try:
        if db.is_dir():
            raise UsageError(
                f"{origin}: {db} es una carpeta, no un archivo de base de datos (indique un "
                f"archivo, p. ej. {db / 'pukara.db'})"
            )
        if not folder.exists():
            raise UsageError(
                f"{origin}: {db}: no existe la carpeta {folder} (pukara no crea carpetas para "
                "una ruta indicada; corrija la ruta o cree la carpeta)"
            )
    except OSError:
        return  # cannot even look: SQLiteStore says why


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the store the settings name (SQLite file by default; with ``es_url``, the cluster
    for events and the SQLite file for the rest).

    ``read_only``: for a command that only reads; it works on a database this user may only
    read, and a database that does not exist is an error instead of a new empty one.
    In cluster mode the URL, the credential profile and the CA file are checked now; the
    cluster itself is reached on the first read (a writer records into the outbox meanwhile).
    """
    check_db_path(settings)
    if settings.es_url:
        from pukara.store.elastic import open_cluster_store

        return open_cluster_store(settings, read_only=read_only)
    return SQLiteStore(settings.db, actor=settings.analyst, read_only=read_only)


@contextmanager
def opened_store(settings: Settings, *, read_only: bool = False) -> Iterator[Store]:
    """:func:`open_store` for a ``with`` block: the store is closed however the block ends."""
    store = open_store(settings, read_only=read_only)
    try:
        yield store
    finally:
        store.close()
