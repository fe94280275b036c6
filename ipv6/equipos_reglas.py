"""D1-D6: a network device's IPv6 readiness judged from what its agent and its CLI answered.

Pure functions over the collected data (:class:`Collected`), so each rule is tested on
recorded answers. Objects (RFC 4293 IP-MIB first, RFC 2465 IPV6-MIB as the fallback, D4):

- D1 ``ipv6InterfaceEnableStatus`` (4.30.1.5), else ``ipv6IfAdminStatus`` (55.1.5.1.9), else
  the interfaces that hold an IPv6 address; up on at least one interface besides loopback,
  and on every interface that has an IPv4 address (``ipAddressTable`` type ipv4), else partial.
- D2 ``ipAddressTable`` (4.34: ifIndex, type, status), else ``ipv6AddrStatus`` (55.1.8.1.5):
  a preferred unicast address that is global (2000::/3 and not special-purpose, or inside
  the setting ``ipv6_prefijos_globales``). Only rows whose status is exactly preferred(1)
  count; with no status column at all D2 is not-tested. Link-local only fails.
- D3 ``ipv6IpForwarding`` (4.25.0) else ``ipv6Forwarding`` (55.1.1.0) = forwarding(1) on a
  router or firewall, and IPv6 neighbours in ``ipNetToPhysicalTable`` (4.35.1.4) else
  ``ipv6NetToMediaPhysAddress`` (55.1.12.1.2); a row with an empty physical address (an
  incomplete entry) is no neighbour.
- D4 which of those came from the obsolete IPV6-MIB (RFC 8096), and whether either answered.
- D5 SNMP and SSH answer on the device's IPv6 address (inventory ``mgmt_ipv6``, else a
  global address of D2): a pass needs both asked and both answering; one not asked is
  not-tested, naming it.
- D6 the CLI (FRR's vtysh: ``show interface brief``, ``show ipv6 route``) shows a global
  IPv6 address on an interface other than loopback and, on a router or firewall, an IPv6
  route that is not connected (kernel, static, OSPFv3, BGP... or a default route). FRR has
  no per-interface IPv6 ACL to compare with the IPv4 ones: the evidence says so
  (``"acl": "no aplica en FRR"``).

net-snmp 5.9 (the lab's agent, like many Linux-based devices) has no ipv6InterfaceTable:
D1 then reads IPV6-MIB, and D4 says so.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pukara.snmp import index_address

IF_ENABLE = "1.3.6.1.2.1.4.30.1.5"
ADDR_IFINDEX = "1.3.6.1.2.1.4.34.1.3"
ADDR_TYPE = "1.3.6.1.2.1.4.34.1.4"
ADDR_STATUS = "1.3.6.1.2.1.4.34.1.7"
FORWARDING = "1.3.6.1.2.1.4.25.0"
NEIGHBOURS = "1.3.6.1.2.1.4.35.1.4"
V6MIB_FORWARDING = "1.3.6.1.2.1.55.1.1.0"
V6MIB_IF_DESCR = "1.3.6.1.2.1.55.1.5.1.2"
V6MIB_IF_ADMIN = "1.3.6.1.2.1.55.1.5.1.9"
V6MIB_ADDR_STATUS = "1.3.6.1.2.1.55.1.8.1.5"
V6MIB_NEIGHBOURS = "1.3.6.1.2.1.55.1.12.1.2"
SCALARS = (FORWARDING, V6MIB_FORWARDING)
COLUMNS = (IF_ENABLE, ADDR_IFINDEX, ADDR_TYPE, ADDR_STATUS, NEIGHBOURS, V6MIB_IF_DESCR,
           V6MIB_IF_ADMIN, V6MIB_ADDR_STATUS, V6MIB_NEIGHBOURS)  # fmt: skip
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

CHECKS: dict[str, str] = {
    "D1": "IPv6 habilitado en las interfaces",
    "D2": "Dirección IPv6 global preferida",
    "D3": "Enrutamiento IPv6 (reenvío y vecinos)",
    "D4": "MIB de IPv6 legible (IP-MIB o IPV6-MIB)",
    "D5": "Gestión por IPv6 (SNMP y SSH)",
    "D6": "Evidencia de la CLI (interfaces y rutas IPv6)",
}
PASS, FAIL, WARN, NOT_TESTED = "pass", "fail", "warn", "not-tested"
PARTIAL = "partial"
ROUTERS = ("router", "firewall")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")
# special-purpose blocks Python 3.11's is_global does not know yet (RFC 9637 documentation)
_SPECIAL = (ipaddress.IPv6Network("3fff::/20"),)
_MAX_LISTED = 20
LEARNED_ROUTES = frozenset("KSOBRIA")  # FRR codes of routes that are not connected
ACL_NOTE = {"frr": "no aplica en FRR"}  # FRR has no per-interface ACL to compare


@dataclass(frozen=True, slots=True)
class Check:
    """One check's verdict: status, a Spanish message and JSON-able evidence."""

    check: str
    status: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Collected:
    """What one device answered; an ``*_error`` says why that part could not be asked."""

    role: str  # inventory kind: router, firewall, switch
    scalars: Mapping[str, Any] = field(default_factory=dict)
    walked: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    snmp_error: str | None = None
    mgmt_ipv6: str | None = None  # the inventory's, or None (D5 then uses a D2 address)
    snmp_v6: str | None = None  # "ok", or why SNMP over IPv6 failed; None: not asked
    ssh_v6: str | None = None  # "ok", or why SSH over IPv6 failed; None: not asked
    cli: Mapping[str, str] | None = None  # command -> output
    cli_error: str | None = None  # why the CLI was not read (platform, login, --sin-ssh)
    platform: str = ""  # the CLI platform ("frr"), for D6's ACL note


def is_global(address: ipaddress.IPv6Address, extra: Sequence[ipaddress.IPv6Network]) -> bool:
    """Global for the IPv6 checks: 2000::/3 and not special-purpose, or inside ``extra``."""
    if any(address in net for net in extra):
        return True
    special = any(address in net for net in _SPECIAL)
    return address in _GLOBAL_UNICAST and address.is_global and not special


def _v6_rows(column: Mapping[str, Any], skip: int = 0) -> dict[ipaddress.IPv6Address, str]:
    """IPv6 addresses of an index ``[ifIndex.]type.length.octets`` -> the index."""
    out: dict[ipaddress.IPv6Address, str] = {}
    for index in column:
        rest = index.split(".", skip)[-1] if skip else index
        try:
            address = index_address(rest)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address):
            out[address] = index
    return out


def _legacy_rows(column: Mapping[str, Any]) -> dict[ipaddress.IPv6Address, int]:
    """IPV6-MIB indexes ``ifIndex.16 octets`` -> address: ifIndex."""
    out: dict[ipaddress.IPv6Address, int] = {}
    for index in column:
        parts = index.split(".")
        if len(parts) == 17 and all(p.isdigit() and int(p) <= 255 for p in parts[1:]):
            out[ipaddress.IPv6Address(bytes(int(p) for p in parts[1:]))] = int(parts[0])
    return out


def loopbacks(c: Collected) -> set[int]:
    """ifIndexes of loopback interfaces: those holding ::1 or 127/8, or named lo/Loopback."""
    out: set[int] = set()
    for index, ifindex in c.walked.get(ADDR_IFINDEX, {}).items():
        try:
            address = index_address(index)
        except ValueError:
            continue
        if address is not None and address.is_loopback and isinstance(ifindex, int):
            out.add(ifindex)
    for index, descr in c.walked.get(V6MIB_IF_DESCR, {}).items():
        name = descr.decode("utf-8", "replace") if isinstance(descr, bytes) else str(descr)
        if index.isdigit() and re.fullmatch(r"(?i)lo\d*|loopback\d*", name.strip()):
            out.add(int(index))
    return out


def _addresses(c: Collected) -> tuple[list[tuple[ipaddress.IPv6Address, int | None]], str]:
    """Preferred unicast IPv6 addresses with their ifIndex, and the table they came from
    (a row counts only when its status is exactly preferred(1) and its type unicast(1))."""
    w = c.walked
    rows = _v6_rows(w.get(ADDR_IFINDEX, {}))
    if rows:
        types, status = w.get(ADDR_TYPE, {}), w.get(ADDR_STATUS, {})
        kept = [
            (a, w[ADDR_IFINDEX].get(i)) for a, i in rows.items()
            if types.get(i, 1) == 1 and status.get(i) == 1
        ]  # fmt: skip
        return kept, "IP-MIB ipAddressTable"
    legacy = _legacy_rows(w.get(V6MIB_ADDR_STATUS, {}))
    if legacy:
        status = w[V6MIB_ADDR_STATUS]
        return [(a, i) for a, i in legacy.items() if status.get(_legacy_index(i, a)) == 1], (
            "IPV6-MIB ipv6AddrTable"
        )
    return [], ""


def _legacy_index(ifindex: int, address: ipaddress.IPv6Address) -> str:
    return ".".join([str(ifindex), *(str(b) for b in address.packed)])


def ipv4_interfaces(c: Collected) -> set[int]:
    """ifIndexes of the L3 interfaces: those with an IPv4 address in ipAddressTable (type
    ipv4), loopback left out."""
    out: set[int] = set()
    for index, ifindex in c.walked.get(ADDR_IFINDEX, {}).items():
        try:
            address = index_address(index)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv4Address) and isinstance(ifindex, int):
            out.add(ifindex)
    return out - loopbacks(c)


def _d1_enabled(enabled: list[int], l3: set[int], message: str,
                evidence: dict[str, Any]) -> Check:  # fmt: skip
    lacking = sorted(l3 - set(enabled))
    evidence = {**evidence, "ipv4_ifindexes": sorted(l3), "ipv4_without_ipv6": lacking}
    if lacking:
        return Check("D1", PARTIAL, f"{message}, pero {len(lacking)} interfaz(es) con IPv4 no "
                     f"tienen IPv6 (ifIndex {', '.join(map(str, lacking))})", evidence)  # fmt: skip
    return Check("D1", PASS, message, evidence)


def d1(c: Collected) -> Check:
    loop = loopbacks(c)
    l3 = ipv4_interfaces(c)
    w = c.walked
    for column, source in ((IF_ENABLE, "IP-MIB ipv6InterfaceEnableStatus"),
                           (V6MIB_IF_ADMIN, "IPV6-MIB ipv6IfAdminStatus")):  # fmt: skip
        rows = {int(i): v for i, v in w.get(column, {}).items() if i.isdigit()}
        if not rows:
            continue
        enabled = sorted(i for i, v in rows.items() if v == 1 and i not in loop)
        evidence = {"source": source, "enabled_ifindexes": enabled,
                    "disabled_ifindexes": sorted(i for i, v in rows.items() if v != 1)}  # fmt: skip
        if enabled:
            return _d1_enabled(enabled, l3, f"IPv6 activo en {len(enabled)} interfaz(es)",
                               evidence)  # fmt: skip
        return Check("D1", FAIL, "IPv6 no está activo en ninguna interfaz (salvo loopback)",
                     evidence)  # fmt: skip
    holding = sorted({i for a, i in _addresses(c)[0] if i is not None and i not in loop})
    if holding:
        return _d1_enabled(holding, l3, f"{len(holding)} interfaz(es) con dirección IPv6",
                           {"source": "IP-MIB ipAddressTable", "enabled_ifindexes": holding})  # fmt: skip
    if any(c.scalars.get(o) is not None for o in SCALARS):
        return Check("D1", FAIL, "ninguna interfaz tiene IPv6 (el agente no lista interfaces "
                                 "IPv6 ni direcciones IPv6 fuera de loopback)",
                     {"source": "IP-MIB e IPV6-MIB", "enabled_ifindexes": []})  # fmt: skip
    return Check("D1", NOT_TESTED, "el agente no expone el estado IPv6 de sus interfaces",
                 {"source": ""})  # fmt: skip


def _status_missing(c: Collected) -> bool:
    """ipAddressTable lists IPv6 rows but no ipAddressStatus for any of them."""
    rows = _v6_rows(c.walked.get(ADDR_IFINDEX, {}))
    status = c.walked.get(ADDR_STATUS, {})
    return bool(rows) and not any(i in status for i in rows.values())


def d2(c: Collected, extra: Sequence[ipaddress.IPv6Network]) -> Check:
    if _status_missing(c):
        return Check("D2", NOT_TESTED, "el agente no dio el estado (ipAddressStatus) de sus "
                     "direcciones IPv6", {"source": "IP-MIB ipAddressTable",
                                          "status_column": "ausente"})  # fmt: skip
    found, source = _addresses(c)
    groups: dict[str, list[str]] = {"global": [], "link_local": [], "other": []}
    for address, _ in sorted(found):
        if address.is_loopback:
            continue
        kind = "global" if is_global(address, extra) else (
            "link_local" if address in _LINK_LOCAL else "other")  # fmt: skip
        groups[kind].append(str(address))
    evidence: dict[str, Any] = {"source": source, **{k: v[:_MAX_LISTED] for k, v in groups.items()}}
    if groups["global"]:
        return Check("D2", PASS, f"dirección global {groups['global'][0]}", evidence)
    if groups["other"]:
        return Check("D2", FAIL, f"sin dirección global: {groups['other'][0]} no es global "
                                 "(2000::/3 ni [ipv6] prefijos_globales)", evidence)  # fmt: skip
    if groups["link_local"]:
        return Check("D2", FAIL, "solo direcciones de enlace local (fe80::/10)", evidence)
    return Check("D2", FAIL, "sin direcciones IPv6", evidence)


def _neighbours(c: Collected) -> tuple[list[str], str]:
    """IPv6 neighbours with a physical address (an empty one is an incomplete entry)."""
    column = c.walked.get(NEIGHBOURS, {})
    rows = _v6_rows(column, skip=1)
    if rows:
        return sorted(str(a) for a, i in rows.items() if column[i]), "IP-MIB ipNetToPhysicalTable"
    column = c.walked.get(V6MIB_NEIGHBOURS, {})
    legacy = _legacy_rows(column)
    found = sorted(str(a) for a, i in legacy.items() if column.get(_legacy_index(i, a)))
    return found, "IPV6-MIB ipv6NetToMediaTable" if legacy else ""


def d3(c: Collected) -> Check:
    forwarding = c.scalars.get(FORWARDING)
    source = "IP-MIB ipv6IpForwarding"
    if forwarding is None and c.scalars.get(V6MIB_FORWARDING) is not None:
        forwarding, source = c.scalars[V6MIB_FORWARDING], "IPV6-MIB ipv6Forwarding"
    neighbours, where = _neighbours(c)
    evidence = {"forwarding": forwarding, "forwarding_source": source if forwarding else "",
                "neighbours": neighbours[:_MAX_LISTED], "neighbour_count": len(neighbours),
                "neighbours_source": where}  # fmt: skip
    router = c.role in ROUTERS
    if router and forwarding is None:
        return Check("D3", NOT_TESTED, "el agente no dice si reenvía IPv6", evidence)
    if router and forwarding != 1:
        return Check("D3", FAIL, "el enrutador no reenvía IPv6 (ipv6IpForwarding ≠ 1)", evidence)
    if not neighbours:
        status = FAIL if router else WARN
        return Check("D3", status, "sin vecinos IPv6 en la tabla de vecinos", evidence)
    return Check("D3", PASS, f"{len(neighbours)} vecino(s) IPv6"
                             + (", reenvía IPv6" if router else ""), evidence)  # fmt: skip


def d4(c: Collected) -> Check:
    w, s = c.walked, c.scalars
    modern = {
        "ipv6InterfaceEnableStatus": bool(w.get(IF_ENABLE)),
        "ipAddressTable (IPv6)": bool(_v6_rows(w.get(ADDR_IFINDEX, {}))),
        "ipv6IpForwarding": s.get(FORWARDING) is not None,
        "ipNetToPhysicalTable (IPv6)": bool(_v6_rows(w.get(NEIGHBOURS, {}), skip=1)),
    }
    legacy = {
        "ipv6IfTable": bool(w.get(V6MIB_IF_ADMIN)),
        "ipv6AddrTable": bool(w.get(V6MIB_ADDR_STATUS)),
        "ipv6Forwarding": s.get(V6MIB_FORWARDING) is not None,
        "ipv6NetToMediaTable": bool(w.get(V6MIB_NEIGHBOURS)),
    }
    used = [name for name, fallback in (
        ("ipv6IfTable", not modern["ipv6InterfaceEnableStatus"]),
        ("ipv6AddrTable", not modern["ipAddressTable (IPv6)"]),
        ("ipv6Forwarding", not modern["ipv6IpForwarding"]),
        ("ipv6NetToMediaTable", not modern["ipNetToPhysicalTable (IPv6)"]),
    ) if fallback and legacy[name]]  # fmt: skip
    evidence = {"ip_mib": sorted(k for k, v in modern.items() if v),
                "ipv6_mib": sorted(k for k, v in legacy.items() if v), "fallback_used": used}  # fmt: skip
    if not any(modern.values()) and not any(legacy.values()):
        return Check("D4", FAIL, "el agente no expone IPv6 ni en IP-MIB ni en IPV6-MIB", evidence)
    if used:
        return Check("D4", PASS, "IP-MIB incompleto; se leyó IPV6-MIB (obsoleto, RFC 8096) "
                                 f"para {', '.join(used)}", evidence)  # fmt: skip
    return Check("D4", PASS, "IP-MIB (RFC 4293) basta; IPV6-MIB no hizo falta", evidence)


def management_v6(c: Collected, extra: Sequence[ipaddress.IPv6Network]) -> str | None:
    """The address D5 tries: the inventory's ``mgmt_ipv6``, else a global one of D2."""
    if c.mgmt_ipv6:
        return c.mgmt_ipv6
    found = sorted(a for a, _ in _addresses(c)[0] if is_global(a, extra))
    return str(found[0]) if found else None


def d5(c: Collected, address: str | None) -> Check:
    """Pass only when SNMP and SSH were both asked on the IPv6 address and both answered."""
    missing = [w for w, v in (("SNMP", c.snmp_v6), ("SSH", c.ssh_v6)) if v is None]
    evidence: dict[str, Any] = {"address": address or "", "snmp": c.snmp_v6 or "",
                                "ssh": c.ssh_v6 or "", "not_asked": missing}  # fmt: skip
    if address is None and c.snmp_error is not None:
        return Check("D5", NOT_TESTED, "sin respuesta SNMP no se conocen sus direcciones IPv6: "
                     f"{c.snmp_error}", {**evidence, "error": c.snmp_error})  # fmt: skip
    if address is None:
        return Check("D5", FAIL, "sin dirección IPv6 de gestión (ni en el inventario ni global "
                                 "en el equipo)", evidence)  # fmt: skip
    if len(missing) == 2:
        return Check("D5", NOT_TESTED, "no se probó la gestión por IPv6", evidence)
    failed = [f"{what}: {why}" for what, why in (("SNMP", c.snmp_v6), ("SSH", c.ssh_v6))
              if why not in (None, "ok")]  # fmt: skip
    if failed:
        return Check("D5", FAIL, f"[{address}] " + "; ".join(failed), evidence)
    if missing:
        why = f" ({c.snmp_error})" if missing == ["SNMP"] and c.snmp_error else ""
        if why:
            evidence["error"] = c.snmp_error
        answered = "SSH" if missing == ["SNMP"] else "SNMP"
        return Check("D5", NOT_TESTED, f"{answered} responde en [{address}], pero "
                     f"{missing[0]} no se probó por IPv6{why}", evidence)  # fmt: skip
    return Check("D5", PASS, f"SNMP y SSH responden en [{address}]", evidence)


_ROUTE = re.compile(r"^([A-Za-z])[>* ]*[>*]?\s*([0-9a-fA-F:]+/\d+)")


def parse_interface_brief(text: str) -> dict[str, list[str]]:
    """FRR ``show interface brief``: interface -> its addresses (the ``+`` lines included)."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith(("Interface", "---")):
            continue
        parts = line.split()
        if not line[0].isspace():
            current = parts[0]
            out[current] = [p for p in parts[3:] if "/" in p]
        elif current:
            out[current] += [p for p in parts if "/" in p]
    return out


def parse_ipv6_routes(text: str) -> list[tuple[str, str]]:
    """FRR ``show ipv6 route``: (protocol code, prefix) per route line."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        found = _ROUTE.match(line.strip())
        if found and ":" in found.group(2):
            out.append((found.group(1), found.group(2)))
    return out


def d6(c: Collected, extra: Sequence[ipaddress.IPv6Network]) -> Check:
    if c.cli is None:
        why = c.cli_error or "no se leyó la CLI"
        return Check("D6", NOT_TESTED, why, {"error": why})
    interfaces = parse_interface_brief(c.cli.get("show interface brief", ""))
    addresses: dict[str, list[str]] = {}
    for name, found in interfaces.items():
        v6 = [a for a in found if ":" in a]
        if v6 and not re.fullmatch(r"(?i)lo\d*|loopback\d*", name):
            addresses[name] = v6
    routes = parse_ipv6_routes(c.cli.get("show ipv6 route", ""))
    useful = [f"{code} {p}" for code, p in routes if not _link_local_prefix(p)]
    learned = [f"{code} {p}" for code, p in routes
               if code in LEARNED_ROUTES or p == "::/0"]  # fmt: skip
    globals_ = [a for v in addresses.values() for a in v if _global_text(a, extra)]
    evidence = {"interfaces": addresses, "routes": useful[:_MAX_LISTED],
                "route_count": len(routes), "learned_routes": learned[:_MAX_LISTED],
                "acl": ACL_NOTE.get(c.platform, "no revisado")}  # fmt: skip
    if not globals_:
        return Check("D6", FAIL, "la CLI no muestra una dirección IPv6 global en ninguna "
                                 "interfaz", evidence)  # fmt: skip
    router = c.role in ROUTERS
    if router and not learned:
        return Check("D6", FAIL, "la CLI no muestra rutas IPv6 aprendidas ni por defecto "
                     "(solo conectadas o de enlace local)", evidence)  # fmt: skip
    if not useful:
        return Check("D6", FAIL, "la CLI no muestra rutas IPv6 (salvo enlace local)", evidence)
    shown = len(learned) if router else len(useful)
    kind = "ruta(s) IPv6 no conectadas" if router else "ruta(s) IPv6"
    return Check("D6", PASS, f"{globals_[0]} y {shown} {kind} en la CLI", evidence)


def _link_local_prefix(prefix: str) -> bool:
    try:
        return ipaddress.IPv6Network(prefix, strict=False).subnet_of(_LINK_LOCAL)
    except ValueError:
        return False


def _global_text(interface_address: str, extra: Sequence[ipaddress.IPv6Network]) -> bool:
    try:
        return is_global(ipaddress.IPv6Interface(interface_address).ip, extra)
    except ValueError:
        return False


def evaluate(c: Collected, extra: Sequence[ipaddress.IPv6Network]) -> list[Check]:
    """D1-D6 for one device; without an SNMP answer D1-D4 are not-tested with the reason."""
    if c.snmp_error is not None:
        snmp = [Check(cid, NOT_TESTED, f"sin respuesta SNMP: {c.snmp_error}",
                      {"error": c.snmp_error}) for cid in ("D1", "D2", "D3", "D4")]  # fmt: skip
    else:
        snmp = [d1(c), d2(c, extra), d3(c), d4(c)]
    return [*snmp, d5(c, management_v6(c, extra)), d6(c, extra)]
