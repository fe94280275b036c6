"""Events reach the store from a thread of their own, through a local spool file first.

The probing loop never waits for the store: it hands each round's events to
:class:`SpoolingWriter` and goes on. The writer's thread appends them to a JSON-lines spool
(fsynced), then replays the spool into the store over its own connection and empties it. While
the store fails (locked, unreachable, closed) the spool grows and is retried with a backoff;
while the spool itself cannot be written (read-only, full disk) events are held in memory, up
to a bound, and written straight to the store when it answers. Nothing is dropped without
being counted and reported.

A crash can leave a truncated last line: on start the spool is checked line by line and what
does not parse, or what the store would refuse (a bad ``@timestamp`` or ``event.id``), is moved
to ``<spool>.cuarentena`` (appended, fsynced) and reported. An event handed over that the store
would refuse, or that cannot be serialised, goes there on arrival, alone. A crash between a
replay's commit and the spool's truncation leaves a committed prefix of the spool: before
replaying, the writer finds that prefix by ``event.id`` and does not write it again, so a replay
never duplicates an event, whether or not the store itself ignores duplicates; the prefix is
still handed to ``on_stored`` (the summaries, upserts, may not have followed). A replay is cut
into chunks only where ``@timestamp`` changes, so a round reaches ``on_stored`` whole.

An ``fcntl.flock`` on ``<spool>.lock`` (which holds the owner's PID) keeps a second process
from sharing the spool.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import queue
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from monitoreo.summaries import SummaryHealth
from pukara.errors import PukaraError, os_reason
from pukara.events import parse_timestamp
from pukara.files import fsync_directory, make_private_dirs
from pukara.store import Store

REPLAY_CHUNK = 10_000  # spool lines replayed (and handed on) per write
MAX_HELD = 200_000  # events kept in memory while the spool cannot be written
MAX_RETRY_S = 30.0


class SpoolBusy(PukaraError):
    """Another process holds the spool's lock."""

    def __init__(self, lock_path: Path, pid: int | None) -> None:
        self.lock_path, self.pid = lock_path, pid
        who = f"el proceso {pid}" if pid else "otro proceso"
        super().__init__(f"{lock_path}: {who} ya usa esta cola de eventos")


class SpoolLock:
    """An exclusive ``flock`` on a lock file that names its holder's PID."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            make_private_dirs(path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise PukaraError(
                f"{path}: no se puede crear el cerrojo de la cola: {os_reason(e)}"
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise PukaraError(f"{path}: no se puede tomar el cerrojo: {os_reason(e)}") from e
            raise SpoolBusy(path, int(holder) if holder.isdecimal() else None) from None
        with contextlib.suppress(OSError):  # the PID is a courtesy; the flock is the lock
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


@dataclass(frozen=True, slots=True)
class WriterHealth:
    """What the writer has not handed over yet, and what went wrong."""

    spooled: int  # events waiting in the spool file
    held: int  # events in memory that the spool could not take
    queued: int  # events handed over, not yet looked at by the writer's thread
    dropped: int  # events given up for good (memory bound reached), since start
    quarantined: int  # spool lines moved to quarantine, since start
    written: int  # events written to the store, since start
    last_error: str | None
    alive: bool
    states_pending: int = 0  # entity collections (states) not yet upserted
    reports: tuple[str, ...] = ()  # problems found since the previous drain
    summaries: SummaryHealth | None = None  # the round summaries' writer, when there is one

    @property
    def ok(self) -> bool:
        """No error pending: what is spooled is on its way (``alive`` is reported apart)."""
        return (
            self.last_error is None
            and not self.held
            and (self.summaries is None or self.summaries.ok)
        )

    @property
    def in_memory(self) -> int:
        return self.held + self.queued


def _refusal(doc: Any) -> str | None:
    """Why the store would refuse this event (its own checks), or None."""
    event = doc.get("event") if isinstance(doc, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("dataset"), str):
        return "evento sin event.dataset"
    stamp = doc.get("@timestamp")
    if not isinstance(stamp, str):
        return "evento sin @timestamp"
    try:
        parse_timestamp(stamp)
    except ValueError:
        return f"evento con @timestamp inválido: {stamp!r}"
    event_id = event.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not event_id):
        return f"evento con event.id inválido: {event_id!r}"
    return None


def _valid(line: bytes) -> bool:
    if not line.endswith(b"\n"):
        return False  # cut short by a crash or a full disk
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return _refusal(doc) is None


def _rounds(docs: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """``docs`` in chunks of about ``size``, cut only where ``@timestamp`` changes, so that
    a round (its events share the timestamp) is never split between two chunks."""
    chunk: list[dict[str, Any]] = []
    for doc in docs:
        if len(chunk) >= size and doc.get("@timestamp") != chunk[-1].get("@timestamp"):
            yield chunk
            chunk = []
        chunk.append(doc)
    if chunk:
        yield chunk


def _stored(store: Store, doc: Mapping[str, Any]) -> bool:
    """Whether this event (by ``event.id``) is already in the store."""
    event_id = doc["event"].get("id")
    if not isinstance(event_id, str):
        return False
    try:
        at = parse_timestamp(doc["@timestamp"])
    except ValueError:
        return False
    hits = store.search_events(
        dataset=doc["event"]["dataset"], since=at, until=at + timedelta(microseconds=1),
        where={"event.id": event_id}, limit=1,
    )  # fmt: skip
    return bool(list(hits))


class SpoolingWriter:
    def __init__(
        self,
        open_store: Callable[[], Store],
        path: Path,
        *,
        retry_s: float = 1.0,
        max_retry_s: float = MAX_RETRY_S,
        max_held: int = MAX_HELD,
        on_stored: Callable[[Sequence[Mapping[str, Any]]], None] | None = None,
        replay_chunk: int = REPLAY_CHUNK,
    ) -> None:
        self.path = path
        # called in order with every batch the store holds: the ones written and, on a
        # replay, the spool's head already in the store (a crash may have come between)
        self.on_stored = on_stored
        self.replay_chunk = replay_chunk
        self.quarantine_path = path.with_name(path.name + ".cuarentena")
        self.retry_s, self.max_retry_s, self.max_held = retry_s, max_retry_s, max_held
        self._open_store = open_store
        self._store: Store | None = None
        self._lock = SpoolLock(path.with_name(path.name + ".lock"))
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        self._queued = 0
        self._mutex = threading.Lock()
        self._spool_failing = False
        self._held: list[dict[str, Any]] = []
        self._state: dict[str, tuple[tuple[str, ...], list[dict[str, Any]]]] = {}
        self._spooled = 0
        self._suspect = True  # the file is not known good yet: scan it before use
        self._check_prefix = True  # the spool's head may already be in the store
        self._delay = retry_s
        self._next_try = 0.0
        self.dropped = self.quarantined = self.written = 0
        self.last_error: str | None = None
        self._reports: deque[str] = deque(maxlen=100)
        self._thread = self._start_thread()

    # -- the probing side --------------------------------------------------------------
    def put(self, events: Sequence[Mapping[str, Any]]) -> None:
        if events:
            batch = [dict(e) for e in events]
            self._count_queued(len(batch))
            self._queue.put(batch)

    def put_state(
        self, collection: str, docs: Sequence[Mapping[str, Any]], *, key: Sequence[str]
    ) -> None:
        """Entities to upsert once the events before them are in; only the newest is kept."""
        with self._mutex:
            self._state[collection] = (tuple(key), [dict(d) for d in docs])
        self._queue.put([])  # wake the thread

    def pending(self) -> int:
        """Events not yet in the store: in the spool, held in memory or queued."""
        return self._spooled + len(self._held) + self._queued

    def health(self, *, drain: bool = False) -> WriterHealth:
        """A snapshot; with ``drain``, the problems found since the last drain are taken."""
        reports: list[str] = []
        while drain and self._reports:
            reports.append(self._reports.popleft())
        return WriterHealth(
            self._spooled, len(self._held), self._queued, self.dropped, self.quarantined,
            self.written, self.last_error, self._thread.is_alive(), len(self._state),
            tuple(reports),
        )  # fmt: skip

    def restart(self) -> None:
        """Start the thread again if it died (it should not: it catches everything)."""
        if not self._thread.is_alive():
            self._thread = self._start_thread()

    def close(self, timeout_s: float = 30.0) -> WriterHealth:
        """Hand what is queued to the store (or the spool), stop, and say what is left."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self._lock.release()
        return self.health(drain=True)

    # -- the writer's thread -----------------------------------------------------------
    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="pukara-cola", daemon=True)
        thread.start()
        return thread

    def _problem(self, text: str) -> None:
        if text != self.last_error:
            self._reports.append(text)
        self.last_error = text

    def _count_queued(self, n: int) -> None:
        with self._mutex:
            self._queued += n

    def _run(self) -> None:
        stop = False
        while not stop:
            backlog = self._spooled or self._held or self._state
            try:
                first = self._queue.get(timeout=self._delay if backlog else None)
                batches = [first]
            except queue.Empty:
                batches = []
            while True:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(b is None for b in batches)
            try:
                for b in batches:
                    if b:
                        self._count_queued(-len(b))
                        self._held.extend(self._admit(b))
                self._cycle(final=stop)
            except Exception as e:  # the writer must outlive any error
                self._suspect = True
                self._problem(f"error inesperado del escritor de eventos ({type(e).__name__}: {e})")
                self._bound_held()
        self._drop_store()

    def _cycle(self, *, final: bool) -> None:
        if self._suspect:
            try:
                self._scan()
            except OSError as e:
                self._problem(f"{self.path}: no se puede leer la cola local: {os_reason(e)}")
        if self._held and not self._suspect:
            self._spool_held()
        elif self._suspect:
            self._bound_held()  # they wait for the spool to be read, within the bound
        if final or time.monotonic() >= self._next_try:
            self._deliver()

    def _admit(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events the store will take; the others go to quarantine, one line each."""
        bad: list[bytes] = []
        good: list[dict[str, Any]] = []
        for doc in batch:
            why = _refusal(doc)
            if why is None:
                try:
                    orjson.dumps(doc)
                except TypeError as e:
                    why = f"evento no serializable a JSON: {e}"
            if why is None:
                good.append(doc)
                continue
            self.quarantined += 1
            self._problem(f"evento rechazado y movido a {self.quarantine_path}: {why}")
            try:
                line = orjson.dumps(doc, default=repr, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:  # nested too deep, an integer out of range: its text, then
                line = orjson.dumps({"evento_no_serializable": repr(doc)})
            bad.append(line + b"\n")
        if bad:
            try:
                self._append_quarantine(bad)
            except OSError as e:
                self._problem(f"{self.quarantine_path}: no se puede escribir: {os_reason(e)}")
        return good

    def _spool_held(self) -> None:
        try:
            self._append(self._held)
            self._spool_failing = False
        except OSError as e:
            self._spool_failing = True
            self._problem(
                f"{self.path}: no se puede escribir la cola local ({os_reason(e)}); "
                f"{len(self._held)} eventos esperan en memoria"
            )
            self._bound_held()
            return
        self._spooled += len(self._held)
        self._held = []

    def _bound_held(self) -> None:
        extra = len(self._held) - self.max_held
        if extra > 0:
            del self._held[:extra]
            self.dropped += extra
            self._problem(
                f"se descartaron los {extra} eventos más antiguos: ni el almacén ni la cola "
                f"local los aceptan y la memoria admite {self.max_held} ({self.dropped} en total)"
            )

    def _store_now(self) -> Store:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def _drop_store(self) -> None:
        if self._store is not None:
            with contextlib.suppress(Exception):
                self._store.close()
            self._store = None

    def _deliver(self) -> None:
        """Spool first (older), then what is held in memory, then the newest states."""
        try:
            store = self._store_now()
            if self._spooled:
                skip, seen = self._committed(store), 0
                for chunk in _rounds(self._docs(), self.replay_chunk):
                    new = chunk[max(skip - seen, 0) :]  # the head already stored is not written
                    seen += len(chunk)
                    if new:
                        self.written += store.write_events(new)
                    self._stored(chunk)  # summaries are upserts: the stored head too
                self._truncate()
            if self._held and not self._spooled and not self._suspect:
                # never before a spool not yet read: its older events go first
                self.written += store.write_events(self._held)
                self._stored(self._held)
                self._held = []
            with self._mutex:
                states = list(self._state.items())
            for collection, (key, docs) in states:
                store.upsert(collection, docs, key=key)
                with self._mutex:
                    if self._state.get(collection, (key, None))[1] is docs:
                        del self._state[collection]
        except Exception as e:  # store errors, a closed store, anything
            text = e.message if isinstance(e, PukaraError) else f"{type(e).__name__}: {e}"
            self._problem(f"el almacén no recibe eventos: {text}")
            self._check_prefix = True  # a replay may have committed part of the spool
            self._drop_store()  # reopened on the next try
            self._bound_held()
            self._next_try = time.monotonic() + self._delay
            self._delay = min(self._delay * 2, self.max_retry_s)
            return
        if not (self._spooled or self._held or self._suspect or self._spool_failing):
            self.last_error = None
        self._delay, self._next_try = self.retry_s, 0.0

    def _stored(self, docs: Sequence[Mapping[str, Any]]) -> None:
        if self.on_stored is not None:
            try:
                self.on_stored(docs)
            except Exception as e:  # the events are in; a failing consumer is reported
                self._problem(f"tras guardar los eventos: {type(e).__name__}: {e}")

    # -- the spool file ----------------------------------------------------------------
    def _append(self, docs: Sequence[Mapping[str, Any]]) -> None:
        data = b"".join(orjson.dumps(d) + b"\n" for d in docs)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                try:
                    os.ftruncate(fd, size)  # no half line left behind
                except OSError:
                    self._suspect = True
                raise
        finally:
            os.close(fd)
        if size == 0:
            with contextlib.suppress(OSError):  # the lines are on disk; the name, most likely
                fsync_directory(self.path.parent)

    def _truncate(self) -> None:
        """Empty the spool once replayed; if it cannot be, its lines are skipped next time."""
        self._spooled = 0
        try:
            os.truncate(self.path, 0)
        except FileNotFoundError:
            pass
        except OSError as e:
            self._suspect = True  # recount it; its replayed head is found by event.id
            self._problem(f"{self.path}: no se puede vaciar la cola local: {os_reason(e)}")
            return
        self._check_prefix = False

    def _lines(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as fh:
                yield from fh
        except FileNotFoundError:
            return

    def _docs(self) -> Iterator[dict[str, Any]]:
        for line in self._lines():
            yield orjson.loads(line)

    def _committed(self, store: Store) -> int:
        """How many of the spool's first lines are already in the store (a prefix)."""
        if not self._check_prefix:
            return 0
        offsets: list[int] = []
        position = 0
        for line in self._lines():
            offsets.append(position)
            position += len(line)
        with self.path.open("rb") as fh:

            def stored(i: int) -> bool:
                fh.seek(offsets[i])
                return _stored(store, orjson.loads(fh.readline()))

            if not offsets or not stored(0):
                return 0
            low, high = 1, len(offsets)  # stored(low - 1) holds; find the first not stored
            while low < high:
                mid = (low + high) // 2
                if stored(mid):
                    low = mid + 1
                else:
                    high = mid
        self._reports.append(
            f"{low} eventos de la cola local ya estaban en el almacén; no se repiten"
        )
        return low

    def _scan(self) -> None:
        """Count the spool's lines; move the ones that do not parse to quarantine."""
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            self._spooled, self._suspect = 0, False
            return
        if not stat.S_ISREG(mode):  # nothing to replay in it; it cannot take events either
            self._spooled, self._suspect = 0, False
            raise OSError(errno.EINVAL, "no es un archivo regular")
        good = bad = 0
        for line in self._lines():
            if _valid(line):
                good += 1
            else:
                bad += 1
        if bad:
            self._quarantine()
            self.quarantined += bad
            self._problem(
                f"{self.path}: {bad} líneas dañadas de la cola local movidas a "
                f"{self.quarantine_path}; las {good} restantes se guardan"
            )
        self._spooled, self._suspect = good, False

    def _append_quarantine(self, lines: Sequence[bytes]) -> None:
        fd = os.open(self.quarantine_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(lines))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _quarantine(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        keep_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        bad_fd = os.open(self.quarantine_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(keep_fd, "wb") as keep, os.fdopen(bad_fd, "ab") as bad:
            for line in self._lines():
                if _valid(line):
                    keep.write(line)
                else:
                    bad.write(line if line.endswith(b"\n") else line + b"\n")
            bad.flush()
            os.fsync(bad.fileno())
            keep.flush()
            os.fsync(keep.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            fsync_directory(self.path.parent)
