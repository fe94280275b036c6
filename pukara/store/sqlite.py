"""The embedded SQLite store: one file, WAL, forward-only migrations, idempotent writes.

Writes run in ``BEGIN IMMEDIATE`` transactions on the store's one write connection, so that
two processes writing at once queue on the file lock (``busy_timeout``) instead of failing or
losing rows; events are keyed on ``event.id``, so writing the same event twice stores it once.

Reads never use the write connection. Each read takes a read-only connection from a small
pool (opening one when none is free) and gives it back when it is done; a search streams
from its cursor in chunks, holding no lock of the store while the caller iterates. WAL lets
those readers run beside the writer: a search sees the snapshot of its first step, a write
from another thread (or process) goes on meanwhile, and a long iteration never blocks a
writer nor waits for one. An in-memory database (``:memory:``) has no second connection to
read it, so its reads materialise under the store's lock (the data is in memory already).
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson

from pukara.config import default_analyst
from pukara.errors import SchemaTooNewError, StoreError, os_reason
from pukara.events import format_timestamp, get_field, new_event_id, parse_timestamp, utc_now
from pukara.files import make_private_dirs
from pukara.store import changelog, rollups, sqlite_query, transaction
from pukara.store.migrations import MIGRATIONS, SCHEMA_VERSION
from pukara.store.query import EventQuery, TopValues

BUSY_TIMEOUT_MS = 30_000
BATCH = 50_000
READ_CHUNK = 1_000  # rows fetched from a cursor at a time
PURGE_BATCH = 5_000  # rows deleted per transaction, so a purge never holds the lock long
VACUUM_STEP = 2_000  # pages handed back per transaction
READERS_KEPT = 4  # idle read connections kept open
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # the WAL is truncated back to this after a checkpoint
FILE_MODE = 0o600
# dotted ECS field -> indexed column of ``events``
EVENT_COLUMNS = {"event.dataset": "dataset", "host.name": "host_name", "event.id": "event_id"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T")
Interval = tuple[datetime, datetime]


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already done so.

    On some errors (``SQLITE_FULL``, some I/O or busy errors) SQLite rolls back by itself; a
    second ``ROLLBACK`` would then fail and its error would hide the one that matters.
    """
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


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


@dataclass(frozen=True, slots=True)
class CountedBatch:
    """What :meth:`SQLiteStore.upsert_counted` did with one batch (one transaction)."""

    collection: str
    request_id: str | None
    number: int  # 1, 2, ... within the call
    rows: int  # rows given
    inserted: int  # new entities
    counted: int  # existing entities whose count went up (a later or earlier sighting)
    unchanged: int  # the same sighting again: nothing changed
    sha256: str  # over the canonical rows given, in order (see upsert_counted)
    change_seq: int  # the change-log entry that records the batch


@dataclass(frozen=True, slots=True)
class CountedSummary:
    batches: tuple[CountedBatch, ...] = ()

    @property
    def inserted(self) -> int:
        return sum(b.inserted for b in self.batches)

    @property
    def counted(self) -> int:
        return sum(b.counted for b in self.batches)

    @property
    def unchanged(self) -> int:
        return sum(b.unchanged for b in self.batches)


BATCH_KEY = "*lote*"  # first element of the key of a change-log entry that records a batch


def _field_name(name: str) -> str:
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ValueError(f"field name {name!r}: letters, digits and _ only")
    return f"'$.{name}'"


def counted_upsert_sql(count: str, first: str, last: str, greatest: Sequence[str]) -> str:
    """The statement of :meth:`SQLiteStore.upsert_counted`; parameters: collection, key,
    doc, stamp, then the sightings to add, the row's first and last, each ``greatest``."""
    c, f, la = _field_name(count), _field_name(first), _field_name(last)
    old = "json_extract(entities.doc, {})".format
    sets = [
        f"{c}, coalesce({old(c)}, 0) + ?5",
        f"{f}, min(coalesce({old(f)}, ?6), ?6)",
        f"{la}, max(coalesce({old(la)}, ?7), ?7)",
    ]
    for i, name in enumerate(greatest, start=8):
        g = _field_name(name)
        sets.append(f"{g}, coalesce(max({old(g)}, ?{i}), {old(g)}, ?{i})")
    head = "INSERT INTO entities (collection, key, doc, updated_at) VALUES (?1, ?2, ?3, ?4)"
    update = f" SET doc = json_set(entities.doc, {', '.join(sets)}), updated_at = ?4"
    return head + " ON CONFLICT (collection, key) DO UPDATE" + update


@dataclass(frozen=True, slots=True)
class CountedFields:
    count: str
    first: str
    last: str
    greatest: tuple[str, ...]


class _CountedMerge:
    """One batch of counted rows, one per key. A new key: its first row as given, later
    sightings merged into it (count, first, last, greatest). A stored key: only sightings
    outside its stored window (widened as they come) count; the SQL adds them."""

    def __init__(self, collection: str, key: Sequence[str], fields: CountedFields) -> None:
        self.collection, self.key, self.f = collection, key, fields
        self.rows: dict[str, tuple[Mapping[str, Any], int]] = {}  # key -> (row, sightings)
        self._window: dict[str, tuple[Any, Any]] = {}  # stored key -> (first, last) so far
        self.stored: set[str] = set()
        self._own: dict[str, dict[str, Any]] = {}  # rows copied to merge into (not the caller's)
        self.counted = self.unchanged = 0

    @property
    def inserted(self) -> int:
        rows = self.rows  # stored keys are usually few: no set of every key written
        return len(rows) - sum(1 for k in self.stored if k in rows)

    def keys(self, chunk: Sequence[Mapping[str, Any]]) -> list[str]:
        """The stored key of each row; a row without its key or its counted fields is
        refused."""
        f, names, out = self.f, tuple(self.key), []
        if len(names) == 1:
            names *= 2  # itemgetter of two gives a tuple; the key is its first half
        key_of = operator.itemgetter(*names)
        counted = operator.itemgetter(f.count, f.first, f.last)
        n, dumps = len(self.key), orjson.dumps
        for row in chunk:
            try:
                values, seen = key_of(row), counted(row)
            except KeyError:
                values = tuple(row.get(name) for name in names)
                seen = (row.get(f.count), row.get(f.first), row.get(f.last))
            if None in values or "" in values:
                raise StoreError(f"{self.collection}: falta la clave natural")
            if None in seen:
                raise StoreError(f"{self.collection}: faltan {f.count}, {f.first} o {f.last}")
            out.append(dumps(values if n > 1 else values[:1]).decode())
        return out

    def load(self, conn: sqlite3.Connection, keys: Sequence[str]) -> None:
        """The stored window of every one of ``keys`` that is stored already. Only the keys
        between the collection's lowest and highest stored key are looked up (two index
        seeks tell them): a new source, or references that only grow, look up nothing."""
        lo, hi = conn.execute(
            "SELECT (SELECT min(key) FROM entities WHERE collection = ?1),"
            " (SELECT max(key) FROM entities WHERE collection = ?1)",
            (self.collection,),
        ).fetchone()
        if lo is None:
            return
        inside = {k for k in keys if lo <= k <= hi}
        if not inside:
            return
        wanted = orjson.dumps(list(inside)).decode()
        fp, lp = _field_name(self.f.first), _field_name(self.f.last)
        sql = (
            f"SELECT key, json_extract(doc, {fp}), json_extract(doc, {lp}) FROM entities"  # noqa: S608 - checked names
            " WHERE collection = ? AND key IN (SELECT value FROM json_each(?))"
        )  # fmt: skip
        for k, lo, hi in conn.execute(sql, (self.collection, wanted)):
            self._window[k] = (lo, hi)
            self.stored.add(k)

    def add_all(self, chunk: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
        rows, stored, own = self.rows, self.stored, self._own
        count, first, last, greatest = self.f.count, self.f.first, self.f.last, self.f.greatest
        for row, k in zip(chunk, keys, strict=True):
            held = rows.get(k)
            if k in stored:
                self._repeat(row, k)
            elif held is None:  # new: stored as given (the usual case, kept short)
                rows[k] = (row, 0)
            else:  # a repeat of a key new in this batch (the usual repeat): _repeat inlined,
                doc = held[0]  # without its sightings (only a stored key's are added in SQL)
                lo, hi = row[first], row[last]
                if not (hi > doc[last] or lo < doc[first]):
                    self.unchanged += 1  # the same sighting again
                    continue
                self.counted += 1
                if doc is not own.get(k):
                    doc = own[k] = dict(doc)  # a copy to merge into, not the caller's row
                    rows[k] = (doc, 0)
                if lo < doc[first]:
                    doc[first] = lo
                if hi > doc[last]:
                    doc[last] = hi
                for g in greatest:
                    if row.get(g) is not None and (doc.get(g) is None or row[g] > doc[g]):
                        doc[g] = row[g]
                doc[count] = doc[count] + row[count]

    def _repeat(self, row: Mapping[str, Any], k: str) -> None:
        f = self.f
        held = self.rows.get(k)
        stored = k in self.stored
        if stored:
            lo, hi = self._window[k]
        else:
            assert held is not None  # noqa: S101 - a key not stored is held
            lo, hi = held[0][f.first], held[0][f.last]
        if not (row[f.last] > hi or row[f.first] < lo):
            self.unchanged += 1  # the same sighting again
            return
        self.counted += 1
        if stored:
            self._window[k] = (min(lo, row[f.first]), max(hi, row[f.last]))
        if held is None:  # stored, first counted sighting of this batch
            self.rows[k] = (row, row[f.count])
            return
        base, delta = held
        doc = self._own.get(k)
        if doc is None:
            doc = self._own[k] = dict(base)
        doc[f.first] = min(doc[f.first], row[f.first])
        doc[f.last] = max(doc[f.last], row[f.last])
        for g in f.greatest:
            if row.get(g) is not None and (doc.get(g) is None or row[g] > doc[g]):
                doc[g] = row[g]
        if not stored:
            doc[f.count] = doc[f.count] + row[f.count]
        self.rows[k] = (doc, delta + row[f.count])


@dataclass(frozen=True, slots=True)
class DatasetStats:
    """How many events of one dataset are stored, and the time span they cover."""

    dataset: str
    count: int
    oldest: datetime | None
    newest: datetime | None


@dataclass(frozen=True, slots=True)
class StoreInfo:
    location: str
    schema_version: int
    size_bytes: int  # database file plus its write-ahead log
    free_bytes: int  # pages inside the file that new data reuses


def to_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("naive datetime: use UTC-aware datetimes")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


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
                secs = to_us(datetime.fromisoformat(head + "+00:00")) // 1_000_000
                self._seconds[head] = secs
            return secs * 1_000_000 + int(frac)
        return to_us(parse_timestamp(stamp))


def _create_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists; SQLite gives its -wal and -shm files
    the database file's mode, so they are 0600 too."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away
    finally:
        os.close(fd)


def _can_write(path: Path) -> bool:
    """Whether this process may write the database and the files SQLite keeps beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _closed_folder(folder: Path) -> Path | None:
    """The first folder on the way to ``folder`` that exists but cannot be entered."""
    for d in (*reversed(folder.absolute().parents), folder.absolute()):
        if d.is_dir() and not os.access(d, os.X_OK):
            return d
    return None


def event_identity(doc: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str]:
    """``(doc, dataset, event.id)`` of an event about to be stored, in the nested ECS shape
    pukara builds or with flat dotted keys. An event without ``event.id`` gets one, so that a
    later copy of it is recognised; one without ``@timestamp`` or ``event.dataset`` is refused."""
    if not isinstance(doc.get("@timestamp"), str):
        raise StoreError("evento sin @timestamp")
    event = doc.get("event")
    if isinstance(event, Mapping):
        dataset, event_id = event.get("dataset"), event.get("id")
    else:
        dataset, event_id = get_field(doc, "event.dataset"), get_field(doc, "event.id")
    if not isinstance(dataset, str) or not dataset:
        raise StoreError("evento sin event.dataset")
    if event_id is not None and (not isinstance(event_id, str) or not event_id):
        raise StoreError(f"evento con event.id inválido: {event_id!r}")
    if event_id is None or not _usable_id(event_id):
        # none, or one the cluster refuses as _id (over 512 bytes, control characters): a
        # derived one, the same for every copy of the event, so a copy is still recognised
        event_id = new_event_id() if event_id is None else _derived_id(event_id)
        if isinstance(event, Mapping):
            doc = {**doc, "event": {**event, "id": event_id}}
        else:
            doc = {**doc, "event.id": event_id}
    return doc, dataset, event_id


MAX_ID_BYTES = 512  # the longest _id the engines take


def _usable_id(event_id: str) -> bool:
    return len(event_id.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES and all(
        c.isprintable() for c in event_id
    )


def _derived_id(event_id: str) -> str:
    import hashlib

    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256-{digest}"


class SQLiteStore:
    """Store backed by one SQLite file.

    ``actor`` signs every change-log entry this store writes; it defaults to the
    operating-system user (see :func:`pukara.config.default_analyst`).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        actor: str | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.actor = actor or default_analyst()
        self._memory = str(path) == ":memory:"
        # for a command that only reads: a file that exists is opened read-only when it cannot
        # be written; a missing one is an error (nothing is created)
        self.read_only = read_only and not self._memory
        self._writable = True
        self.missing = False  # read_only, and no file there: read as an empty database
        # fixed now: a later chdir must not point the readers at another file
        self._reader_uri = "" if self._memory else self.path.absolute().as_uri() + "?mode=rw"
        self._lock = threading.RLock()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._conn = self._connect()

    # -- opening -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        where = str(self.path)
        if not self._memory:
            exists = self._check_location()
            if self.read_only and not exists:
                # nothing stored yet: read as empty, and create nothing (no file, no folder)
                self.missing, self._memory, self._writable = True, True, False
                where = ":memory:"
            elif self.read_only and not _can_write(self.path):
                self._writable = False
                return self._connect_read_only()
            else:
                self._create_file()
        try:
            conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            sqlite_query.register(conn)  # an in-memory store reads on this connection
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.close()
                raise SchemaTooNewError(
                    f"{self.path}: la base de datos tiene el esquema {version}, más nuevo que "
                    f"el {SCHEMA_VERSION} de esta versión de pukara; actualice pukara"
                )
            if version == 0 and not conn.execute("SELECT 1 FROM sqlite_master").fetchone():
                # a new file: free pages can later go back to the file system (compact())
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            if not self._memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            self._migrate(conn, version)
        except sqlite3.Error as e:
            raise StoreError(self._explain(e)) from e
        return conn

    def _create_file(self) -> None:
        """The folders (0700) and the file (0600), unless they exist."""
        try:
            make_private_dirs(self.path.parent)
        except OSError as e:
            raise StoreError(f"{self.path}: no se puede crear la carpeta: {os_reason(e)}") from e
        try:
            _create_private_file(self.path)
        except OSError as e:
            raise StoreError(f"{self.path}: no se puede crear el archivo: {os_reason(e)}") from e

    def _check_location(self) -> bool:
        """Whether the file exists; a StoreError when it cannot be one, or cannot be reached."""
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return False
        except OSError as e:
            closed = _closed_folder(self.path.parent)
            if closed is not None:
                raise StoreError(
                    f"{self.path}: la carpeta {closed} existe pero no se puede entrar en ella: "
                    f"{os_reason(e)}"
                ) from e
            raise StoreError(f"{self.path}: no se puede usar: {os_reason(e)}") from e
        if stat.S_ISDIR(mode):
            raise StoreError(
                f"{self.path}: es una carpeta, no un archivo de base de datos (indique un "
                f"archivo, p. ej. {self.path / 'pukara.db'})"
            )
        if not stat.S_ISREG(mode):
            raise StoreError(
                f"{self.path}: no es un archivo regular; no puede ser la base de datos"
            )
        return True

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that never writes, for a file this process may not write.

        ``mode=ro`` first; a WAL file whose ``-shm`` cannot be created here (a folder this
        process may not write) is then opened ``immutable``: read as the main file holds it.
        """
        base = self.path.absolute().as_uri()
        last: sqlite3.Error | None = None
        for query in ("?mode=ro", "?immutable=1"):
            conn = sqlite3.connect(base + query, uri=True, isolation_level=None,
                                   check_same_thread=False)  # fmt: skip
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
                conn.execute("PRAGMA query_only = ON")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                conn.execute("SELECT 1 FROM sqlite_master").fetchone()
            except sqlite3.Error as e:
                conn.close()
                last = e
                continue
            if version != SCHEMA_VERSION:
                conn.close()
                if version > SCHEMA_VERSION:
                    raise SchemaTooNewError(
                        f"{self.path}: la base de datos tiene el esquema {version}, más nuevo que "
                        f"el {SCHEMA_VERSION} de esta versión de pukara; actualice pukara"
                    )
                raise StoreError(
                    f"{self.path}: la base de datos tiene el esquema {version}, anterior al "
                    f"{SCHEMA_VERSION}, y este usuario no puede escribirla para actualizarla; "
                    "ábrala una vez con permiso de escritura"
                )
            self._reader_uri = base + query
            return conn
        raise StoreError(
            self._explain(last) if last else f"{self.path}: no se puede leer"
        ) from last

    def _explain(self, e: sqlite3.Error) -> str:
        text = str(e)
        if "not a database" in text or "malformed" in text:
            return f"{self.path}: el archivo no es una base de datos SQLite válida o está dañado"
        if not self._writable:
            return f"{self.path}: no se puede leer la base de datos: {text}"
        if "readonly" in text or "unable to open" in text:
            if not self._memory and not _can_write(self.path):
                return (
                    f"{self.path}: no se puede abrir para escritura: permiso denegado (la "
                    "base de datos o su carpeta no admiten escritura para este usuario)"
                )
            return f"{self.path}: no se puede abrir para escritura (permisos o ruta)"
        if "locked" in text or "busy" in text:
            return (
                f"{self.path}: la base de datos está bloqueada por otro proceso (se esperó "
                f"{self.busy_timeout_ms / 1000:g} s); reintente cuando termine"
            )
        if "full" in text:
            return f"{self.path}: no queda espacio en el disco para la base de datos"
        if "closed" in text:
            return f"{self.path}: el almacén ya está cerrado"
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
                _rollback(conn)
                raise

    # -- connections -------------------------------------------------------------------
    def _open_reader(self) -> sqlite3.Connection:
        # mode=rw: a reader never creates a file that has gone missing
        conn = sqlite3.connect(
            self._reader_uri, uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            sqlite_query.register(conn)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A connection for one read; sqlite3 errors come out as :class:`StoreError`."""
        if self._memory:
            with self._lock:
                try:
                    yield self._conn
                except sqlite3.Error as e:
                    raise StoreError(self._explain(e)) from e
            return
        with self._readers_lock:
            if self._closed:
                raise StoreError(f"{self.path}: el almacén ya está cerrado")
            conn = self._readers.pop() if self._readers else None
        try:
            if conn is None:
                conn = self._open_reader()
            yield conn
        except sqlite3.Error as e:
            raise StoreError(self._explain(e)) from e
        finally:
            if conn is not None:
                with self._readers_lock:
                    keep = not self._closed and len(self._readers) < READERS_KEPT
                    if keep and not conn.in_transaction:
                        self._readers.append(conn)
                    else:
                        conn.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """Rows of one query, streamed from the cursor ``READ_CHUNK`` at a time."""
        if self._memory:  # no lock held while the caller iterates
            with self._reader() as conn:
                rows = conn.execute(sql, params).fetchall()
            yield from rows
            return
        with self._reader() as conn:
            cursor = conn.execute(sql, params)
            try:
                while chunk := cursor.fetchmany(READ_CHUNK):
                    yield from chunk
            finally:
                cursor.close()  # ends the statement, so the snapshot is released now

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._reader() as conn:
            return conn.execute(sql, params).fetchone()

    @property
    def schema_version(self) -> int:
        return int(self._one("PRAGMA user_version")[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if not self._writable:
            raise StoreError(f"{self.path}: la base de datos está abierta solo para lectura")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise StoreError(self._explain(e)) from e
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                _rollback(self._conn)
                raise StoreError(self._explain(e)) from e
            except BaseException:
                _rollback(self._conn)
                raise

    def close(self) -> None:
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ------------------------------------------------------------------------
    @staticmethod
    def _event_row(doc: Mapping[str, Any], stamps: _Timestamps) -> tuple[int, str, Any, str, str]:
        doc, dataset, event_id = event_identity(doc)
        stamp = doc["@timestamp"]
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
        return ts_us, dataset, host_name, text, event_id

    def write_events(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Store events; each batch is one transaction. Returns how many were new.

        An event whose ``event.id`` is already stored is skipped, so replaying a spool or a
        batch after a crash stores nothing twice. An event without ``event.id`` gets one.
        """
        total = 0
        batch: list[tuple[int, str, Any, str, str]] = []
        stamps = _Timestamps()

        def row(doc: Mapping[str, Any]) -> tuple[int, str, Any, str, str]:
            return self._event_row(doc, stamps)

        sql = (
            "INSERT INTO events (ts_us, dataset, host_name, doc, event_id) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (event_id) DO NOTHING"
        )
        for doc in events:
            batch.append(row(doc))
            if len(batch) >= BATCH:
                with self._write() as conn:
                    total += conn.executemany(sql, batch).rowcount
                batch.clear()
        if batch:
            with self._write() as conn:
                total += conn.executemany(sql, batch).rowcount
        return total

    def _load_doc(self, text: str) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise StoreError(f"{self.path}: un documento guardado no es JSON válido") from None
        return doc

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
        """Events in ``[since, until)`` whose dotted fields equal ``where``'s values.

        Every filter runs in SQL (indexed columns, else ``json_extract``); the result streams
        from a read connection of its own (see the module docstring), so a month of events is
        never in memory at once and other threads may write while the caller iterates. Errors,
        including those met while iterating, are :class:`StoreError`.
        """
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
            params.append(to_us(since))
        if until is not None:
            clauses.append("ts_us < ?")
            params.append(to_us(until))
        sql = "SELECT doc FROM events"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        # @timestamp, then event.id: the order of the cluster store too (not the order written)
        sql += (
            " ORDER BY ts_us DESC, event_id DESC" if newest_first else " ORDER BY ts_us, event_id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        for (doc,) in self._rows(sql, params):
            yield self._load_doc(doc)

    def query_events(self, q: EventQuery) -> Iterator[dict[str, Any]]:
        """The events ``q`` matches, in its order (``@timestamp``, then ``event.id``),
        streamed like :meth:`search_events`; semantics in :mod:`pukara.store.sqlite_query`."""
        sql, params = sqlite_query.select(q)
        for (doc,) in self._rows(sql, params):
            yield self._load_doc(doc)

    def top_values(self, field: str, q: EventQuery, size: int = 5) -> TopValues:
        """The ``size`` most frequent values of ``field`` over the events ``q`` matches
        (its limit, order and ``after`` ignored), with how many matched and how many lack it.

        The three counts come from one snapshot (one read transaction).
        """
        total_sql, missing_sql, top_sql = sqlite_query.top_values(field, q, max(int(size), 0))
        with self._reader() as conn:
            snapshot = not self._memory
            if snapshot:
                conn.execute("BEGIN")
            try:
                total = int(conn.execute(*total_sql).fetchone()[0])
                missing = int(conn.execute(*missing_sql).fetchone()[0])
                values = tuple((str(v), int(n)) for v, n, *_ in conn.execute(*top_sql))
            finally:
                if snapshot:
                    conn.execute("COMMIT")
        return TopValues(field, total, missing, values)

    @staticmethod
    def _event_filter(
        datasets: Sequence[str] | None, before: datetime | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if datasets is not None:
            clauses.append(f"dataset IN ({', '.join('?' * len(datasets))})")
            params.extend(datasets)
        if before is not None:
            clauses.append("ts_us < ?")
            params.append(to_us(before))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def count_events(
        self, *, datasets: Sequence[str] | None = None, before: datetime | None = None
    ) -> int:
        """How many events are stored (of ``datasets``, older than ``before``, if given)."""
        where, params = self._event_filter(datasets, before)
        sql = "SELECT count(*) FROM events"
        sql += where
        return int(self._one(sql, params)[0])

    def event_stats(self) -> list[DatasetStats]:
        """Per dataset: how many events, the oldest and the newest."""
        rows = self._rows(
            "SELECT dataset, count(*), min(ts_us), max(ts_us) FROM events"
            " GROUP BY dataset ORDER BY dataset"
        )
        return [
            DatasetStats(
                ds, n, None if lo is None else _from_us(lo), None if hi is None else _from_us(hi)
            )
            for ds, n, lo, hi in rows
        ]

    def purge_events(self, before: datetime, datasets: Sequence[str] | None = None) -> int:
        """Delete events older than ``before`` (of ``datasets``, or all); returns how many.

        Deletes ``PURGE_BATCH`` rows per transaction and lets go of the write lock between
        them, so a writer (``vigilar``) waits at most one batch.
        """
        cutoff = to_us(before)
        targets: list[str | None] = [None] if datasets is None else list(datasets)
        total = 0
        for ds in targets:
            if ds is None:
                sql = (
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts_us < ? LIMIT ?)"
                )
                params: tuple[Any, ...] = (cutoff, PURGE_BATCH)
            else:
                sql = (
                    "DELETE FROM events WHERE id IN"
                    " (SELECT id FROM events WHERE dataset = ? AND ts_us < ? LIMIT ?)"
                )
                params = (ds, cutoff, PURGE_BATCH)
            while True:
                with self._write() as conn:
                    deleted = conn.execute(sql, params).rowcount
                total += deleted
                if deleted < PURGE_BATCH:
                    break
        return total

    def compact(self) -> int:
        """Hand free pages back to the file system where the file allows it (databases made
        since schema 2 do), a few thousand per transaction, and refresh the planner's
        statistics. Returns the bytes given back. Without it, free pages are reused by new
        rows, so the file stops growing once retention purges as much as is written."""
        freed = 0
        try:
            with self._lock:
                mode = self._conn.execute("PRAGMA auto_vacuum").fetchone()[0]
                page = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
            while mode == 2:
                with self._lock:
                    free = int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])
                    if free == 0:
                        break
                    step = min(free, VACUUM_STEP)
                    self._conn.execute(f"PRAGMA incremental_vacuum({step})").fetchall()
                    after = int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])
                if after >= free:  # nothing moved (a reader holds old pages): stop here
                    break
                freed += (free - after) * page
            with self._lock:
                self._conn.execute("PRAGMA optimize")
        except sqlite3.Error as e:
            raise StoreError(self._explain(e)) from e
        return freed

    def info(self) -> StoreInfo:
        """Where the store is, its schema version and its size on disk."""
        pages, free, page = (
            int(self._one(f"PRAGMA {name}")[0])
            for name in ("page_count", "freelist_count", "page_size")
        )
        size = pages * page
        if not self._memory:
            size = 0
            for name in (self.path, Path(f"{self.path}-wal")):
                with contextlib.suppress(FileNotFoundError):
                    size += name.stat().st_size
        return StoreInfo(str(self.path), self.schema_version, size, free * page)

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
            conn, ts=stamp, collection=collection, key=k, action=action, before=before,
            after=doc, actor=self.actor,
        )  # fmt: skip
        return action

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
        """Bulk intake of *counted* entities (sightings): the fast path beside :meth:`upsert`.

        Each row is a whole document with its natural ``key`` fields, ``count`` (sightings it
        stands for, usually 1) and ``first``/``last`` (fixed-width UTC text, so text order is
        time order). Within a batch, rows of one key are merged in Python first; then:

        - a key not stored yet is inserted as given (its repeats in the batch merged in:
          ``count`` summed, ``first`` the earliest, ``last`` the latest, each ``greatest``
          field the greatest);
        - a stored key only changes these fields, in SQL, and only by the sightings outside
          its stored ``[first, last]`` window (widened as they come): every other field
          (status, links made since) stays;
        - a sighting inside the window is the same one again (a file or a detection window
          imported twice) and changes nothing.

        Each batch of ``batch_size`` rows is one transaction with one ``executemany`` of
        plain inserts (new keys) and one of upserts (stored keys).

        What the change log records for bulk intake: NOT one entry per row. Each batch writes
        ONE entry (collection ``collection``, key ``["*lote*", request_id, n]``, action
        ``insert``, no ``before``) whose ``after`` holds the figures (rows given, rows
        written, inserted, counted, unchanged), the first and last key written and
        ``sha256``: SHA-256 over the JSON text of each row written (the inserted document
        exactly as stored in ``entities.doc``, or the row handed to the upsert), each followed
        by a newline, in key order of first appearance. The entry is chained and signed like
        any other, so what a command took in is tamper-evident as a whole, and a row still
        as inserted can be tied to it; the rows are not replayable from the log. Later
        changes to these entities through :meth:`transaction` are logged one by one as
        usual. ``on_batch`` may return an event (a summary of the batch) stored in the same
        transaction.
        """
        if not key:
            raise ValueError("a natural key needs at least one field")
        fields = CountedFields(count, first, last, tuple(greatest))
        sql = counted_upsert_sql(count, first, last, greatest)
        batches: list[CountedBatch] = []
        it = iter(rows)
        while chunk := list(itertools.islice(it, batch_size)):
            with self._write() as conn:
                batch, event = self._counted_batch(
                    conn, collection, chunk, key, fields, sql, request_id, len(batches) + 1,
                    on_batch,
                )  # fmt: skip
                if event is not None:
                    self._insert_events(conn, [dict(event)])
            batches.append(batch)
        return CountedSummary(tuple(batches))

    def _counted_batch(
        self,
        conn: sqlite3.Connection,
        collection: str,
        chunk: Sequence[Mapping[str, Any]],
        key: Sequence[str],
        fields: CountedFields,
        sql: str,
        request_id: str | None,
        number: int,
        on_batch: Callable[[CountedBatch], Mapping[str, Any] | None] | None,
    ) -> tuple[CountedBatch, Mapping[str, Any] | None]:
        import hashlib

        stamp = format_timestamp(utc_now())
        merged = _CountedMerge(collection, key, fields)
        keys = merged.keys(chunk)
        merged.load(conn, keys)
        merged.add_all(chunk, keys)
        digest = hashlib.sha256()
        new: list[tuple[str, str, str, str]] = []
        params: list[tuple[Any, ...]] = []
        dumps, update, stored = orjson.dumps, digest.update, merged.stored
        try:
            if not stored:  # all new (the usual batch): the loop below without its test
                add = new.append
                for k, (row, _) in merged.rows.items():
                    data = dumps(row)
                    update(data)
                    update(b"\n")
                    add((collection, k, data.decode(), stamp))
            for k, (row, delta) in merged.rows.items() if stored else ():
                data = dumps(row)
                update(data)
                update(b"\n")
                if k in stored:
                    params.append((
                        collection, k, data.decode(), stamp, delta, row[fields.first],
                        row[fields.last], *(row.get(g) for g in fields.greatest),
                    ))  # fmt: skip
                else:
                    new.append((collection, k, data.decode(), stamp))
        except TypeError as e:
            raise StoreError(f"{collection}: valor no serializable a JSON: {e}") from e
        if new:  # keys that were not stored when the batch began: plain inserts
            conn.executemany(
                "INSERT INTO entities (collection, key, doc, updated_at) VALUES (?, ?, ?, ?)", new
            )
        if params:
            conn.executemany(sql, params)
        figures = {
            "batch": {
                "rows": len(chunk), "written": len(new) + len(params),
                "inserted": merged.inserted,
                "counted": merged.counted, "unchanged": merged.unchanged,
                "first_key": next(iter(merged.rows), None),
                "last_key": next(reversed(merged.rows), None), "sha256": digest.hexdigest(),
            }
        }  # fmt: skip
        seq = changelog.append(
            conn, ts=stamp, collection=collection,
            key=self._key([BATCH_KEY, request_id or stamp, number]), action="insert",
            before=None, after=figures, actor=self.actor, request_id=request_id,
        )  # fmt: skip
        batch = CountedBatch(
            collection, request_id, number, len(chunk), merged.inserted, merged.counted,
            merged.unchanged, digest.hexdigest(), seq,
        )  # fmt: skip
        return batch, (on_batch(batch) if on_batch is not None else None)

    def _delete_in(self, conn: sqlite3.Connection, collection: str, k: str, stamp: str) -> bool:
        old = conn.execute(
            "SELECT doc FROM entities WHERE collection = ? AND key = ?", (collection, k)
        ).fetchone()
        if old is None:
            return False
        conn.execute("DELETE FROM entities WHERE collection = ? AND key = ?", (collection, k))
        changelog.append(
            conn, ts=stamp, collection=collection, key=k,
            action="delete", before=orjson.loads(old[0]), after=None, actor=self.actor,
        )  # fmt: skip
        return True

    @contextmanager
    def transaction(
        self, request_id: str | None = None, *, actor: str | None = None
    ) -> Iterator[transaction.Transaction]:
        """A read-modify-write of entities (and its events) in one write transaction, its
        changes signed by ``actor`` (the store's by default); see
        :mod:`pukara.store.transaction`."""
        with self._write() as conn:
            tx = transaction.Transaction(
                conn, actor=actor or self.actor, request_id=request_id,
                stamp=format_timestamp(utc_now()),
            )  # fmt: skip
            yield tx
            self._insert_events(conn, tx.events)

    def _insert_events(self, conn: sqlite3.Connection, events: list[dict[str, Any]]) -> None:
        if events:
            stamps = _Timestamps()
            conn.executemany(
                "INSERT INTO events (ts_us, dataset, host_name, doc, event_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                [self._event_row(doc, stamps) for doc in events],
            )

    def scan(
        self,
        collection: str,
        prefix: Sequence[Any] = (),
        where: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entities whose key starts with ``prefix`` (see :meth:`Transaction.scan`), streamed."""
        with self._reader() as conn:
            rows = list(transaction.scan(conn, collection, prefix, where))
        yield from rows

    def get(self, collection: str, key: Sequence[Any]) -> dict[str, Any] | None:
        row = self._one(
            "SELECT doc FROM entities WHERE collection = ? AND key = ?",
            (collection, self._key(key)),
        )
        return None if row is None else self._load_doc(row[0])

    def entities(self, collection: str) -> Iterator[dict[str, Any]]:
        """The entities of ``collection`` by key, streamed like :meth:`search_events`."""
        rows = self._rows(
            "SELECT doc FROM entities WHERE collection = ? ORDER BY key", (collection,)
        )
        for (doc,) in rows:
            yield self._load_doc(doc)

    def delete(self, collection: str, key: Sequence[Any]) -> bool:
        with self._write() as conn:
            return self._delete_in(conn, collection, self._key(key), format_timestamp(utc_now()))

    # -- change log --------------------------------------------------------------------
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
    ) -> Iterator[changelog.Change]:
        """Change-log entries, oldest first, streamed; filters run in SQL.

        ``limit`` keeps the newest ``limit`` of those that match; ``since`` is inclusive and
        ``until`` exclusive; ``exclude``: collections left out.
        """
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("actor", actor), ("collection", collection)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if key is not None:
            clauses.append("key = ?")
            params.append(self._key([key] if isinstance(key, str) else key))
        if exclude:
            clauses.append(f"collection NOT IN ({', '.join('?' * len(exclude))})")
            params.extend(exclude)
        if since is not None:
            clauses.append("ts >= ?")
            params.append(format_timestamp(since))
        if until is not None:
            clauses.append("ts < ?")
            params.append(format_timestamp(until))
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        sql = f"SELECT {changelog.COLUMNS} FROM changes{where}"  # noqa: S608 - placeholders only
        if limit is None:
            sql += " ORDER BY seq"
        else:
            sql = f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?) ORDER BY seq"  # noqa: S608
            params.append(int(limit))
        for row in self._rows(sql, params):
            yield changelog.row_to_change(row)

    def verify_changes(self) -> changelog.ChainReport:
        """Walk the chain in one read transaction: one consistent snapshot, writes go on."""
        with self._reader() as conn:
            if self._memory:
                return changelog.verify(conn)
            conn.execute("BEGIN")
            try:
                return changelog.verify(conn)
            finally:
                conn.execute("COMMIT")

    # -- round summaries and rollups ---------------------------------------------------
    def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._reader() as conn:
            return fn(conn, *args)

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
            return rollups.build(conn, to_us(until))

    def purge_summaries(
        self, before_summaries: datetime, before_rollups: datetime
    ) -> dict[str, int]:
        """Delete round summaries and rollups older than each cut-off; rows deleted per table."""
        with self._write() as conn:
            return rollups.purge(conn, to_us(before_summaries), to_us(before_rollups))

    def availability(
        self, entity: str, since: datetime, until: datetime, excluded: Sequence[Interval]
    ) -> rollups.Availability:
        """Observed, down and excluded time in [since, until); ``excluded`` merged intervals."""
        spans = [(to_us(s), to_us(e)) for s, e in excluded]
        return self._read(rollups.availability, entity, to_us(since), to_us(until), spans)

    def down_runs(self, entity: str, since: datetime, until: datetime) -> list[rollups.Run]:
        return self._read(
            lambda c, *a: list(rollups.down_runs(c, *a)), entity, to_us(since), to_us(until)
        )

    def hourly(
        self, entity: str, since: datetime, until: datetime, *, size_s: int = 3600,
        excluded: Sequence[Interval] = (),
    ) -> list[rollups.Hour]:  # fmt: skip
        """Loss and latency per hour (or per ``size_s`` bucket) of [since, until)."""
        spans = [(to_us(s), to_us(e)) for s, e in excluded]
        return self._read(
            rollups.hours, entity, to_us(since), to_us(until), size_s * 1_000_000, spans
        )

    def last_state(self, entity: str, since: datetime, until: datetime) -> tuple[bool, int | None]:
        return self._read(rollups.last_state, entity, to_us(since), to_us(until))

    def mean_busy_rate(self, entity: str, since: datetime, until: datetime) -> float | None:
        return self._read(rollups.mean_busy_rate, entity, to_us(since), to_us(until))
