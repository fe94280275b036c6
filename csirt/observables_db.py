"""Observables of a case (``csirt.observable``, keyed (type, value, incident_id)).

A value is normalised by its type before it is stored (:func:`csirt.observables.normalize`),
so the same address or domain written two ways is one value; the key's order puts every
case holding one value side by side: :func:`cases_with` and :func:`find` read them with one
prefix scan. Adding a value that another case holds returns the link (``also_in``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csirt.records import INCIDENT, OBSERVABLE, Command
from pukara.errors import UsageError
from pukara.text import clean


def _numbers(reader: Any, incident_ids: list[str]) -> list[str]:
    out = []
    for incident_id in incident_ids:
        doc = reader.get(INCIDENT, (incident_id,))
        out.append(str(doc["number"]) if doc else incident_id)
    return out


def cases_with(reader: Any, kind: str, value: str) -> list[dict[str, Any]]:
    """Every stored observable (one per case) of this normalised (type, value)."""
    return list(reader.scan(OBSERVABLE, (kind, value)))


def add_observable(
    cmd: Command,
    incident: Mapping[str, Any],
    kind: str,
    value: str,
    *,
    ioc: bool = False,
    sighted: bool = False,
    tlp: str | None = None,
    description: str = "",
    ignore_similarity: bool = False,
) -> dict[str, Any]:
    """Add (or update: flags are kept once set) an observable of the case.

    The returned document carries ``also_in``: the numbers of the other cases that hold the
    same value (not stored; those marked ``ignore_similarity`` are left out)."""
    from csirt import observables, taxonomia

    kind = observables.check_type(kind)
    norm = observables.normalize(kind, value)
    tag = taxonomia.parse_tlp(tlp) if tlp else str(incident.get("tlp") or "AMBER")
    note = clean(description).strip()
    if len(note) > 2000:
        raise UsageError("la descripción del observable tiene más de 2000 caracteres")
    old = cmd.get(OBSERVABLE, (kind, norm, incident["id"]))
    doc: dict[str, Any] = {
        "type": kind, "value": norm, "incident_id": incident["id"],
        "ioc": ioc or bool(old and old.get("ioc")),
        "sighted": sighted or bool(old and old.get("sighted")),
        "tlp": tag if tlp or not old else old.get("tlp", tag),
        "description": note or (old or {}).get("description", ""),
        "created_at": (old or {}).get("created_at", cmd.now),
        "updated_at": (old or {}).get("updated_at", cmd.now),
        "analyst": (old or {}).get("analyst", cmd.analyst),
        "ignore_similarity": ignore_similarity or bool(old and old.get("ignore_similarity")),
    }  # fmt: skip
    others = [o["incident_id"] for o in cases_with(cmd.tx, kind, norm)
              if o["incident_id"] != incident["id"] and not o.get("ignore_similarity")]  # fmt: skip
    also = _numbers(cmd.tx, others)
    if old is not None and doc != old:
        doc["updated_at"] = cmd.now
    action = cmd.put(OBSERVABLE, doc)
    if action is not None:
        from csirt.linea import add_timeline

        verb = "agregado" if action == "insert" else "actualizado"
        link = f" (también en {', '.join(also)})" if also else ""
        add_timeline(cmd, incident, kind="observable",
                     message=f"Observable {verb}: {kind} {norm}{link}",
                     fields={"type": kind, "value": norm, "ioc": doc["ioc"],
                             "sighted": doc["sighted"], "also_in": also})  # fmt: skip
        cmd.emit("observable", "agregar" if action == "insert" else "actualizar",
                 f"{incident['number']}: observable {kind} {norm}", incident=incident,
                 fields={"csirt.observable.type": kind, "csirt.observable.value": norm,
                         "csirt.observable.also_in": also})  # fmt: skip
    return {**doc, "also_in": also}


def of_incident(reader: Any, incident_id: str) -> list[dict[str, Any]]:
    """The case's observables, each with ``also_in``: the other cases holding its value."""
    out = []
    for obs in reader.scan(OBSERVABLE, (), {"incident_id": incident_id}):
        others = [o["incident_id"] for o in cases_with(reader, obs["type"], obs["value"])
                  if o["incident_id"] != incident_id and not o.get("ignore_similarity")]  # fmt: skip
        links = [] if obs.get("ignore_similarity") else _numbers(reader, others)
        out.append({**obs, "also_in": links})
    return out


def find(reader: Any, value: str, kind: str | None = None) -> list[dict[str, Any]]:
    """``observable buscar``: every case holding ``value`` (of ``kind``, or of any type it
    normalises as), with the case's number, title and status."""
    from csirt import observables

    kinds = [observables.check_type(kind)] if kind else list(observables.OBSERVABLE_TYPES)
    rows: list[dict[str, Any]] = []
    tried = 0
    for k in kinds:
        try:
            norm = observables.normalize(k, value)
        except UsageError:
            if kind:
                raise
            continue
        tried += 1
        for obs in cases_with(reader, k, norm):
            case = reader.get(INCIDENT, (obs["incident_id"],)) or {}
            rows.append({**obs, "number": case.get("number"), "title": case.get("title"),
                         "status": case.get("status")})  # fmt: skip
    if not tried:
        raise UsageError(f"«{value}» no es un valor de ningún tipo de observable")
    return sorted(rows, key=lambda r: (str(r.get("number")), r["type"]))
