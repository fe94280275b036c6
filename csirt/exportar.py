"""``csirt exportar``: one incident as a STIX 2.1 bundle or a MISP event, with TLP enforced.

Each audience (``--destino``) may see up to one TLP 2.0 label (FIRST's definitions):

============== ============== ===============================================
destino        hasta          who
============== ============== ===============================================
publico        CLEAR          anyone (TLP:CLEAR is public: every audience sees it)
comunidad      GREEN          the community (peer CSIRTs), not public
sector         AMBER          the organisation and its clients (the sector)
organizacion   AMBER+STRICT   the organisation only
nombres        RED            named recipients only
============== ============== ===============================================

An incident above the audience is refused whole (:class:`ExportRefused`, nothing written).
Otherwise every observable and timeline entry above it is held back, and the result says
which (the command prints them on stderr): never silently. An item without a TLP of its own
has the incident's; a timeline entry that names an observable (its value in the message or
fields) has at least that observable's TLP, and so do the incident's title and description
(one that names an observable above the audience is left out: the title becomes the bare
number), an observable's description (left out) and an observable whose value holds another
(``http://evil.test/x`` of a held ``evil.test``: held back too). A text names a value in any
spelling: IDNA's Unicode or ASCII form, IPv6 compressed or not, upper case, "defanged"
(``198.51.100[.]7``, ``hxxp://``); when in doubt, it is held back. The export never names
what it held back.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pukara.errors import PukaraError, UsageError
from pukara.store import Store
from pukara.text import clean_line

AUDIENCES = {
    "publico": "CLEAR",
    "comunidad": "GREEN",
    "sector": "AMBER",
    "organizacion": "AMBER+STRICT",
    "nombres": "RED",
}
FORMATS = ("stix", "misp")
ORGANIZATION = "Ministerio de Relaciones Exteriores del Perú"
# timeline kinds never shared: who was assigned names analysts, not the incident
PRIVATE_KINDS = frozenset({"asignado"})


class ExportRefused(PukaraError):
    """The incident itself is above what the audience may see (exit 1, nothing written)."""


@dataclass(frozen=True)
class Held:
    """An item held back: what it is (Spanish, for the user) and its TLP."""

    kind: str  # observable | linea | campo (the incident's title or description)
    ref: str  # "ipv4 198.18.0.9", a timeline entry's "<ts> <kind> <id>", or the field
    tlp: str
    shown: str = ""  # for a person: the time in the entry's own zone

    def text(self) -> str:
        what = {"observable": "observable", "linea": "línea de tiempo:"}.get(self.kind, "")
        if not what:
            return f"{self.shown} (TLP:{self.tlp})" if self.shown else self.ref
        return f"{what} {self.shown or self.ref} (TLP:{self.tlp})"


@dataclass
class Export:
    incident_id: str
    number: str
    fmt: str
    audience: str
    limit: str
    text: str  # the JSON document
    observables: int = 0
    timeline: int = 0
    held: list[Held] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What was exported and held back, for the event and the user."""
        return {
            "incident": self.number, "format": self.fmt, "audience": self.audience,
            "tlp_limit": self.limit, "observables": self.observables,
            "timeline": self.timeline,
            "held_back": [{"kind": h.kind, "ref": h.ref, "tlp": h.tlp} for h in self.held],
        }  # fmt: skip


def check_audience(value: str) -> str:
    v = str(value).strip().lower().replace("ó", "o").replace("ú", "u")
    if v not in AUDIENCES:
        shown = clean_line(str(value))[:40]
        raise UsageError(f"destino no válido: «{shown}»; destinos: {', '.join(AUDIENCES)}")
    return v


def check_format(value: str) -> str:
    v = str(value).strip().lower()
    if v not in FORMATS:
        raise UsageError(
            f"formato no válido: «{clean_line(str(value))[:40]}»; formatos: stix, misp"
        )
    return v


def case_items(
    store: Store, incident: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The incident's observables and timeline entries, in key order."""
    from csirt.records import OBSERVABLE, TIMELINE

    observables = list(store.scan(OBSERVABLE, where={"incident_id": incident["id"]}))
    timeline = list(store.scan(TIMELINE, (incident["id"],)))
    timeline.sort(key=lambda e: (str(e.get("ts") or ""), str(e.get("id"))))
    return observables, timeline


def select(
    incident: Mapping[str, Any],
    observables: list[dict[str, Any]],
    timeline: list[dict[str, Any]],
    audience: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Held]]:
    """The items the audience may see and those held back (refused when the incident is
    above the audience)."""
    from csirt.taxonomia import parse_tlp, tlp_rank

    limit = AUDIENCES[audience]
    inc_tlp = parse_tlp(incident.get("tlp") or "AMBER")
    number = incident.get("number") or incident["id"]
    if tlp_rank(inc_tlp) > tlp_rank(limit):
        raise ExportRefused(
            f"{number} es TLP:{inc_tlp} y el destino «{audience}» solo puede recibir hasta "
            f"TLP:{limit}: no se exportó nada. Elija un destino que pueda verlo o cambie el "
            "TLP del incidente si corresponde."
        )
    held: list[Held] = []
    keep_obs = []
    marked = observable_marks(observables, inc_tlp)
    for n, obs in enumerate(observables):
        tlp = parse_tlp(obs.get("tlp") or inc_tlp)
        name = f"{obs['type']} {clean_line(str(obs['value']))}"
        others = marked[:n] + marked[n + 1 :]
        # a value that contains another (a URL or a mail of a held domain) is as secret as it
        named = named_tlp(searchable(str(obs["value"])), others, limit)
        if tlp_rank(tlp) > tlp_rank(limit) or named is not None:
            held.append(Held("observable", name, max(tlp, named or tlp, key=tlp_rank)))
            continue
        note = named_tlp(searchable(str(obs.get("description") or "")), marked, limit)
        if note is not None:
            held.append(Held("campo", f"description {obs['type']} {obs['value']}", note,
                             f"descripción del observable {name}, que nombra otro"))  # fmt: skip
            obs = {**obs, "description": ""}
        keep_obs.append({**obs, "tlp": tlp})
    keep_line = []
    for entry in timeline:
        if entry.get("kind") in PRIVATE_KINDS:
            continue
        tlp = _entry_tlp(entry, inc_tlp, marked)
        if tlp_rank(tlp) > tlp_rank(limit):
            ref = f"{entry.get('ts', '')} {entry.get('kind', '')} {entry.get('id', '')}"
            held.append(Held("linea", ref, tlp, _entry_text(entry)))
        else:
            keep_line.append({**entry, "tlp": tlp})
    return keep_obs, keep_line, held


def scrub(
    incident: Mapping[str, Any], held: list[Held], marked: Marks, limit: str
) -> dict[str, Any]:
    """The incident without the title or description that names an observable above the
    audience (the title becomes the bare number); each one removed is added to ``held``."""

    out = dict(incident)
    for name, label in (("title", "título"), ("description", "descripción")):
        tlp = named_tlp(searchable(str(incident.get(name) or "")), marked, limit)
        if tlp is not None:
            held.append(
                Held("campo", name, tlp, f"{label} del incidente, que nombra un observable")
            )
            out[name] = "" if name == "description" else None
    return out


Marks = list[tuple[tuple[str, ...], str]]


def observable_marks(observables: list[dict[str, Any]], inc_tlp: str) -> Marks:
    """(every spelling of the value, case-folded; TLP) of each observable: what a text
    naming it inherits."""
    from csirt.taxonomia import parse_tlp

    return [(spellings(str(o["type"]), str(o["value"])), parse_tlp(o.get("tlp") or inc_tlp))
            for o in observables]  # fmt: skip


def spellings(kind: str, value: str) -> tuple[str, ...]:
    """The forms a text may write a stored value in: as stored, with its IDNA labels as
    Unicode (``bücher.test`` for ``xn--bcher-kva.test``), an IPv6 address expanded."""
    import ipaddress
    import re

    import idna

    forms = {value.casefold()}

    def unicode_label(m: re.Match[str]) -> str:
        try:
            return str(idna.decode(m.group(0)))
        except (idna.IDNAError, UnicodeError):
            return m.group(0)

    forms.add(re.sub(r"xn--[a-z0-9-]+", unicode_label, value.casefold()))
    if kind in ("ipv6", "cidr") and ":" in value:
        try:
            forms.add(ipaddress.ip_network(value, strict=False).exploded.casefold())
            forms.add(ipaddress.ip_network(value, strict=False).network_address.exploded)
        except ValueError:
            pass
    if kind == "ipv6":
        forms.add(ipaddress.IPv6Address(value).exploded)
    return tuple(sorted(f for f in forms if f))


# "defanged" spellings (198.51.100[.]7, hxxp://, user[at]example.test) written back
_REFANG = (
    (r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)", "."),
    (r"\[:\]", ":"), (r"\[@\]|\[at\]|\(at\)", "@"), (r"\bhxxp", "http"), (r"\bfxp", "ftp"),
    (r"\[/\]", "/"),
)  # fmt: skip


def searchable(text: str) -> str:
    """A text as it is searched for observables: NFKC, case-folded, refanged, followed by
    the canonical form of every word in it that is an address, a name or a URL (so
    ``2001:DB8:0:0::1``, ``Bücher.test`` and ``hxxp://evil[.]test/a`` match what is
    stored)."""
    import re
    import unicodedata

    folded = unicodedata.normalize("NFKC", text).casefold()
    if not folded.strip():
        return ""
    for pattern, repl in _REFANG:
        folded = re.sub(pattern, repl, folded)
    extra = [c for word in re.split(r"[\s,;«»\"'<>()\[\]{}|]+", folded)
             for c in _canonical(word.strip(".:!?¿¡"))]  # fmt: skip
    return "\n".join([folded, *extra])


@functools.lru_cache(maxsize=4096)
def _canonical(word: str) -> tuple[str, ...]:
    """The stored forms of one word of a text, by each type it parses as (none for a plain
    word: only what has a dot, a colon, an @ or a slash can be an address or a name)."""
    from csirt import observables

    if not word or len(word) > 300 or not any(c in word for c in ".:@/"):
        return ()
    kinds = ["ipv4", "ipv6", "cidr", "domain"]
    if "://" in word:
        kinds = ["url"]
    elif "@" in word:
        kinds = ["email"]
    out = []
    for kind in kinds:
        try:
            out.append(observables.normalize(kind, word))
        except UsageError:
            continue
    return tuple(out)


def named_tlp(text: str, marked: Marks, limit: str) -> str | None:
    """The strictest TLP above ``limit`` of the observables ``text`` (searchable) names."""
    from csirt.taxonomia import tlp_rank

    over = [tlp for forms, tlp in marked if tlp_rank(tlp) > tlp_rank(limit)
            and any(f in text for f in forms)]  # fmt: skip
    return max(over, key=tlp_rank) if over else None


def _entry_tlp(entry: Mapping[str, Any], inc_tlp: str, marked: Marks) -> str:
    """A timeline entry's TLP: its own (else the incident's), raised to that of every
    observable it names (``Observable agregado: domain evil.test`` is as secret as
    evil.test, and so is a note that quotes it, in any spelling)."""
    from csirt.taxonomia import TLP, parse_tlp, tlp_rank

    fields = entry.get("fields") or {}
    # the entry's own TLP (written with it) is a floor: the case's may have been lowered since
    own = [parse_tlp(t) for t in (entry.get("tlp"), fields.get("tlp")) if t]
    rank = max(tlp_rank(t) for t in [*own, parse_tlp(inc_tlp)])
    if all(tlp_rank(tlp) <= rank for _, tlp in marked):
        return TLP[rank]
    text = searchable(str(entry.get("message") or "") + "\n"
                      + json.dumps(fields, ensure_ascii=False))  # fmt: skip
    for forms, tlp in marked:
        if tlp_rank(tlp) > rank and any(f in text for f in forms):
            rank = tlp_rank(tlp)
    return TLP[rank]


def _entry_text(entry: Mapping[str, Any]) -> str:
    """``nota del 1 dic. 2026, 11:43:33 PET: «Se bloqueó…»`` for the held-back list."""
    from zoneinfo import ZoneInfo

    from csirt.records import parse_time
    from pukara.formats import datetime_text

    try:
        when = datetime_text(parse_time(str(entry["ts"])), ZoneInfo(str(entry.get("tz") or "UTC")),
                             seconds=True)  # fmt: skip
    except (KeyError, ValueError):
        when = clean_line(str(entry.get("ts", "")))
    text = clean_line(str(entry.get("message") or ""))
    excerpt = text if len(text) <= 60 else text[:59] + "…"
    return f"{clean_line(str(entry.get('kind') or 'nota'))} del {when}: «{excerpt}»"


def _labels(incident: Mapping[str, Any]) -> list[str]:
    """The incident's machine tags: rsit, cnsd, PAP and its disposition, when set."""
    from csirt import taxonomia as tx

    tags = []
    cls, typ = incident.get("rsit_class"), incident.get("rsit_type")
    if cls and typ:
        tags += [tx.rsit_tag(cls, typ), tx.cnsd_tag(cls, typ)]
    if incident.get("pap"):
        tags.append(f"PAP:{tx.parse_pap(incident['pap'])}")
    if incident.get("disposition"):
        tags.append(tx.disposition_tag(incident["disposition"]))
    return tags


def export(
    store: Store, ref: str, fmt: str, audience: str, *, now: str, organization: str = ORGANIZATION
) -> Export:
    """The incident ``ref`` as ``fmt`` for ``audience``; the document is in ``.text``."""
    from csirt.casos import load_incident
    from csirt.taxonomia import parse_tlp

    fmt, audience = check_format(fmt), check_audience(audience)
    incident = load_incident(store, ref)
    incident = {**incident, "tlp": parse_tlp(incident.get("tlp") or "AMBER")}
    observables, timeline = case_items(store, incident)
    obs, lines, held = select(incident, observables, timeline, audience)
    marks = observable_marks(observables, incident["tlp"])
    incident = scrub(incident, held, marks, AUDIENCES[audience])
    labels = _labels(incident)
    if fmt == "stix":
        from csirt.stix import build_bundle

        bundle = build_bundle(incident, obs, lines, organization=organization, now=now,
                              labels=labels)  # fmt: skip
        text = bundle.serialize(pretty=True, ensure_ascii=False) + "\n"
    else:
        from csirt.misp import build_event

        event = build_event(incident, obs, lines, audience=audience,
                            organization=organization, tags=labels)  # fmt: skip
        document = {"Event": json.loads(event.to_json())}  # the MISP core format's wrapper
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    return Export(
        incident_id=incident["id"], number=str(incident.get("number") or incident["id"]),
        fmt=fmt, audience=audience,
        limit=AUDIENCES[audience], text=text, observables=len(obs), timeline=len(lines),
        held=held,
    )  # fmt: skip


def record(store: Store, analyst: str, result: Export) -> None:
    """The export as an event of the case (``csirt.exportacion``): who shared what, with whom
    and what was held back. Written after the document, so an event means it was produced."""
    from csirt.records import command

    with command(store, analyst) as cmd:
        incident = {"id": result.incident_id, "number": result.number}
        held = f"; {len(result.held)} retenidos por TLP" if result.held else ""
        cmd.emit(
            "exportacion", "exportar",
            f"{result.number} exportado en {result.fmt.upper()} para «{result.audience}» "
            f"(hasta TLP:{result.limit}){held}",
            incident=incident,
            fields={"csirt.export": result.summary()},
        )  # fmt: skip
