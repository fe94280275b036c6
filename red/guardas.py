"""Refuse a change that would cut pukara off the device it is changing.

The management access of a router is what the SSH session that applies the change rides on:

- the interface that holds the management address, and the link interface (the one whose
  subnet holds a BGP neighbour: the path to HQ, where pukara connects from): deleting it,
  shutting it, or removing the address it is reached on;
- ``line vty`` when the configuration has it (removing it or any of its lines);
- when the management address is not on the link itself (a loopback or LAN address HQ learns
  by BGP), the BGP session is the path: removing ``router bgp``, a neighbour on the link, its
  shutdown, or the ``network`` statement that announces the management address.

Changing a value (a description, a neighbour's remote-as) is not a removal: if it cuts the
path, the post-check of :mod:`red.aplicar` notices and rolls back.

Two more refusals, on every device:

- vtysh takes any unambiguous prefix of a keyword (``int eth0``, ``shut``, ``no ip add``):
  each line is expanded first against FRR 8.4's keywords of the node it is typed in
  (:data:`KEYWORDS`), and a prefix of several is refused as ambiguous, so an abbreviation never
  slips past the checks above.
- A removal that takes a secret with it (``no router bgp N`` of a section with a neighbour
  password, ``no neighbor X`` of a neighbour that has one, any negated section whose lines carry
  a ``<secreto:...>`` marker): backups hold markers, never the secret, so neither the change nor
  its rollback could put it back.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hier_config import HConfig

from pukara.errors import UsageError

Address = ipaddress.IPv4Interface | ipaddress.IPv6Interface
_SECTIONS = ("interface ", "router ", "route-map ", "line ", "key chain ", "vrf ")
_SECRET = re.compile(r"<secreto(?::[^>\s]*)?>|\{\{[^}]*\}\}")

# FRR 8.4 vtysh's keywords, per node and word position, among which a typed prefix must be
# unique. Only positions the guard reads are expanded; other words are left as typed.
_CONFIG = (
    "access-list", "agentx", "allow-external-route-update", "banner", "bfd", "bgp", "debug",
    "do", "domainname", "enable", "end", "exit", "fpm", "frr", "hostname", "interface", "ip",
    "ipv6", "key", "line", "list", "log", "mac", "mpls", "nexthop-group", "no", "password",
    "pbr-map", "pseudowire", "quit", "route-map", "router", "router-id", "rpki",
    "segment-routing", "service", "show", "table", "username", "vni", "vrf", "write", "zebra",
)  # fmt: skip
_INTERFACE = (
    "bandwidth", "description", "do", "end", "evpn", "exit", "ip", "ipv6", "link-detect",
    "link-params", "mpls", "multicast", "no", "protocol", "quit", "shutdown", "show", "vrf",
)  # fmt: skip
_IP_IN_INTERFACE = (
    "address",
    "igmp",
    "mroute",
    "multicast",
    "nhrp",
    "ospf",
    "pim",
    "rip",
    "router",
)
_BGP = (
    "address-family", "bgp", "bmp", "coalesce-time", "distance", "do", "end", "exit",
    "maximum-paths", "neighbor", "network", "no", "quit", "read-quanta", "redistribute",
    "segment-routing", "show", "table-map", "timers", "update-delay", "vnc", "write-quanta",
)  # fmt: skip
_NEIGHBOR = (
    "activate", "addpath-tx-all-paths", "advertisement-interval", "allowas-in", "as-override",
    "attribute-unchanged", "bfd", "capability", "default-originate", "description",
    "disable-connected-check", "distribute-list", "dont-capability-negotiate", "ebgp-multihop",
    "enforce-first-as", "filter-list", "interface", "local-as", "maximum-prefix",
    "next-hop-self", "override-capability", "passive", "password", "peer-group", "port",
    "prefix-list", "remote-as", "remove-private-AS", "route-map", "route-reflector-client",
    "route-server-client", "send-community", "shutdown", "soft-reconfiguration", "solo",
    "strict-capability-match", "timers", "ttl-security", "update-source", "weight",
)  # fmt: skip
_IPV6_IN_INTERFACE = ("address", "mld", "nd", "ospf6", "pim", "router")
_AF = (*_BGP, "aggregate-address", "exit-address-family", "export", "import", "label", "rd", "rt")
_ROUTER = ("babel", "bgp", "eigrp", "isis", "openfabric", "ospf", "ospf6", "pim", "rip", "ripng")


@dataclass(frozen=True, slots=True)
class Access:
    """What reaches a device, read from its running config."""

    interfaces: dict[str, tuple[Address, ...]]  # protected interface -> its protected addresses
    neighbours: tuple[str, ...]  # BGP neighbours on the link, protected when bgp_path
    bgp_path: bool  # the management address is reached through BGP
    management: str
    vty: bool


def _addresses(section: HConfig | object) -> list[Address]:
    out: list[Address] = []
    for line in getattr(section, "children", ()):
        words = line.text.split()
        if len(words) >= 3 and words[0] in ("ip", "ipv6") and words[1] == "address":
            try:
                out.append(ipaddress.ip_interface(words[2]))
            except ValueError:
                continue
    return out


def access(running: HConfig, management: str) -> Access:
    """The management access lines of a device whose running config is ``running``."""
    mgmt = ipaddress.ip_address(management)
    neighbours: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for bgp in running.get_children(startswith="router bgp"):
        for line in bgp.children:
            words = line.text.split()
            if len(words) >= 4 and words[0] == "neighbor" and words[2] == "remote-as":
                try:
                    neighbours.append(ipaddress.ip_address(words[1]))
                except ValueError:
                    continue  # a peer-group or an interface name
    protected: dict[str, tuple[Address, ...]] = {}
    on_link = False
    link_peers: list[str] = []
    for section in running.get_children(startswith="interface "):
        name = section.text.removeprefix("interface ").split()[0]
        kept: list[Address] = []
        for address in _addresses(section):
            peers = [n for n in neighbours if n in address.network and n != address.ip]
            if address.ip == mgmt or peers:
                kept.append(address)
            if peers:
                link_peers += [str(p) for p in peers]
                on_link = on_link or mgmt in address.network
        if kept:
            protected[name] = tuple(kept)
    vty = running.get_child(startswith="line vty") is not None
    return Access(protected, tuple(sorted(set(link_peers))), not on_link, management, vty)


def _refusal(device: str, line: str, why: str) -> UsageError:
    return UsageError(
        f"{device}: se rechaza «{line}»: {why}; es el acceso de gestión de pukara al equipo. "
        "Cámbielo a mano desde la consola si de verdad corresponde"
    )


def _removes_address(line: str, addresses: Sequence[Address]) -> bool:
    words = line.split()
    if len(words) < 4 or words[:1] != ["no"] or words[2] != "address":
        return False
    try:
        removed = ipaddress.ip_interface(words[3])
    except ValueError:
        return False
    return any(removed.ip == a.ip for a in addresses)


def _top(device: str, line: str, seen: Access) -> None:
    if line.startswith("no interface "):
        name = line.removeprefix("no interface ").split()[0]
        if name in seen.interfaces:
            raise _refusal(device, line, f"borra la interfaz {name}")
    if line.startswith("no line vty") and seen.vty:
        raise _refusal(device, line, "quita las líneas vty")
    if line.startswith("no router bgp") and seen.bgp_path:
        raise _refusal(device, line, "quita el BGP por el que se llega al equipo")


def _interface(device: str, name: str, line: str, seen: Access) -> None:
    addresses = seen.interfaces.get(name)
    if addresses is None:
        return
    if line == "shutdown":
        raise _refusal(device, line, f"apaga la interfaz {name}")
    if _removes_address(line, addresses):
        raise _refusal(device, line, f"quita la dirección por la que se llega a {name}")


def _bgp(device: str, line: str, seen: Access) -> None:
    words = line.split()
    removes = ("remote-as", "peer-group", "interface")
    if (
        words[:2] == ["no", "neighbor"]
        and words[2:3]
        and words[2] in seen.neighbours
        and (len(words) == 3 or words[3] in removes)
    ):
        raise _refusal(device, line, f"borra el vecino BGP {words[2]}")
    if words[:1] == ["neighbor"] and words[2:3] == ["shutdown"] and words[1] in seen.neighbours:
        raise _refusal(device, line, f"apaga el vecino BGP {words[1]}")
    if words[:2] == ["no", "network"] and words[2:3]:
        try:
            announced = ipaddress.ip_network(words[2], strict=False)
        except ValueError:
            return
        if ipaddress.ip_address(seen.management) in announced:
            raise _refusal(device, line, "deja de anunciar la dirección de gestión")


def _check_line(device: str, where: tuple[str, ...], line: str, seen: Access) -> None:
    top = where[0] if where else ""
    if not where:
        _top(device, line, seen)
    elif top.startswith("interface "):
        _interface(device, top.removeprefix("interface ").split()[0], line, seen)
    elif top.startswith("line vty") and line.startswith("no "):
        raise _refusal(device, line, "quita una línea de las vty")
    elif top.startswith("router bgp") and seen.bgp_path:
        _bgp(device, line, seen)


def _word(device: str, line: str, word: str, choices: Sequence[str]) -> str:
    """``word`` as vtysh reads it among ``choices``: itself, the one keyword it begins, or
    unchanged when it begins none; a prefix of several keywords is refused."""
    if word in choices:
        return word
    found = [c for c in choices if c.startswith(word)]
    if len(found) > 1:
        raise UsageError(
            f"{device}: se rechaza «{line}»: «{word}» es ambiguo ({', '.join(found[:4])}); "
            "escriba la orden completa"
        )
    return found[0] if found else word


def _node(where: Sequence[str]) -> Sequence[str]:
    top = where[0] if where else ""
    if not where:
        return _CONFIG
    if top.startswith("interface "):
        return _INTERFACE
    if top.startswith("router bgp"):
        return _AF if len(where) > 1 else _BGP
    return ()


def _expand_in(device: str, where: Sequence[str], line: str) -> str | None:
    """``line`` expanded in the node ``where``; None when its first word is none of the
    node's keywords (vtysh then tries the parent node)."""
    node, words = _node(where), line.split()
    first = _word(device, line, words[0], node)
    if first not in node:
        return None
    words[0], at = first, 0
    if first == "no" and len(words) > 1:
        at = 1
        words[1] = _word(device, line, words[1], [w for w in node if w != "no"])
    head, rest = words[at], at + 1
    inside = bool(where) and where[0].startswith("interface ")
    following = {
        "router": _ROUTER if not where else (),
        "line": ("vty",) if not where else (),
        "ip": _IP_IN_INTERFACE if inside else (),
        "ipv6": _IPV6_IN_INTERFACE if inside else (),
    }.get(head, ())
    if following and len(words) > rest:
        words[rest] = _word(device, line, words[rest], following)
    if head == "neighbor" and len(words) > rest + 1:
        words[rest + 1] = _word(device, line, words[rest + 1], _NEIGHBOR)
    return " ".join(words)


def expand(device: str, where: Sequence[str], line: str) -> tuple[tuple[str, ...], str]:
    """The node ``line`` runs in and ``line`` with the keywords the guard reads written in
    full (see the module docstring). Like vtysh, a line that is no command of the current node
    is tried in the enclosing ones, up to the top level; a line of a section the guard does
    not model is left as typed."""
    context = tuple(where)
    if not line.split():
        return context, line
    while True:
        if context and not _node(context):
            if line.split()[0] in ("exit", "end", "quit", "exit-vrf"):
                return context, line
            top = _expand_in(device, (), line)
            return ((), top) if top is not None and top.startswith(_SECTIONS) else (context, line)
        expanded = _expand_in(device, context, line)
        if expanded is not None or not context:
            return context, expanded if expanded is not None else " ".join(line.split())
        context = context[:-1]


def _secret_in(section: HConfig | object) -> bool:
    if _SECRET.search(getattr(section, "text", "")):
        return True
    return any(_secret_in(child) for child in getattr(section, "children", ()))


def _section(running: HConfig, where: Sequence[str]) -> HConfig | object | None:
    node: HConfig | object | None = running
    for text in where:
        get = getattr(node, "get_child", None)
        node = get(equals=text) if get else None
        if node is None:
            return None
    return node


def _takes_secret(device: str, running: HConfig, where: Sequence[str], line: str) -> None:
    """Refuse ``line`` when what it removes holds a secret (see the module docstring)."""
    words = line.split()
    if words[:1] != ["no"] or len(words) < 2:
        return
    removed = " ".join(words[1:])
    parent = _section(running, where)
    for child in getattr(parent, "children", ()):
        text = " ".join(child.text.split())
        if (text == removed or text.startswith(removed + " ")) and _secret_in(child):
            raise _secret_refusal(device, line, child.text)
    if words[1] == "neighbor" and len(words) >= 3 and where and where[0].startswith("router bgp"):
        deletes = len(words) == 3 or words[3] in ("remote-as", "peer-group", "interface")
        bgp = _section(running, where[:1])
        for child in getattr(bgp, "children", ()):
            own = child.text.split()
            if deletes and own[:2] == ["neighbor", words[2]] and _SECRET.search(child.text):
                raise _secret_refusal(device, line, f"neighbor {words[2]} password")


def _secret_refusal(device: str, line: str, what: str) -> UsageError:
    return UsageError(
        f"{device}: se rechaza «{line}»: borra «{_SECRET.sub('<secreto>', what).strip()}», que "
        "lleva un secreto; el respaldo guarda solo su marca, así que ni el cambio ni la reversión "
        "podrían reponerlo. Haga ese cambio a mano y vuelva a escribir el secreto"
    )


def check(device: str, running: HConfig, management: str, commands: Sequence[str]) -> None:
    """Raise UsageError naming ``device`` and the line when ``commands`` cut its access, are
    ambiguous abbreviations, or remove a secret.

    ``commands`` is a configuration-mode list as :mod:`red.remediacion` writes it: section
    lines open a section, ``exit``/``exit-address-family`` close one, ``end`` closes all.
    """
    seen = access(running, management)
    where: list[str] = []
    for raw in commands:
        context, line = expand(device, where, " ".join(raw.split()))
        where[:] = context
        if line in ("exit", "exit-address-family", "exit-vrf", "quit"):
            if where:
                where.pop()
            continue
        if line == "end":
            where.clear()
            continue
        _check_line(device, tuple(where), line, seen)
        _takes_secret(device, running, where, line)
        if where and not _node(where):  # a section not modelled: read it at the top too
            top = _expand_in(device, (), line)
            if top is not None:
                _check_line(device, (), top, seen)
                _takes_secret(device, running, (), top)
        if line.startswith(_SECTIONS):
            where[:] = [line]
        elif line.startswith("address-family ") and where:
            where[1:] = [line]


def removed_neighbours(running: HConfig, commands: Sequence[str]) -> frozenset[str]:
    """The BGP neighbours ``commands`` delete on purpose (``no neighbor X``, ``no neighbor X
    remote-as ...``, ``no router bgp N``): the post-check does not wait for them."""
    return _neighbour_lines(running, commands)[0]


def touched_neighbours(commands: Sequence[str]) -> frozenset[str]:
    """The BGP neighbours a line of ``commands`` sets or negates (``neighbor X ...``)."""
    return _neighbour_lines(None, commands)[1]


def _neighbour_lines(
    running: HConfig | None, commands: Sequence[str]
) -> tuple[frozenset[str], frozenset[str]]:
    removed: set[str] = set()
    touched: set[str] = set()
    where: list[str] = []
    for raw in commands:
        context, line = expand("", where, " ".join(raw.split()))
        where[:] = context
        words = line.split()
        if not words:
            continue
        if line in ("exit", "exit-address-family", "exit-vrf", "quit", "end"):
            where[:] = where[:-1] if line != "end" else []
            continue
        if not where and words[:3] == ["no", "router", "bgp"] and running is not None:
            for bgp in running.get_children(startswith=" ".join(words[1:])):
                removed.update(_defined(bgp))
        elif where and where[0].startswith("router bgp"):
            own = words[1:] if words[0] == "no" else words
            if own[:1] == ["neighbor"] and len(own) > 1:
                touched.add(own[1])
            if (
                words[:2] == ["no", "neighbor"]
                and len(words) > 2
                and (len(words) == 3 or words[3] in ("remote-as", "peer-group", "interface"))
            ):
                removed.add(words[2])
        if line.startswith(_SECTIONS):
            where[:] = [line]
        elif line.startswith("address-family ") and where:
            where[1:] = [line]
    return frozenset(removed), frozenset(touched)


def _defined(bgp: HConfig | object) -> set[str]:
    out: set[str] = set()
    for line in getattr(bgp, "children", ()):
        words = line.text.split()
        if len(words) >= 4 and words[0] == "neighbor" and words[2] == "remote-as":
            out.add(words[1])
    return out


def golden_neighbours(golden: HConfig) -> frozenset[str]:
    """The neighbours the golden config defines (``neighbor X remote-as N``)."""
    out: set[str] = set()
    for bgp in golden.get_children(startswith="router bgp"):
        out.update(_defined(bgp))
    return frozenset(out)
