"""The host a line came from, as the inventory knows it: asset name, site, site time zone.

A line names its host by the syslog HOSTNAME (a device's own name, often a FQDN or an
address), and it arrives from an address. The first of these that matches wins:

1. HOSTNAME equal to an asset's name (case-insensitive), or its first label
   (``lima-fw1.cancilleria.test`` → ``lima-fw1``);
2. HOSTNAME that is an address equal to an asset's ``mgmt_ipv4``/``mgmt_ipv6``;
3. the sender's address equal to an asset's management address.

The event then has ``host.name`` = the asset's name and ``labels.site`` = its site's code
(ECS ``labels`` are keywords on both engines; ``observer.*`` describes the device that saw
an event, which for a firewall line is the sender itself and for a relayed line is not).
A timestamp without zone is read in the site's time zone. The directory is read from the
store once and again every :data:`REFRESH_S` seconds (a new asset is known without a restart).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from registros.ecs import address

ASSETS, SITES = "asset", "site"  # the inventory's collections in the store
REFRESH_S = 60.0

Host = tuple[str, str | None, tzinfo | None]


@lru_cache(maxsize=512)
def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass
class Directory:
    by_name: dict[str, Host] = field(default_factory=dict)
    by_address: dict[str, Host] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, assets: list[dict[str, Any]], sites: list[dict[str, Any]]) -> Directory:
        zones = {s.get("code"): _zone(s.get("timezone")) for s in sites}
        d = cls()
        for a in assets:
            name = a.get("name")
            if not isinstance(name, str) or a.get("status") == "dado_de_baja":
                continue
            site = a.get("site") if isinstance(a.get("site"), str) else None
            host: Host = (name, site, zones.get(site))
            d.by_name[name.lower()] = host
            for key in ("mgmt_ipv4", "mgmt_ipv6"):
                ip = address(a.get(key)) if isinstance(a.get(key), str) else None
                if ip:
                    d.by_address[ip] = host
        return d

    def resolve(self, hostname: str | None, sender_ip: str | None) -> Host | None:
        if hostname:
            low = hostname.lower()
            found = self.by_name.get(low) or self.by_name.get(low.split(".", 1)[0])
            if found is None and (ip := address(hostname)) is not None:
                found = self.by_address.get(ip)
            if found is not None:
                return found
        return self.by_address.get(sender_ip) if sender_ip else None


class Resolver:
    """:meth:`Directory.resolve` over the store's inventory, reloaded every ``refresh_s``."""

    def __init__(self, store: Any, *, refresh_s: float = REFRESH_S) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._loaded = 0.0
        self.directory = Directory()
        self.reload()

    def reload(self) -> None:
        self.directory = Directory.from_rows(
            list(self._store.entities(ASSETS)), list(self._store.entities(SITES))
        )
        self._loaded = time.monotonic()

    def __call__(self, hostname: str | None, sender_ip: str | None) -> Host | None:
        if time.monotonic() - self._loaded >= self._refresh_s:
            self.reload()
        return self.directory.resolve(hostname, sender_ip)
