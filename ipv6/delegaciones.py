"""The ip6.arpa zones an address plan delegates: one per allocation, ULA and site block.

Reverse DNS for IPv6 (RFC 3596 §2.5) has one label per nibble, so a zone can only start on a
nibble boundary. A block on one (/32, /48, /56) is one zone; a block between two (/47) is
covered by the 2, 4 or 8 zones of the next boundary down, and each is listed. ULA zones are
for the ministry's own resolvers only (RFC 6303 keeps d.f.ip6.arpa out of the public tree).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from ipv6.plan import Entry

DELEGATED_KINDS = ("allocation", "ula", "site")
_ULA = ipaddress.IPv6Network("fc00::/7")


def zone_name(network: ipaddress.IPv6Network) -> str:
    """The ip6.arpa zone of a prefix on a nibble boundary (``2800:4f0::/32`` ->
    ``0.f.4.0.0.0.8.2.ip6.arpa``)."""
    if network.prefixlen % 4:
        raise ValueError(f"{network} no está en límite de nibble")
    nibbles = network.network_address.exploded.replace(":", "")[: network.prefixlen // 4]
    return ".".join(reversed(nibbles)) + ".ip6.arpa" if nibbles else "ip6.arpa"


def zones_of(network: ipaddress.IPv6Network) -> list[ipaddress.IPv6Network]:
    """The nibble-boundary prefixes that exactly cover ``network``."""
    extra = -network.prefixlen % 4
    if not extra:
        return [network]
    return list(network.subnets(prefixlen_diff=extra))


def unreadable(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The P01 findings (rows with no usable prefix or kind) as records, by line: the zones
    are not listed while any row of the plan cannot be read."""
    from ipv6.plan import Finding

    bad = [e for e in entries if e.problem is not None or e.network is None]
    return [Finding(e.line, "P01", "error", e.problem or "fila ilegible", e.prefix,
                    e.name).record() for e in bad]  # fmt: skip


def delegations(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """One record per zone: zone, the zone's prefix, the plan's block it comes from, its kind,
    site, name and line, and whether the zone is public (not ULA). Ordered by address."""
    out: list[dict[str, Any]] = []
    chosen = [e for e in entries if e.kind in DELEGATED_KINDS]
    for e in sorted(chosen, key=lambda x: (x.start, x.length, x.line)):
        if e.network is None:
            continue
        for part in zones_of(e.network):
            out.append({
                "zone": zone_name(part), "prefix": str(part), "block": str(e.network),
                "kind": e.kind, "site": e.site, "name": e.name, "line": e.line,
                "public": e.kind != "ula" and not e.network.subnet_of(_ULA),
            })  # fmt: skip
    return out
