"""The case's timeline (``csirt.linea``): what happened and when, in its original time zone.

An entry keeps its moment in UTC (``ts``) and the zone it was told in (``tz``: an IANA name
such as ``America/Lima``, or an offset such as ``-05:00``), its ``source`` and a raw
reference (``raw_ref``: for an event pulled from the log store, its ``event.id``). Phase
changes are entries too (``kind="fase"`` with ``from``/``to``): metrics are computed from
these entries only. :func:`add_timeline` writes an entry; the command that calls it emits
its own event (:meth:`csirt.records.Command.emit`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from csirt.records import TIMELINE, Command, new_ulid
from pukara.errors import UsageError
from pukara.events import format_timestamp, get_field, parse_timestamp
from pukara.text import clean

KINDS = ("creado", "fase", "nota", "alerta", "registro", "tarea", "observable", "contramedida",
         "evidencia", "notificacion_cnsd", "asignado")  # fmt: skip
KIND_LABELS = {"creado": "creación", "fase": "fase", "nota": "nota", "alerta": "alerta",
               "registro": "registro", "tarea": "tarea", "observable": "observable",
               "contramedida": "contramedida", "evidencia": "evidencia",
               "notificacion_cnsd": "notificación al CNSD", "asignado": "asignación"}  # fmt: skip
MAX_MESSAGE = 4000
LOG_SOURCE = "registros"  # the source of entries pulled from the log store
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")
_MAX_AHEAD = timedelta(minutes=5)  # clocks differ: a moment this far in the future is accepted


def zone(name: str) -> tzinfo:
    """``America/Lima``, ``UTC`` or ``-05:00`` as a tzinfo; UsageError when it is none."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = name.strip()
    if text.upper() in ("UTC", "Z"):
        return UTC
    if _OFFSET.fullmatch(text):
        sign = -1 if text[0] == "-" else 1
        hours, minutes = int(text[1:3]), int(text[4:6])
        if hours < 24 and minutes < 60:
            return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"«{name}» no es una zona horaria; use un nombre IANA (America/Lima, Europe/Madrid), "
            "UTC o un desfase como -05:00"
        ) from None


def _zone_name(tz: tzinfo, moment: datetime) -> str:
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    if tz is UTC:
        return "UTC"
    offset = moment.utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_moment(text: str, tz: str | None = None, *, now: datetime, what: str) -> tuple[str, str]:
    """A moment a person typed, as (UTC text, the zone it was told in).

    ISO 8601 (``2026-12-01 08:30``, ``2026-12-01T08:30:15-05:00``) or ``ahora``. A time
    with its own offset keeps it as its zone; one without is read in ``tz`` (an IANA name or
    an offset), else in the machine's zone. A moment after ``now`` (beyond a few minutes of
    clock difference) is refused.
    """
    from registros.search import local_zone

    value = text.strip()
    told = zone(tz) if tz else None
    if value.lower() == "ahora":
        return format_timestamp(now), _zone_name(told or UTC, now)
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1).replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"{what} «{text}»: no es una fecha y hora; use p. ej. 2026-12-01 08:30, "
            "2026-12-01T08:30-05:00 o ahora"
        ) from None
    if moment.tzinfo is None:
        told = told or local_zone()
        moment = moment.replace(tzinfo=told)
        name = _zone_name(told, moment)
    else:
        name = _zone_name(moment.tzinfo, moment)
    return checked_moment(moment, now=now, what=what, shown=text)[0], name


def checked_moment(
    moment: datetime, *, now: datetime, what: str, shown: str | None = None
) -> tuple[str, str]:
    """An aware moment as (UTC text, its zone's name); one after ``now`` is refused."""
    if moment.tzinfo is None:
        raise UsageError(f"{what} «{shown or moment.isoformat()}»: falta la zona horaria")
    if moment - now > _MAX_AHEAD:
        raise UsageError(f"{what} «{shown or moment.isoformat()}»: es posterior a ahora")
    return format_timestamp(moment), _zone_name(moment.tzinfo, moment)


def check_text(text: str, what: str, limit: int = MAX_MESSAGE) -> str:
    """Free text as typed (``$(reboot)`` and ``<script>`` are data), without control
    characters; empty or too long is a UsageError."""
    value = clean(text).strip()
    if not value:
        raise UsageError(f"{what}: no puede quedar vacío")
    if len(value) > limit:
        raise UsageError(f"{what}: más de {limit} caracteres ({len(value)})")
    return value


def add_timeline(
    cmd: Command,
    incident: Mapping[str, Any],
    *,
    kind: str,
    message: str,
    ts: datetime | str | None = None,
    tz: str = "UTC",
    source: str = "",
    raw_ref: str = "",
    fields: Mapping[str, Any] | None = None,
    phase: tuple[str, str] | None = None,
    tlp: str | None = None,
) -> dict[str, Any]:
    """Write one timeline entry of ``incident`` (at ``ts``, default the command's time).

    ``phase``: (from, to) of a phase change (``kind="fase"``). The entry keeps in ``tlp``
    the case's TLP as it is now, or ``tlp`` when that is stricter (an alert's, a note's):
    lowering the case's TLP later does not lower what was written under the old one.
    """
    if kind not in KINDS:
        raise UsageError(f"«{kind}» no es un tipo de entrada de la línea de tiempo")
    level = stricter(case_tlp(cmd, incident), tlp)
    if isinstance(ts, datetime):
        stamp = format_timestamp(ts)
    else:
        stamp = format_timestamp(parse_timestamp(ts)) if ts else cmd.now
    entry: dict[str, Any] = {
        "incident_id": incident["id"], "id": new_ulid(), "ts": stamp, "tz": tz or "UTC",
        "kind": kind, "message": clean(message)[:MAX_MESSAGE], "source": source,
        "raw_ref": raw_ref, "analyst": cmd.analyst, "recorded_at": cmd.now,
        "fields": dict(fields or {}), "tlp": level,
    }  # fmt: skip
    if phase is not None:
        entry["from"], entry["to"] = phase
    cmd.insert(TIMELINE, entry)
    return entry


def case_tlp(cmd: Command, incident: Mapping[str, Any]) -> str:
    """The case's TLP as this command sees it (AMBER when it has none)."""
    from csirt.records import INCIDENT
    from csirt.taxonomia import parse_tlp

    value = incident.get("tlp")
    if not value:
        found = cmd.get(INCIDENT, (incident["id"],)) or {}
        value = found.get("tlp")
    return parse_tlp(str(value or "AMBER"))


def stricter(base: str, other: str | None) -> str:
    """The stricter of two TLP labels (``other`` may be None)."""
    from csirt.taxonomia import parse_tlp, tlp_rank

    if not other:
        return base
    told = parse_tlp(other)
    return told if tlp_rank(told) > tlp_rank(base) else base


def add_note(
    cmd: Command,
    incident: Mapping[str, Any],
    message: str,
    *,
    ts: str | None = None,
    tz: str | None = None,
    source: str = "",
    tlp: str | None = None,
) -> dict[str, Any]:
    """``linea agregar``: a note by hand, at a moment told in its own zone (default: now).

    ``tlp``: the note may be stricter than its case (a call told in confidence), never looser.
    """
    from csirt.taxonomia import parse_tlp, tlp_rank

    text = check_text(message, "el texto de la entrada")
    base = case_tlp(cmd, incident)
    if tlp is not None and tlp_rank(parse_tlp(tlp)) < tlp_rank(base):
        raise UsageError(
            f"--tlp {parse_tlp(tlp)}: una entrada no puede ser menos restringida que su caso "
            f"({incident.get('number') or incident['id']} es TLP:{base}); use TLP:{base} o uno "
            "más restrictivo"
        )
    now = parse_timestamp(cmd.now)
    stamp, zone_name = parse_moment(ts or "ahora", tz, now=now, what="--fecha")
    entry = add_timeline(cmd, incident, kind="nota", message=text, ts=stamp, tz=zone_name,
                         source=clean(source).strip()[:200] or "manual", tlp=tlp)  # fmt: skip
    cmd.emit("linea", "agregar", f"{incident['number']}: nota en la línea de tiempo",
             incident=incident, fields={"csirt.timeline.id": entry["id"]})  # fmt: skip
    return entry


def entries(reader: Any, incident_id: str) -> list[dict[str, Any]]:
    """The case's timeline in time order (entries at one moment in the order written)."""
    found = list(reader.scan(TIMELINE, (incident_id,)))
    return sorted(found, key=lambda e: (e.get("ts", ""), e.get("id", "")))


def _hit_entry(hit: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(ts, message, fields) of a log event; None without an ``event.id``."""
    event_id = get_field(hit, "event.id")
    stamp = hit.get("@timestamp")
    if not isinstance(event_id, str) or not isinstance(stamp, str):
        return None
    fields = {name: get_field(hit, name) for name in
              ("event.dataset", "event.action", "event.outcome", "host.name", "source.ip",
               "user.name")}  # fmt: skip
    message = get_field(hit, "message")
    text = str(message) if message is not None else str(get_field(hit, "event.action") or "")
    return stamp, text, {k: v for k, v in fields.items() if v is not None}


def import_hits(
    cmd: Command, incident: Mapping[str, Any], hits: Iterable[Mapping[str, Any]], *, query: str
) -> tuple[int, int]:
    """``linea importar``: each event found one ``registro`` entry, its ``raw_ref`` the
    event's ``event.id``; an event already in the timeline is not added again.

    Returns (added, already there)."""
    known = {e.get("raw_ref") for e in cmd.tx.scan(TIMELINE, (incident["id"],))
             if e.get("source") == LOG_SOURCE and e.get("raw_ref")}  # fmt: skip
    added = present = 0
    for hit in hits:
        parsed = _hit_entry(hit)
        if parsed is None:
            continue
        event_id = str(get_field(hit, "event.id"))
        if event_id in known:
            present += 1
            continue
        stamp, text, fields = parsed
        event_tz = get_field(hit, "event.timezone")
        add_timeline(cmd, incident, kind="registro", message=text, ts=stamp,
                     tz=str(event_tz) if event_tz else "UTC", source=LOG_SOURCE,
                     raw_ref=event_id, fields={**fields, "query": query})  # fmt: skip
        known.add(event_id)
        added += 1
    if added:
        cmd.emit("linea", "importar",
                 f"{incident['number']}: {added} eventos del almacén en la línea de tiempo",
                 incident=incident, fields={"csirt.timeline.query": query})  # fmt: skip
    return added, present


def shown_time(entry: Mapping[str, Any]) -> datetime:
    """The entry's moment in the zone it was told in (UTC when that zone is unknown here)."""
    moment = parse_timestamp(str(entry["ts"]))
    try:
        return moment.astimezone(zone(str(entry.get("tz") or "UTC")))
    except UsageError:
        return moment
