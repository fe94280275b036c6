"""What no countermeasure may touch, and the strict parsing of what reaches a playbook.

The allowlist: the monitoring host (loopback and every address of this machine, which in the
lab includes the headquarters side of each lab link), headquarters' gateways (this machine's
default routes) and DNS (its resolvers), every management address and VPN peer in the
inventory, and the configured list (setting ``csirt_permitidos``). A target that overlaps any
of them is refused before anything is written or run.

IPv4 written as IPv6 is caught too: an IPv4-mapped (``::ffff:a.b.c.d``) or IPv4-compatible
(``::a.b.c.d``) target is refused (no packet carries one: an ``ip6`` rule on it would block
nothing), and a NAT64 (``64:ff9b::/96``), 6to4 (``2002::/16``) or Teredo one is refused when
an IPv4 it embeds is allowlisted. A network wider than :data:`MIN_PREFIX` (/8 in IPv4, /32 in IPv6: a
whole RIR's or ISP's block) is refused as well: that is not containing one threat.

What this machine is comes from ``ip`` (iproute2): when it cannot be run or answers nothing
readable, nothing is proposed (never a silently smaller allowlist).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
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
# the widest network a countermeasure may block, per family (a /8, a /32)
MIN_PREFIX = {4: 8, 6: 32}
# IPv4 written as IPv6 that no packet carries: IPv4-compatible, IPv4-mapped, SIIT-translated
_V4_AS_V6 = tuple(ipaddress.IPv6Network(n) for n in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96"))
# where an IPv6 address embeds an IPv4 one: (prefix, bits after the IPv4 address)
_EMBEDDINGS = (
    (ipaddress.IPv6Network("::/96"), 0),  # IPv4-compatible
    (ipaddress.IPv6Network("::ffff:0:0/96"), 0),  # IPv4-mapped
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), 0),  # SIIT
    (ipaddress.IPv6Network("64:ff9b::/96"), 0),  # NAT64's well-known prefix
    (ipaddress.IPv6Network("2002::/16"), 80),  # 6to4
)
_IP_PATHS = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
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
    if (
        isinstance(net, ipaddress.IPv6Network)
        and not net.is_loopback
        and any(net.subnet_of(n) for n in _V4_AS_V6)
    ):
        v4 = ipaddress.IPv4Address(int(net.network_address) & 0xFFFFFFFF)
        raise Refused(
            f"{shown(text)} es una dirección IPv4 escrita como IPv6: ningún paquete la lleva así "
            f"y una regla IPv6 no bloquearía nada; indique la IPv4 ({v4})"
        )
    if net.prefixlen < MIN_PREFIX[net.version]:
        raise Refused(
            f"{shown(text)} es una red demasiado amplia: se bloquea a lo sumo una /"
            f"{MIN_PREFIX[net.version]} en IPv{net.version}"
        )
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


_NO_IP = "no se pudo leer las direcciones de este equipo"
_NOTHING = "no se propone ninguna contramedida"


def ip_command() -> str:
    """The path of iproute2's ``ip`` (cron's PATH is short: its usual places are tried too)."""
    found = shutil.which("ip") or next((p for p in _IP_PATHS if Path(p).is_file()), None)
    if found is None:
        raise ConfigError(f"{_NO_IP}: no se encuentra la orden «ip» (iproute2); {_NOTHING}")
    return found


def _ip_json(*args: str) -> list[dict[str, Any]]:
    """``ip -j ARGS`` read, or a Spanish error: never an empty answer taken as «nothing»."""
    argv = [ip_command(), *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=30)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as e:
        raise ConfigError(f"{_NO_IP}: «ip» no se pudo ejecutar ({e}); {_NOTHING}") from None
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines()
        why = clean_line(lines[0])[:200] if lines else ""
        raise ConfigError(
            f"{_NO_IP}: «ip {' '.join(args)}» salió con {done.returncode}"
            f"{': ' + why if why else ''}; {_NOTHING}"
        )
    try:
        found = json.loads(done.stdout)
    except ValueError:
        found = None
    if not isinstance(found, list) or not all(isinstance(x, dict) for x in found):
        raise ConfigError(f"{_NO_IP}: «ip {' '.join(args)}» no respondió JSON; {_NOTHING}")
    return found


def _address_of(value: Any, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value).split("%")[0])
    except ValueError:
        raise ConfigError(
            f"{what}: {shown(str(value))} no es una dirección IP; {_NOTHING}"
        ) from None


def _machine_addresses() -> Iterable[Allowed]:
    links = _ip_json("-j", "addr", "show")
    found = [(link, info) for link in links for info in link.get("addr_info") or []]
    if not found:
        raise ConfigError(f"{_NO_IP}: «ip» no listó ninguna (ni loopback); {_NOTHING}")
    for link, info in found:
        address = _address_of(info.get("local"), f"{_NO_IP} ({link.get('ifname')})")
        yield Allowed(
            ipaddress.ip_network(address), f"el equipo de monitoreo ({link.get('ifname')})"
        )


def _gateways() -> Iterable[Allowed]:
    for family in ("-4", "-6"):
        for route in _ip_json(family, "-j", "route", "show", "default"):
            if route.get("gateway"):
                gateway = _address_of(route["gateway"], "puerta de enlace de este equipo")
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


def _inventory_network(value: Any, where: str) -> Network:
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise ConfigError(
            f"el inventario tiene una dirección mal formada en {where}: {shown(str(value))}; "
            f"corríjala ({_NOTHING} mientras tanto)"
        ) from None


def _inventory(store: Store | Transaction) -> Iterable[Allowed]:
    for asset in store.scan(ASSETS):
        for key in ("mgmt_ipv4", "mgmt_ipv6"):
            if asset.get(key):
                yield Allowed(
                    _inventory_network(asset[key], f"el activo {asset.get('name')} ({key})"),
                    f"dirección de gestión del activo {asset.get('name')} en el inventario",
                )
    for site in store.scan(SITES):
        if site.get("vpn_peer"):
            yield Allowed(
                _inventory_network(site["vpn_peer"], f"la sede {site.get('code')} (vpn_peer)"),
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


def v6_images(net: ipaddress.IPv4Network) -> list[ipaddress.IPv6Network]:
    """``net`` as IPv6 writes it: IPv4-compatible and -mapped, SIIT, NAT64 (64:ff9b::/96), 6to4."""
    out = []
    for prefix, after in _EMBEDDINGS:
        base = int(prefix.network_address) | (int(net.network_address) << after)
        out.append(ipaddress.IPv6Network((base, prefix.prefixlen + net.prefixlen)))
    return out


def _embedded(net: ipaddress.IPv6Network) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a Teredo address carries (server, client), as ipaddress reads them."""
    teredo = net.network_address.teredo if net.prefixlen == 128 else None
    return list(teredo) if teredo else []


def check_allowed(target: str, allowed: Iterable[Allowed], what: str = "") -> None:
    """Refuse ``target`` (an address or network) when it overlaps anything allowlisted, an
    allowlisted IPv4 written as IPv6 (mapped, compatible, NAT64, 6to4, Teredo) included."""
    try:
        net = ipaddress.ip_network(str(target).strip(), strict=False)
    except ValueError:
        raise Refused(f"{shown(target)} no es una dirección IP ni una red CIDR válida") from None
    for entry in allowed:
        same = entry.network.version == net.version and entry.network.overlaps(net)
        written = (
            isinstance(entry.network, ipaddress.IPv4Network)
            and isinstance(net, ipaddress.IPv6Network)
            and (
                any(image.overlaps(net) for image in v6_images(entry.network))
                or any(v4 in entry.network for v4 in _embedded(net))
            )
        )
        if same or written:
            raise Refused(
                f"{what or target} está en la lista de permitidos: {entry.network} es {entry.why}"
                f"{' (escrita como IPv6)' if written and not same else ''}; "
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
