"""Incidents (``csirt.incidente``): open, read, change status, assign, edit, close, reopen.

Every function here that changes a case takes the :class:`csirt.records.Command` of the CLI
command (one transaction, one request id) and writes, for each change, the entity (a
change-log line), an ECS event ``csirt.incidente`` and a timeline entry. A function reads
the incident again inside the command's transaction before changing it, so two analysts
editing one case at once lose nothing: the second reads what the first wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from csirt import estados
from csirt.linea import add_timeline, check_text, checked_moment, parse_moment
from csirt.observables_db import add_observable
from csirt.records import INCIDENT, TASK, Command, new_ulid
from pukara.errors import UsageError
from pukara.events import format_timestamp, parse_timestamp

__all__ = [
    "IncidentNotFound",
    "add_observable",
    "add_timeline",
    "assign",
    "change_status",
    "load_incident",
    "open_incident",
    "update_incident",
]

# the inventory's collections (inventario/model.py), read through the store
SITES = "site"
ASSETS = "asset"

SEVERITIES = {1: "baja", 2: "media", 3: "alta", 4: "crítica"}
# priority = severity moved by the highest criticality of the linked assets (none: as media)
CRITICALITY_SHIFT = {"baja": -1, "media": 0, "alta": 1}
NUMBER = re.compile(r"INC-(\d{4})-(\d{1,9})", re.IGNORECASE)
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}", re.IGNORECASE)
TITLE_MAX = 300
DESCRIPTION_MAX = 20_000
# fields change_status may set with the move (each checked against its vocabulary)
STATUS_FIELDS = ("determination", "disposition", "impact", "lessons")
# what reopening a closed case clears (the closing's verdict and times; lessons stay)
REOPEN_CLEARS = ("determination", "disposition", "impact", "closed_at", "resolved_at")


class IncidentNotFound(UsageError):
    """No incident has that number or id."""


def _reader(source: Any) -> Any:
    return source.tx if isinstance(source, Command) else source


def load_incident(source: Any, ref: str) -> dict[str, Any]:
    """The incident ``ref`` names (``INC-2026-0001`` or its ULID), from a Store or, inside a
    command, from its transaction (what this command wrote included)."""
    reader = _reader(source)
    text = str(ref).strip()
    numbered = NUMBER.fullmatch(text)
    if ULID.fullmatch(text):
        found = reader.get(INCIDENT, (text.upper(),))
        if found is not None:
            return dict(found)
    elif numbered:
        number = f"INC-{numbered.group(1)}-{int(numbered.group(2)):04d}"
        for doc in reader.scan(INCIDENT, (), {"number": number}):
            return dict(doc)
    else:
        raise UsageError(f"«{ref}» no es un número de incidente (INC-2026-0001) ni su id (ULID)")
    raise IncidentNotFound(f"no existe el incidente {text}")


def check_severity(value: Any) -> int:
    aliases = {"baja": 1, "media": 2, "alta": 3, "critica": 4, "crítica": 4}
    text = str(value).strip().lower()
    if text in aliases:
        return aliases[text]
    if text in ("1", "2", "3", "4"):
        return int(text)
    raise UsageError(f"«{value}» no es una severidad; use 1 (baja), 2 (media), 3 (alta) o 4 "
                     "(crítica)")  # fmt: skip


def priority(severity: int, criticalities: Iterable[str | None]) -> int:
    """Severity (1-4) moved one step up by an asset of criticality alta, one down when the
    most critical linked asset is baja; no asset or no criticality known: as media."""
    known = [CRITICALITY_SHIFT[c] for c in criticalities if c in CRITICALITY_SHIFT]
    shift = max(known) if known else 0
    return min(4, max(1, severity + shift))


def _inventory(reader: Any, sites: Sequence[str], assets: Sequence[str]) -> tuple[
    list[str], list[str], list[str | None]
]:  # fmt: skip
    """Sites and assets checked against the inventory: (sites, assets, their criticality).

    The site of each asset joins the sites."""
    site_codes: list[str] = []
    for code in sites:
        c = str(code).strip().lower()
        if reader.get(SITES, (c,)) is None:
            raise UsageError(f"la sede «{code}» no está en el inventario (pukara inventario "
                             "sedes la lista)")  # fmt: skip
        site_codes.append(c)
    names: list[str] = []
    crit: list[str | None] = []
    for name in assets:
        n = str(name).strip()
        asset = reader.get(ASSETS, (n,))
        if asset is None:
            raise UsageError(f"el activo «{name}» no está en el inventario (pukara inventario "
                             "listar lo lista)")  # fmt: skip
        names.append(n)
        crit.append(asset.get("criticality"))
        if asset.get("site"):
            site_codes.append(str(asset["site"]))
    return list(dict.fromkeys(site_codes)), list(dict.fromkeys(names)), crit


def _moment(value: datetime | str | None, tz: str | None, now: datetime, what: str) -> tuple[
    str | None, str | None
]:  # fmt: skip
    if value is None:
        return None, None
    if isinstance(value, datetime):
        return checked_moment(value, now=now, what=what)
    return parse_moment(value, tz, now=now, what=what)


def open_incident(
    cmd: Command,
    *,
    title: str,
    severity: int | str,
    description: str = "",
    rsit_class: str = "other",
    rsit_type: str = "undetermined",
    tlp: str = "AMBER",
    pap: str = "AMBER",
    sites: Sequence[str] = (),
    assets: Sequence[str] = (),
    detected_at: datetime | str | None = None,
    occurred_at: datetime | str | None = None,
    source_alert: str | Mapping[str, Any] | None = None,
    tz: str | None = None,
    assignee: str = "",
) -> dict[str, Any]:
    """Open a case: its number ``INC-<year>-<NNNN>``, its classification checked, its sites
    and assets found in the inventory, the task template of its RSIT type applied.

    ``detected_at``/``occurred_at``: aware datetimes, or text read as
    :func:`csirt.linea.parse_moment` does (``tz``: the zone of a text without one); the
    detection defaults to now. ``source_alert``: the alert (or its id) the case comes from.
    """
    from csirt import taxonomia

    alert_id = source_alert.get("id") if isinstance(source_alert, Mapping) else source_alert

    now = parse_timestamp(cmd.now)
    cls, typ = taxonomia.check_rsit(rsit_class, rsit_type)
    sev = check_severity(severity)
    site_codes, asset_names, crit = _inventory(cmd.tx, sites, assets)
    detected, detected_tz = _moment(detected_at, tz, now, "--detectado")
    occurred, occurred_tz = _moment(occurred_at, tz, now, "--ocurrido")
    if detected is None:
        detected, detected_tz = cmd.now, tz or "UTC"
    if occurred is not None and occurred > detected:
        raise UsageError(f"la ocurrencia ({occurred}) es posterior a la detección ({detected})")
    who = check_text(assignee, "el analista asignado", 120) if assignee.strip() else ""
    year = now.year
    number = f"INC-{year}-{cmd.tx.next_number(f'incidente-{year}'):04d}"
    doc: dict[str, Any] = {
        "id": new_ulid(), "number": number,
        "title": check_text(title, "el título", TITLE_MAX),
        "description": check_text(description, "la descripción", DESCRIPTION_MAX)
        if description.strip() else "",
        "severity": sev, "priority": priority(sev, crit),
        "rsit_class": cls, "rsit_type": typ, "cnsd_class": taxonomia.cnsd_class(cls, typ),
        "tlp": taxonomia.parse_tlp(tlp), "pap": taxonomia.parse_pap(pap),
        "sites": site_codes, "assets": asset_names, "status": estados.NEW,
        "assignee": who, "determination": None, "disposition": None,
        "impact": None, "lessons": "",
        "occurred_at": occurred, "occurred_tz": occurred_tz,
        "detected_at": detected, "detected_tz": detected_tz,
        "created_at": cmd.now, "updated_at": cmd.now,
        "acknowledged_at": cmd.now if who else None,
        "contained_at": None, "notified_at": None, "resolved_at": None, "closed_at": None,
        "alerts": [alert_id] if alert_id else [],
        "personal_data": {"affected": False, "kinds": [], "people": 0},
        "template": None, "created_by": cmd.analyst,
    }  # fmt: skip
    tasks = _apply_template(cmd, doc)
    cmd.insert(INCIDENT, doc)
    add_timeline(cmd, doc, kind="creado", message=f"Incidente abierto: {doc['title']}",
                 fields={"detected_at": detected, "detected_tz": detected_tz,
                         "occurred_at": occurred, "occurred_tz": occurred_tz,
                         "severity": sev, "priority": doc["priority"],
                         "source_alert": alert_id, "template": doc["template"],
                         "tasks": tasks})  # fmt: skip
    if doc["assignee"]:  # given to an analyst as it opens: acknowledged now (TTA 0)
        add_timeline(cmd, doc, kind="asignado", message=f"Asignado a {doc['assignee']}",
                     fields={"from": "", "to": doc["assignee"]})  # fmt: skip
    cmd.emit("incidente", "abrir", f"{number} abierto: {doc['title']}", incident=doc,
             fields={"event.severity": sev, "csirt.incident.priority": doc["priority"],
                     "csirt.incident.rsit": f"{cls}:{typ}"})  # fmt: skip
    return doc


def _apply_template(cmd: Command, doc: dict[str, Any]) -> int:
    """The tasks of the template for the case's RSIT type, written now; how many."""
    from csirt import plantillas

    template = plantillas.for_incident(doc["rsit_class"], doc["rsit_type"], doc["severity"])
    if template is None:
        return 0
    doc["template"] = template.name
    now = parse_timestamp(cmd.now)
    for n, spec in enumerate(template.tasks, start=1):
        due = format_timestamp(now + timedelta(hours=spec.due_hours)) if spec.due_hours else None
        cmd.insert(TASK, {
            "incident_id": doc["id"], "id": new_ulid(), "n": n, "title": spec.title,
            "description": spec.description or "", "status": "pendiente", "assignee": "",
            "due_at": due, "phase": spec.phase, "created_at": cmd.now, "updated_at": cmd.now,
            "template": template.name,
        })  # fmt: skip
    return len(template.tasks)


def _fresh(cmd: Command, incident: Mapping[str, Any]) -> dict[str, Any]:
    """The incident as this transaction sees it (another analyst may have changed it)."""
    found = cmd.get(INCIDENT, (incident["id"],))
    if found is None:
        raise IncidentNotFound(f"no existe el incidente {incident.get('number', incident['id'])}")
    return found


def _status_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    from csirt import taxonomia

    unknown = set(fields) - set(STATUS_FIELDS)
    if unknown:
        raise UsageError(f"campos que un cambio de estado no fija: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name == "determination":
            out[name] = taxonomia.check_determination(value)
        elif name == "disposition":
            out[name] = taxonomia.check_disposition(value)
        elif name == "impact":
            out[name] = taxonomia.check_impact(value)
        else:
            out[name] = check_text(str(value), "la nota de lecciones aprendidas")
    return out


def change_status(
    cmd: Command, incident: Mapping[str, Any], to: str, *, reason: str = "", **fields: Any
) -> dict[str, Any]:
    """Move the case to ``to`` through the state machine (:mod:`csirt.estados`), setting
    ``fields`` (determination, disposition, impact, lessons) with the move; a ``fase``
    timeline entry with from/to, an event and the change-log line. Nothing is written when
    a guard refuses."""
    doc = _fresh(cmd, incident)
    target = estados.parse_state(to)
    current = str(doc["status"])
    given = _status_fields(fields)
    doc.update(given)
    why = check_text(reason, "el motivo") if reason.strip() else ""
    # discarding needs a disposition given now, not one left from an earlier closing
    checked = (
        {**doc, "disposition": given.get("disposition")} if target == estados.DISCARDED else doc
    )
    estados.check(cmd.tx, checked, target, reason=why, now=cmd.now)
    doc["status"] = target
    doc["updated_at"] = cmd.now
    if current == estados.NEW and not doc.get("acknowledged_at"):
        doc["acknowledged_at"] = cmd.now
    if target == estados.ERADICATION and not doc.get("contained_at"):
        doc["contained_at"] = cmd.now
    if target == estados.POST_INCIDENT:
        doc["resolved_at"] = cmd.now
    if target in estados.FINAL:
        doc["closed_at"] = cmd.now
    previous: dict[str, Any] = {}
    if target == estados.REOPENED:  # what the closing decided is kept in the entry, not the case
        previous = {k: doc.get(k) for k in REOPEN_CLEARS if doc.get(k)}
        doc.update(dict.fromkeys(REOPEN_CLEARS))
        doc["reopened_at"] = cmd.now
    cmd.put(INCIDENT, doc)
    label = f"{estados.LABELS[current]} → {estados.LABELS[target]}"
    add_timeline(cmd, doc, kind="fase", message=f"Fase: {label}" + (f". {why}" if why else ""),
                 phase=(current, target),
                 fields={**given, **({"reason": why} if why else {}),
                         **({"previous": previous} if previous else {})})  # fmt: skip
    cmd.emit("incidente", "estado", f"{doc['number']}: {label}", incident=doc,
             fields={"csirt.incident.from": current, "csirt.incident.to": target})  # fmt: skip
    return doc


def assign(cmd: Command, incident: Mapping[str, Any], assignee: str) -> dict[str, Any]:
    """Give the case to an analyst (the first assignment acknowledges it, for TTA)."""
    doc = _fresh(cmd, incident)
    who = check_text(assignee, "el analista asignado", 120)
    before = doc.get("assignee") or ""
    doc["assignee"] = who
    doc["updated_at"] = cmd.now
    if not doc.get("acknowledged_at"):
        doc["acknowledged_at"] = cmd.now
    cmd.put(INCIDENT, doc)
    add_timeline(cmd, doc, kind="asignado", message=f"Asignado a {who}",
                 fields={"from": before, "to": who})  # fmt: skip
    cmd.emit("incidente", "asignar", f"{doc['number']}: asignado a {who}", incident=doc,
             fields={"csirt.incident.assignee": who})  # fmt: skip
    return doc


EDITABLE = ("title", "description", "severity", "tlp", "pap", "sites", "assets",
            "personal_data")  # fmt: skip
FIELD_LABELS = {"title": "título", "description": "descripción", "severity": "severidad",
                "priority": "prioridad", "tlp": "TLP", "pap": "PAP", "sites": "sedes",
                "assets": "activos", "personal_data": "datos personales"}  # fmt: skip


def update_incident(cmd: Command, incident: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """Change the case's descriptive fields (``EDITABLE``); priority follows severity and
    assets. A ``nota`` entry names what changed."""
    from csirt import taxonomia

    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise UsageError(f"campos que no se editan así: {', '.join(sorted(unknown))}")
    doc = _fresh(cmd, incident)
    before = dict(doc)
    for name, value in changes.items():
        if value is None:
            continue
        if name == "title":
            doc[name] = check_text(str(value), "el título", TITLE_MAX)
        elif name == "description":
            doc[name] = check_text(str(value), "la descripción", DESCRIPTION_MAX)
        elif name == "severity":
            doc[name] = check_severity(value)
        elif name == "tlp":
            doc[name] = taxonomia.parse_tlp(str(value))
        elif name == "pap":
            doc[name] = taxonomia.parse_pap(str(value))
        elif name == "personal_data":
            doc[name] = _personal_data(value)
    sites = changes.get("sites")
    assets = changes.get("assets")
    if sites is not None or assets is not None:
        codes, names, _ = _inventory(cmd.tx, doc["sites"] if sites is None else sites,
                                     doc["assets"] if assets is None else assets)  # fmt: skip
        doc["sites"], doc["assets"] = codes, names
    _, _, crit = _inventory(cmd.tx, (), doc["assets"])
    doc["priority"] = priority(int(doc["severity"]), crit)
    changed = [k for k in FIELD_LABELS if doc.get(k) != before.get(k)]
    if not changed:
        return doc
    doc["updated_at"] = cmd.now
    cmd.put(INCIDENT, doc)
    labels = ", ".join(FIELD_LABELS[k] for k in changed)
    add_timeline(cmd, doc, kind="nota", message=f"Campos cambiados: {labels}",
                 source="edicion", fields={k: doc[k] for k in changed})  # fmt: skip
    cmd.emit("incidente", "editar", f"{doc['number']}: cambia {labels}",
             incident=doc, fields={"csirt.incident.changed": changed})  # fmt: skip
    return doc


def _personal_data(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UsageError("datos personales: se esperaba {affected, kinds, people}")
    people = int(value.get("people") or 0)
    if people < 0:
        raise UsageError("datos personales: el número de personas no puede ser negativo")
    kinds = [check_text(str(k), "el tipo de dato personal", 80) for k in value.get("kinds") or ()]
    affected = bool(value.get("affected")) or people > 0 or bool(kinds)
    return {"affected": affected, "kinds": kinds, "people": people}


def listing(
    reader: Any,
    *,
    status: Sequence[str] = (),
    open_only: bool = False,
    assignee: str | None = None,
    site: str | None = None,
    min_severity: int | None = None,
) -> list[dict[str, Any]]:
    """Incidents, newest first; ``status``: only these; ``open_only``: not closed/discarded;
    ``assignee``, ``site``: only those given to that analyst or touching that site;
    ``min_severity``: of that severity or higher."""
    wanted = {estados.parse_state(s) for s in status}
    floor = check_severity(min_severity) if min_severity is not None else 1
    code = site.strip().lower() if site else None

    def keep(d: Mapping[str, Any]) -> bool:
        return ((not wanted or d.get("status") in wanted)
                and (not open_only or d.get("status") not in estados.FINAL)
                and (assignee is None or d.get("assignee") == assignee)
                and (code is None or code in (d.get("sites") or ()))
                and int(d.get("severity") or 0) >= floor)  # fmt: skip

    out = [d for d in reader.scan(INCIDENT) if keep(d)]
    return sorted(out, key=lambda d: str(d.get("created_at", "")), reverse=True)
