"""The syslog receiver: UDP and TCP listeners, a bounded inbox, processes that store.

Sockets are read on an asyncio loop (the main thread); each line goes into a bounded
:class:`Inbox` (by count and by bytes); writer threads take batches of up to :data:`BATCH`
lines (or what came in :data:`FLUSH_S`) and each hands its batch to its child process, which
parses it to ECS and stores it in one transaction (:data:`WORKERS` children; SQLite queues
their transactions). Parsing runs in processes of its own because in one process the reading
thread would wait for the interpreter lock after every ``recvfrom`` while the parser holds it,
and the kernel would drop what a burst brings. When the store is slower than the senders:

- what does not fit in the inbox goes to the disk queue (:mod:`registros.spool`, when there
  is one), and everything after it until the writers have drained it, so order is kept;
- UDP keeps reading; a datagram that fits in neither is counted as dropped for its sender;
  what the kernel drops before we read (socket buffer full) is read from ``/proc/net/udp``
  and reported apart;
- TCP stops reading from the connections until there is room again (back-pressure: the
  senders' own buffers and TCP windows fill, nothing is lost).

On stop (Ctrl-C, SIGTERM, :meth:`Receiver.stop`) the listeners close, the writers store what
is in the inbox (what is on disk stays there for the next start), and :meth:`Receiver.run`
returns the per-source report.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import ipaddress
import math
import os
import pickle
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pukara.errors import PukaraError, UsageError, os_reason
from registros import ecs
from registros.framing import Framer
from registros.spool import Item, Spool

DEFAULT_PORT = 514
BATCH = 1000
FLUSH_S = 0.2
INBOX_ITEMS = 100_000
INBOX_BYTES = 64 << 20
RECEIVE_BUFFER = 64 << 20  # asked for each UDP socket; capped by net.core.rmem_max unless root
UDP_READS = 4096  # datagrams read at most per wake-up of a UDP socket (then the others' turn)
TCP_READ = 64 << 10
WORKERS = max(1, min(4, os.cpu_count() or 1))  # processes that parse and store, each a batch
CHILD_NICE = 15  # below the reader: a late parse waits (memory, disk), a late read is lost


@dataclass(frozen=True)
class Endpoint:
    transport: str  # "udp" or "tcp"
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport.upper()} {host}:{self.port}"


def parse_endpoint(text: str, option: str) -> tuple[str, int]:
    """``HOST:PUERTO`` (``[v6]:PUERTO`` for IPv6; ``:PUERTO`` for all addresses) as an address
    literal and a port 0-65535 (0: a free port)."""
    raw = text.strip()
    if raw.startswith("["):
        host, sep, port = raw[1:].partition("]:")
    else:
        host, sep, port = raw.rpartition(":")
        if ":" in host:
            raise UsageError(f"{option} {text}: una dirección IPv6 va entre corchetes, "
                             "p. ej. [::1]:5514")  # fmt: skip
    if not sep:
        raise UsageError(f"{option} {text}: se esperaba HOST:PUERTO, p. ej. 0.0.0.0:514 o [::]:514")
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{option} {text}: el puerto debe ser un número de 0 a 65535")
    host = host or "::"
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise UsageError(f"{option} {text}: «{host}» no es una dirección IP de este equipo "
                         "(indique una dirección, p. ej. 0.0.0.0, :: o 127.0.0.1)") from None  # fmt: skip
    return address, int(port)


def default_endpoints() -> list[Endpoint]:
    """UDP and TCP on port 514 of every address: ``::`` (dual-stack), or 0.0.0.0 where this
    machine has no IPv6."""
    host = "::" if _ipv6_available() else "0.0.0.0"  # noqa: S104 (what the command asks)
    return [Endpoint("udp", host, DEFAULT_PORT), Endpoint("tcp", host, DEFAULT_PORT)]


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@dataclass
class SourceStats:
    """What one sending address did (``received`` counts lines read from the sockets)."""

    received: int = 0
    stored: int = 0
    failures: int = 0  # stored with the parse-failure tag
    dropped: int = 0  # UDP datagrams the inbox had no room for


@dataclass
class Report:
    sources: dict[str, SourceStats] = field(default_factory=dict)
    kernel_drops: int = 0  # UDP datagrams the system dropped before we read them
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False
    spool_bytes: int = 0  # received, on disk, not stored yet

    def total(self) -> SourceStats:
        t = SourceStats()
        for s in list(self.sources.values()):
            t.received += s.received
            t.stored += s.stored
            t.failures += s.failures
            t.dropped += s.dropped
        return t


class Inbox:
    """A FIFO bounded by count and bytes between the sockets and the writer (thread-safe);
    with a :class:`~registros.spool.Spool`, what does not fit goes to disk, and once it does,
    everything new does until the writers have drained it (order kept)."""

    def __init__(
        self, max_items: int = INBOX_ITEMS, max_bytes: int = INBOX_BYTES, spool: Spool | None = None
    ) -> None:
        self.max_items, self.max_bytes, self.spool = max_items, max_bytes, spool
        self._items: deque[Item] = deque()
        self._bytes = 0
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return len(self._items)

    def room(self, size: int) -> bool:
        return len(self._items) < self.max_items and self._bytes + size <= self.max_bytes

    def _spilling(self) -> bool:
        return self.spool is not None and self.spool.active

    def offer(self, item: Item) -> bool:
        with self._cond:
            if self.spool is not None and (self.spool.active or not self.room(len(item[0]))):
                if not self.spool.put([item]):
                    return False
                self._cond.notify()
                return True
            if not self.room(len(item[0])):
                return False
            self._items.append(item)
            self._bytes += len(item[0])
            if len(self._items) in (1, BATCH) or not self.room(1):
                self._cond.notify()
        return True

    def offer_many(self, items: list[Item]) -> int:
        """Queue the first of ``items`` that fit; how many did (the rest are dropped)."""
        with self._cond:
            if self.spool is not None and self.spool.active:
                taken = self.spool.put(items)
                self._cond.notify()
                return taken
            taken = min(len(items), self.max_items - len(self._items))
            size = sum(len(i[0]) for i in items[:taken])
            while taken and self._bytes + size > self.max_bytes:
                taken -= 1
                size -= len(items[taken][0])
            taken = max(taken, 0)
            if taken > 0:
                self._items.extend(items[:taken])
                self._bytes += size
            if self.spool is not None and taken < len(items):
                taken += self.spool.put(items[taken:])
            if taken > 0:
                self._cond.notify()
        return taken

    def take(self, most: int, wait_s: float) -> list[Item]:
        """Up to ``most`` items from memory: waits ``wait_s`` for the first, then until
        ``most`` are in or ``wait_s`` has passed since the first came."""
        with self._cond:
            if not self._items:
                self._cond.wait(wait_s)
            deadline = time.monotonic() + wait_s
            while (self._items and len(self._items) < most and self.room(1)  # not full yet
                   and not self._spilling()):  # fmt: skip
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    break
            out = [self._items.popleft() for _ in range(min(most, len(self._items)))]
            self._bytes -= sum(len(i[0]) for i in out)
        return out

    def take_batch(self, most: int, wait_s: float, *, spool: bool = True) -> tuple[list[Item], int]:
        """A batch from memory, else (``spool``) from the spool, and the token for
        :meth:`stored` (-1: nothing to tell)."""
        disk = self.spool if spool else None
        if self._items or disk is None or not disk.active:
            batch = self.take(most, wait_s)
            if batch or disk is None or not disk.active:
                return batch, -1
        return disk.take(most)

    def stored(self, token: int) -> None:
        if self.spool is not None:
            self.spool.stored(token)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


def _kernel_drops(sockets: list[socket.socket]) -> int:
    """UDP drops counted by the kernel for these sockets (``/proc/net/udp{,6}``, Linux)."""
    inodes = set()
    for s in sockets:
        try:
            inodes.add(str(os.fstat(s.fileno()).st_ino))
        except (OSError, ValueError):
            continue
    total = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name, encoding="ascii") as f:
                next(f, None)
                for line in f:
                    cols = line.split()
                    if len(cols) >= 13 and cols[9] in inodes:
                        total += int(cols[-1])
        except (OSError, ValueError):
            continue
    return total


def _bind_error(endpoint: Endpoint, e: OSError) -> PukaraError:
    hint = ""
    if e.errno in (errno.EACCES, errno.EPERM) and endpoint.port < 1024:
        hint = (f"; el puerto {endpoint.port} requiere root o CAP_NET_BIND_SERVICE (o use un "
                f"puerto alto, p. ej. --{endpoint.transport} 0.0.0.0:5514)")  # fmt: skip
    elif e.errno == errno.EADDRINUSE:
        hint = "; ¿otro receptor syslog (rsyslog, syslog-ng) ya escucha ahí?"
    return PukaraError(f"no se pudo escuchar en {endpoint}: {os_reason(e)}{hint}")


def _socket(endpoint: Endpoint) -> socket.socket:
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    kind = socket.SOCK_DGRAM if endpoint.transport == "udp" else socket.SOCK_STREAM
    try:
        s = socket.socket(family, kind)
    except OSError as e:
        raise _bind_error(endpoint, e) from None
    try:
        if family == socket.AF_INET6 and endpoint.host == "::":
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 senders too
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        else:
            _receive_buffer(s)
        s.bind((endpoint.host, endpoint.port))
        if kind == socket.SOCK_STREAM:
            s.listen(128)
        s.setblocking(False)
    except OSError as e:
        s.close()
        raise _bind_error(endpoint, e) from None
    return s


def _receive_buffer(s: socket.socket) -> None:
    force = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform == "linux" else None)  # not
    # in every build of the socket module; without it root gets net.core.rmem_max too
    if force is not None and os.geteuid() == 0:  # root may pass net.core.rmem_max
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, force, RECEIVE_BUFFER)
            return
    with contextlib.suppress(OSError):  # else the default buffer
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


Figures = Callable[[Report, float], None]


StoreFactory = Callable[[], Any]  # opens the store (in the child process)
ResolverFactory = Callable[[Any], ecs.Resolver]  # the store -> host.name resolution


class Receiver:
    """Listen on ``endpoints`` and store what comes in the store ``open_store`` opens (in a
    child process; see the module's doc)."""

    def __init__(
        self,
        open_store: StoreFactory,
        endpoints: list[Endpoint],
        *,
        resolver: ResolverFactory | None = None,
        inbox: Inbox | None = None,
        figures: Figures | None = None,
        figures_s: float = 10.0,
        on_ready: Callable[[list[Endpoint]], None] | None = None,
        workers: int | None = None,
    ) -> None:
        self.open_store, self.endpoints, self.resolver = open_store, endpoints, resolver
        self.workers = workers or WORKERS
        self._children: list[tuple[Any, Any]] = []  # (process, its end of the pipe)
        self._count_lock = threading.Lock()
        self.inbox = inbox if inbox is not None else Inbox()
        self._last_at = 0.0  # the last receive time handed out (they never repeat)
        self.report = Report()
        self._figures, self._figures_s, self._on_ready = figures, figures_s, on_ready
        self._sockets: list[socket.socket] = []
        self._udp: list[socket.socket] = []
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.bound: list[Endpoint] = []

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> Report:
        """Listen until :meth:`stop` or Ctrl-C/SIGTERM; store what is queued; the report."""
        self._start_children()
        try:
            self._open()
            writers = [threading.Thread(target=self._write_loop, args=(conn,), daemon=True,
                                        name=f"registros-writer-{i}")
                       for i, (_, conn) in enumerate(self._children)]  # fmt: skip
            for writer in writers:
                writer.start()
            try:
                asyncio.run(self._serve())
            except KeyboardInterrupt:
                self.report.interrupted = True
            finally:
                self._close_sockets()
                self._stopping.set()
                self.inbox.wake()
                for writer in writers:
                    _join(writer)
        finally:
            self._stop_children()
            if self.inbox.spool is not None:  # what is on disk stays for the next start
                self.inbox.spool.close()
                self.report.spool_bytes = self.inbox.spool.size()
        if self._error is not None:
            raise self._error
        return self.report

    def _start_children(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")  # the store factory is not pickled
        for i in range(self.workers):
            ours, theirs = ctx.Pipe()
            child = ctx.Process(target=_child_main, name=f"registros-almacen-{i}", daemon=True,
                                args=(theirs, self.open_store, self.resolver))  # fmt: skip
            child.start()
            theirs.close()
            self._children.append((child, ours))
        for _, conn in self._children:
            try:
                kind, value = conn.recv()
            except EOFError:
                kind, value = "error", None
            if kind != "ready":
                self._stop_children()
                raise PukaraError(value or "el proceso que guarda los registros no arrancó")

    def _stop_children(self) -> None:
        for _, conn in self._children:
            with contextlib.suppress(OSError, ValueError):
                conn.send_bytes(b"")
        for child, conn in self._children:
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join()
            conn.close()
        self._children.clear()

    def stop(self) -> None:
        """Ask a running receiver to stop (from any thread)."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    def _open(self) -> None:
        try:
            for endpoint in self.endpoints:
                s = _socket(endpoint)
                self._sockets.append(s)
                if endpoint.transport == "udp":
                    self._udp.append(s)
                port = s.getsockname()[1]
                self.bound.append(Endpoint(endpoint.transport, endpoint.host, port))
        except BaseException:
            self._close_sockets()
            raise

    def _close_sockets(self) -> None:
        if self._udp:
            self.report.kernel_drops = _kernel_drops(self._udp)
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()
        self._sockets.clear()

    # -- the loop ------------------------------------------------------------------------
    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop, self._stop_event = loop, asyncio.Event()
        servers = []
        for endpoint, s in zip(self.bound, self._sockets, strict=True):
            if endpoint.transport == "udp":
                loop.add_reader(s.fileno(), self._read_udp, s)
            else:
                servers.append(await asyncio.start_server(self._tcp, sock=s, limit=TCP_READ))
        if self._on_ready is not None:
            self._on_ready(self.bound)
        ticker = asyncio.create_task(self._tick(self._figures)) if self._figures else None
        try:
            await self._stop_event.wait()
        finally:
            if ticker is not None:
                ticker.cancel()
            for s in self._udp:
                with contextlib.suppress(OSError, ValueError):
                    loop.remove_reader(s.fileno())
            for server in servers:
                server.close()

    async def _tick(self, figures: Figures) -> None:
        while True:
            await asyncio.sleep(self._figures_s)
            self.report.kernel_drops = _kernel_drops(self._udp)
            if self.inbox.spool is not None:
                self.report.spool_bytes = self.inbox.spool.size()
            figures(self.report, time.monotonic() - self.report.started)

    def _stats(self, sender: str) -> SourceStats:
        stats = self.report.sources.get(sender)
        if stats is None:
            stats = self.report.sources[sender] = SourceStats()
        return stats

    def _clock(self, count: int) -> float:
        """The receive time of the first of ``count`` lines read now; the others take the next
        float values (a quarter of a microsecond apart). Receive times never repeat in a run, so
        a line's ``event.id`` (see :func:`received_id`) is its own."""
        now = max(time.time(), math.nextafter(self._last_at, math.inf))
        last = now
        for _ in range(count - 1):
            last = math.nextafter(last, math.inf)
        self._last_at = last
        return now

    def _read_udp(self, s: socket.socket) -> None:
        """Read what the socket has (at most :data:`UDP_READS`) into the inbox in one go; the
        lines read in one wake-up share their receive time."""
        lines: list[tuple[bytes, Any]] = []
        recvfrom = s.recvfrom
        for _ in range(UDP_READS):
            try:
                lines.append(recvfrom(65536))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # an ICMP error queued on the socket: nothing to read
        if not lines:
            return
        now = self._clock(len(lines))
        senders: dict[str, str] = {}
        items = []
        for data, addr in lines:
            host = addr[0]
            sender = senders.get(host)
            if sender is None:
                sender = senders[host] = ecs.address(host) or host
            items.append((data, sender, addr[1], now))
            now = math.nextafter(now, math.inf)
        taken = self.inbox.offer_many(items)
        if len(senders) == 1:  # the usual case: one sender per wake-up
            stats = self._stats(items[0][1])
            stats.received += len(items)
            stats.dropped += len(items) - taken
            return
        for i, (_, sender, _, _) in enumerate(items):
            stats = self._stats(sender)
            stats.received += 1
            stats.dropped += i >= taken

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        sender = ecs.address(peer[0]) or str(peer[0])
        stats = self._stats(sender)
        framer = Framer()
        try:
            while True:
                data = await reader.read(TCP_READ)
                frames = framer.feed(data) if data else framer.close()
                for frame in frames:
                    stats.received += 1
                    item = (frame, sender, peer[1], self._clock(1))
                    while not self.inbox.offer(item):  # back-pressure: read nothing meanwhile
                        await asyncio.sleep(0.005)
                if not data:
                    return
        except (ConnectionError, OSError):
            for frame in framer.close():
                stats.received += 1
                self.inbox.offer((frame, sender, peer[1], self._clock(1)))
        finally:
            writer.close()

    # -- the writer ----------------------------------------------------------------------
    def _write_loop(self, conn: Any) -> None:
        try:
            while True:
                batch, token = self.inbox.take_batch(BATCH, FLUSH_S,
                                                     spool=not self._stopping.is_set())  # fmt: skip
                if batch:
                    self._store(conn, batch)
                    self.inbox.stored(token)
                elif self._stopping.is_set() and not len(self.inbox):
                    return
        except BaseException as e:  # the store failed: the receiver stops and says why
            self._error = e
            self.stop()

    def _store(self, conn: Any, batch: list[Item]) -> None:
        """Hand ``batch`` to this thread's child and count what it stored (waiting for it is
        cheap: this thread sleeps in the pipe, the socket loop keeps reading)."""
        try:
            conn.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
            kind, value = conn.recv()
        except (EOFError, OSError):
            raise PukaraError("el proceso que guarda los registros terminó sin avisar; lo "
                              "recibido y no guardado se perdió") from None  # fmt: skip
        if kind == "error":
            raise PukaraError(value)
        failed = set(value)
        with self._count_lock:  # the other writer threads count too
            for i, (_, sender, _, _) in enumerate(batch):
                stats = self._stats(sender)
                stats.stored += 1
                if i in failed:
                    stats.failures += 1


def _why(e: BaseException) -> str:
    if isinstance(e, PukaraError):
        return e.message
    if isinstance(e, OSError):
        return f"almacén: {os_reason(e)}"
    return f"almacén: {type(e).__name__}: {e}"


def _child_main(conn: Any, open_store: StoreFactory, resolver: ResolverFactory | None) -> None:
    """The child process: open the store, then parse and store each batch the pipe brings
    (an empty message: the end). Ctrl-C and SIGTERM are the parent's to handle."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICE)  # the reader first
    try:
        store = open_store()
        resolve = resolver(store) if resolver is not None else None
    except BaseException as e:  # said to the parent, which reports it
        conn.send(("error", _why(e)))
        return
    conn.send(("ready", None))
    try:
        while data := conn.recv_bytes():
            batch: list[Item] = pickle.loads(data)  # noqa: S301 (our own parent)
            failed = _store_batch(batch, store, resolve)
            conn.send(("ok", failed))
    except EOFError:
        pass  # the parent is gone
    except BaseException as e:
        with contextlib.suppress(OSError):
            conn.send(("error", _why(e)))
    finally:
        store.close()


def _store_batch(batch: list[Item], store: Any, resolve: ecs.Resolver | None) -> list[int]:
    """Parse ``batch`` to ECS and store it; the indexes of the lines that could not be read."""
    times: dict[float, datetime] = {}  # the lines of one read share their receive time
    seen: dict[tuple[bytes, str, int, float], int] = {}
    events = []
    for item in batch:
        raw, sender, port, at = item
        received = times.get(at)
        if received is None:
            received = times[at] = datetime.fromtimestamp(at, UTC)
        repeat = seen[item] = seen.get(item, -1) + 1  # the same line twice in one read
        events.append(ecs.event(raw, received=received, sender=(sender, port), resolve=resolve,
                                event_id=received_id(item, repeat)))  # fmt: skip
    store.write_events(events)
    return [i for i, d in enumerate(events) if ecs.PARSE_FAILURE in d.get("tags", ())]


def received_id(item: Item, repeat: int = 0) -> str:
    """The ``event.id`` of a received line: a UUID (version 8) whose first 48 bits are the
    receive time in milliseconds (ids sort by arrival, as UUIDv7s do) and the rest a hash of
    the line, its sender and its exact receive time. A batch the disk queue hands back again
    after a crash (stored, but its position not yet saved) then stores nothing twice."""
    raw, sender, port, at = item
    digest = hashlib.sha256(f"{sender}\0{port}\0{at!r}\0{repeat}\0".encode() + raw).digest()
    rand = int.from_bytes(digest[:10], "big")
    value = (int(at * 1000) & (2**48 - 1)) << 80 | 0x8 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def _join(writer: threading.Thread) -> None:
    """Wait for the writer to store the inbox; a second Ctrl-C meanwhile does not cut it."""
    while writer.is_alive():
        try:
            writer.join(0.5)
        except KeyboardInterrupt:
            continue


# -- what a person reads (Spanish, es_PE figures) ------------------------------------------
def figures_line(
    report: Report, elapsed_s: float, *, previous: dict[str, float], top: int = 5
) -> str:
    """The periodic line: totals and the busiest senders' rates since the last line.

    ``previous`` (sender → lines received at the last line) is updated in place.
    """
    from pukara.formats import number

    t = report.total()
    rates = []
    gap = max(elapsed_s - previous.get("", 0), 1e-3)
    for sender, s in list(report.sources.items()):
        rates.append((s.received - previous.get(sender, 0), sender))
        previous[sender] = s.received
    previous[""] = elapsed_s
    rates.sort(reverse=True)
    busiest = ", ".join(f"{sender} {number(n / gap)}/s" for n, sender in rates[:top] if n)
    more = f" (+{number(len(rates) - top)} más)" if len(rates) > top else ""
    dropped = t.dropped + report.kernel_drops
    line = (f"recibidos {number(t.received)}, guardados {number(t.stored)}, fallos de "
            f"lectura {number(t.failures)}, descartados {number(dropped)}")  # fmt: skip
    if report.spool_bytes:
        line += f", en la cola en disco {mib(report.spool_bytes)}"
    return line + (f"; por origen: {busiest}{more}" if busiest else "")


def mib(size: int) -> str:
    from pukara.formats import number

    return f"{number(size / (1 << 20), 1)} MiB"


def summary_lines(report: Report) -> list[str]:
    """The final summary: one line per sender, then the totals."""
    from pukara.formats import number

    lines = []
    for sender, s in sorted(report.sources.items()):
        lines.append(f"{sender}: recibidos {number(s.received)}, guardados {number(s.stored)}, "
                     f"fallos de lectura {number(s.failures)}, descartados {number(s.dropped)}")  # fmt: skip
    t = report.total()
    lines.append(f"Total: recibidos {number(t.received)}, guardados {number(t.stored)}, fallos "
                 f"de lectura {number(t.failures)}, descartados {number(t.dropped)}")  # fmt: skip
    if report.kernel_drops:
        lines.append(f"El sistema descartó {number(report.kernel_drops)} datagramas UDP antes de "
                     "leerlos (búfer del socket lleno; suba net.core.rmem_max)")  # fmt: skip
    if report.spool_bytes:
        lines.append(f"Quedan {mib(report.spool_bytes)} recibidos y no guardados en la cola en "
                     "disco; se guardan primero al volver a iniciar «registros recibir»")  # fmt: skip
    return lines
