"""Which sites are watched: the one definition the inventory and monitoring both use.

A site is monitored when one of its gateways (an active router or firewall with a management
address) carries the tag ``monitoreo``: ``sondear`` and ``vigilar`` without targets probe those,
and ``inventario sedes`` marks them. Plain mappings in, no imports: cheap for either side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MONITORED_TAG = "monitoreo"
GATEWAY_KINDS = ("router", "firewall")


def is_gateway(asset: Mapping[str, Any], family: int | None = None) -> bool:
    """An active router or firewall with a management address (of ``family``, if given)."""
    if asset.get("kind") not in GATEWAY_KINDS or (asset.get("status") or "activo") != "activo":
        return False
    if family is None:
        return bool(asset.get("mgmt_ipv4") or asset.get("mgmt_ipv6"))
    return bool(asset.get(f"mgmt_ipv{family}"))


def is_marked(asset: Mapping[str, Any]) -> bool:
    """Whether the asset carries the monitoring tag."""
    return MONITORED_TAG in (asset.get("tags") or [])


def monitored_sites(assets: Iterable[Mapping[str, Any]]) -> set[str]:
    """Codes of the sites whose gateway is marked for monitoring."""
    return {str(a["site"]) for a in assets if a.get("site") and is_gateway(a) and is_marked(a)}
