"""Traceroute and path-MTU probes with scapy (IPv4 and IPv6), to one resolved address.

Traceroute sends ICMP echo requests with rising TTL / hop limit and reads who answers: a
time-exceeded from each router, then the destination's echo reply. The path-MTU probe sends
echo requests of decreasing size with Don't Fragment set (IPv6 never fragments in transit)
and reports the largest one answered, and any "fragmentation needed" / "packet too big".
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any

from pukara.errors import PukaraError, os_reason

IP_MTU, IPV6_MTU = 14, 24  # linux/in.h, linux/in6.h
MTU_SIZES = (9000, 1500, 1492, 1480, 1460, 1400, 1380, 1280, 1024, 576)


@dataclass(frozen=True, slots=True)
class Hop:
    ttl: int
    address: str | None
    rtt_ms: float | None
    reached: bool


def _scapy() -> Any:
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    try:
        from scapy import all as scapy  # heavy: imported only when a path is traced
    except ImportError as e:  # pragma: no cover - scapy is a dependency
        raise PukaraError(f"scapy no está disponible: {e}") from None
    return scapy


def _echo(scapy: Any, address: str, data: bytes = b"", **ip: Any) -> Any:
    if ipaddress.ip_address(address).version == 6:
        hop = ip.pop("ttl", 64)
        return scapy.IPv6(dst=address, hlim=hop) / scapy.ICMPv6EchoRequest(id=0x7075, data=data)
    return scapy.IP(dst=address, **ip) / scapy.ICMP(id=0x7075) / data


def trace(address: str, *, max_hops: int = 30, timeout_s: float = 2.0) -> list[Hop]:
    scapy = _scapy()
    v6 = ipaddress.ip_address(address).version == 6
    probes = [_echo(scapy, address, ttl=t) for t in range(1, max_hops + 1)]
    try:
        answered, _ = scapy.sr(probes, timeout=timeout_s, verbose=0)
    except PermissionError:
        raise PukaraError(
            "la traza necesita sockets crudos: ejecute como root o con CAP_NET_RAW"
        ) from None
    by_ttl: dict[int, Hop] = {}
    for sent, got in answered:
        ttl = sent.hlim if v6 else sent.ttl
        reached = (
            got.haslayer(scapy.ICMPv6EchoReply)
            if v6
            else got.haslayer(scapy.ICMP) and got[scapy.ICMP].type == 0
        )
        by_ttl[ttl] = Hop(ttl, got.src, round((got.time - sent.sent_time) * 1000, 3), bool(reached))
    hops: list[Hop] = []
    for ttl in range(1, max_hops + 1):
        hop = by_ttl.get(ttl, Hop(ttl, None, None, False))
        hops.append(hop)
        if hop.reached:
            break
    return hops


def local_mtu(address: str) -> int:
    """The MTU the kernel knows towards ``address`` (the egress link's, or a learnt PMTU)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((address, 9))
        if family == socket.AF_INET6:
            return int(s.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU))
        return int(s.getsockopt(socket.IPPROTO_IP, IP_MTU))


def path_mtu(address: str, *, timeout_s: float = 2.0) -> dict[str, Any]:
    """Largest echo answered with DF set, starting at the egress link's MTU."""
    scapy = _scapy()
    v6 = ipaddress.ip_address(address).version == 6
    header = 48 if v6 else 28
    first = local_mtu(address)
    report: dict[str, Any] = {"address": address, "mtu": None, "told": None, "local_mtu": first}
    for size in sorted({first, *(m for m in MTU_SIZES if m < first)}, reverse=True):
        data = b"\0" * (size - header)
        packet = _echo(scapy, address, data) if v6 else _echo(scapy, address, data, flags="DF")
        try:
            got = scapy.sr1(packet, timeout=timeout_s, verbose=0)
        except PermissionError:
            raise PukaraError(
                "la prueba de MTU necesita sockets crudos: ejecute como root"
            ) from None
        except OSError as e:  # the local interface refuses it: smaller next
            report.setdefault("local_errors", []).append(f"{size}: {os_reason(e)}")
            continue
        if got is None:
            continue
        if v6 and got.haslayer(scapy.ICMPv6PacketTooBig):
            report["told"] = int(got[scapy.ICMPv6PacketTooBig].mtu)
            continue
        if (
            not v6
            and got.haslayer(scapy.ICMP)
            and got[scapy.ICMP].type == 3
            and got[scapy.ICMP].code == 4
        ):
            report["told"] = int(got[scapy.ICMP].nexthopmtu)
            continue
        report["mtu"] = size
        break
    return report
