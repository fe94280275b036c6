"""What no countermeasure may touch, and the strict parsing of what reaches a playbook.

The allowlist: the monitoring host (loopback and every address of this machine, which in the
lab includes the headquarters side of each lab link), headquarters' gateways (this machine's
default routes) and DNS (its resolvers), every management address and VPN peer in the
inventory, and the configured list (setting ``csirt_permitidos``). A target that overlaps any
of them is refused before anything is written or run.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pukara.config import Settings
from pukara.errors import ConfigError, UsageError
from pukara.store import Store, Transaction
from pukara.text import clean_line

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# what an address or network may look like before ipaddress even reads it
_ADDRESS_CHARS = re.compile(r"^[0-9A-Fa-f:.]{2,39}(/[0-9]{1,3})?$")
# a local account name (Debian's NAME_REGEX, without the trailing $ of machine accounts)
ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SHELL = re.compile(r"^/[A-Za-z0-9._/+-]{1,255}$")
PROTECTED_ACCOUNTS = frozenset({"root"})
# the inventory's collections (read through the store, as every area reads another's data)
ASSETS, SITES = "asset", "site"


class Refused(UsageError):
    """A countermeasure whose target is not allowed (allowlisted, malformed)."""


@dataclass(frozen=True, slots=True)
class Allowed:
    network: Network
    why: str  # Spanish: what it is


def shown(text: str) -> str:
    """A value typed by someone, safe to quote in a message."""
    return repr(clean_line(str(text))[:80])


def parse_address(text: str) -> tuple[str, str]:
    """An address or CIDR in canonical form and its family (``"4"`` or ``"6"``).

    ``198.51.100.7``, ``198.51.100.0/24``, ``2001:db8::/64``; a /32 (/128) is the address.
    Host bits set (``10.0.0.5/24``) are refused, as is anything else.
    """
    value = str(text).strip()
    if not _ADDRESS_CHARS.match(value):
        raise Refused(f"{shown(text)} no es una dirección IP ni una red CIDR")
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise Refused(f"{shown(text)} no es una dirección IP ni una red CIDR válida") from None
    if net.network_address != ipaddress.ip_address(value.split("/")[0]):
        raise Refused(f"{shown(text)} tiene bits de equipo tras el prefijo: ¿quiso decir {net}?")
    if net.is_unspecified or net.prefixlen == 0:
        raise Refused(f"{shown(text)}: no se bloquea «todo»; indique una dirección o una red")
    if net.is_multicast:
        raise Refused(f"{shown(text)} es una dirección de multidifusión")
    one = net.prefixlen == net.max_prefixlen
    return (str(net.network_address) if one else net.compressed), str(net.version)


def parse_account(text: str) -> str:
    value = str(text).strip()
    if not ACCOUNT.match(value):
        raise Refused(
            f"{shown(text)} no es un nombre de cuenta local válido (minúsculas, dígitos, _ y -, "
            "hasta 32, empezando por letra o _)"
        )
    if value in PROTECTED_ACCOUNTS:
        raise Refused(f"la cuenta {value} no se deshabilita: se perdería la gestión del equipo")
    return value


def _machine_addresses() -> Iterable[Allowed]:
    done = subprocess.run(
        ["ip", "-j", "addr", "show"], capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    for link in json.loads(done.stdout or "[]"):
        for info in link.get("addr_info", []):
            address = ipaddress.ip_address(info["local"])
            yield Allowed(
                ipaddress.ip_network(address), f"el equipo de monitoreo ({link.get('ifname')})"
            )


def _gateways() -> Iterable[Allowed]:
    for family in ("-4", "-6"):
        done = subprocess.run(
            ["ip", family, "-j", "route", "show", "default"], capture_output=True, text=True,
            check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        for route in json.loads(done.stdout or "[]"):
            if route.get("gateway"):
                gateway = ipaddress.ip_address(route["gateway"])
                yield Allowed(ipaddress.ip_network(gateway), "puerta de enlace de la sede central")


def _resolvers(path: Path = Path("/etc/resolv.conf")) -> Iterable[Allowed]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                address = ipaddress.ip_address(parts[1].split("%")[0])
            except ValueError:
                continue
            yield Allowed(ipaddress.ip_network(address), "DNS de la sede central")


def _inventory(store: Store | Transaction) -> Iterable[Allowed]:
    for asset in store.scan(ASSETS):
        for key in ("mgmt_ipv4", "mgmt_ipv6"):
            if asset.get(key):
                yield Allowed(
                    ipaddress.ip_network(asset[key]),
                    f"dirección de gestión del activo {asset.get('name')} en el inventario",
                )
    for site in store.scan(SITES):
        if site.get("vpn_peer"):
            yield Allowed(
                ipaddress.ip_network(site["vpn_peer"]),
                f"par VPN de la sede {site.get('code')} en el inventario",
            )


def configured(settings: Settings) -> list[Allowed]:
    out = []
    for item in settings.csirt_permitidos:
        try:
            net = ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"csirt_permitidos: {shown(item)} no es una dirección ni una red"
            ) from None
        out.append(Allowed(net, "lista de permitidos configurada (csirt_permitidos)"))
    return out


def monitoring_host() -> list[Allowed]:
    """Loopback, this machine's addresses, its gateways and resolvers."""
    loop = [
        Allowed(ipaddress.ip_network("127.0.0.0/8"), "el equipo de monitoreo (loopback)"),
        Allowed(ipaddress.ip_network("::1/128"), "el equipo de monitoreo (loopback)"),
    ]
    return [*loop, *_machine_addresses(), *_gateways(), *_resolvers()]


def allowlist(
    store: Store | Transaction, settings: Settings, *, inventory: bool = True
) -> list[Allowed]:
    """Everything a countermeasure may not touch (``inventory``: with the inventory's)."""
    found = [*configured(settings), *monitoring_host()]
    return found + list(_inventory(store)) if inventory else found


def check_allowed(target: str, allowed: Iterable[Allowed], what: str = "") -> None:
    """Refuse ``target`` (an address or network) when it overlaps anything allowlisted."""
    net = ipaddress.ip_network(target, strict=False)
    for entry in allowed:
        if entry.network.version == net.version and entry.network.overlaps(net):
            raise Refused(
                f"{what or target} está en la lista de permitidos: {entry.network} es {entry.why}; "
                "no se aplica ninguna contramedida sobre ella"
            )


def asset_of(store: Store | Transaction, name: str) -> Mapping[str, Any]:
    """The inventory asset a countermeasure acts on, with a management address."""
    asset = store.get(ASSETS, [str(name).strip()])
    if asset is None:
        raise Refused(f"el equipo {shown(name)} no está en el inventario")
    if not (asset.get("mgmt_ipv4") or asset.get("mgmt_ipv6")):
        raise Refused(f"el equipo {asset['name']} no tiene dirección de gestión en el inventario")
    return asset


def management_address(asset: Mapping[str, Any]) -> str:
    """As the inventory reaches it: its preferred family first."""
    v4, v6 = asset.get("mgmt_ipv4"), asset.get("mgmt_ipv6")
    return str((v6 or v4) if asset.get("preferred_family") == "6" else (v4 or v6))
