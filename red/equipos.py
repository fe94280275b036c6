"""Network devices from the inventory: routers, firewalls and switches with a known platform.

A device's platform comes from the asset's ``os`` field (``FRRouting`` or ``frr`` -> ``frr``,
the only one shipped now); its management address is the asset's IPv4 (IPv6 when it has
none), parsed with :mod:`ipaddress`; retired assets are left out.

Its credential profile is the asset's own ``credential_profile`` or, when it names none, the
``red_credenciales`` setting, except when the asset's ``device_type`` is one inventario
discovers as a host (``linux``): then the asset's profile is the login of that host's shell
(the lab's gateways are Linux machines running FRR), not of the router's CLI, and
``red_credenciales`` is used.
"""

from __future__ import annotations

import ipaddress
import re
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
# a site code or device name that can be a path component of the backup repository
SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class NetDevice:
    name: str  # inventory name, e.g. "gw-emb-ar"
    site: str  # site code, e.g. "emb-ar"
    site_kind: str  # sedes.csv kind: sede_central, embajada, consulado, ...
    role: str  # inventory kind: router, firewall, switch
    address: str  # management address (v4 preferred)
    platform: str  # "frr"
    credential_profile: str  # settings.red_credenciales unless the asset names one (see above)
    asset: Mapping[str, Any]  # the inventory record, for templates

    @property
    def path(self) -> str:
        """Where the device's configuration lives in the backup repository."""
        return f"{self.site}/{self.name}.cfg"

    @property
    def path_problem(self) -> str | None:
        """Why :attr:`path` cannot be stored (empty or unsafe site or name), None if it can."""
        for what, value in (("la sede", self.site), ("el nombre", self.name)):
            if not value:
                return f"{what} del equipo está vacío en el inventario"
            if not SAFE_PART.fullmatch(value) or ".." in value:
                return f"{what} del equipo no sirve como ruta del repositorio: {value!r}"
        return None


def platform_of(asset: Mapping[str, Any]) -> str | None:
    """The platform of an asset's ``os`` field, or None when red does not know it."""
    return PLATFORMS.get(str(asset.get("os") or "").strip().lower())


def _profile(asset: Mapping[str, Any], default_profile: str) -> str:
    from inventario.ssh_discovery import DRIVERS  # device types whose login is a host shell

    named = str(asset.get("credential_profile") or "")
    if not named or str(asset.get("device_type") or "") in DRIVERS:
        return default_profile
    return named


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
                credential_profile=_profile(asset, default_profile),
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
