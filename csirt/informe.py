"""The case report: one self-contained Spanish HTML page per incident (``csirt informe``).

:func:`build` reads the incident and everything linked to it from the store (timeline,
observables, tasks, countermeasures with their runs, evidence with its custody) into plain
data, each moment already written for a reader; :func:`html` renders it with Jinja2,
autoescape on, inline CSS and SVG only: no script, no external URL, so the page opens the
same offline, in a mail client or years later. Whatever a title, an observable or a log line
carries is shown as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from csirt import metricas
from csirt.records import (
    COUNTERMEASURE,
    CUSTODY,
    EVIDENCE,
    INCIDENT,
    OBSERVABLE,
    TASK,
    TIMELINE,
)
from pukara.events import format_timestamp, parse_timestamp, utc_now
from pukara.store import Store

REPORT_TZ = "America/Lima"  # the office that reads the report

SEVERITY = {1: "baja", 2: "media", 3: "alta", 4: "crítica"}
STATUS = {"nuevo": "Nuevo", "analisis": "Análisis", "contencion": "Contención",
          "erradicacion": "Erradicación", "recuperacion": "Recuperación",
          "post_incidente": "Post-incidente", "cerrado": "Cerrado", "reabierto": "Reabierto",
          "descartado": "Descartado"}  # fmt: skip
KIND = {"creado": "Creación", "fase": "Cambio de fase", "nota": "Nota", "alerta": "Alerta",
        "registro": "Registro", "tarea": "Tarea", "observable": "Observable",
        "contramedida": "Contramedida", "evidencia": "Evidencia",
        "notificacion_cnsd": "Notificación al CNSD", "asignado": "Asignación"}  # fmt: skip
TASK_STATUS = {"pendiente": "Pendiente", "en_curso": "En curso", "en_espera": "En espera",
               "hecha": "Hecha", "cancelada": "Cancelada"}  # fmt: skip
NIST_PHASE = {"preparacion": "Preparación", "deteccion_analisis": "Detección y análisis",
              "contencion_erradicacion_recuperacion": "Contención, erradicación y recuperación",
              "post_incidente": "Post-incidente"}  # fmt: skip
MEASURE = {"bloquear_ip": "Bloqueo de dirección IP", "aislar_host": "Aislamiento de equipo",
           "deshabilitar_cuenta": "Cuenta deshabilitada"}  # fmt: skip
MEASURE_STATUS = {"pendiente": "Pendiente", "activa": "Activa",
                  "pendiente_retiro": "Pendiente de retiro", "retirada": "Retirada",
                  "rechazada": "Rechazada"}  # fmt: skip
# FIRST TLP 2.0 (https://www.first.org/tlp/): label colour on a black background
TLP_COLOURS = {"RED": "#FF2B2B", "AMBER": "#FFC000", "AMBER+STRICT": "#FFC000",
               "GREEN": "#33FF00", "CLEAR": "#FFFFFF"}  # fmt: skip
TLP_MEANING = {
    "RED": "Solo para los destinatarios nombrados; no se comparte más allá.",
    "AMBER+STRICT": "Solo dentro de la organización del destinatario.",
    "AMBER": "Dentro de la organización del destinatario y sus clientes, según necesidad.",
    "GREEN": "Dentro de la comunidad; no en canales públicos.",
    "CLEAR": "Sin límite de difusión.",
}
PHASE_COLOURS = {"nuevo": "#9aa5b1", "analisis": "#4c7bd9", "contencion": "#d9534f",
                 "erradicacion": "#e08a1e", "recuperacion": "#2e9e5b",
                 "post_incidente": "#7b5ea7", "reabierto": "#b5651d"}  # fmt: skip
_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?$")


def zone(name: str | None) -> tzinfo:
    """A time zone from its IANA name or an offset (``-05:00``, ``+0530``, ``UTC-5``); UTC
    when empty or unknown."""
    text = (name or "").strip()
    if not text or text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta < timedelta(hours=24):
            return timezone(-delta if sign == "-" else delta)
        return UTC
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def moment(value: Any, tz: tzinfo | str | None = REPORT_TZ, *, seconds: bool = False) -> str:
    """A stored instant as a reader writes it, in ``tz``; the stored text if it is not one."""
    from pukara.formats import datetime_text

    if not isinstance(value, str) or not value:
        return ""
    try:
        ts = parse_timestamp(value)
    except ValueError:
        return value
    return datetime_text(ts, zone(tz) if not isinstance(tz, tzinfo) else tz, seconds=seconds)


def label(table: Mapping[Any, str], value: Any) -> str:
    return table.get(value, "" if value in (None, "") else str(value))


def level(value: Any) -> str:
    """``3 (alta)`` for a severity or priority 1-4."""
    return f"{value} ({SEVERITY[value]})" if value in SEVERITY else label({}, value)


def by_time(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(entries, key=lambda e: (str(e.get("ts", "")), str(e.get("id", ""))))


def timeline_rows(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        what = label(KIND, e.get("kind"))
        if e.get("kind") == "fase":
            what += f": {label(STATUS, e.get('from'))} → {label(STATUS, e.get('to'))}"
        tz_name = str(e.get("tz") or "UTC")
        rows.append({"local": moment(e.get("ts"), tz_name, seconds=True), "zone": tz_name,
                     "utc": moment(e.get("ts"), UTC, seconds=True), "what": what,
                     "kind": str(e.get("kind") or ""), "message": str(e.get("message") or ""),
                     "source": str(e.get("source") or ""),
                     "raw_ref": str(e.get("raw_ref") or ""),
                     "analyst": str(e.get("analyst") or "")})  # fmt: skip
    return rows


def phase_strip(entries: Sequence[Mapping[str, Any]], end: datetime) -> list[dict[str, Any]]:
    """The case's phases as segments of a bar from its creation to ``end`` (percentages)."""
    points: list[tuple[datetime, str]] = []
    for e in entries:
        try:
            ts = parse_timestamp(str(e.get("ts")))
        except ValueError:
            continue
        if e.get("kind") == "creado" and not points:
            points.append((ts, "nuevo"))
        elif e.get("kind") == "fase" and e.get("to") and points:
            points.append((ts, str(e["to"])))
    if not points:
        return []
    start = points[0][0]
    total = max((end - start).total_seconds(), 0.001)  # a case of one instant: no 0 / 0
    segments = []
    for (ts, phase), nxt in zip(points, [*points[1:], (end, "")], strict=True):
        if phase in ("cerrado", "descartado"):
            continue  # closed until reopened: a gap in the bar
        share = max((nxt[0] - ts).total_seconds(), 0.0) / total * 100
        x = (ts - start).total_seconds() / total * 100
        segments.append({"x": round(x, 3), "width": round(share, 3), "phase": phase,
                         "label": label(STATUS, phase),
                         "colour": PHASE_COLOURS.get(phase, "#888"),
                         "duration": metricas.duration_text((nxt[0] - ts).total_seconds())})  # fmt: skip
    return segments


def _also_in(store: Store, obs: Mapping[str, Any], numbers: dict[str, str]) -> list[str]:
    """The other cases holding the same observable, by number."""
    out = []
    for other in store.scan(OBSERVABLE, where={"type": obs.get("type"), "value": obs.get("value")}):
        inc = other.get("incident_id")
        if inc and inc != obs.get("incident_id"):
            if inc not in numbers:
                doc = store.get(INCIDENT, [inc]) or {}
                numbers[inc] = str(doc.get("number") or inc)
            out.append(numbers[inc])
    return sorted(out)


def measure_row(cm: Mapping[str, Any]) -> dict[str, Any]:
    target = cm.get("target") or {}
    shown = " ".join(str(v) for v in (target.get("host"), target.get("address"),
                                      target.get("account")) if v)  # fmt: skip
    runs = [{"playbook": str(r.get("playbook") or ""), "job_id": str(r.get("job_id") or ""),
             "status": str(r.get("status") or ""), "rc": r.get("rc"),
             "sha256": str(r.get("artifacts_sha256") or ""),
             "verified": r.get("verified"), "check": bool(r.get("check")),
             "error": str(r.get("error") or "")} for r in cm.get("runs") or []]  # fmt: skip
    return {"kind": label(MEASURE, cm.get("kind")), "target": shown,
            "status": label(MEASURE_STATUS, cm.get("status")),
            "status_key": str(cm.get("status") or ""), "expires": moment(cm.get("expires_at")),
            "activated": moment(cm.get("activated_at")), "retired": moment(cm.get("retired_at")),
            "proposed_by": str(cm.get("proposed_by") or ""),
            "approved_by": str(cm.get("approved_by") or ""),
            "playbook": str(cm.get("playbook") or ""),
            "reverse_playbook": str(cm.get("reverse_playbook") or ""),
            "reason": str(cm.get("reason") or ""), "runs": runs}  # fmt: skip


def _evidence_row(store: Store, ev: Mapping[str, Any]) -> dict[str, Any]:
    custody = sorted(store.scan(CUSTODY, [ev["id"]]), key=lambda c: int(c.get("seq") or 0))
    from pukara.formats import number

    size = ev.get("size")
    return {"name": str(ev.get("name") or ""), "sha256": str(ev.get("sha256") or ""),
            "size": f"{number(size)} bytes" if isinstance(size, int) else "",
            "acquired": moment(ev.get("acquired_at"), seconds=True),
            "host": str(ev.get("host") or ""), "kind": str(ev.get("kind") or ""),
            "added_by": str(ev.get("added_by") or ""),
            "custody": [{"seq": c.get("seq"), "ts": moment(c.get("ts"), seconds=True),
                         "analyst": str(c.get("analyst") or ""),
                         "action": str(c.get("action") or ""),
                         "purpose": str(c.get("purpose") or ""),
                         "before": str(c.get("sha256_before") or ""),
                         "after": str(c.get("sha256_after") or ""),
                         "where": str(c.get("where") or "")} for c in custody]}  # fmt: skip


def places(
    store: Store, incident: Mapping[str, Any]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    sites = []
    for code in incident.get("sites") or []:
        site = store.get("site", [code]) or {}
        sites.append({"code": str(code), "name": str(site.get("name") or ""),
                      "country": str(site.get("country") or "")})  # fmt: skip
    assets = []
    for name in incident.get("assets") or []:
        asset = store.get("asset", [name]) or {}
        assets.append({"name": str(name), "kind": str(asset.get("kind") or ""),
                       "site": str(asset.get("site") or ""),
                       "address": str(asset.get("mgmt_ipv4") or asset.get("mgmt_ipv6") or ""),
                       "criticality": str(asset.get("criticality") or "")})  # fmt: skip
    return sites, assets


def creation_fields(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first ``creado`` entry's fields (detection and occurrence times, as recorded)."""
    for e in entries:
        if e.get("kind") == "creado":
            fields = e.get("fields") or {}
            return (
                {"ts": e.get("ts"), **fields} if isinstance(fields, dict) else {"ts": e.get("ts")}
            )
    return {}


def build(store: Store, ref: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the report shows about incident ``ref``, read from the store."""
    from csirt.casos import load_incident

    now = now or utc_now()
    incident = load_incident(store, ref)
    inc_id = incident["id"]
    entries = by_time(store.scan(TIMELINE, [inc_id]))
    numbers = {inc_id: str(incident.get("number") or inc_id)}
    observables = sorted(store.scan(OBSERVABLE, where={"incident_id": inc_id}),
                         key=lambda o: (str(o.get("type")), str(o.get("value"))))  # fmt: skip
    tasks = sorted(store.scan(TASK, [inc_id]), key=lambda t: str(t.get("created_at") or ""))
    measures = sorted(store.scan(COUNTERMEASURE, where={"incident_id": inc_id}),
                      key=lambda c: str(c.get("id")))  # fmt: skip
    evidence = sorted(store.scan(EVIDENCE, where={"incident_id": inc_id}),
                      key=lambda e: (str(e.get("acquired_at") or ""), str(e.get("id"))))  # fmt: skip
    sites, assets = places(store, incident)
    created = creation_fields(entries)
    clock = metricas.clocks(entries).get(inc_id)
    times = metricas.durations(clock) if clock and clock.created else {}
    moves = [e for e in entries if e.get("kind") == "fase"]
    final = moves[-1] if moves and moves[-1].get("to") in ("cerrado", "descartado") else None
    end = parse_timestamp(str(final["ts"])) if final else now  # a closed case's bar ends there
    tlp = str(incident.get("tlp") or "AMBER").upper()
    personal = incident.get("personal_data") or {}
    return {
        "cnsd": _notification_text(entries, now),
        "id": inc_id, "number": numbers[inc_id], "title": str(incident.get("title") or ""),
        "description": str(incident.get("description") or ""),
        "severity": level(incident.get("severity")), "priority": level(incident.get("priority")),
        "status": label(STATUS, incident.get("status")),
        "status_key": str(incident.get("status") or ""),
        "rsit": " / ".join(str(v) for v in (incident.get("rsit_class"),
                                           incident.get("rsit_type")) if v),
        "cnsd_class": str(incident.get("cnsd_class") or ""),
        "tlp": tlp, "tlp_colour": TLP_COLOURS.get(tlp, "#FFC000"),
        "tlp_meaning": TLP_MEANING.get(tlp, ""), "pap": str(incident.get("pap") or ""),
        "assignee": str(incident.get("assignee") or ""),
        "determination": str(incident.get("determination") or ""),
        "disposition": str(incident.get("disposition") or ""),
        "impact": str(incident.get("impact") or ""), "lessons": str(incident.get("lessons") or ""),
        "occurred": moment(created.get("occurred_at") or incident.get("occurred_at")),
        "detected": moment(created.get("detected_at") or incident.get("detected_at")),
        "created": moment(created.get("ts") or incident.get("created_at")),
        "personal_data": {"affected": bool(personal.get("affected")),
                          "kinds": [str(k) for k in personal.get("kinds") or []],
                          "people": personal.get("people")},
        "sites": sites, "assets": assets,
        "times": [{"name": metricas.METRIC_NAMES[m], "short": m.upper(),
                   "value": metricas.duration_text(times.get(m))} for m in metricas.METRICS],
        "timeline": timeline_rows(entries), "phases": phase_strip(entries, end),
        "observables": [{"type": str(o.get("type") or ""), "value": str(o.get("value") or ""),
                         "ioc": bool(o.get("ioc")), "sighted": bool(o.get("sighted")),
                         "tlp": str(o.get("tlp") or ""),
                         "description": str(o.get("description") or ""),
                         "also_in": _also_in(store, o, numbers)} for o in observables],
        "tasks": [{"title": str(t.get("title") or ""),
                   "status": label(TASK_STATUS, t.get("status")),
                   "status_key": str(t.get("status") or ""),
                   "assignee": str(t.get("assignee") or ""), "due": moment(t.get("due_at")),
                   "phase": label(NIST_PHASE, t.get("phase"))} for t in tasks],
        "measures": [measure_row(c) for c in measures],
        "evidence": [_evidence_row(store, e) for e in evidence],
        "generated": moment(format_timestamp(now), seconds=True), "report_tz": REPORT_TZ,
    }  # fmt: skip


def _notification_text(entries: Sequence[Mapping[str, Any]], now: datetime) -> str:
    """Where the CNSD notification stands, by the packaged profile's (unverified) deadline."""
    from csirt import cnsd

    clock = cnsd.clock(cnsd.load_profile(), entries, now)
    return str(clock["warning"] or clock.get("summary") or "")


def environment() -> Any:
    """The Jinja2 environment of csirt's HTML templates: autoescape on, undefined is an error."""
    import jinja2

    from pukara.formats import number

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("csirt", "plantillas_html"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = number
    return env


def html(data: Mapping[str, Any]) -> str:
    return str(environment().get_template("informe.html.j2").render(**data))
