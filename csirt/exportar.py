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
number). The export never names what it held back.
"""

from __future__ import annotations

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
    for obs in observables:
        tlp = parse_tlp(obs.get("tlp") or inc_tlp)
        if tlp_rank(tlp) > tlp_rank(limit):
            held.append(Held("observable", f"{obs['type']} {clean_line(str(obs['value']))}", tlp))
        else:
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
    incident: Mapping[str, Any], held: list[Held], marked: list[tuple[str, str]], limit: str
) -> dict[str, Any]:
    """The incident without the title or description that names an observable above the
    audience (the title becomes the bare number); each one removed is added to ``held``."""
    from csirt.taxonomia import tlp_rank

    out = dict(incident)
    for name, label in (("title", "título"), ("description", "descripción")):
        text = str(incident.get(name) or "").casefold()
        over = [tlp for value, tlp in marked if value and value in text
                and tlp_rank(tlp) > tlp_rank(limit)]  # fmt: skip
        if over:
            tlp = max(over, key=tlp_rank)
            held.append(
                Held("campo", name, tlp, f"{label} del incidente, que nombra un observable")
            )
            out[name] = "" if name == "description" else None
    return out


def observable_marks(observables: list[dict[str, Any]], inc_tlp: str) -> list[tuple[str, str]]:
    """(value case-folded, TLP) of every observable: what a text naming it inherits."""
    from csirt.taxonomia import parse_tlp

    return [(str(o["value"]).casefold(), parse_tlp(o.get("tlp") or inc_tlp)) for o in observables]


def _entry_tlp(entry: Mapping[str, Any], inc_tlp: str, marked: list[tuple[str, str]]) -> str:
    """A timeline entry's TLP: its own (else the incident's), raised to that of every
    observable it names (``Observable agregado: domain evil.test`` is as secret as
    evil.test, and so is a note that quotes it)."""
    from csirt.taxonomia import TLP, parse_tlp, tlp_rank

    fields = entry.get("fields") or {}
    # the entry's own TLP (written with it) is a floor: the case's may have been lowered since
    own = [parse_tlp(t) for t in (entry.get("tlp"), fields.get("tlp")) if t]
    rank = max(tlp_rank(t) for t in [*own, inc_tlp])
    text = (str(entry.get("message") or "") + json.dumps(fields, ensure_ascii=False)).casefold()
    for value, tlp in marked:
        if tlp_rank(tlp) > rank and value and value in text:
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
