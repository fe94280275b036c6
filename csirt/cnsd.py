"""The draft report to the national centre (CNSD, Peru) and the record of its sending.

:func:`draft` fills the fields of the national incident form, in the order a profile gives
(``csirt/perfiles/pe-cnsd-2025.toml``, or an edited copy), from the case: the reporting entity
from the profile, the affected entity and assets from the incident and the inventory, the
times of occurrence and detection from the case's ``creado`` timeline entry, the measures
from its countermeasures that were put in place (not the pending or rejected ones), phase
changes and finished tasks. It states the case's TLP and what it allows (the CNSD is a third
party), and which fields name an observable more restrictive than the case. It also keeps the notification
clock: the profile's deadline (unverified, and the draft says so) from detection, with
warnings at 50 % and 90 %. An analyst sends the draft; pukara never sends anything.

:func:`record_notification` writes the sending as a ``notificacion_cnsd`` timeline entry (the
TTN of :mod:`csirt.metricas` comes from it).
"""

from __future__ import annotations

import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from csirt import informe
from csirt.records import COUNTERMEASURE, INCIDENT, TASK, TIMELINE, Command
from csirt.taxonomia import parse_tlp
from pukara.errors import UsageError
from pukara.events import format_timestamp, parse_timestamp, utc_now
from pukara.store import Store
from pukara.text import clean

DEFAULT_PROFILE = "pe-cnsd-2025"
MISSING = "(por completar)"
FOOTER = (
    "Borrador preparado por pukara para revisión. Lo envía un analista por los canales del "
    "CNSD; pukara nunca lo envía."
)
FOOTER_TO_RECORD = " Registre el envío con `pukara csirt cnsd {number} --notificado`."


class ProfileError(UsageError):
    """A CNSD profile that cannot be read or lacks what the draft needs."""


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    verified: bool
    note: str
    entity: Mapping[str, str]
    channels: Mapping[str, str]
    hours: float
    deadline_verified: bool
    starts: str  # deteccion | apertura
    warn_at: tuple[float, ...]
    personal: Mapping[str, Any]
    fields: tuple[tuple[str, str], ...]  # (key, label)


def load_profile(path: Path | None = None) -> Profile:
    """The packaged ``pe-cnsd-2025`` profile, or the TOML file at ``path``."""
    where = str(path) if path else f"perfil {DEFAULT_PROFILE}"
    try:
        if path is None:
            raw = (resources.files("csirt") / "perfiles" / f"{DEFAULT_PROFILE}.toml").read_text()
        else:
            raw = path.read_text(encoding="utf-8")
        doc = tomllib.loads(raw)
    except OSError as e:
        raise ProfileError(f"{where}: no se puede leer: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProfileError(f"{where}: no es un TOML válido: {e}") from None
    try:
        deadline = doc.get("deadline", {})
        hours = float(deadline["hours"])
        fields = tuple((str(f["key"]), str(f["label"])) for f in doc["fields"])
        entity = {str(k): str(v) for k, v in doc["reporting_entity"].items()}
        if not entity.get("name") or hours <= 0 or not fields:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise ProfileError(
            f"{where}: faltan datos: reporting_entity.name, deadline.hours (> 0) y al menos un "
            "[[fields]] con key y label"
        ) from None
    starts = str(deadline.get("starts", "deteccion"))
    if starts not in ("deteccion", "apertura"):
        raise ProfileError(f"{where}: deadline.starts {starts!r}: use deteccion o apertura")
    return Profile(
        name=str(doc.get("name") or DEFAULT_PROFILE), title=str(doc.get("title") or "Reporte"),
        verified=bool(doc.get("verified", False)), note=str(doc.get("note") or ""),
        entity=entity, channels={str(k): str(v) for k, v in doc.get("channels", {}).items()},
        hours=hours, deadline_verified=bool(deadline.get("verified", False)), starts=starts,
        warn_at=tuple(sorted(float(w) for w in deadline.get("warn_at", (0.5, 0.9)))),
        personal=dict(doc.get("personal_data_deadline", {})), fields=fields,
    )  # fmt: skip


def _first(entries: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((e for e in entries if e.get("kind") == kind), None)


def _when(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _hours(seconds: float) -> str:
    from pukara.formats import number

    hours = seconds / 3600
    return f"{number(hours, 0 if float(hours).is_integer() else 1)} h"


def clock(profile: Profile, entries: Sequence[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """The notification clock: start, due time, share elapsed, and the warning to show."""
    created = informe.creation_fields(entries)
    detected = _when(created.get("detected_at"))
    opened = _when(created.get("ts"))
    start = detected if profile.starts == "deteccion" and detected else opened
    basis = "la detección" if start is not None and start == detected else "la apertura del caso"
    sent = _first(entries, "notificacion_cnsd")
    out: dict[str, Any] = {"hours": profile.hours, "verified": profile.deadline_verified,
                           "starts_at": format_timestamp(start) if start else None,
                           "basis": basis, "due_at": None, "elapsed_pct": None,
                           "notified_at": sent.get("ts") if sent else None, "level": None,
                           "warning": None}  # fmt: skip
    if start is None:
        out["warning"] = "No consta la apertura del caso en su línea de tiempo: sin plazo."
        return out
    due = start + timedelta(hours=profile.hours)
    out["due_at"] = format_timestamp(due)
    unverified = "" if profile.deadline_verified else " (plazo no verificado)"
    end = _when(out["notified_at"]) or now
    pct = (end - start).total_seconds() / (profile.hours * 3600) * 100
    out["elapsed_pct"] = round(pct, 1)
    if sent is not None:
        late = "fuera de plazo" if end > due else "dentro del plazo"
        out["level"] = "notificado"
        out["warning"] = (f"Notificado al CNSD el {informe.moment(out['notified_at'])}, "
                          f"{_hours((end - start).total_seconds())} después de {basis}: {late} "
                          f"de {_hours(profile.hours * 3600)}{unverified}.")  # fmt: skip
        return out
    out["summary"] = (f"Plazo de notificación al CNSD: {_hours(profile.hours * 3600)} desde "
                      f"{basis}; vence el {informe.moment(out['due_at'])}{unverified}.")  # fmt: skip
    passed = [w for w in profile.warn_at if pct >= w * 100]
    from pukara.formats import percent

    if pct >= 100:
        out["level"] = "vencido"
        out["warning"] = (f"PLAZO VENCIDO: el plazo de {_hours(profile.hours * 3600)} desde "
                          f"{basis} venció el {informe.moment(out['due_at'])}{unverified} y no "
                          "consta la notificación al CNSD.")  # fmt: skip
    elif passed:
        out["level"] = f"{round(passed[-1] * 100)}"
        out["warning"] = (f"AVISO: transcurrió el {percent(pct, 0)} del plazo de notificación al "
                          f"CNSD ({_hours(profile.hours * 3600)} desde {basis}); vence el "
                          f"{informe.moment(out['due_at'])}{unverified}.")  # fmt: skip
    return out


# countermeasures that were put in place (in force, being retired, or retired); a pending or
# rejected one was never taken and is no measure
TAKEN = ("activa", "pendiente_retiro", "retirada")
# what each TLP allows, for the draft's notice: the CNSD is a third party
TLP_SCOPE = {
    "CLEAR": "sin restricciones de difusión",
    "GREEN": "la comunidad de CSIRT, no el público",
    "AMBER": "la organización y sus clientes, lo necesario para actuar",
    "AMBER+STRICT": "solo la organización: el CNSD queda fuera salvo que el caso se reclasifique",
    "RED": "solo los destinatarios nombrados: el CNSD queda fuera salvo que se lo nombre",
}


def _measures(store: Store, incident_id: str, entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """What was done: countermeasures put in place, phase milestones and finished tasks, in
    time order."""
    items: list[tuple[str, str]] = []
    for cm in store.scan(COUNTERMEASURE, where={"incident_id": incident_id}):
        if cm.get("status") not in TAKEN:
            continue
        row = informe.measure_row(cm)
        target = cm.get("target") or {}
        what = target.get("address") or target.get("account") or ""
        where = f" en {target['host']}" if target.get("host") else ""
        text = f"{row['kind']} {what}{where}: {row['status'].lower()}"
        if row["activated"]:
            text += f", activada el {row['activated']}"
        if row["retired"]:
            text += f", retirada el {row['retired']}"
        elif row["expires"]:
            text += f", vence el {row['expires']}"
        items.append((str(cm.get("activated_at") or ""), text + "."))
    for e in entries:
        to = e.get("to")
        if e.get("kind") == "fase" and to in informe.STATUS:
            when = informe.moment(e.get("ts"))
            text = (f"Caso {informe.STATUS[str(to)].lower()} el {when}."
                    if to in ("cerrado", "descartado", "reabierto")
                    else f"Fase «{informe.STATUS[str(to)]}» desde el {when}.")  # fmt: skip
            items.append((str(e.get("ts")), text))
    for t in store.scan(TASK, [incident_id]):
        if t.get("status") == "hecha":
            items.append((str(t.get("updated_at") or ""), f"Tarea hecha: {t.get('title')}."))
    return [text for _, text in sorted(items, key=lambda i: i[0])]


def _entity_text(entity: Mapping[str, str]) -> str:
    parts = [entity["name"], f"RUC: {entity.get('ruc') or MISSING}"]
    if entity.get("unit"):
        parts.append(entity["unit"])
    return "; ".join(parts)


def _values(
    store: Store, incident: Mapping[str, Any], entries: Sequence[Mapping[str, Any]],
    profile: Profile,
) -> dict[str, tuple[Any, str]]:  # fmt: skip
    """Field key -> (machine value, text for a reader)."""
    data = informe.places(store, incident)
    created = informe.creation_fields(entries)
    occurred = created.get("occurred_at") or None
    detected = created.get("detected_at") or None
    personal = incident.get("personal_data") or {}
    people = personal.get("people")
    sites = "; ".join(f"{s['code']} ({s['name']})" if s["name"] else s["code"] for s in data[0])
    assets = "; ".join(
        a["name"] + (f" ({', '.join(v for v in (a['kind'], a['address']) if v)})"
                     if a["kind"] or a["address"] else "") for a in data[1]
    )  # fmt: skip
    measures = _measures(store, incident["id"], entries)
    e = profile.entity
    contact = "; ".join(v for v in (e.get("officer"), e.get("email"), e.get("phone")) if v)
    cnsd = str(incident.get("cnsd_class") or "")
    rsit = " / ".join(str(v) for v in (incident.get("rsit_class"), incident.get("rsit_type")) if v)
    return {
        "reporting_entity": (dict(e), _entity_text(e)),
        "affected_entity": ({"entity": e["name"], "sites": incident.get("sites") or []},
                            e["name"] + (f" — {sites}" if sites else "")),
        "affected_assets": (incident.get("assets") or [], assets or MISSING),
        "occurred_at": (occurred, informe.moment(occurred) if occurred else MISSING),
        "detected_at": (detected, informe.moment(detected) if detected else MISSING),
        "classification": ({"cnsd": cnsd, "rsit": rsit},
                           (cnsd or MISSING) + (f" (RSIT: {rsit})" if rsit else "")),
        "severity": (incident.get("severity"), informe.level(incident.get("severity")) or MISSING),
        "description": (str(incident.get("description") or ""),
                        "\n".join(v for v in (str(incident.get("title") or ""),
                                              str(incident.get("description") or "")) if v)
                        or MISSING),
        "personal_data": ({"affected": bool(personal.get("affected")),
                           "kinds": list(personal.get("kinds") or [])},
                          ("Sí: " + ", ".join(personal.get("kinds") or []) if personal.get("kinds")
                           else "Sí") if personal.get("affected") else "No consta"),
        "people_affected": (people, _people(people, bool(personal.get("affected")))),
        "measures": (measures, "\n".join(f"- {m}" for m in measures) or MISSING),
        "status": (incident.get("status"), informe.label(informe.STATUS, incident.get("status"))),
        "contact": (contact, contact or MISSING),
    }  # fmt: skip


def _people(people: Any, affected: bool) -> str:
    from pukara.formats import number

    if not affected:
        return "No aplica"
    return number(people) if isinstance(people, int) else MISSING


def draft(
    store: Store, ref: str, profile: Profile, *, now: datetime | None = None
) -> dict[str, Any]:
    """The draft of the CNSD report for incident ``ref`` (every field of the profile)."""
    from csirt.casos import load_incident

    now = now or utc_now()
    incident = load_incident(store, ref)
    entries = informe.by_time(store.scan(TIMELINE, [incident["id"]]))
    values = _values(store, incident, entries, profile)
    fields = []
    for key, label in profile.fields:
        value, text = values.get(key, (None, MISSING))
        fields.append({"key": key, "label": label, "value": value, "text": text})
    personal = incident.get("personal_data") or {}
    anpd = None
    if personal.get("affected") and profile.personal.get("hours"):
        start = _when(informe.creation_fields(entries).get("detected_at"))
        anpd = {"authority": str(profile.personal.get("authority") or "ANPD"),
                "hours": profile.personal["hours"],
                "verified": bool(profile.personal.get("verified", False)),
                "due_at": format_timestamp(start + timedelta(hours=float(
                    profile.personal["hours"]))) if start else None}  # fmt: skip
    number = str(incident.get("number") or incident["id"])
    deadline = clock(profile, entries, now)
    tlp = parse_tlp(str(incident.get("tlp") or "AMBER"))
    notice, warning = tlp_notice(store, incident, tlp, fields)
    return {
        "profile": {"name": profile.name, "title": profile.title, "verified": profile.verified,
                    "note": profile.note, "channels": dict(profile.channels)},
        "incident": {"id": incident["id"], "number": number, "tlp": tlp},
        "tlp_notice": notice, "tlp_warning": warning,
        "fields": fields, "deadline": deadline, "personal_deadline": anpd,
        "generated_at": format_timestamp(now),
        "footer": FOOTER + ("" if deadline["notified_at"] else FOOTER_TO_RECORD.format(number=number)),
    }  # fmt: skip


def tlp_notice(
    store: Store, incident: Mapping[str, Any], tlp: str, fields: Sequence[Mapping[str, Any]]
) -> tuple[str, bool]:
    """What the case's TLP allows, and the fields that name an observable more restrictive
    than the case (by label, never by value): the analyst decides what the CNSD receives.
    The flag says it is a warning (a TLP that leaves the CNSD out, or such a field)."""
    from csirt.exportar import named_tlp, observable_marks, searchable
    from csirt.records import OBSERVABLE

    text = f"Caso TLP:{tlp}: {TLP_SCOPE[tlp]}."
    if tlp in ("AMBER+STRICT", "RED"):
        text += " Reclasifique o recorte el borrador antes de enviarlo."
    observables = list(store.scan(OBSERVABLE, where={"incident_id": incident["id"]}))
    marks = observable_marks(observables, tlp)
    over = [(f["label"], named_tlp(searchable(str(f["text"])), marks, tlp)) for f in fields]
    named = [(label, t) for label, t in over if t is not None]
    if named:
        from csirt.taxonomia import tlp_rank

        strictest = max((t for _, t in named), key=tlp_rank)
        labels = ", ".join(f"«{label}»" for label, _ in named)
        text += (f" {labels} {'nombra' if len(named) == 1 else 'nombran'} observables hasta "
                 f"TLP:{strictest}, más restrictivos que el caso: revíselos antes de enviar.")  # fmt: skip
    return text, bool(named) or tlp in ("AMBER+STRICT", "RED")


def _anpd_text(anpd: Mapping[str, Any]) -> str:
    due = informe.moment(anpd["due_at"]) if anpd.get("due_at") else "sin hora de detección"
    checked = "" if anpd.get("verified") else " (plazo de fuente secundaria, no verificado)"
    return (f"Hay datos personales: aviso a la {anpd['authority']} en {anpd['hours']} h desde "
            f"la detección, hasta el {due}{checked}; pukara no lo envía.")  # fmt: skip


def text(data: Mapping[str, Any]) -> str:
    """The draft as plain text, to paste into the form or a mail."""
    p, inc = data["profile"], data["incident"]
    lines = [f"BORRADOR — {p['title']}", f"Incidente {inc['number']} · TLP:{inc['tlp']}", ""]
    if data.get("tlp_notice"):
        lines += [*textwrap.wrap(data["tlp_notice"], 92), ""]
    if not p["verified"]:
        lines += [*textwrap.wrap(f"Perfil {p['name']}: {p['note']}", 92), ""]
    warning = data["deadline"].get("warning") or data["deadline"].get("summary")
    if warning:
        lines += [*textwrap.wrap(warning, 92), ""]
    if data.get("personal_deadline"):
        lines += [*textwrap.wrap(_anpd_text(data["personal_deadline"]), 92), ""]
    for n, field in enumerate(data["fields"], 1):
        lines.append(f"{n}. {field['label']}")
        for part in str(field["text"]).splitlines() or [""]:
            lines += textwrap.wrap(part, 88, initial_indent="   ", subsequent_indent="     ")
        lines.append("")
    channels = data["profile"]["channels"]
    if channels:
        lines.append("Canales del CNSD: " + "; ".join(channels.values()))
    lines += [*textwrap.wrap(data["footer"], 92)]
    return clean("\n".join(lines)) + "\n"


def html(data: Mapping[str, Any]) -> str:
    level = data["deadline"].get("level")
    return str(
        informe.environment()
        .get_template("cnsd.html.j2")
        .render(
            data=data,
            tlp_colour=informe.TLP_COLOURS.get(data["incident"]["tlp"], "#FFC000"),
            generated=informe.moment(data["generated_at"], seconds=True),
            anpd=_anpd_text(data["personal_deadline"]) if data["personal_deadline"] else "",
            level=level or "",
        )
    )


# -- the sending, recorded ------------------------------------------------------------------
def record_notification(
    cmd: Command, ref: str, *, when: str | None = None, reference: str = "",
    profile: str = DEFAULT_PROFILE,
) -> dict[str, Any]:  # fmt: skip
    """Record that an analyst sent the report: a ``notificacion_cnsd`` timeline entry (and the
    incident's ``notified_at`` the first time), at ``when`` (as a person types it, see
    :func:`csirt.linea.parse_moment`; default now). A second notification, one in the future
    or one before the case was opened is refused."""
    from csirt.casos import load_incident
    from csirt.linea import add_timeline, check_text, parse_moment

    incident = load_incident(cmd, ref)
    entries = informe.by_time(cmd.tx.scan(TIMELINE, [incident["id"]]))
    number = incident.get("number") or incident["id"]
    previous = _first(entries, "notificacion_cnsd")
    if previous is not None:
        raise UsageError(f"{number}: ya consta la notificación al CNSD del "
                         f"{informe.moment(previous.get('ts'))}; no se registra otra")  # fmt: skip
    stamp, zone = parse_moment(when or "ahora", None, now=parse_timestamp(cmd.now), what="--fecha")
    opened = _when(informe.creation_fields(entries).get("ts"))
    if opened is not None and parse_timestamp(stamp) < opened:
        raise UsageError(f"--fecha «{when}»: es anterior a la apertura del caso "
                         f"({informe.moment(format_timestamp(opened))})")  # fmt: skip
    ref_text = check_text(reference, "la referencia", 200) if reference.strip() else ""
    entry = add_timeline(cmd, incident, kind="notificacion_cnsd",
                         message="Reporte enviado al CNSD", ts=stamp, tz=zone,
                         source="csirt cnsd", raw_ref=ref_text, fields={"profile": profile})  # fmt: skip
    updated = dict(incident)
    if not updated.get("notified_at"):
        updated["notified_at"] = stamp
    updated["updated_at"] = cmd.now
    cmd.put(INCIDENT, updated)
    cmd.emit("cnsd", "notificacion_cnsd", f"{number}: notificación al CNSD registrada",
             incident=updated, fields={"csirt.cnsd.reference": ref_text or None,
                                       "csirt.timeline.id": entry["id"]})  # fmt: skip
    return entry
