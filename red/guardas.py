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
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from hier_config import HConfig

from pukara.errors import UsageError

Address = ipaddress.IPv4Interface | ipaddress.IPv6Interface
_SECTIONS = ("interface ", "router ", "route-map ", "line ", "key chain ", "vrf ")


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


def check(device: str, running: HConfig, management: str, commands: Sequence[str]) -> None:
    """Raise UsageError naming ``device`` and the line when ``commands`` cut its access.

    ``commands`` is a configuration-mode list as :mod:`red.remediacion` writes it: section
    lines open a section, ``exit``/``exit-address-family`` close one, ``end`` closes all.
    """
    seen = access(running, management)
    where: list[str] = []
    for raw in commands:
        line = " ".join(raw.split())
        if line in ("exit", "exit-address-family", "exit-vrf", "quit"):
            if where:
                where.pop()
            continue
        if line == "end":
            where.clear()
            continue
        _check_line(device, tuple(where), line, seen)
        if line.startswith(_SECTIONS):
            where[:] = [line]
        elif line.startswith("address-family ") and where:
            where[1:] = [line]
