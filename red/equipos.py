"""Network devices from the inventory: routers, firewalls and switches with a known platform.

A device's platform comes from the asset's ``os`` field (``FRRouting`` or ``frr`` -> ``frr``,
the only one shipped now); its management address is the asset's IPv4 (IPv6 when it has
none), parsed with :mod:`ipaddress`; its credential profile is the asset's own or, when it
names none, the ``red_credenciales`` setting. Retired assets are left out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inventario.model import ASSETS, SITES
from pukara.errors import UsageError
from pukara.store import Store

NETWORK_KINDS = ("router", "firewall", "switch")
RETIRED = "dado_de_baja"
# the inventory's ``os`` (lower-cased) -> platform name used by red's cleaning and templates
PLATFORMS = {"frrouting": "frr", "frr": "frr"}
DEFAULT_PROFILE = "red"


@dataclass(frozen=True, slots=True)
class NetDevice:
    name: str  # inventory name, e.g. "gw-emb-ar"
    site: str  # site code, e.g. "emb-ar"
    site_kind: str  # sedes.csv kind: sede_central, embajada, consulado, ...
    role: str  # inventory kind: router, firewall, switch
    address: str  # management address (v4 preferred)
    platform: str  # "frr"
    credential_profile: str  # settings.red_credenciales unless the asset names one
    asset: Mapping[str, Any]  # the inventory record, for templates

    @property
    def path(self) -> str:
        """Where the device's configuration lives in the backup repository."""
        return f"{self.site}/{self.name}.cfg"


def platform_of(asset: Mapping[str, Any]) -> str | None:
    """The platform of an asset's ``os`` field, or None when red does not know it."""
    return PLATFORMS.get(str(asset.get("os") or "").strip().lower())


def _address(asset: Mapping[str, Any]) -> str | None:
    for key in ("mgmt_ipv4", "mgmt_ipv6"):
        raw = asset.get(key)
        if not raw:
            continue
        try:
            return str(ipaddress.ip_address(str(raw).strip()))
        except ValueError:
            continue
    return None


def from_assets(
    assets: Iterable[Mapping[str, Any]],
    sites: Mapping[str, Mapping[str, Any]],
    *,
    default_profile: str = DEFAULT_PROFILE,
) -> list[NetDevice]:
    """The network devices among ``assets`` (known platform, an address, not retired)."""
    out: list[NetDevice] = []
    for asset in assets:
        if asset.get("kind") not in NETWORK_KINDS or asset.get("status") == RETIRED:
            continue
        platform, address = platform_of(asset), _address(asset)
        if platform is None or address is None:
            continue
        site = str(asset.get("site") or "")
        out.append(
            NetDevice(
                name=str(asset["name"]),
                site=site,
                site_kind=str(sites.get(site, {}).get("kind") or ""),
                role=str(asset["kind"]),
                address=address,
                platform=platform,
                credential_profile=str(asset.get("credential_profile") or default_profile),
                asset=dict(asset),
            )
        )
    return sorted(out, key=lambda d: (d.site, d.name))


def _pick(devices: list[NetDevice], wanted: Sequence[str]) -> list[NetDevice]:
    if not wanted:
        return devices
    chosen: dict[str, NetDevice] = {}
    unknown: list[str] = []
    for item in wanted:
        hits = [d for d in devices if item in (d.name, d.site)]
        if not hits:
            unknown.append(item)
        chosen.update((d.name, d) for d in hits)
    if unknown:
        raise UsageError(
            "sin equipo de red con ese nombre ni en esa sede: "
            + ", ".join(f"«{u}»" for u in unknown)
            + " (un equipo de red es un router, firewall o switch activo con sistema FRRouting "
            "y dirección de gestión en el inventario)"
        )
    return sorted(chosen.values(), key=lambda d: (d.site, d.name))


def select(
    store: Store, wanted: Sequence[str], *, default_profile: str = DEFAULT_PROFILE
) -> list[NetDevice]:
    """Devices by name or site code; empty ``wanted`` = every network device.

    An unknown name or site is a UsageError naming it.
    """
    sites = {str(s["code"]): s for s in store.entities(SITES)}
    devices = from_assets(store.entities(ASSETS), sites, default_profile=default_profile)
    return _pick(devices, wanted)
