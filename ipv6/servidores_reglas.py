"""S1-S3 over the raw output of playbooks/ipv6/servidores.yml; S4's port sets.

Pure functions: each takes what one task printed (sections ``@@ <name> rc=<code>``, as in
auditoria/linux_secciones.py) and gives one :class:`ipv6.modelo.CheckResult`. Every result
that is not a pass carries its evidence; output that is missing or unreadable is NOT_TESTED,
never a pass.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditoria.linux_secciones import Section, listing, sections
from ipv6.modelo import Category, CheckResult, Status

KEYS = ("ipv6_kernel", "ipv6_listeners", "ipv6_firewall")
TITLES = {
    "S1": "IPv6 habilitado en el núcleo (disable_ipv6 = 0 en all, default y cada interfaz)",
    "S2": "Cada servicio que escucha en IPv4 también escucha en IPv6",
    "S3": "Cortafuegos para ambas familias, con ICMPv6 de vecinos (ND) y PTB permitido",
    "S4": "Los puertos TCP abiertos vistos desde fuera son los mismos por IPv4 y por IPv6",
}
ND_TYPES = frozenset({"nd-neighbor-solicit", "nd-neighbor-advert"})
PTB_TYPE = "packet-too-big"
_IPT_TYPES = {"neighbour-solicitation": "nd-neighbor-solicit", "135": "nd-neighbor-solicit",
              "neighbour-advertisement": "nd-neighbor-advert", "136": "nd-neighbor-advert",
              "packet-too-big": PTB_TYPE, "2": PTB_TYPE}  # fmt: skip
# UDP services that exist for one family only (DHCPv4 67/68, DHCPv6 546/547): no twin expected
FAMILY_SPECIFIC = frozenset({("udp", 67), ("udp", 68), ("udp", 546), ("udp", 547)})
_SYSCTL = re.compile(r"^/proc/sys/net/ipv6/conf/([^/\s]+)/disable_ipv6\s+(\d+)$")


def result(subject: str, check: str, status: Status, message: str,
           evidence: Mapping[str, object] | None = None) -> CheckResult:  # fmt: skip
    return CheckResult(subject, check, status, message, Category.SERVER, dict(evidence or {}))


def _get(raw: Mapping[str, str], key: str, name: str) -> Section | None:
    text = raw.get(key)
    return sections(text).get(name) if text is not None else None


# --- S1 ------------------------------------------------------------------------------------


def check_kernel(subject: str, raw: Mapping[str, str]) -> CheckResult:
    found = _get(raw, "ipv6_kernel", "disable_ipv6")
    if found is None:
        return result(subject, "S1", Status.NOT_TESTED, "el equipo no dio sus ajustes IPv6",
                      {"raw": raw.get("ipv6_kernel")})  # fmt: skip
    values = {}
    for line in found.text.splitlines():
        m = _SYSCTL.match(line.strip())
        if m:
            values[m.group(1)] = int(m.group(2))
    if not values:
        return result(subject, "S1", Status.FAIL,
                      "el núcleo no tiene IPv6 (no existe /proc/sys/net/ipv6: ipv6.disable=1)",
                      {"rc": found.rc, "output": found.text[:500]})  # fmt: skip
    off = sorted(k for k, v in values.items() if v != 0)
    if off:
        return result(subject, "S1", Status.FAIL,
                      f"IPv6 deshabilitado (disable_ipv6 = 1) en {listing(off)}",
                      {"disable_ipv6": values, "disabled": off})  # fmt: skip
    return result(subject, "S1", Status.PASS,
                  f"IPv6 habilitado en {len(values)} entradas (all, default e interfaces)",
                  {"disable_ipv6": values})  # fmt: skip


# --- S2 ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listener:
    proto: str  # tcp / udp
    address: str  # as ss shows it, without brackets nor %interface; "*": both families
    port: int

    @property
    def families(self) -> frozenset[int]:
        if self.address == "*":
            return frozenset({4, 6})
        return frozenset({6 if ":" in self.address else 4})

    @property
    def local_only(self) -> bool:
        if self.address == "*":
            return False
        ip = ipaddress.ip_address(self.address)
        return ip.is_loopback or ip.is_link_local

    @property
    def text(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.proto}/{shown}:{self.port}"


def parse_listeners(text: str) -> list[Listener]:
    """``ss -H -l -n -t -u`` lines: Netid State Recv-Q Send-Q Local:Port Peer:Port ..."""
    out: list[Listener] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] not in ("tcp", "udp"):
            continue
        host, _, port = fields[4].rpartition(":")
        host = host.removeprefix("[").removesuffix("]").split("%", 1)[0]
        if not port.isdigit():
            continue
        try:
            if host != "*":
                mapped = ipaddress.ip_address(host)
                if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped:
                    host = str(mapped.ipv4_mapped)
        except ValueError:
            continue
        out.append(Listener(fields[0], host, int(port)))
    return sorted(set(out), key=lambda item: (item.proto, item.port, item.address))


def _ports(listeners: Iterable[Listener], family: int) -> set[tuple[str, int]]:
    return {(x.proto, x.port) for x in listeners if family in x.families and not x.local_only}


def check_listeners(subject: str, raw: Mapping[str, str]) -> tuple[CheckResult, list[Listener]]:
    found = _get(raw, "ipv6_listeners", "listeners")
    if found is None or not found.ok:
        why = "ss no está en el equipo" if found is not None and found.missing else \
            "el equipo no dio sus servicios que escuchan (ss)"  # fmt: skip
        return result(subject, "S2", Status.NOT_TESTED, why,
                      {"rc": found.rc if found else None,
                       "output": found.text[:500] if found else None}), []  # fmt: skip
    listeners = parse_listeners(found.text)
    v4, v6 = _ports(listeners, 4), _ports(listeners, 6)
    evidence: dict[str, object] = {"listeners": [x.text for x in listeners],
                                   "v4": sorted(f"{p}/{n}" for p, n in v4),
                                   "v6": sorted(f"{p}/{n}" for p, n in v6)}  # fmt: skip
    single = sorted((v4 | v6) & FAMILY_SPECIFIC)
    if single:  # DHCP client or server of one family: not applicable to the comparison
        evidence["not_applicable"] = [f"{p}/{n}" for p, n in single]
        v4 -= FAMILY_SPECIFIC
    missing = sorted(v4 - v6)
    if missing:
        names = [f"{p}/{n}" for p, n in missing]
        return result(subject, "S2", Status.FAIL,
                      f"escucha solo en IPv4: {listing(names)}",
                      {**evidence, "missing_v6": names}), listeners  # fmt: skip
    if not v4:
        return result(subject, "S2", Status.PASS, "ningún servicio escucha en IPv4 fuera de "
                      "loopback", evidence), listeners  # fmt: skip
    return result(subject, "S2", Status.PASS,
                  f"los {len(v4)} servicios que escuchan en IPv4 también escuchan en IPv6",
                  evidence), listeners  # fmt: skip


# --- S3 ------------------------------------------------------------------------------------


@dataclass
class Chain:
    family: str  # nft family: ip, ip6, inet (iptables: ip / ip6)
    table: str
    name: str
    policy: str = "accept"
    hook: str = ""
    rules: tuple[str, ...] = ()

    @property
    def families(self) -> frozenset[int]:
        return {"ip": frozenset({4}), "ip6": frozenset({6}),
                "inet": frozenset({4, 6})}.get(self.family, frozenset())  # fmt: skip

    @property
    def filters(self) -> bool:
        """Drops what it does not accept: a drop policy, or a final bare drop/reject."""
        if self.policy == "drop":
            return True
        last = self.rules[-1].split() if self.rules else []
        kept = [w for w in last if w not in ("counter",) and not w.isdigit()
                and w not in ("packets", "bytes")]  # fmt: skip
        return bool(kept) and kept[0] in ("drop", "reject")


_TABLE = re.compile(r"^table (\w+) (\S+) \{$")
_CHAIN = re.compile(r"^chain (\S+) \{$")
_HOOK = re.compile(r"type filter hook (\w+) .*?(?:policy (\w+);)?$")


def parse_nft(text: str) -> list[Chain]:
    """The chains of ``nft list ruleset``, with their hook, policy and rules."""
    chains: list[Chain] = []
    family = table = ""
    chain: Chain | None = None
    rules: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if m := _TABLE.match(line):
            family, table = m.group(1), m.group(2)
        elif (m := _CHAIN.match(line)) and family:
            chain, rules = Chain(family, table, m.group(1)), []
        elif chain is not None and line == "}":
            chain.rules = tuple(rules)
            chains.append(chain)
            chain = None
        elif chain is not None and (m := _HOOK.search(line)):
            chain.hook, chain.policy = m.group(1), m.group(2) or "accept"
        elif chain is not None and line and not line.startswith(("comment", "#")):
            rules.append(line)
    return chains


_IPT_CHAINS = {"INPUT": "input", "FORWARD": "forward", "OUTPUT": "output"}
_IPT_VERDICTS = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "reject", "RETURN": "return"}


def parse_iptables_save(text: str, family: str) -> list[Chain]:
    """The chains of iptables-save / ip6tables-save's filter table: INPUT (hook input) and
    the user chains (ufw6-before-input, INPUT_direct...) its rules jump to; none without an
    INPUT chain."""
    chains: dict[str, Chain] = {}
    rules: dict[str, list[str]] = {}
    in_filter = False
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("*"):
            in_filter = line == "*filter"
        elif in_filter and line.startswith(":") and len(line.split()) >= 2:
            name, policy = line[1:].split()[:2]
            chains[name] = Chain(family, "filter", name, "drop" if policy == "DROP" else "accept",
                                 _IPT_CHAINS.get(name, ""))  # fmt: skip
            rules.setdefault(name, [])
        elif in_filter and line.startswith("-A ") and len(line.split()) >= 2:
            words = line.split()
            name = words[1]
            chains.setdefault(name, Chain(family, "filter", name, hook=_IPT_CHAINS.get(name, "")))
            rules.setdefault(name, []).append(_iptables_rule(words))
    for name, chain in chains.items():
        chain.rules = tuple(rules.get(name, ()))
    return list(chains.values()) if "INPUT" in chains else []


def _iptables_rule(words: list[str]) -> str:
    """An iptables rule rewritten in the few nft words the ICMPv6 test reads (``other`` for
    a condition it does not read; ``jump NAME`` / ``goto NAME`` for a user chain)."""
    flag = "-j" if "-j" in words[:-1] else "-g" if "-g" in words[:-1] else ""
    head = words[2 : words.index(flag)] if flag else words[2:]  # after "-A CHAIN"
    target = ""
    if flag:
        raw_target = words[words.index(flag) + 1]
        target = _IPT_VERDICTS.get(raw_target, "")
        if not target and raw_target not in ("LOG", "NFLOG", "MARK", "CONNMARK"):
            target = f"{'jump' if flag == '-j' else 'goto'} {raw_target}"
    parts = []
    if "-p" in head[:-1]:
        proto = head[head.index("-p") + 1]
        icmp = proto in ("ipv6-icmp", "icmpv6", "58")
        parts.append("meta l4proto " + ("ipv6-icmp" if icmp else proto))
    if "--icmpv6-type" in head[:-1]:
        kind = head[head.index("--icmpv6-type") + 1]
        parts = [f"icmpv6 type {_IPT_TYPES.get(kind, kind)}"]
    for state in ("--ctstate", "--state"):
        if state in head[:-1]:
            parts.append(f"ct state {head[head.index(state) + 1].lower()}")
    read = {"-p", "--icmpv6-type", "--ctstate", "--state", "-m"}
    others = [w for w in head if w.startswith("-") and w not in read]
    if others:
        parts.append("other")
    if not target:
        parts.append("other")  # LOG and the like: no verdict
    return " ".join([*parts, target]).strip()


_VERDICT_WORDS = ("accept", "drop", "reject", "return", "jump", "goto")
_NOISE = ("counter", "packets", "bytes")


def _verdict(rule: str) -> tuple[str, str, str]:
    """(verdict, jump target, the conditions before it) of a rule; verdict "" for none."""
    words = [w for w in rule.split() if w not in _NOISE and not w.isdigit()]
    for i, word in enumerate(words):
        if word in _VERDICT_WORDS:
            target = words[i + 1] if word in ("jump", "goto") and i + 1 < len(words) else ""
            return word, target, " ".join(words[:i])
    return "", "", " ".join(words)


def _icmpv6_types(conditions: str) -> set[str] | None:
    """The ICMPv6 types a rule's ``icmpv6 type`` names (None: it names none)."""
    if "icmpv6 type" not in conditions:
        return None
    body = conditions.split("icmpv6 type", 1)[1].replace("{", " ").replace("}", " ")
    return {w.strip(",") for w in body.split() if w.strip(",")}


def _matches(conditions: str, kind: str) -> bool:
    """Whether an ICMPv6 packet of type ``kind`` surely meets these conditions."""
    if not conditions:
        return True
    types = _icmpv6_types(conditions)
    if types is not None:
        return "!=" not in conditions and kind in types
    if re.search(r"(l4proto|nexthdr)\s+(\{[^}]*)?\b(ipv6-icmp|icmpv6)\b", conditions):
        return True
    return kind == PTB_TYPE and re.search(r"ct state \S*related", conditions) is not None


def _excludes(conditions: str, kind: str) -> bool:
    """Whether these conditions surely leave an ICMPv6 packet of type ``kind`` out (another
    protocol, a port, other ICMPv6 types): a jump under them is not followed."""
    types = _icmpv6_types(conditions)
    if types is not None:
        return kind not in types
    if re.search(r"\b(tcp|udp|sctp|dport|sport|icmp type)\b", conditions):
        return True
    proto = re.search(r"(l4proto|nexthdr|ip protocol)\s+(\{[^}]*\}|\S+)", conditions)
    return proto is not None and not re.search(r"ipv6-icmp|icmpv6", proto.group(2))


def _fate(chain: Chain, same: Mapping[str, Chain], kind: str, depth: int = 0) -> str | None:
    """``accept`` or ``drop`` for an ICMPv6 packet of type ``kind`` entering ``chain``, rules
    in order (the first terminal verdict that matches decides, jumps followed where they
    apply); None when it falls through the chain (or returns from it)."""
    for rule in chain.rules:
        verdict, target, conditions = _verdict(rule)
        if verdict in ("jump", "goto"):
            sub = same.get(target)
            if sub is None or depth > 16 or _excludes(conditions, kind):
                continue
            found = _fate(sub, same, kind, depth + 1)
            if found is not None:
                return found
            continue
        if not verdict or not _matches(conditions, kind):
            continue
        if verdict == "return":
            return None
        return "accept" if verdict == "accept" else "drop"
    return None


def _icmpv6_allowed(start: Chain, chains: Sequence[Chain]) -> set[str]:
    """The ND and PTB types an input chain lets through (its policy decides the rest)."""
    same = {c.name: c for c in chains if (c.family, c.table) == (start.family, start.table)}
    out: set[str] = set()
    for kind in sorted(ND_TYPES | {PTB_TYPE}):
        fate = _fate(start, same, kind) or start.policy
        if fate == "accept":
            out.add(kind)
    return out


def firewall_chains(raw: Mapping[str, str]) -> tuple[list[Chain] | None, dict[str, object]]:
    """Input chains from nft (or iptables-save when nft is absent); None: nothing readable."""
    nft = _get(raw, "ipv6_firewall", "nft")
    ip4 = _get(raw, "ipv6_firewall", "iptables")
    ip6 = _get(raw, "ipv6_firewall", "ip6tables")
    sources = {n: (s.rc if s else None) for n, s in
               (("nft", nft), ("iptables", ip4), ("ip6tables", ip6))}  # fmt: skip
    chains: list[Chain] = []
    readable = False
    if nft is not None and nft.ok:
        readable = True
        chains += parse_nft(nft.text)
    if not chains:
        for found, family in ((ip4, "ip"), (ip6, "ip6")):
            if found is not None and found.ok:
                readable = True
                chains += parse_iptables_save(found.text, family)
    return (chains if readable else None), {"sources_rc": sources}


def check_firewall(subject: str, raw: Mapping[str, str]) -> CheckResult:
    chains, evidence = firewall_chains(raw)
    if chains is None:
        return result(subject, "S3", Status.NOT_TESTED, "no se pudo leer el cortafuegos "
                      "(nft, iptables-save ni ip6tables-save)", evidence)  # fmt: skip
    inputs = [c for c in chains if c.hook == "input" and c.families]
    v4 = [c for c in inputs if 4 in c.families and c.filters]
    v6 = [c for c in inputs if 6 in c.families and c.filters]
    evidence["input_chains"] = [
        {"family": c.family, "table": c.table, "chain": c.name, "policy": c.policy,
         "filters": c.filters, "rules": len(c.rules)} for c in inputs
    ]  # fmt: skip
    if not v4 and not v6:
        return result(subject, "S3", Status.WARN, "sin cortafuegos de entrada en ninguna "
                      "familia: ni IPv4 ni IPv6 se filtran", evidence)  # fmt: skip
    if v4 and not v6:
        return result(subject, "S3", Status.FAIL, "el cortafuegos filtra IPv4 y deja IPv6 "
                      "abierto (reglas solo en tablas ip, sin inet ni ip6)", evidence)  # fmt: skip
    if v6 and not v4:
        return result(subject, "S3", Status.FAIL, "el cortafuegos filtra IPv6 y deja IPv4 "
                      "abierto", evidence)  # fmt: skip
    # a packet crosses every filtering input chain: each one must let ND and PTB through
    lacking_set: set[str] = set()
    accepted: dict[str, object] = {}
    for chain in v6:
        types = _icmpv6_allowed(chain, chains)
        accepted[f"{chain.family} {chain.table} {chain.name}"] = sorted(types)
        lacking_set |= (ND_TYPES | {PTB_TYPE}) - types
    lacking = sorted(lacking_set)
    evidence["icmpv6_accepted"] = accepted
    if lacking:
        return result(subject, "S3", Status.FAIL,
                      f"el cortafuegos IPv6 no deja pasar ICMPv6 {listing(lacking)} "
                      "(RFC 4890)", {**evidence, "icmpv6_missing": lacking})  # fmt: skip
    return result(subject, "S3", Status.PASS, "cortafuegos en ambas familias, con ICMPv6 de "
                  "vecinos y PTB permitido", evidence)  # fmt: skip


# --- S4: what to scan ----------------------------------------------------------------------


def scan_ports(listeners: Iterable[Listener]) -> list[int]:
    """The TCP ports listening off loopback in either family (what S4 connects to)."""
    return sorted({x.port for x in listeners if x.proto == "tcp" and not x.local_only})


def host_addresses(raw: Mapping[str, str], near: str | None = None) -> tuple[list[str], list[str]]:
    """(IPv4, IPv6) addresses of scope global from ``ip -o addr show`` (ULA included: it is
    the host's own address, scanned from this machine; no prefix counts as global here).
    Those on the interface that carries ``near`` (the address Ansible reached) come first."""
    found = _get(raw, "ipv6_kernel", "addresses")
    rows: list[tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address]] = []
    for line in (found.text if found else "").splitlines():
        words = line.split()
        if len(words) < 4 or words[2] not in ("inet", "inet6") or "global" not in words:
            continue
        try:
            ip = ipaddress.ip_interface(words[3]).ip
        except ValueError:
            continue
        if not (ip.is_loopback or ip.is_link_local or ip.is_multicast):
            rows.append((words[1], ip))
    home = {iface for iface, ip in rows if str(ip) == near}
    rows.sort(key=lambda row: row[0] not in home)  # stable: the home interface first
    return ([str(ip) for _, ip in rows if ip.version == 4],
            [str(ip) for _, ip in rows if ip.version == 6])  # fmt: skip
