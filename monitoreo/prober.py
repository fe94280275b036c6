"""Asynchronous ICMP echo and TCP connect prober with fping's scheduler.

One thread, non-blocking sockets and one selector. Two knobs, as in fping: ``interval`` is the
minimum gap between any two sends, ``period`` the gap between two probes to the same target.
A probe to a target is due one period after the previous one; sends go out in due order,
never closer than the interval. Replies are matched on (identifier, sequence, source address);
RTTs use the kernel's receive timestamp, so time spent in this loop does not inflate them. A
probe is counted only once it is answered or timed out; a reply after the timeout is discarded.

A TCP probe answered by a reset (RST: the host is there, the port is closed) is refused, not
lost. An error of the system (no route, a forbidden or odd address) is the target's, explained
in Spanish with the system's own text after it; the other targets go on.
"""

from __future__ import annotations

import errno
import heapq
import ipaddress
import os
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from monitoreo.icmp import EchoSocket, echo_request, kernel_time_ns, open_echo_socket, parse_reply
from pukara.errors import os_reason_hinted

_NS = 1_000_000
_FAR = 1 << 62


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to probe: the label the user knows and the address it resolved to."""

    label: str
    address: str
    port: int | None = None  # a TCP connect probe when set, else ICMP echo
    site: str | None = None

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.address else socket.AF_INET

    @property
    def method(self) -> str:
        return "tcp" if self.port else "icmp"


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    count: int = 3
    interval_ms: float = 10.0
    period_ms: float = 1000.0
    timeout_ms: float = 1000.0


@dataclass(slots=True)
class Samples:
    """A target's probes in order: RTT in ms, or None when lost."""

    target: Target
    rtts_ms: list[float | None]
    error: str | None = None  # why probes could not even be sent, if so
    started_ns: int = 0
    refused: set[int] = field(default_factory=set)  # TCP probes answered by a reset (RST)
    unsent: set[int] = field(default_factory=set)  # probes the system refused to send: not loss


@dataclass(slots=True)
class _Pending:
    target: int
    index: int
    sent_ns: int
    deadline_ns: int
    sock: socket.socket | None = None  # TCP only


@dataclass(slots=True)
class _Engine:
    targets: Sequence[Target]
    options: ProbeOptions
    should_stop: Callable[[], bool] | None = None
    results: list[Samples] = field(default_factory=list)
    sockets: dict[int, EchoSocket] = field(default_factory=dict)
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    pending: dict[tuple[int, int], _Pending] = field(default_factory=dict)  # (family, seq)
    tcp: dict[int, tuple[int, int]] = field(default_factory=dict)  # fd -> pending key
    deadlines: list[tuple[int, tuple[int, int]]] = field(default_factory=list)
    seq: int = 0
    payload: bytes = b""

    def __post_init__(self) -> None:
        self.results = [Samples(t, [None] * self.options.count) for t in self.targets]
        self.payload = os.urandom(8) + bytes(range(48))
        families = {t.family for t in self.targets if t.port is None}
        for family in sorted(families):
            es = open_echo_socket(family)
            self.sockets[family] = es
            self.selector.register(es.sock, selectors.EVENT_READ, es)

    def close(self) -> None:
        for p in self.pending.values():
            if p.sock is not None:
                p.sock.close()
        for es in self.sockets.values():
            es.close()
        self.selector.close()

    # sending -------------------------------------------------------------------------------
    def _next_seq(self, family: int) -> int:
        for _ in range(65536):
            self.seq = (self.seq + 1) & 0xFFFF
            if (family, self.seq) not in self.pending:
                return self.seq
        raise RuntimeError("más de 65536 sondeos en vuelo")

    def send(self, ti: int, k: int) -> int:
        target = self.targets[ti]
        timeout = int(self.options.timeout_ms * _NS)
        if target.port is not None:
            return self._send_tcp(ti, k, target, timeout)
        es = self.sockets[target.family]
        seq = self._next_seq(target.family)
        packet = echo_request(target.family, es.ident, seq, self.payload)
        now = time.time_ns()
        try:
            es.sock.sendto(packet, (target.address, 0))
        except OSError as e:  # no route, a forbidden address: not sent, the run goes on
            self.results[ti].error = error_text(e)
            self.results[ti].unsent.add(k)
            return now
        key = (target.family, seq)
        self.pending[key] = _Pending(ti, k, now, now + timeout)
        heapq.heappush(self.deadlines, (now + timeout, key))
        if k == 0:
            self.results[ti].started_ns = now
        return now

    def _send_tcp(self, ti: int, k: int, target: Target, timeout: int) -> int:
        now = time.time_ns()
        try:
            sock = socket.socket(target.family, socket.SOCK_STREAM)
        except OSError as e:  # out of descriptors, say: not sent, the run goes on
            self.results[ti].error = error_text(e)
            self.results[ti].unsent.add(k)
            return now
        sock.setblocking(False)
        try:
            code = sock.connect_ex((target.address, target.port or 0))
        except OSError as e:  # an address the system cannot even try (a bad scope, say)
            code, self.results[ti].error = -1, error_text(e)
        if code not in (0, errno.EINPROGRESS):
            if code == errno.ECONNREFUSED:
                self._refused(ti, k, target)
            else:  # the system would not even send the SYN
                if code > 0:
                    self.results[ti].error = error_text(OSError(code, os.strerror(code)))
                self.results[ti].unsent.add(k)
            sock.close()
            return now
        key = (-1, sock.fileno())
        self.pending[key] = _Pending(ti, k, now, now + timeout, sock)
        self.tcp[sock.fileno()] = key
        self.selector.register(sock, selectors.EVENT_WRITE, None)
        heapq.heappush(self.deadlines, (now + timeout, key))
        if k == 0:
            self.results[ti].started_ns = now
        return now

    # receiving -----------------------------------------------------------------------------
    def _answer(self, key: tuple[int, int], at_ns: int) -> None:
        p = self.pending.pop(key)
        if p.sock is not None:
            self.selector.unregister(p.sock)
            del self.tcp[p.sock.fileno()]
            p.sock.close()
        if at_ns <= p.deadline_ns:
            self.results[p.target].rtts_ms[p.index] = (at_ns - p.sent_ns) / _NS

    def _drain(self, es: EchoSocket) -> None:
        while True:
            try:
                data, anc, _, addr = es.sock.recvmsg(4096, 64)
            except (BlockingIOError, InterruptedError):
                return
            at = kernel_time_ns(anc) or time.time_ns()
            parsed = parse_reply(es.family, es.raw, data)
            if parsed is None or parsed[0] != es.ident:
                continue
            key = (es.family, parsed[1])
            p = self.pending.get(key)
            if p is None or not _same_address(addr[0], self.targets[p.target].address):
                continue  # late, duplicate or someone else's reply
            self._answer(key, at)

    def _tcp_ready(self, sock: socket.socket) -> None:
        key = self.tcp[sock.fileno()]
        at = time.time_ns()
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0:
            self._answer(key, at)
            return
        p = self.pending[key]
        if code == errno.ECONNREFUSED:
            self._refused(p.target, p.index, self.targets[p.target])
        else:
            self.results[p.target].error = error_text(OSError(code, os.strerror(code)))
        self._answer(key, _FAR)  # refused (counted apart) or unreachable (lost)

    def _refused(self, ti: int, k: int, target: Target) -> None:
        self.results[ti].refused.add(k)
        self.results[ti].error = f"conexión rechazada: el puerto {target.port} está cerrado (RST)"

    def poll(self, wait_s: float) -> None:
        for k, _ in self.selector.select(wait_s):
            if isinstance(k.data, EchoSocket):
                self._drain(k.data)
            else:
                self._tcp_ready(k.fileobj)  # type: ignore[arg-type]

    def expire(self, now: int) -> None:
        while self.deadlines and self.deadlines[0][0] < now:
            _, key = heapq.heappop(self.deadlines)
            p = self.pending.get(key)
            if p is not None and p.deadline_ns < now:
                self._answer(key, _FAR)

    # the loop ------------------------------------------------------------------------------
    def run(self) -> list[Samples]:
        interval = int(self.options.interval_ms * _NS)
        period = int(self.options.period_ms * _NS)
        start = time.time_ns()
        queue = [(start, ti, ti, 0) for ti in range(len(self.targets))]
        order = len(queue)
        last_send = start - interval
        while queue or self.pending:
            if self.should_stop and self.should_stop():
                raise KeyboardInterrupt
            now = time.time_ns()
            if queue:
                due = max(queue[0][0], last_send + interval)
                if due <= now:
                    _, _, ti, k = heapq.heappop(queue)
                    last_send = self.send(ti, k)
                    if k + 1 < self.options.count:
                        order += 1
                        heapq.heappush(queue, (last_send + period, order, ti, k + 1))
                    self.poll(0)
                    continue
            else:
                due = _FAR
            deadline = self.deadlines[0][0] + 1 if self.deadlines else _FAR
            wait = (min(due, deadline) - now) / 1e9
            if wait > 0.002:
                self.poll(wait - 0.001)  # epoll counts in ms: wake early, then sleep precisely
            elif wait > 0:
                time.sleep(wait)
                self.poll(0)
            else:
                self.poll(0)
            self.expire(time.time_ns())
        return self.results


# What a probe knows better than the general table (pukara.errors) about some errnos.
_PROBE_HINTS = {
    errno.EINVAL: "el sistema no acepta esta dirección como destino (¿dirección de enlace "
    "local sin zona, de red, de multidifusión o de otra familia?)",
    errno.EPERM: "el sistema no permitió el envío (¿una regla del cortafuegos local?)",
    errno.EACCES: "el sistema no permite enviar a esa dirección (¿una dirección de difusión "
    "o una regla del cortafuegos local?)",
    errno.ENETUNREACH: "no hay ruta hacia la red de destino desde este equipo",
    errno.EHOSTUNREACH: "el destino no es alcanzable (nadie responde en su red o un equipo "
    "del camino lo rechazó)",
    errno.EADDRNOTAVAIL: "este equipo no tiene una dirección de origen para ese destino",
}
_EXPLAINED_GAI = {
    socket.EAI_NONAME: "la dirección no se pudo interpretar (¿una zona %interfaz que no existe?)",
    socket.EAI_FAMILY: "este equipo no admite la familia de esa dirección",
}


def error_text(e: OSError) -> str:
    """A system error of one target in Spanish, with the system's own text after it."""
    if isinstance(e, socket.gaierror):
        why = _EXPLAINED_GAI.get(e.errno or 0, "la dirección no se pudo interpretar")
        return f"{why} ({e.strerror or e})"
    return os_reason_hinted(e, _PROBE_HINTS, "error del sistema al sondear")


def _same_address(got: str, wanted: str) -> bool:
    if got == wanted:
        return True
    try:
        return ipaddress.ip_address(got.split("%")[0]) == ipaddress.ip_address(wanted)
    except ValueError:
        return False


def probe(
    targets: Sequence[Target],
    options: ProbeOptions,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> list[Samples]:
    """Probe every target ``options.count`` times; results in the order of ``targets``."""
    if not targets:
        return []
    engine = _Engine(targets, options, should_stop)
    try:
        return engine.run()
    finally:
        engine.close()
