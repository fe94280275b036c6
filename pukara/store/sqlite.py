"""The embedded SQLite store: one file, WAL, forward-only migrations, idempotent writes.

Writes run in ``BEGIN IMMEDIATE`` transactions so that two processes writing at once queue
on the file lock (``busy_timeout``) instead of failing or losing rows.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from pukara.errors import SchemaTooNewError, StoreError
from pukara.events import format_timestamp, get_field, parse_timestamp, utc_now
from pukara.store import changelog, rollups
from pukara.store.migrations import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000
BATCH = 50_000
# dotted ECS field -> indexed column of ``events``
EVENT_COLUMNS = {"event.dataset": "dataset", "host.name": "host_name"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T")
Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class EntityBatch:
    """Rows to upsert by ``key`` and natural keys (single-field) to delete, of one collection."""

    collection: str
    key: tuple[str, ...]
    rows: Iterable[Mapping[str, Any]]
    deletes: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class UpsertSummary:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _to_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("naive datetime: use UTC-aware datetimes")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _json_path(dotted: str) -> str:
    return "$" + "".join('."' + part.replace('"', "") + '"' for part in dotted.split("."))


def _dumps(doc: Mapping[str, Any] | list[Any]) -> str:
    return orjson.dumps(doc).decode()


class _Timestamps:
    """Microseconds since the epoch for ``@timestamp`` values, fast for pukara's own format.

    pukara writes ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; events of one second share the seconds part,
    which is cached. Any other ISO 8601 form goes through the full parser.
    """

    def __init__(self) -> None:
        self._seconds: dict[str, int] = {}

    def __call__(self, stamp: str) -> int:
        frac = stamp[20:26]
        # isdecimal() is true for non-ASCII digits too; the fixed format is ASCII only
        if (
            stamp.isascii()
            and len(stamp) == 27
            and stamp[19] == "."
            and stamp[26] == "Z"
            and frac.isdecimal()
        ):
            head = stamp[:19]
            secs = self._seconds.get(head)
            if secs is None:
                if len(self._seconds) > 100_000:
                    self._seconds.clear()
                secs = _to_us(datetime.fromisoformat(head + "+00:00")) // 1_000_000
                self._seconds[head] = secs
            return secs * 1_000_000 + int(frac)
        return _to_us(parse_timestamp(stamp))


class SQLiteStore:
    """Store backed by one SQLite file."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.RLock()
        self._conn = self._connect()

    # -- opening -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        where = str(self.path)
        if where != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"{self.path}: no se puede crear la carpeta: {e.strerror}") from e
        try:
            conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.close()
                raise SchemaTooNewError(
                    f"{self.path}: la base de datos tiene el esquema {version}, más nuevo que "
                    f"el {SCHEMA_VERSION} de esta versión de pukara; actualice pukara"
                )
            if where != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn, version)
        except sqlite3.DatabaseError as e:
            raise StoreError(self._explain(e)) from e
        return conn

    def _explain(self, e: sqlite3.Error) -> str:
        text = str(e)
        if "not a database" in text or "malformed" in text:
            return f"{self.path}: el archivo no es una base de datos SQLite válida o está dañado"
        if "readonly" in text or "unable to open" in text:
            return f"{self.path}: no se puede abrir para escritura (permisos o ruta)"
        return f"{self.path}: error de la base de datos: {text}"

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        for number in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                # another process may have migrated while we waited for the lock
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    conn.execute("COMMIT")
                    continue
                for statement in MIGRATIONS[number - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise StoreError(self._explain(e)) from e
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                self._conn.execute("ROLLBACK")
                raise StoreError(self._explain(e)) from e
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ------------------------------------------------------------------------
    @staticmethod
    def _event_row(doc: Mapping[str, Any], stamps: _Timestamps) -> tuple[int, str, Any, str]:
        stamp = doc.get("@timestamp")
        if not isinstance(stamp, str):
            raise StoreError("evento sin @timestamp")
        try:  # the nested ECS shape pukara builds; anything else takes the general path
            dataset = doc["event"]["dataset"]
        except (KeyError, TypeError):
            dataset = get_field(doc, "event.dataset")
        if not isinstance(dataset, str):
            raise StoreError("evento sin event.dataset")
        host = doc.get("host")
        host_name = host.get("name") if isinstance(host, dict) else get_field(doc, "host.name")
        try:
            ts_us = stamps(stamp)
        except ValueError as e:
            raise StoreError(f"evento con @timestamp inválido: {stamp!r}") from e
        try:
            text = _dumps(doc)
        except TypeError as e:
            raise StoreError(f"evento no serializable a JSON: {e}") from e
        return ts_us, dataset, host_name, text

    def write_events(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Append events; each batch is one transaction. Returns how many were written."""
        total = 0
        batch: list[tuple[int, str, Any, str]] = []
        stamps = _Timestamps()

        def row(doc: Mapping[str, Any]) -> tuple[int, str, Any, str]:
            return self._event_row(doc, stamps)

        sql = "INSERT INTO events (ts_us, dataset, host_name, doc) VALUES (?, ?, ?, ?)"
        for doc in events:
            batch.append(row(doc))
            if len(batch) >= BATCH:
                with self._write() as conn:
                    conn.executemany(sql, batch)
                total += len(batch)
                batch.clear()
        if batch:
            with self._write() as conn:
                conn.executemany(sql, batch)
            total += len(batch)
        return total

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
        """Events in ``[since, until)`` whose dotted fields equal ``where``'s values."""
        clauses: list[str] = []
        params: list[Any] = []
        conditions = dict(where or {})
        if dataset is not None:
            conditions["event.dataset"] = dataset
        for field, value in conditions.items():
            column = EVENT_COLUMNS.get(field)
            if column:
                clauses.append(f"{column} = ?")
            else:
                clauses.append("json_extract(doc, ?) = ?")
                params.append(_json_path(field))
            params.append(value)
        if since is not None:
            clauses.append("ts_us >= ?")
            params.append(_to_us(since))
        if until is not None:
            clauses.append("ts_us < ?")
            params.append(_to_us(until))
        sql = "SELECT doc FROM events"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY ts_us DESC, id DESC" if newest_first else " ORDER BY ts_us, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._lock:
            try:
                rows = self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise StoreError(self._explain(e)) from e
        for (doc,) in rows:
            yield orjson.loads(doc)

    def count_events(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM events").fetchone()[0])

    # -- entities ----------------------------------------------------------------------
    @staticmethod
    def _key(values: Sequence[Any]) -> str:
        return _dumps(list(values))

    def upsert(
        self, collection: str, rows: Iterable[Mapping[str, Any]], *, key: Sequence[str]
    ) -> UpsertSummary:
        """Insert or update entities by natural key, logging each real change in the chain.

        All rows are written in one transaction: either every row lands or none does.
        """
        return self.write_entities([EntityBatch(collection, tuple(key), rows)])

    def write_entities(self, batches: Sequence[EntityBatch]) -> UpsertSummary:
        """Deletes then upserts of several collections, in one transaction."""
        inserted = updated = unchanged = 0
        stamp = format_timestamp(utc_now())
        with self._write() as conn:
            for batch in batches:
                for name in batch.deletes:
                    self._delete_in(conn, batch.collection, self._key([name]), stamp)
            for batch in batches:
                if not batch.key:
                    raise ValueError("a natural key needs at least one field")
                for row in batch.rows:
                    result = self._upsert_in(conn, batch.collection, batch.key, row, stamp)
                    inserted += result == "insert"
                    updated += result == "update"
                    unchanged += result is None
        return UpsertSummary(inserted, updated, unchanged)

    def _upsert_in(
        self,
        conn: sqlite3.Connection,
        collection: str,
        key: Sequence[str],
        row: Mapping[str, Any],
        stamp: str,
    ) -> str | None:
        try:  # the stored form, once: compared, written and logged alike
            text = _dumps(dict(row))
        except TypeError as e:
            raise StoreError(f"{collection}: valor no serializable a JSON: {e}") from e
        doc = orjson.loads(text)
        missing = [k for k in key if doc.get(k) in (None, "")]
        if missing:
            raise StoreError(f"{collection}: falta la clave natural {', '.join(missing)}")
        k = self._key([doc[f] for f in key])
        old = conn.execute(
            "SELECT doc FROM entities WHERE collection = ? AND key = ?", (collection, k)
        ).fetchone()
        before = orjson.loads(old[0]) if old else None
        if before == doc:
            return None
        conn.execute(
            "INSERT INTO entities (collection, key, doc, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (collection, key) DO UPDATE"
            " SET doc = excluded.doc, updated_at = excluded.updated_at",
            (collection, k, text, stamp),
        )
        action = "update" if before is not None else "insert"
        changelog.append(
            conn, ts=stamp, collection=collection, key=k, action=action, before=before, after=doc
        )
        return action

    @staticmethod
    def _delete_in(conn: sqlite3.Connection, collection: str, k: str, stamp: str) -> bool:
        old = conn.execute(
            "SELECT doc FROM entities WHERE collection = ? AND key = ?", (collection, k)
        ).fetchone()
        if old is None:
            return False
        conn.execute("DELETE FROM entities WHERE collection = ? AND key = ?", (collection, k))
        changelog.append(
            conn, ts=stamp, collection=collection, key=k,
            action="delete", before=orjson.loads(old[0]), after=None,
        )  # fmt: skip
        return True

    def get(self, collection: str, key: Sequence[Any]) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM entities WHERE collection = ? AND key = ?",
                (collection, self._key(key)),
            ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    def entities(self, collection: str) -> Iterator[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc FROM entities WHERE collection = ? ORDER BY key", (collection,)
            ).fetchall()
        for (doc,) in rows:
            yield orjson.loads(doc)

    def delete(self, collection: str, key: Sequence[Any]) -> bool:
        with self._write() as conn:
            return self._delete_in(conn, collection, self._key(key), format_timestamp(utc_now()))

    # -- change log --------------------------------------------------------------------
    def changes(self, *, limit: int | None = None) -> Iterator[changelog.Change]:
        sql = (
            "SELECT seq, ts, collection, key, action, before, after, hash"
            " FROM changes ORDER BY seq DESC"
        )
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        yield from reversed(changelog.rows_to_changes(rows))

    def verify_changes(self) -> changelog.ChainReport:
        with self._lock:
            try:
                return changelog.verify(self._conn)
            except sqlite3.Error as e:
                raise StoreError(self._explain(e)) from e

    # -- round summaries and rollups ---------------------------------------------------
    def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            try:
                return fn(self._conn, *args)
            except sqlite3.Error as e:
                raise StoreError(self._explain(e)) from e

    def write_summaries(self, rows: Iterable[rollups.Summary]) -> int:
        """Upsert round summaries by (entity, ts_us), in transactions of ``BATCH`` rows."""
        total = 0
        it = iter(rows)
        while batch := list(itertools.islice(it, BATCH)):
            with self._write() as conn:
                total += rollups.write(conn, batch)
        return total

    def build_rollups(self, until: datetime) -> dict[str, int]:
        """(Re)build the 5-minute and hourly rollups of every bucket closed by ``until``."""
        with self._write() as conn:
            return rollups.build(conn, _to_us(until))

    def purge_summaries(
        self, before_summaries: datetime, before_rollups: datetime
    ) -> dict[str, int]:
        """Delete round summaries and rollups older than each cut-off; rows deleted per table."""
        with self._write() as conn:
            return rollups.purge(conn, _to_us(before_summaries), _to_us(before_rollups))

    def availability(
        self, entity: str, since: datetime, until: datetime, excluded: Sequence[Interval]
    ) -> rollups.Availability:
        """Observed, down and excluded time in [since, until); ``excluded`` merged intervals."""
        spans = [(_to_us(s), _to_us(e)) for s, e in excluded]
        return self._read(rollups.availability, entity, _to_us(since), _to_us(until), spans)

    def down_runs(self, entity: str, since: datetime, until: datetime) -> list[rollups.Run]:
        return self._read(
            lambda c, *a: list(rollups.down_runs(c, *a)), entity, _to_us(since), _to_us(until)
        )

    def hourly(self, entity: str, since: datetime, until: datetime) -> list[rollups.Hour]:
        return self._read(rollups.hours, entity, _to_us(since), _to_us(until))

    def last_state(self, entity: str, since: datetime, until: datetime) -> tuple[bool, int | None]:
        return self._read(rollups.last_state, entity, _to_us(since), _to_us(until))

    def mean_busy_rate(self, entity: str, since: datetime, until: datetime) -> float | None:
        return self._read(rollups.mean_busy_rate, entity, _to_us(since), _to_us(until))
