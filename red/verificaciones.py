"""Offline checks across the latest configurations (no device is contacted).

- ``peering``: every neighbour of the headquarters router (the one whose ``router bgp`` is the
  plan's central AS) must be an address of some device, whose own ``router bgp`` AS is the
  neighbour's ``remote-as``; that device must have a neighbour on the same link with
  ``remote-as`` the central AS. Both sides are reported at their own line.
- ``undefined-reference``: a route-map that matches an undefined prefix-list, a neighbour
  that uses an undefined route-map.
- ``duplicate-address``: the same interface address on two devices (or twice on one).

Each finding names the device, the line (1-based, with its text) and what disagrees.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from red.intencion import load_plan

KINDS = ("peering", "undefined-reference", "duplicate-address")

_ADDRESS = re.compile(r"^ip(?:v6)? address (\S+)")
_BGP = re.compile(r"^router bgp (\d+)")
_NEIGHBOR_AS = re.compile(r"^neighbor (\S+) remote-as (\S+)")
_NEIGHBOR_RM = re.compile(r"^neighbor (\S+) route-map (\S+) (in|out)\b")
_MATCH_PL = re.compile(r"^match ip(?:v6)? address prefix-list (\S+)")
_PREFIX_LIST = re.compile(r"^ip(?:v6)? prefix-list (\S+)")
_ROUTE_MAP = re.compile(r"^route-map (\S+)")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    device: str
    line: int  # 1-based line of ``text`` in the device's configuration (0: not at one line)
    text: str
    message: str
    peer: str = ""  # the other device involved, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "device": self.device,
            "line": self.line,
            "text": self.text,
            "message": self.message,
            "peer": self.peer,
        }


@dataclass
class _Neighbor:
    address: str
    remote_as: str = ""
    line: int = 0
    text: str = ""


@dataclass
class _Config:
    name: str
    asn: int | None = None
    bgp_line: int = 0
    bgp_text: str = ""
    addresses: list[tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, int, str]] = field(
        default_factory=list
    )
    neighbors: dict[str, _Neighbor] = field(default_factory=dict)
    prefix_lists: set[str] = field(default_factory=set)
    route_maps: set[str] = field(default_factory=set)
    pl_refs: list[tuple[str, int, str]] = field(default_factory=list)
    rm_refs: list[tuple[str, int, str]] = field(default_factory=list)


def device_name(key: str) -> str:
    """``emb-ar/gw-emb-ar.cfg`` -> ``gw-emb-ar`` (a plain name stays as it is)."""
    base = key.rsplit("/", 1)[-1]
    return base.removesuffix(".cfg")


def _top(cfg: _Config, number: int, line: str) -> None:
    if m := _BGP.match(line):
        cfg.asn, cfg.bgp_line, cfg.bgp_text = int(m.group(1)), number, line
    elif m := _PREFIX_LIST.match(line):
        cfg.prefix_lists.add(m.group(1))
    elif m := _ROUTE_MAP.match(line):
        cfg.route_maps.add(m.group(1))


def _nested(cfg: _Config, section: str, number: int, line: str) -> None:
    if section.startswith("interface ") and (m := _ADDRESS.match(line)):
        try:
            cfg.addresses.append((ipaddress.ip_interface(m.group(1)), number, line))
        except ValueError:
            return
    elif section.startswith("router bgp "):
        if m := _NEIGHBOR_AS.match(line):
            cfg.neighbors[m.group(1)] = _Neighbor(m.group(1), m.group(2), number, line)
        elif m := _NEIGHBOR_RM.match(line):
            cfg.rm_refs.append((m.group(2), number, line))
    elif section.startswith("route-map ") and (m := _MATCH_PL.match(line)):
        cfg.pl_refs.append((m.group(1), number, line))


def _scan(name: str, text: str) -> _Config:
    cfg = _Config(name)
    section = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if raw[0].isspace():
            _nested(cfg, section, number, line)
        else:
            section = line
            _top(cfg, number, line)
    return cfg


def _references(cfg: _Config) -> list[Finding]:
    found = [
        Finding(
            "undefined-reference", cfg.name, n, t, f"la lista de prefijos «{pl}» no está definida"
        )
        for pl, n, t in cfg.pl_refs
        if pl not in cfg.prefix_lists
    ]
    found += [
        Finding("undefined-reference", cfg.name, n, t, f"el route-map «{rm}» no está definido")
        for rm, n, t in cfg.rm_refs
        if rm not in cfg.route_maps
    ]
    return found


def _duplicates(configs: list[_Config]) -> list[Finding]:
    holders: dict[Any, list[tuple[_Config, int, str]]] = {}
    for cfg in configs:
        for iface, n, t in cfg.addresses:
            holders.setdefault(iface.ip, []).append((cfg, n, t))
    found = []
    for address, where in holders.items():
        if len(where) < 2:
            continue
        for cfg, n, t in where:
            others = sorted({c.name for c, m, _ in where if (c.name, m) != (cfg.name, n)})
            found.append(
                Finding(
                    "duplicate-address",
                    cfg.name,
                    n,
                    t,
                    f"la dirección {address} también está en {', '.join(others)}",
                    peer=others[0],
                )
            )
    return found


def _owners(configs: list[_Config], address: str) -> list[tuple[_Config, Any]]:
    """The devices that have ``address`` on a link. Several: duplicate-address reports it
    and peering cannot tell which one headquarters means."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return []
    holders = [(c, i) for c in configs for i, _n, _t in c.addresses if i.ip == ip]
    if len(holders) > 1:  # a loopback (/32, /128) copy does not count against a link
        holders = [(c, i) for c, i in holders if i.network.prefixlen < i.max_prefixlen]
    return holders


def _peering(configs: list[_Config], hq_asn: int) -> list[Finding]:
    found: list[Finding] = []
    for hq in (c for c in configs if c.asn == hq_asn):
        for nb in hq.neighbors.values():
            owners = _owners([c for c in configs if c is not hq], nb.address)
            if len(owners) > 1:
                continue
            if not owners:
                found.append(
                    Finding(
                        "peering",
                        hq.name,
                        nb.line,
                        nb.text,
                        f"ningún equipo respaldado tiene la dirección {nb.address} del vecino",
                    )
                )
                continue
            site, iface = owners[0]
            if str(site.asn) != nb.remote_as:
                found.append(
                    Finding(
                        "peering",
                        hq.name,
                        nb.line,
                        nb.text,
                        f"remote-as {nb.remote_as}, pero {site.name} tiene "
                        f"router bgp {site.asn if site.asn is not None else '(ninguno)'}",
                        peer=site.name,
                    )
                )
            found += _site_side(site, iface, hq, hq_asn)
    return found


def _site_side(site: _Config, iface: Any, hq: _Config, hq_asn: int) -> list[Finding]:
    toward = [
        nb
        for nb in site.neighbors.values()
        if _in(nb.address, iface.network) and nb.address != str(iface.ip)
    ]
    if not toward:
        return [
            Finding(
                "peering",
                site.name,
                site.bgp_line,
                site.bgp_text,
                f"{hq.name} lo tiene de vecino en {iface.ip}, pero no tiene vecino en "
                f"{iface.network}",
                peer=hq.name,
            )
        ]
    return [
        Finding(
            "peering",
            site.name,
            nb.line,
            nb.text,
            f"remote-as {nb.remote_as}, pero {hq.name} tiene router bgp {hq_asn}",
            peer=hq.name,
        )
        for nb in toward
        if nb.remote_as != str(hq_asn)
    ]


def _in(address: str, network: Any) -> bool:
    try:
        return ipaddress.ip_address(address) in network
    except (ValueError, TypeError):
        return False


def offline_checks(configs: Mapping[str, str], *, hq_asn: int | None = None) -> list[Finding]:
    """Findings over ``configs`` (path or device name -> configuration text)."""
    scanned = [_scan(device_name(k), text) for k, text in sorted(configs.items())]
    central = load_plan().hq_asn if hq_asn is None else hq_asn
    found = _peering(scanned, central)
    for cfg in scanned:
        found += _references(cfg)
    found += _duplicates(scanned)
    return sorted(found, key=lambda f: (f.device, f.line, f.kind, f.message))
