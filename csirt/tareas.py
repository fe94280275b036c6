"""Tasks of a case (``csirt.tarea``, keyed (incident_id, id)): IRIS's statuses, on hold
included, an assignee, a due date and the NIST SP 800-61 phase they belong to.

Each task also has a number within its case (``n``: 1, 2, ...) so that a person can name it
(``tarea estado INC-2026-0001 3 hecha``); it is given inside the command's transaction,
so two analysts adding tasks at once never get the same one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csirt.linea import add_timeline, check_text
from csirt.records import TASK, Command, new_ulid
from pukara.errors import UsageError
from pukara.events import format_timestamp

STATUSES = {"pendiente": "pendiente", "en_curso": "en curso", "en_espera": "en espera",
            "hecha": "hecha", "cancelada": "cancelada"}  # fmt: skip
PHASES = {
    "preparacion": "preparación",
    "deteccion_analisis": "detección y análisis",
    "contencion_erradicacion_recuperacion": "contención, erradicación y recuperación",
    "post_incidente": "post-incidente",
}
PHASE_ALIASES = {"deteccion": "deteccion_analisis", "analisis": "deteccion_analisis",
                 "contencion": "contencion_erradicacion_recuperacion",
                 "erradicacion": "contencion_erradicacion_recuperacion",
                 "recuperacion": "contencion_erradicacion_recuperacion",
                 "post": "post_incidente"}  # fmt: skip


def _key(text: str) -> str:
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return plain.strip().lower().replace("-", "_").replace(" ", "_")


FIELD_LABELS = {"status": "estado", "assignee": "asignado", "due_at": "vence"}


def _shown(field: str, value: Any) -> str:
    if not value:
        return "-"
    return STATUSES.get(value, value) if field == "status" else str(value)


def parse_status(text: str) -> str:
    key = _key(text)
    for name, label in STATUSES.items():
        if key in (name, _key(label)):
            return name
    raise UsageError(f"«{text}» no es un estado de tarea; use uno de: "
                     f"{', '.join(STATUSES.values())}")  # fmt: skip


def parse_phase(text: str) -> str:
    key = _key(text)
    key = PHASE_ALIASES.get(key, key)
    for name, label in PHASES.items():
        if key in (name, _key(label)):
            return name
    raise UsageError(f"«{text}» no es una fase NIST; use una de: {', '.join(PHASES)}")


def tasks(reader: Any, incident_id: str) -> list[dict[str, Any]]:
    """The case's tasks by number."""
    return sorted(reader.scan(TASK, (incident_id,)), key=lambda t: int(t.get("n") or 0))


def find_task(reader: Any, incident: Mapping[str, Any], ref: str) -> dict[str, Any]:
    """Task ``ref`` of the case: its number (``3``) or its id."""
    text = str(ref).strip()
    for task in reader.scan(TASK, (incident["id"],)):
        if (text.isdigit() and int(text) == task.get("n")) or text.upper() == task["id"]:
            return dict(task)
    raise UsageError(f"{incident['number']} no tiene la tarea «{ref}» (pukara csirt tarea "
                     f"listar {incident['number']})")  # fmt: skip


def _due(due: datetime | str | None, tz: str | None) -> str | None:
    """A due date (it may be in the future), UTC text; a text without a zone is read in
    ``tz``, else in the machine's zone; a day alone is due at its end (23:59:59)."""
    from csirt.linea import zone
    from registros.search import local_zone

    if due is None or (isinstance(due, str) and not due.strip()):
        return None
    if isinstance(due, str):
        text = due.strip()
        if len(text) == 10 and text[4] == "-":  # a day alone: due at its end
            text += "T23:59:59"
        try:
            due = datetime.fromisoformat(text.replace(" ", "T", 1).replace("z", "Z"))
        except ValueError:
            raise UsageError(f"--vence «{due}»: no es una fecha; use p. ej. 2026-12-03 o "
                             "2026-12-03 18:00") from None  # fmt: skip
    if due.tzinfo is None:
        due = due.replace(tzinfo=zone(tz) if tz else local_zone())
    return format_timestamp(due)


def add_task(
    cmd: Command,
    incident: Mapping[str, Any],
    title: str,
    *,
    description: str = "",
    phase: str = "deteccion_analisis",
    due_at: datetime | str | None = None,
    tz: str | None = None,
    assignee: str = "",
    status: str = "pendiente",
) -> dict[str, Any]:
    numbers = [int(t.get("n") or 0) for t in cmd.tx.scan(TASK, (incident["id"],))]
    doc: dict[str, Any] = {
        "incident_id": incident["id"], "id": new_ulid(), "n": max(numbers, default=0) + 1,
        "title": check_text(title, "el título de la tarea", 300),
        "description": check_text(description, "la descripción", 4000)
        if description.strip() else "",
        "status": parse_status(status),
        "assignee": check_text(assignee, "el analista asignado", 120) if assignee.strip() else "",
        "due_at": _due(due_at, tz), "phase": parse_phase(phase),
        "created_at": cmd.now, "updated_at": cmd.now,
    }  # fmt: skip
    cmd.insert(TASK, doc)
    add_timeline(cmd, incident, kind="tarea", message=f"Tarea {doc['n']} agregada: {doc['title']}",
                 fields={"task_id": doc["id"], "n": doc["n"], "status": doc["status"]})  # fmt: skip
    cmd.emit("tarea", "agregar", f"{incident['number']}: tarea {doc['n']} {doc['title']}",
             incident=incident, fields={"csirt.task.id": doc["id"]})  # fmt: skip
    return doc


def update_task(
    cmd: Command,
    incident: Mapping[str, Any],
    ref: str,
    *,
    status: str | None = None,
    assignee: str | None = None,
    due_at: datetime | str | None = None,
    tz: str | None = None,
) -> dict[str, Any]:
    """Change a task's status, assignee or due date; a ``tarea`` timeline entry says how."""
    doc = find_task(cmd.tx, incident, ref)
    before = dict(doc)
    if status is not None:
        doc["status"] = parse_status(status)
    if assignee is not None:
        doc["assignee"] = check_text(assignee, "el analista asignado", 120)
    if due_at is not None:
        doc["due_at"] = _due(due_at, tz)
    changed = [k for k in ("status", "assignee", "due_at") if doc.get(k) != before.get(k)]
    if not changed:
        return doc
    doc["updated_at"] = cmd.now
    cmd.put(TASK, doc)
    what = "; ".join(f"{FIELD_LABELS[k]}: {_shown(k, before.get(k))} → {_shown(k, doc.get(k))}"
                     for k in changed)  # fmt: skip
    add_timeline(cmd, incident, kind="tarea", message=f"Tarea {doc['n']}: {what}",
                 fields={"task_id": doc["id"], "n": doc["n"],
                         **{k: doc.get(k) for k in changed}})  # fmt: skip
    cmd.emit("tarea", "cambiar", f"{incident['number']}: tarea {doc['n']}: {what}",
             incident=incident, fields={"csirt.task.id": doc["id"]})  # fmt: skip
    return doc
