"""A target as a user names it on the command line, read the same way by every area.

In this order: a site code of the inventory (in any case), an asset name, an IP address, an IP
prefix, a DNS host name. A site code stands for the site's equipment in service with a
management address; which of it an area acts on is the area's choice (monitoring probes the
site's gateway, discovery asks every device).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass

SITE = "site"
ASSET = "asset"
ADDRESS = "address"
NETWORK = "network"
NAME = "name"
# asset states that count as "in service" for a site code or an empty target list
IN_SERVICE = ("activo", "en_reparacion")
UNKNOWN = (
    "no es una sede ni un activo del inventario, ni una dirección o un prefijo IP, ni un nombre"
)


@dataclass(frozen=True, slots=True)
class Reference:
    text: str  # as typed
    kind: str  # SITE, ASSET, ADDRESS, NETWORK or NAME
    value: str  # site code (lower case), asset name, address, prefix or host name


def looks_like_host_name(text: str) -> bool:
    """A dotted DNS name (``gw.mision.test``), not a mistyped address such as ``1.2.3``."""
    labels = text.rstrip(".").split(".")
    return (
        len(labels) > 1
        and all(
            0 < len(x) <= 63 and x.replace("-", "").isalnum() and not x.startswith("-")
            for x in labels
        )
        and not labels[-1].isdigit()
    )


def classify(text: str, *, sites: Collection[str], assets: Collection[str] = ()) -> Reference:
    """What ``text`` names, given the inventory's site codes and asset names.

    Raises ValueError (with a Spanish reason) when it names nothing.
    """
    code = text.strip().lower()
    if code in sites:
        return Reference(text, SITE, code)
    if text in assets:
        return Reference(text, ASSET, text)
    try:
        return Reference(text, ADDRESS, str(ipaddress.ip_address(text)))
    except ValueError:
        pass
    try:
        return Reference(text, NETWORK, str(ipaddress.ip_network(text, strict=False)))
    except ValueError:
        pass
    if looks_like_host_name(text):
        return Reference(text, NAME, text.rstrip(".").lower())
    raise ValueError(UNKNOWN)
