"""Offline checks across the latest configurations (no device is contacted).

- ``peering``, both ways: every neighbour of the headquarters router (the one whose ``router
  bgp`` is the plan's central AS) must be an address of exactly one device (several: a
  finding), whose own ``router bgp`` AS is the neighbour's ``remote-as``; that device must
  have a neighbour on the same link with ``remote-as`` the central AS. And every mission's
  neighbour with the central AS must be an address of headquarters, which must have that
  mission as a neighbour. No configuration with the central AS is a finding on every router
  (nothing can be checked). Each side is reported at its own line.
- ``undefined-reference``, inside one configuration: a route-map's ``match ip|ipv6 address
  prefix-list`` / ``match ip|ipv6 address`` (access-list) / ``match ip next-hop
  prefix-list``; a neighbour's ``route-map``, ``prefix-list``, ``filter-list`` (as-path
  access-list) and ``peer-group``; ``redistribute ... route-map``, ``table-map`` and
  ``default-originate route-map`` in any routing section. Not covered: community-lists,
  ``distribute-list``, key chains and references across VRFs.
- ``duplicate-address``: the same interface address on two devices (or twice on one).

Each finding names the device, the line (1-based, with its text) and what disagrees.
"""

from __future__ import annotations

import contextlib
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
# what a top-level line defines: (kind of object, its name)
_DEFINES = (
    ("prefix-list", re.compile(r"^ip prefix-list (\S+)")),
    ("ipv6 prefix-list", re.compile(r"^ipv6 prefix-list (\S+)")),
    ("route-map", re.compile(r"^route-map (\S+)")),
    ("access-list", re.compile(r"^(?:ip )?access-list (\S+)")),
    ("ipv6 access-list", re.compile(r"^ipv6 access-list (\S+)")),
    ("as-path", re.compile(r"^(?:bgp|ip) as-path access-list (\S+)")),
)
# what a line inside a section refers to: (section prefix, kind, pattern with the name)
_REFERS = (
    ("route-map ", "prefix-list", re.compile(r"^match ip (?:address|next-hop) prefix-list (\S+)")),
    ("route-map ", "ipv6 prefix-list",
     re.compile(r"^match ipv6 (?:address|next-hop) prefix-list (\S+)")),
    ("route-map ", "access-list", re.compile(r"^match ip (?:address|next-hop) (?!prefix-list)(\S+)")),
    ("route-map ", "ipv6 access-list", re.compile(r"^match ipv6 address (?!prefix-list)(\S+)")),
    ("router bgp ", "route-map", re.compile(r"^neighbor \S+ route-map (\S+) (?:in|out)\b")),
    ("router bgp ", "prefix-list", re.compile(r"^neighbor \S+ prefix-list (\S+) (?:in|out)\b")),
    ("router bgp ", "as-path", re.compile(r"^neighbor \S+ filter-list (\S+) (?:in|out)\b")),
    ("router bgp ", "peer-group", re.compile(r"^neighbor \S+ peer-group (\S+)$")),
    ("router bgp ", "route-map", re.compile(r"^table-map (\S+)")),
    ("router bgp ", "route-map", re.compile(r"^neighbor \S+ default-originate route-map (\S+)")),
    ("router ", "route-map", re.compile(r"^redistribute \S+(?: .*)? route-map (\S+)")),
)  # fmt: skip
_PEER_GROUP = re.compile(r"^neighbor (\S+) peer-group$")
_WHAT = {
    "prefix-list": "la lista de prefijos",
    "ipv6 prefix-list": "la lista de prefijos IPv6",
    "route-map": "el route-map",
    "access-list": "la access-list",
    "ipv6 access-list": "la access-list IPv6",
    "as-path": "la lista de as-path",
    "peer-group": "el peer-group",
}
_DEFINED_FEM = frozenset({"prefix-list", "ipv6 prefix-list", "access-list", "ipv6 access-list",
                          "as-path"})  # fmt: skip


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
    defined: dict[str, set[str]] = field(default_factory=dict)
    # (kind, name, line, text)
    refs: list[tuple[str, str, int, str]] = field(default_factory=list)


def device_name(key: str) -> str:
    """``emb-ar/gw-emb-ar.cfg`` -> ``gw-emb-ar`` (a plain name stays as it is)."""
    base = key.rsplit("/", 1)[-1]
    return base.removesuffix(".cfg")


def _top(cfg: _Config, number: int, line: str) -> None:
    if m := _BGP.match(line):
        cfg.asn, cfg.bgp_line, cfg.bgp_text = int(m.group(1)), number, line
    for kind, pattern in _DEFINES:
        if m := pattern.match(line):
            cfg.defined.setdefault(kind, set()).add(m.group(1))


def _nested(cfg: _Config, section: str, number: int, line: str) -> None:
    if section.startswith("interface ") and (m := _ADDRESS.match(line)):
        with contextlib.suppress(ValueError):
            cfg.addresses.append((ipaddress.ip_interface(m.group(1)), number, line))
        return
    if section.startswith("router bgp "):
        if m := _NEIGHBOR_AS.match(line):
            cfg.neighbors[m.group(1)] = _Neighbor(m.group(1), m.group(2), number, line)
        elif m := _PEER_GROUP.match(line):
            cfg.defined.setdefault("peer-group", set()).add(m.group(1))
    for prefix, kind, pattern in _REFERS:
        if section.startswith(prefix) and (m := pattern.match(line)):
            cfg.refs.append((kind, m.group(1), number, line))


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
    return [
        Finding(
            "undefined-reference",
            cfg.name,
            n,
            t,
            f"{_WHAT[kind]} «{name}» no está "
            + ("definida" if kind in _DEFINED_FEM else "definido"),
        )
        for kind, name, n, t in cfg.refs
        if name not in cfg.defined.get(kind, set())
    ]


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
    hqs = [c for c in configs if c.asn == hq_asn]
    if not hqs:
        return _no_headquarters(configs, hq_asn)
    found: list[Finding] = []
    for hq in hqs:
        for nb in hq.neighbors.values():
            if not _is_address(nb.address):
                continue  # a peer-group or an interface name: no address to match
            owners = _owners([c for c in configs if c is not hq], nb.address)
            if len(owners) > 1:
                names = ", ".join(sorted({c.name for c, _i in owners}))
                found.append(
                    Finding(
                        "peering", hq.name, nb.line, nb.text,
                        f"la dirección {nb.address} del vecino está en varios equipos "
                        f"({names}): no se sabe con cuál es la vecindad",
                        peer=owners[0][0].name,
                    )
                )  # fmt: skip
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
    for site in (c for c in configs if c.asn is not None and c.asn != hq_asn):
        found += _toward_headquarters(site, hqs, configs, hq_asn)
    return found


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _no_headquarters(configs: list[_Config], hq_asn: int) -> list[Finding]:
    """No configuration has the central AS: every router says so (nothing can be checked)."""
    found = []
    for cfg in configs:
        if cfg.asn is None:
            continue
        toward = [nb for nb in cfg.neighbors.values() if nb.remote_as == str(hq_asn)]
        line, text = (toward[0].line, toward[0].text) if toward else (cfg.bgp_line, cfg.bgp_text)
        found.append(
            Finding(
                "peering", cfg.name, line, text,
                f"ninguna configuración tiene router bgp {hq_asn} (la sede central): "
                "la vecindad no se puede comprobar",
            )
        )  # fmt: skip
    return found


def _toward_headquarters(
    site: _Config, hqs: list[_Config], configs: list[_Config], hq_asn: int
) -> list[Finding]:
    """The mission's side: each neighbour with the central AS is not another device's address,
    and headquarters has the mission (its address on that link) as a neighbour. Headquarters
    need not list its own link addresses (a bgpd without zebra shows no interfaces)."""
    found: list[Finding] = []
    for nb in site.neighbors.values():
        if nb.remote_as != str(hq_asn) or not _is_address(nb.address):
            continue
        owners = _owners([c for c in configs if c is not site], nb.address)
        others = sorted({c.name for c, _i in owners if c not in hqs})
        if others and not any(c in hqs for c, _i in owners):
            found.append(
                Finding(
                    "peering", site.name, nb.line, nb.text,
                    f"vecino con el AS central {hq_asn}, pero la dirección {nb.address} es de "
                    f"{', '.join(others)}, no de la sede central",
                    peer=others[0],
                )
            )  # fmt: skip
            continue
        link = {str(i.ip) for i, _n, _t in site.addresses if _in(nb.address, i.network)}
        mine = link or {str(i.ip) for i, _n, _t in site.addresses}
        if not any(mine & set(hq.neighbors) for hq in hqs):
            names = ", ".join(h.name for h in hqs)
            found.append(
                Finding(
                    "peering", site.name, nb.line, nb.text,
                    f"vecino con el AS central {hq_asn}, pero {names} no lo tiene de vecino "
                    f"(ningún neighbor en {', '.join(sorted(mine)) or 'sus direcciones'})",
                    peer=hqs[0].name,
                )
            )  # fmt: skip
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
