"""ICMP and ICMPv6 echo: packets, sockets and kernel receive timestamps.

Raw sockets when the process may open them (root or CAP_NET_RAW); otherwise the kernel's
unprivileged ICMP datagram sockets ("ping sockets", allowed by ``net.ipv4.ping_group_range``),
where the kernel sets the identifier to the socket's local port and checks the checksum.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

from pukara.errors import PukaraError

SO_TIMESTAMPNS = 35  # asm-generic; SCM_TIMESTAMPNS has the same value
ICMP6_FILTER = 1
ECHO_REQUEST, ECHO_REPLY = 8, 0
ECHO6_REQUEST, ECHO6_REPLY = 128, 129
PAYLOAD = 56  # bytes of data after the 8-byte header, as ping and fping send


class ProbePermissionError(PukaraError):
    """Neither raw nor unprivileged ICMP sockets may be opened."""


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    kind = ECHO_REQUEST if family == socket.AF_INET else ECHO6_REQUEST
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == socket.AF_INET6:
        return header + payload  # the kernel computes the ICMPv6 checksum
    return header[:2] + struct.pack("!H", checksum(header + payload)) + header[4:] + payload


def parse_reply(family: int, raw: bool, data: bytes) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply, or None for anything else."""
    if family == socket.AF_INET and raw:
        if len(data) < 20:
            return None
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return None
    reply = ECHO_REPLY if family == socket.AF_INET else ECHO6_REPLY
    if data[0] != reply or data[1] != 0:
        return None
    ident, seq = struct.unpack_from("!HH", data, 4)
    return ident, seq


def kernel_time_ns(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return int(sec * 1_000_000_000 + nsec)
    return None


@dataclass(slots=True)
class EchoSocket:
    """One non-blocking echo socket of one family, raw or datagram."""

    sock: socket.socket
    family: int
    raw: bool
    ident: int

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def icmp6_filter(allowed: int) -> bytes:
    """An ICMP6_FILTER value that lets only ICMPv6 type ``allowed`` through."""
    words = [0xFFFFFFFF] * 8  # a set bit blocks that type
    words[allowed >> 5] &= ~(1 << (allowed & 31))
    return struct.pack("8I", *words)


def open_echo_socket(family: int) -> EchoSocket:
    """A raw socket when allowed, else an unprivileged datagram one; a clear error if neither."""
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
        raw = True
        ident = (os.getpid() ^ int.from_bytes(os.urandom(2), "big")) & 0xFFFF
    except PermissionError:
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        except PermissionError:
            name = "ICMP" if family == socket.AF_INET else "ICMPv6"
            raise ProbePermissionError(
                f"no se pueden abrir sockets {name}: ejecute como root, dé CAP_NET_RAW al "
                "intérprete (setcap cap_net_raw+ep) o incluya su grupo en "
                "net.ipv4.ping_group_range (sysctl)"
            ) from None
        raw = False
        sock.bind(("0.0.0.0", 0) if family == socket.AF_INET else ("::", 0))  # noqa: S104 - a ping socket, no listener
        ident = sock.getsockname()[1]
    if raw and family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, icmp6_filter(ECHO6_REPLY))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sock.setblocking(False)
    return EchoSocket(sock, family, raw, ident)
