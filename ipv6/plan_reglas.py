"""The address-plan linter's rules (research §4: RFC 6164, RFC 4193, RFC 3849, RIPE-690).

Each rule has an id (:data:`RULES`), a severity per finding (``error`` or ``warning``) and a
Spanish message. Nesting is found in one pass over the entries sorted by address: two IPv6
prefixes are either disjoint or one holds the other, so after sorting by (start, length) the
prefixes still open on a stack are exactly the ones that hold the next one. That keeps the
whole run at O(n log n) (10,000 prefixes well under a second).
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from ipv6.plan import Entry, Finding

RULES: dict[str, str] = {
    "P01": "Fila legible: prefijo IPv6 válido y tipo conocido",
    "P02": "Cada LAN es exactamente un /64",
    "P03": "Bloques de asignación, sede y ULA en límite de nibble (/44, /48, /52, /56, /60)",
    "P04": "Enlaces punto a punto /127 tomados de un /64 reservado (RFC 6164)",
    "P05": "Loopbacks /128 tomados de un único /64 reservado",
    "P06": "Sin superposiciones salvo anidamiento correcto",
    "P07": "Todo dentro de la asignación (o de un bloque ULA)",
    "P08": "Sin prefijos de documentación (2001:db8::/32, 3fff::/20) en producción",
    "P09": "ULA con Global ID aleatorio dentro de fd00::/8 (RFC 4193)",
    "P10": "Cada sede del inventario tiene su bloque en el plan",
    "P11": "Nombres sin repetir dentro de una sede",
    "P12": "Bloque de sede no más largo que /56 (RIPE-690)",
    "P13": "Cada prefijo de una sede está dentro del bloque de esa sede",
}
ERROR, WARNING = "error", "warning"
# which kinds may sit directly inside which (anything else nested is an overlap)
_CONTAINERS = {"allocation", "ula"}
_SITE_PARTS = {"lan", "p2p", "loopback", "reserved-p2p", "reserved-loopback"}
_CHILDREN: dict[str, set[str]] = {
    "allocation": {"site"} | _SITE_PARTS,
    "ula": {"site"} | _SITE_PARTS,
    "site": set(_SITE_PARTS),
    "reserved-p2p": {"p2p"},
    "reserved-loopback": {"loopback"},
}
_DOCUMENTATION = [ipaddress.IPv6Network("2001:db8::/32"), ipaddress.IPv6Network("3fff::/20")]
_ULA = ipaddress.IPv6Network("fc00::/7")
_ULA_LOCAL = ipaddress.IPv6Network("fd00::/8")
_HEX_WORDS = ("dead", "beef", "cafe", "babe", "face", "c0de", "f00d", "feed", "abcd", "1234")
_GID_MASK = (1 << 40) - 1


@dataclass(slots=True)
class _Run:
    out: list[Finding] = field(default_factory=list)

    def add(self, entry: Entry | None, rule: str, severity: str, message: str) -> None:
        line = entry.line if entry else None
        prefix = entry.prefix if entry else ""
        name = entry.name if entry else ""
        self.out.append(Finding(line, rule, severity, message, prefix, name))


def _where(entry: Entry) -> str:
    return f"{entry.network} (línea {entry.line})"


def obvious_global_id(gid: int) -> str | None:
    """Why a ULA Global ID (40 bits) is not random-looking, or None when it looks random."""
    digits = f"{gid:010x}"
    if gid == 0:
        return "el Global ID es cero"
    zeros = digits.count("0")
    if zeros >= 6:
        return f"el Global ID {digits} tiene {zeros} de sus 10 cifras en cero"
    if len(set(digits)) <= 3:
        return f"el Global ID {digits} usa solo {len(set(digits))} cifras distintas"
    values = [int(d, 16) for d in digits]
    for step in (1, -1):
        run = 1
        for a, b in itertools.pairwise(values):
            run = run + 1 if b - a == step else 1
            if run >= 5:
                return f"el Global ID {digits} tiene una secuencia de cifras consecutivas"
    for period in range(1, 6):
        if (digits[:period] * 10)[:10] == digits:
            return f"el Global ID {digits} repite «{digits[:period]}»"
    words = [w for w in _HEX_WORDS if w in digits]
    if len(words) >= 2:
        return f"el Global ID {digits} está hecho de palabras ({', '.join(words)})"
    return None


def _row_rules(run: _Run, e: Entry, net: ipaddress.IPv6Network) -> None:
    """Rules that look at one entry alone (P02, P03, P04/P05 lengths, P08, P12)."""
    n, kind = e.length, e.kind
    if kind == "lan" and n != 64:
        run.add(e, "P02", ERROR, f"la LAN {net} es /{n}; cada LAN debe ser exactamente /64")
    if kind in ("site", "allocation", "ula") and n % 4:
        up, down = n - n % 4, n - n % 4 + 4
        severity = WARNING if kind == "allocation" else ERROR  # the RIR's, not ours to change
        run.add(e, "P03", severity, f"el bloque {net} (/{n}) no está en límite de nibble: use "
                                 f"/{up} o /{down} para que la zona ip6.arpa se pueda delegar")  # fmt: skip
    if kind == "site" and n > 56:
        run.add(e, "P12", WARNING, f"el bloque de sede {net} es /{n}; RIPE-690 pide un /48 "
                                   "por sede y nunca más largo que /56")  # fmt: skip
    if kind == "p2p" and n != 127:
        run.add(e, "P04", ERROR, f"el enlace {net} es /{n}; un enlace punto a punto es /127 "
                                 "(RFC 6164)")  # fmt: skip
    if kind in ("reserved-p2p", "reserved-loopback") and n != 64:
        run.add(e, "P04" if kind == "reserved-p2p" else "P05", ERROR,
                f"el bloque reservado {net} es /{n}; debe ser un /64")  # fmt: skip
    if kind == "loopback" and n != 128:
        run.add(e, "P05", ERROR, f"la loopback {net} es /{n}; una loopback es /128")
    for doc in _DOCUMENTATION:
        if net.overlaps(doc):
            run.add(e, "P08", ERROR, f"{net} está en el prefijo de documentación {doc} "
                                     "(RFC 3849/9637): no se usa en producción")  # fmt: skip


def _ula_rules(run: _Run, e: Entry, net: ipaddress.IPv6Network, seen: set[int]) -> None:
    if not net.overlaps(_ULA):
        if e.kind == "ula":
            run.add(e, "P09", ERROR, f"el bloque ULA {net} no está en fd00::/8")
        return
    if e.length < 8 or not net.subnet_of(_ULA_LOCAL):
        run.add(e, "P09", ERROR, f"{net} está en fc00::/8, que no se asigna: los ULA "
                                 "locales van en fd00::/8 (RFC 4193)")  # fmt: skip
        return
    if e.kind == "ula" and e.length != 48:
        run.add(e, "P09", ERROR, f"el bloque ULA {net} es /{e.length}; un prefijo ULA es un "
                                 "/48 (8 bits fd + 40 bits de Global ID aleatorio)")  # fmt: skip
    if e.length < 48:
        return
    gid = (e.start >> 80) & _GID_MASK
    if gid in seen:
        return
    seen.add(gid)
    why = obvious_global_id(gid)
    if why:
        run.add(e, "P09", ERROR, f"{net}: {why}; genere el Global ID al azar (RFC 4193 "
                                 "§3.2.2) para no chocar con otras redes al interconectarse")  # fmt: skip


def _nesting_rules(run: _Run, e: Entry, holders: Sequence[Entry],
                   site_blocks: dict[str, list[Entry]], has_container: bool) -> None:  # fmt: skip
    """Rules about what holds ``e`` (P04, P05, P06, P07, P13); ``holders`` outermost first."""
    if holders:
        parent = holders[-1]
        if parent.start == e.start and parent.length == e.length:
            run.add(e, "P06", ERROR, f"{e.network} repite el prefijo de la línea {parent.line}")
        elif e.kind not in _CHILDREN.get(parent.kind, set()):
            run.add(e, "P06", ERROR, f"{e.network} ({e.kind}) se superpone con {parent.kind} "
                                     f"{_where(parent)}")  # fmt: skip
    kinds = {h.kind for h in holders}
    if e.kind == "p2p" and "reserved-p2p" not in kinds:
        run.add(e, "P04", ERROR, f"el enlace {e.network} no sale de un /64 reservado para "
                                 "enlaces (reserved-p2p)")  # fmt: skip
    if e.kind == "loopback" and "reserved-loopback" not in kinds:
        run.add(e, "P05", ERROR, f"la loopback {e.network} no sale del /64 reservado para "
                                 "loopbacks (reserved-loopback)")  # fmt: skip
    if e.kind not in _CONTAINERS and has_container and not kinds & _CONTAINERS:
        run.add(e, "P07", ERROR, f"{e.network} está fuera de la asignación y de todo bloque ULA "
                                 "del plan")  # fmt: skip
    if e.kind in _SITE_PARTS and e.site:
        blocks = site_blocks.get(e.site)
        if not blocks:
            run.add(e, "P13", ERROR, f"{e.network} es de la sede «{e.site}», que no tiene bloque "
                                     "(kind site) en el plan")  # fmt: skip
        elif not any(h is b for h in holders for b in blocks):
            where = " ni ".join(_where(b) for b in blocks)
            run.add(e, "P13", ERROR, f"{e.network} es de la sede «{e.site}» pero está fuera de "
                                     f"{'su bloque' if len(blocks) == 1 else 'sus bloques'} "
                                     f"{where}")  # fmt: skip


def _plan_rules(run: _Run, good: Sequence[Entry], sites: list[str] | None,
                site_blocks: dict[str, list[Entry]]) -> None:  # fmt: skip
    """Rules over the whole plan (P05 one /64, P07 no allocation, P10, P11)."""
    if good and not any(e.kind in _CONTAINERS for e in good):
        run.add(None, "P07", WARNING, "el plan no declara su asignación (kind allocation) ni un "
                                      "bloque ULA: no se puede comprobar que todo esté dentro")  # fmt: skip
    loop_blocks: dict[str, Entry] = {}
    for e in good:
        if e.kind != "reserved-loopback":
            continue
        first = loop_blocks.setdefault(e.site, e)
        if first is not e:
            run.add(e, "P05", WARNING, f"otro /64 para loopbacks en la sede «{e.site or '—'}» "
                                       f"(el primero es {_where(first)}); use uno solo")  # fmt: skip
    names: dict[tuple[str, str], Entry] = {}
    for e in good:
        if not e.name:
            continue
        first = names.setdefault((e.site, e.name.casefold()), e)
        if first is not e:
            run.add(e, "P11", ERROR, f"el nombre «{e.name}» ya se usa en la línea {first.line}"
                                     + (f" (sede «{e.site}»)" if e.site else ""))  # fmt: skip
    if sites is None:
        return
    known = set(sites)
    for code in sorted(known - set(site_blocks)):
        run.add(None, "P10", ERROR, f"la sede «{code}» del inventario no tiene bloque (kind site) "
                                    "en el plan")  # fmt: skip
    for code, blocks in sorted(site_blocks.items()):
        block = blocks[0]
        if code not in known:
            run.add(block, "P10", WARNING, f"la sede «{code}» del plan no está en el inventario")


def run(entries: Sequence[Entry], sites: list[str] | None) -> list[Finding]:
    """Every finding over ``entries``; ``sites``: the inventory's site codes (None: not read)."""
    out = _Run()
    good: list[Entry] = []
    for e in entries:
        if e.problem is not None or e.network is None:
            out.add(e, "P01", ERROR, e.problem or "fila ilegible")
        else:
            good.append(e)
    site_blocks: dict[str, list[Entry]] = {}
    for e in good:
        if e.kind == "site" and e.site:
            blocks = site_blocks.setdefault(e.site, [])
            if blocks:
                out.add(e, "P13", WARNING, f"la sede «{e.site}» ya tiene el bloque "
                                           f"{_where(blocks[0])}; este es otro bloque suyo")  # fmt: skip
            blocks.append(e)
    has_container = any(e.kind in _CONTAINERS for e in good)
    seen: set[int] = set()
    stack: list[Entry] = []
    for e in sorted(good, key=lambda x: (x.start, x.length, x.line)):
        while stack and stack[-1].end < e.start:
            stack.pop()
        if e.network is None:
            continue
        _row_rules(out, e, e.network)
        _ula_rules(out, e, e.network, seen)
        _nesting_rules(out, e, stack, site_blocks, has_container)
        stack.append(e)
    _plan_rules(out, good, sites, site_blocks)
    big = 1 << 62
    return sorted(out.out, key=lambda f: (f.line if f.line is not None else big, f.rule))
