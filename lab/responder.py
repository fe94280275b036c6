"""User-space ICMP/ICMPv6 echo responder that emulates WAN delay, for kernels without netem.

One process serves every site: it enters each site's namespace just long enough to open a raw
ICMP and a raw ICMPv6 socket there (sockets stay bound to the namespace they were made in),
and the kernel's own echo replies are off in those namespaces. A request is answered at its
kernel receive time (SO_TIMESTAMPNS) plus the site's delay and a uniform jitter, so time spent
queued in this process does not add to the emulated delay.

Run as ``python -m lab.responder PLAN.json PIDFILE``; SIGTERM stops it.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab import netns
from monitoreo.icmp import (
    ECHO6_REPLY,
    ECHO6_REQUEST,
    ECHO_REPLY,
    ECHO_REQUEST,
    ICMP6_FILTER,
    SO_TIMESTAMPNS,
    checksum,
    icmp6_filter,
    kernel_time_ns,
)

IP_PKTINFO = 8  # linux/in.h; not exported by Python 3.11


@dataclass(frozen=True, slots=True)
class Plan:
    netns: str
    delay_s: float
    jitter_s: float


def echo_reply_v4(packet: bytes) -> bytes | None:
    """The ICMP echo reply for an IPv4 packet holding an echo request, else None."""
    if len(packet) < 28:
        return None
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl:]
    if len(icmp) < 8 or icmp[0] != ECHO_REQUEST or icmp[1] != 0:
        return None
    body = bytes([ECHO_REPLY, 0, 0, 0]) + icmp[4:]
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def echo_reply_v6(message: bytes) -> bytes | None:
    """The ICMPv6 echo reply for an echo request; the kernel fills in the checksum."""
    if len(message) < 8 or message[0] != ECHO6_REQUEST or message[1] != 0:
        return None
    return bytes([ECHO6_REPLY, 0, 0, 0]) + message[4:]


def open_sockets(plan: Plan) -> list[socket.socket]:
    with netns.inside(plan.netns):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s6.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, icmp6_filter(ECHO6_REQUEST))
    # the request's destination becomes the reply's source (a LAN address behind a tunnel
    # would otherwise answer from the tunnel's address)
    s4.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    for s in (s4, s6):
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.setblocking(False)
    return [s4, s6]


def _reply_source(
    family: int, ancdata: list[tuple[int, int, bytes]]
) -> list[tuple[int, int, bytes]]:
    """Ancillary data that makes the reply leave from the request's destination address."""
    for level, kind, data in ancdata:
        if family == socket.AF_INET and (level, kind) == (socket.IPPROTO_IP, IP_PKTINFO):
            dst = data[8:12]  # struct in_pktinfo: ifindex, spec_dst, addr
            return [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("i4s4s", 0, dst, b"\0" * 4))]
        if family == socket.AF_INET6 and (level, kind) == (
            socket.IPPROTO_IPV6,
            socket.IPV6_PKTINFO,
        ):
            return [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, data[:16] + struct.pack("i", 0))]
    return []


def _arrival(ancdata: list[tuple[int, int, bytes]]) -> float:
    """Kernel receive time in seconds, or now when the kernel gave none."""
    ns = kernel_time_ns(ancdata)
    return time.time() if ns is None else ns / 1e9


class _Scheduler:
    """Replies waiting for their due time, earliest first."""

    def __init__(self) -> None:
        self.queue: list[
            tuple[
                float, int, socket.socket, bytes, tuple[object, ...], list[tuple[int, int, bytes]]
            ]
        ] = []
        self.counter = 0
        self.rng = random.Random()  # noqa: S311 - jitter emulation, not security

    def receive(self, sock: socket.socket, plan: Plan) -> None:
        """Drain one socket, scheduling a reply to every echo request in it."""
        make = echo_reply_v4 if sock.family == socket.AF_INET else echo_reply_v6
        while True:
            try:
                data, anc, _, addr = sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                return
            reply = make(data)
            if reply is None:
                continue
            jitter = self.rng.uniform(-plan.jitter_s, plan.jitter_s) if plan.jitter_s else 0.0
            due = _arrival(anc) + max(0.0, plan.delay_s + jitter)
            self.counter += 1
            target = (addr[0], 0) if sock.family == socket.AF_INET else addr
            source = _reply_source(sock.family, anc)
            heapq.heappush(self.queue, (due, self.counter, sock, reply, target, source))

    def send_due(self) -> float | None:
        """Send what is due; return seconds until the next reply, or None when idle."""
        now = time.time()
        while self.queue and self.queue[0][0] <= now:
            _, _, sock, data, addr, source = heapq.heappop(self.queue)
            with contextlib.suppress(OSError):  # the site went down or is being removed
                sock.sendmsg([data], source, 0, addr)
        return None if not self.queue else max(0.0, self.queue[0][0] - time.time())


def serve(plans: list[Plan], ready: Path | None = None) -> None:
    sel = selectors.DefaultSelector()
    for plan in plans:
        for s in open_sockets(plan):
            sel.register(s, selectors.EVENT_READ, plan)
    if ready:
        ready.write_text(str(os.getpid()))
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler = _Scheduler()
    while running:
        wait = scheduler.send_due()
        close = wait is not None and wait < 0.002
        # under load a reply is always due soon: still read what arrived before sleeping
        events = sel.select(0 if close else (None if wait is None else wait - 0.001))
        for key, _ in events:
            scheduler.receive(key.fileobj, key.data)  # type: ignore[arg-type]
        if close and not events and wait:
            time.sleep(wait)  # nanosleep precision for the last stretch; epoll counts in ms


def _realtime() -> None:
    """Emulated delay must not stretch when the machine is busy: run at real-time priority."""
    with contextlib.suppress(OSError, AttributeError):  # not allowed: best effort
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))


def main(argv: list[str]) -> int:
    plan_file, pidfile = Path(argv[0]), Path(argv[1])
    _realtime()
    raw = json.loads(plan_file.read_text())
    plans = [Plan(p["netns"], p["delay_ms"] / 1000, p["jitter_ms"] / 1000) for p in raw]
    try:
        serve(plans, ready=pidfile)
    finally:
        pidfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
