"""The lab's site table and addressing plan.

Site ``i`` (1-based) gets the IPv4 link 198.18.0.0 + 4*i /30 (headquarters .1, site .2) and
the IPv6 link ``fd70:756b:6172:<i>::/64`` (headquarters ::1, site ::2) from the lab's ULA /48.
Everything stays inside 198.18.0.0/15 and that /48.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from inventario.model import DEFAULT_VPN_INTERFACE
from pukara.errors import LabError

V4_BLOCK = ipaddress.IPv4Network("198.18.0.0/15")
V4_LINKS = ipaddress.IPv4Network("198.18.0.0/16")
V6_BLOCK = ipaddress.IPv6Network("fd70:756b:6172::/48")
# Inside 198.19.0.0/16: tunnel point-to-point addresses and each mission's LAN address
TUNNELS = ipaddress.IPv4Network("198.19.64.0/18")
LANS = ipaddress.IPv4Network("198.19.128.0/18")
VPN_INTERFACE = DEFAULT_VPN_INTERFACE  # the product's default, which the lab's kits use
MAX_SITES = 4000
SNMP_ONLY = ("", "v2c", "v3")
SYSLOG = ("udp", "tcp")  # how the site's rsyslog forwards to headquarters
# How a site's router departs from the standard configuration ("" = standard); lab.frr
# applies each kind to the router's real running configuration.
ROUTER_KINDS = (
    "", "sin-syslog", "ruta-extra", "prefijo-abierto", "ref-indefinida", "as-errado",
    "ip-duplicada",
)  # fmt: skip
# default_sites: with 12 sites or more, one site of each non-standard kind, by index
DEFAULT_NONSTANDARD = {
    2: "sin-syslog", 4: "ruta-extra", 6: "prefijo-abierto", 8: "ref-indefinida",
    10: "as-errado", 12: "ip-duplicada",
}  # fmt: skip
# How much IPv6 a site's namespace has ("" = standard: its ULA address on the link); lab.ipv6
# applies each kind after the site is built (the ipv6 equipos tests pick them)
IPV6_KINDS = ("", "sin-ipv6", "solo-enlace-local")
# the --tabla columns: the required ones, then the optional ones (any other is an error)
TABLE_NEEDED = ("codigo", "retardo_ms", "variacion_ms", "perdida_pct", "caida")
TABLE_OPTIONAL = ("padre", "tunel", "snmp", "snmp_malo", "syslog", "router", "ipv6")
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")


@dataclass(frozen=True, slots=True)
class LabSite:
    index: int
    code: str
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    down: bool = False
    parent: str = ""  # a hub site this site is reached through (one level)
    tunnel: bool = False  # a VPN kit tunnel (OpenVPN in user space) to headquarters
    tunnel_broken: bool = False  # the kit's side of the tunnel is not running
    snmp_only: str = ""  # "v2c" or "v3": the agent speaks only that version ("": both)
    snmp_malo: bool = False  # snmpd serves malformed values (see lab.services.malformed)
    syslog: str = "udp"  # rsyslog forwards over "udp" (RFC 3164) or "tcp" (RFC 5424, octets)
    router: str = ""  # a non-standard router configuration (ROUTER_KINDS); "" = standard
    ipv6: str = ""  # "sin-ipv6" (disable_ipv6) or "solo-enlace-local" (IPV6_KINDS); "" = standard

    def __post_init__(self) -> None:
        if self.router not in ROUTER_KINDS:
            raise LabError(
                f"sede {self.code}: router debe ser vacío o {', '.join(ROUTER_KINDS[1:])}"
            )
        if self.snmp_only not in SNMP_ONLY:
            raise LabError(f"sede {self.code}: snmp_only debe ser v2c, v3 o vacío")
        if self.syslog not in SYSLOG:
            raise LabError(f"sede {self.code}: syslog debe ser udp o tcp")
        if self.ipv6 not in IPV6_KINDS:
            raise LabError(f"sede {self.code}: ipv6 debe ser vacío, sin-ipv6 o solo-enlace-local")

    @property
    def hostname(self) -> str:
        """The name of the site's emulated gateway (sysName, hostname over SSH)."""
        return f"gw-{self.code}"

    @property
    def serial(self) -> str:
        return f"PKLAB{self.index:05d}"

    @property
    def v4_host(self) -> ipaddress.IPv4Address:
        return V4_LINKS.network_address + 4 * self.index + 1

    @property
    def v4(self) -> ipaddress.IPv4Address:
        return V4_LINKS.network_address + 4 * self.index + 2

    @property
    def v4_net(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network((int(V4_LINKS.network_address) + 4 * self.index, 30))

    @property
    def tunnel_hq(self) -> ipaddress.IPv4Address:
        return TUNNELS.network_address + 4 * self.index + 1

    @property
    def tunnel_site(self) -> ipaddress.IPv4Address:
        return TUNNELS.network_address + 4 * self.index + 2

    @property
    def lan(self) -> ipaddress.IPv4Address:
        """An address on the mission's LAN side, reached only across the VPN tunnel."""
        return LANS.network_address + self.index

    @property
    def v6_net(self) -> ipaddress.IPv6Network:
        return ipaddress.IPv6Network((int(V6_BLOCK.network_address) + (self.index << 64), 64))

    @property
    def v6_host(self) -> ipaddress.IPv6Address:
        return self.v6_net.network_address + 1

    @property
    def v6(self) -> ipaddress.IPv6Address:
        return self.v6_net.network_address + 2


def index_of(address: ipaddress.IPv4Address) -> int | None:
    """The lab site whose gateway has ``address`` (``LabSite.v4``), or None."""
    offset = int(address) - int(V4_LINKS.network_address) - 2
    return offset // 4 if offset >= 4 and offset % 4 == 0 and address in V4_LINKS else None


@cache
def example_codes() -> dict[str, int]:
    """Lab index of each site of the shipped example inventory that has a WAN gateway.

    Read from the example's own data (``inventario/ejemplo/sedes.csv``): a site's ``vpn_peer``
    is the address of its gateway, which is the address of one lab site.
    """
    text = resources.files("inventario").joinpath("ejemplo/sedes.csv").read_text("utf-8")
    codes: dict[str, int] = {}
    for row in csv.DictReader(text.splitlines()):
        index = index_of(ipaddress.IPv4Address(row["vpn_peer"])) if row.get("vpn_peer") else None
        if index is not None:
            codes[row["code"]] = index
    return codes


def default_sites(
    count: int,
    *,
    down: frozenset[str] = frozenset(),
    tunnels: bool = False,
    broken: frozenset[str] = frozenset(),
) -> list[LabSite]:
    """``count`` sites with delays spread from 20 to 300 ms, 5% jitter and 2% loss on a few.

    Every third site (the 2nd, 5th...) sends its syslog over TCP, the others over UDP.
    With 12 sites or more, the sites of :data:`DEFAULT_NONSTANDARD` run a non-standard
    router configuration, one of each kind.

    The first sites take the codes of the shipped example inventory, so that its gateways
    answer; beyond those, codes are ``sNNNN``.
    """
    if not 1 <= count <= MAX_SITES:
        raise LabError(f"el laboratorio admite de 1 a {MAX_SITES} sedes, se pidieron {count}")
    names = {i: code for code, i in example_codes().items()}
    sites = []
    for i in range(1, count + 1):
        delay = 20.0 + (280.0 * (i - 1) / max(count - 1, 1))
        code = names.get(i, f"s{i:04d}")
        sites.append(
            LabSite(
                index=i,
                code=code,
                delay_ms=round(delay, 1),
                jitter_ms=round(delay * 0.05, 1),
                loss_pct=2.0 if i % 10 == 7 else 0.0,
                down=code in down,
                tunnel=tunnels or code in broken,
                tunnel_broken=code in broken,
                syslog="tcp" if i % 3 == 2 else "udp",
                router=DEFAULT_NONSTANDARD.get(i, "") if count >= 12 else "",
            )
        )
    for what, codes in (("caídas", down), ("con túnel roto", broken)):
        unknown = codes - {s.code for s in sites}
        if unknown:
            raise LabError(f"sedes {what} desconocidas: {', '.join(sorted(unknown))}")
    return sites


def _number(path: Path, line: int, name: str, text: str, top: float) -> float:
    try:
        value = float(text or 0)
    except ValueError:
        raise LabError(f"{path}, línea {line}: «{name}» no es un número: {text!r}") from None
    if not 0 <= value <= top:
        raise LabError(f"{path}, línea {line}: «{name}» debe estar entre 0 y {top}")
    return value


def _yes_no(path: Path, line: int, name: str, text: str | None, extra: set[str]) -> str:
    value = (text or "").strip().lower().replace("í", "i")
    if value not in {"", "si", "no"} | extra:
        allowed = " o ".join(["sí", "no", *sorted(extra)])
        raise LabError(f"{path}, línea {line}: «{name}» debe ser {allowed}")
    return value


def _ipv6_kind(path: Path, line: int, text: str | None) -> str:
    value = (text or "").strip().lower()
    value = "" if value == "dual" else value
    if value not in IPV6_KINDS:
        kinds = ", ".join(IPV6_KINDS[1:])
        raise LabError(
            f"{path}, línea {line}: «ipv6» debe ser dual (o vacío), {kinds}; se leyó {text!r}"
        )
    return value


def _check_columns(path: Path, names: Sequence[str] | None) -> None:
    if not names or not set(TABLE_NEEDED) <= set(names):
        raise LabError(f"{path}, línea 1: se esperan las columnas {', '.join(TABLE_NEEDED)}")
    unknown = [c for c in names if c not in TABLE_NEEDED + TABLE_OPTIONAL]
    if unknown:
        raise LabError(
            f"{path}, línea 1: columna desconocida «{unknown[0][:40]}» (las opcionales son "
            f"{', '.join(TABLE_OPTIONAL)})"
        )


def check_topology(sites: list[LabSite], where: str) -> None:
    """A parent must be another site of the table, itself without a parent."""
    by_code = {s.code: s for s in sites}
    for s in sites:
        if not s.parent:
            continue
        parent = by_code.get(s.parent)
        if parent is None or parent.code == s.code:
            raise LabError(f"{where}: la sede {s.code} tiene un padre desconocido {s.parent!r}")
        if parent.parent:
            raise LabError(
                f"{where}: la sede {s.code} cuelga de {parent.code}, que ya cuelga de "
                f"{parent.parent}; el laboratorio admite un solo nivel de concentradores"
            )


def read_site_table(path: Path) -> list[LabSite]:
    """Read a CSV site table: ``codigo,retardo_ms,variacion_ms,perdida_pct,caida``.

    Optional columns: ``padre`` (the hub a site hangs from), ``tunel`` (sí, no or roto),
    ``snmp`` (v2c or v3 for an agent that speaks only that version; empty for both) and
    ``snmp_malo`` (sí: the agent serves malformed values, to test that one bad answer fails
    only its own target), ``syslog`` (udp or tcp: how the site's rsyslog forwards to
    headquarters; empty for udp) and ``router`` (a non-standard router configuration, one of
    :data:`ROUTER_KINDS`; empty for the standard one) and ``ipv6`` (``dual`` or empty for the
    standard site, ``sin-ipv6`` or ``solo-enlace-local``: :mod:`lab.ipv6_modos`). Any other
    column is an error, not ignored.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise LabError(f"{path}: no se puede leer: {e.strerror}") from e
    reader = csv.DictReader(text.splitlines())
    _check_columns(path, reader.fieldnames)
    sites: list[LabSite] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        code = (row["codigo"] or "").strip()
        if not _CODE.match(code):
            raise LabError(f"{path}, línea {line}: código de sede inválido {code!r}")
        if code in seen:
            raise LabError(f"{path}, línea {line}: código de sede repetido {code!r}")
        seen.add(code)
        down = _yes_no(path, line, "caida", row["caida"], set())
        tunnel = _yes_no(path, line, "tunel", row.get("tunel"), {"roto"})
        parent = (row.get("padre") or "").strip()
        snmp = (row.get("snmp") or "").strip().lower().replace("ambas", "")
        if snmp not in SNMP_ONLY:
            raise LabError(f"{path}, línea {line}: «snmp» debe ser v2c, v3 o vacío (ambas)")
        malo = _yes_no(path, line, "snmp_malo", row.get("snmp_malo"), set())
        syslog = (row.get("syslog") or "").strip().lower() or "udp"
        if syslog not in SYSLOG:
            raise LabError(f"{path}, línea {line}: «syslog» debe ser udp o tcp (vacío: udp)")
        router = (row.get("router") or "").strip().lower()
        if router not in ROUTER_KINDS:
            kinds = ", ".join(ROUTER_KINDS[1:])
            raise LabError(f"{path}, línea {line}: «router» debe ser vacío (estándar) o {kinds}")
        if parent and not _CODE.match(parent):
            raise LabError(f"{path}, línea {line}: código de sede padre inválido {parent!r}")
        ipv6 = _ipv6_kind(path, line, row.get("ipv6"))
        sites.append(
            LabSite(
                index=len(sites) + 1,
                code=code,
                delay_ms=_number(path, line, "retardo_ms", row["retardo_ms"], 5000),
                jitter_ms=_number(path, line, "variacion_ms", row["variacion_ms"], 1000),
                loss_pct=_number(path, line, "perdida_pct", row["perdida_pct"], 100),
                down=down == "si",
                parent=parent,
                tunnel=tunnel in {"si", "roto"},
                tunnel_broken=tunnel == "roto",
                snmp_only=snmp,
                snmp_malo=malo == "si",
                syslog=syslog,
                router=router,
                ipv6=ipv6,
            )
        )
    check_topology(sites, str(path))
    if not sites:
        raise LabError(f"{path}: la tabla de sedes está vacía")
    if len(sites) > MAX_SITES:
        raise LabError(f"{path}: el laboratorio admite hasta {MAX_SITES} sedes")
    return sites
