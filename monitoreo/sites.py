"""What monitoring needs to know of each site, read from the inventory, and target resolution.

A site is probed at the management address of its gateway: its active router or firewall
(tagged ``monitoreo`` first, then ``wan``, then by name), or else its declared VPN peer.
Headquarters sites without either are not probed: the monitor itself sits there.

A site is monitored when its gateway carries the tag ``monitoreo`` (inventario.monitored owns
that rule): ``sondear`` and ``vigilar`` without targets probe those, not every site of the
inventory (the shipped example has 152).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inventario import catalog
from inventario.model import management_address
from inventario.monitored import MONITORED_TAG, is_gateway, is_marked
from monitoreo.prober import Target
from pukara.errors import UsageError, os_reason
from pukara.store import Store
from pukara.targets import ADDRESS, NETWORK, SITE, classify

DEFAULT_LOSS_PCT = 5.0
DEFAULT_LATENCY_MS = 500.0
DEFAULT_TARGET_PCT = 99.0


@dataclass(frozen=True, slots=True)
class Site:
    code: str
    name: str
    timezone: str
    address: str | None
    gateway: str | None  # the gateway asset's name
    parent: str | None
    bandwidth_mbps: float | None
    availability_target: float
    loss_threshold_pct: float
    latency_threshold_ms: float
    vpn_kit: bool
    vpn_interface: str | None
    vpn_probe: str | None
    credential_profile: str | None
    monitored: bool = False  # its gateway carries MONITORED_TAG


def _gateway(
    assets: Iterable[Mapping[str, Any]], family: int | None = None
) -> Mapping[str, Any] | None:
    """The gateway to probe: marked first, then tagged ``wan``, then by name."""
    candidates = [a for a in assets if is_gateway(a, family)]
    candidates.sort(key=lambda a: (not is_marked(a), "wan" not in (a.get("tags") or []),
                                   a["name"]))  # fmt: skip
    return candidates[0] if candidates else None


def _float(value: Any, default: float) -> float:
    return default if value in (None, "") else float(value)


def load_sites(store: Store, *, family: int | None = None) -> dict[str, Site]:
    """Every site of the inventory, by code, with its probe address when it has one."""
    by_site: dict[str, list[dict[str, Any]]] = {}
    for asset in catalog.assets(store):
        by_site.setdefault(asset.get("site") or "", []).append(asset)
    out: dict[str, Site] = {}
    for raw in catalog.sites(store):
        mine = by_site.get(raw["code"], [])
        gw = _gateway(mine, family)
        address = None
        if gw is not None:
            address = gw[f"mgmt_ipv{family}"] if family else management_address(gw)
        elif raw.get("vpn_peer") and not _gateway(mine):
            address = raw["vpn_peer"]
        out[raw["code"]] = Site(
            code=raw["code"],
            name=raw.get("name") or raw["code"],
            timezone=raw.get("timezone") or "UTC",
            address=address,
            gateway=gw["name"] if gw else None,
            parent=raw.get("parent") or None,
            bandwidth_mbps=raw.get("wan_bandwidth_mbps"),
            availability_target=_float(raw.get("availability_target"), DEFAULT_TARGET_PCT),
            loss_threshold_pct=_float(raw.get("loss_threshold_pct"), DEFAULT_LOSS_PCT),
            latency_threshold_ms=_float(raw.get("latency_threshold_ms"), DEFAULT_LATENCY_MS),
            vpn_kit=bool(raw.get("vpn_kit")),
            vpn_interface=raw.get("vpn_interface") or None,
            vpn_probe=raw.get("vpn_probe") or None,
            credential_profile=(gw or {}).get("credential_profile"),
            monitored=any(is_gateway(a) and is_marked(a) for a in mine),
        )
    return out


def _resolve_name(name: str, family: int | None) -> str:
    try:
        infos = socket.getaddrinfo(name, None, family or socket.AF_UNSPEC, socket.SOCK_DGRAM)
    except socket.gaierror as e:
        raise ValueError(os_reason(e)) from None
    except UnicodeError:  # a label longer than 63 characters, or an empty one
        raise ValueError("no es un nombre válido") from None
    return str(infos[0][4][0])


def probe_address_problem(address: str) -> str | None:
    """Why ``address`` cannot be a probe's destination, in Spanish; None when it can.

    Nothing is sent to these: the unspecified address (0.0.0.0, ::), multicast, the limited
    broadcast 255.255.255.255, and an IPv6 zone (``%eth0``) that is no interface of this host
    or is given on an address that is not link-local.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "no es una dirección IP"
    if ip.is_unspecified:
        return f"{ip} es la dirección no especificada: no nombra ningún equipo"
    if ip.is_multicast:
        return f"{ip} es una dirección de multidifusión: no nombra un equipo"
    if ip == ipaddress.IPv4Address("255.255.255.255"):
        return "255.255.255.255 es la difusión limitada: no nombra un equipo"
    zone = getattr(ip, "scope_id", None)
    if zone:
        try:
            names = socket.if_nameindex()
        except OSError:
            names = []
        known = {str(i) for i, _ in names} | {n for _, n in names}
        if zone not in known:
            return f"la zona «%{zone}» no es una interfaz de este equipo"
        if not ip.is_link_local:  # the system takes a zone only on fe80::/10
            return f"una zona («%{zone}») solo vale en una dirección de enlace local (fe80::/10)"
    return None


def _checked(target: Target) -> Target:
    if (why := probe_address_problem(target.address)) is not None:
        raise ValueError(why)
    return target


def resolve(
    refs: Sequence[str],
    sites: Mapping[str, Site],
    *,
    port: int | None = None,
    family: int | None = None,
) -> list[Target]:
    """Targets for site codes, addresses or host names; every bad one named, before probing.

    A site code is probed at its gateway; asset names are not targets here.

    With no ``refs``, the monitored sites (see :func:`not_marked` for the message when none).
    """
    if not refs:
        return [Target(s.code, s.address, port, s.code) for s in sites.values()
                if s.address and s.monitored]  # fmt: skip
    problems: list[str] = []
    out: list[Target] = []
    for ref in refs:
        try:
            found = classify(ref, sites=sites)  # the one reading of a target (pukara.targets)
            if found.kind == SITE:
                site = sites[found.value]
                if not site.address:
                    what = f"dirección IPv{family}" if family else "dirección"
                    raise ValueError(f"la sede no tiene pasarela con {what} de gestión")
                out.append(_checked(Target(site.code, site.address, port, site.code)))
            elif found.kind == ADDRESS:
                out.append(_checked(Target(ref, found.value, port)))
            elif found.kind == NETWORK:
                raise ValueError("un prefijo no se sondea; indique sedes o direcciones")
            else:
                out.append(_checked(Target(ref, _resolve_name(ref, family), port)))
        except ValueError as e:
            problems.append(f"«{ref}»: {e}")
    if problems:
        raise UsageError(
            "objetivos inválidos; no se envió ningún sondeo:\n  " + "\n  ".join(problems)
        )
    return out


def not_marked(command: str, sites: Mapping[str, Site], family: int | None = None) -> UsageError:
    """The error of ``command`` run without targets when no marked site can be probed: none is
    marked, or (with ``family``) the marked ones have no management address of that family."""
    some = sorted(c for c, s in sites.items() if s.address)[:2]
    example = " ".join(some) if some else "emb-ar 198.18.0.6"
    if marked := sorted(c for c, s in sites.items() if s.monitored):
        what = f"dirección IPv{family}" if family else "dirección"
        column = f"mgmt_ipv{family}" if family else "mgmt_ipv4 o mgmt_ipv6"
        shown = ", ".join(marked[:5]) + ("…" if len(marked) > 5 else "")
        return UsageError(
            f"ninguna de las {len(marked)} sedes marcadas para monitoreo ({shown}) tiene {what} "
            f"de gestión en su pasarela: agréguela (columna {column} de activos.csv) e importe "
            f"de nuevo" + (", o sondee sin --familia" if family else "")
        )
    return UsageError(
        f"ninguna sede del inventario está marcada para monitoreo ({len(sites)} sedes, "
        f"ninguna con la etiqueta «{MONITORED_TAG}» en su pasarela). Márquelas agregando "
        f"«{MONITORED_TAG}» a las etiquetas (columna tags) de la pasarela de cada sede a vigilar "
        f"en activos.csv, p. ej. «wan|{MONITORED_TAG}», e importe de nuevo; o nombre las sedes "
        f"o direcciones: pukara monitoreo {command} {example}"
    )


def vpn_targets(sites: Iterable[Site], only: set[str] | None = None) -> list[Target]:
    """A probe across each expected tunnel: to the mission's LAN side address."""
    return [
        Target(f"{s.code}/vpn", s.vpn_probe, None, s.code)
        for s in sites
        if s.vpn_kit and s.vpn_probe and (only is None or s.code in only)
    ]
