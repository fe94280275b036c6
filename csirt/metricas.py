"""How fast the CSIRT works: TTD, TTA, TTC, TTN and TTR per month, severity, class or mission.

Every duration comes from the case's own timeline (``csirt.linea``), never from the
incident's ``*_at`` fields, so an edited field cannot improve a figure the timeline does not
show. For each incident, with *creation* the time of its first ``creado`` entry:

- TTD (detect) = the ``creado`` entry's ``fields.detected_at`` - its ``fields.occurred_at``;
- TTA (acknowledge) = the first ``fase`` entry leaving ``nuevo`` or the first ``asignado``
  entry, whichever comes first, - creation;
- TTC (contain) = the first ``fase`` entry into ``erradicacion`` (containment over) - creation;
- TTN (notify the CNSD) = the first ``notificacion_cnsd`` entry - creation;
- TTR (resolve) = the first ``fase`` entry into ``cerrado`` - creation, for a case closed now
  (a reopened case is not resolved).

A discarded case (false positive, duplicate) is no incident handled: it is left out, and
counted in ``Metrics.discarded``.

A group gives, per metric, the median, the 90th percentile (nearest rank: the value at rank
ceil(0.9 n) of the n sorted values) and how many of its cases have that metric. A negative
duration (an entry dated before the creation) is left out and counted as inconsistent.
Months are UTC calendar months of the creation.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csirt.records import INCIDENT, TIMELINE
from pukara.errors import UsageError
from pukara.events import parse_timestamp
from pukara.store import Store

METRICS = ("ttd", "tta", "ttc", "ttn", "ttr")
METRIC_NAMES = {
    "ttd": "Tiempo hasta detectar",
    "tta": "Tiempo hasta atender",
    "ttc": "Tiempo hasta contener",
    "ttn": "Tiempo hasta notificar al CNSD",
    "ttr": "Tiempo hasta resolver",
}
# --por value -> the key of the group in every output
DIMENSIONS = {
    "mes": "month",
    "severidad": "severity",
    "rsit": "rsit_class",
    "cnsd": "cnsd_class",
    "mision": "site",
}
DEFAULT_BY = ("mes", "severidad")
SEVERITY = {1: "baja", 2: "media", 3: "alta", 4: "crítica"}
_KINDS = frozenset({"creado", "fase", "asignado", "notificacion_cnsd"})


def parse_by(text: str) -> tuple[str, ...]:
    """``mes,severidad`` -> ``("mes", "severidad")``; an unknown name is a usage error."""
    names = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    bad = [n for n in names if n not in DIMENSIONS]
    if bad or not names:
        raise UsageError(
            f"--por {text!r}: {'dimensión desconocida: ' + ', '.join(bad) if bad else 'vacío'}"
            f"; válidas: {', '.join(DIMENSIONS)} (separadas por comas)"
        )
    return names


@dataclass(slots=True)
class _Clock:
    """The first moments of one case's timeline that the metrics need."""

    created: datetime | None = None
    detected: datetime | None = None
    occurred: datetime | None = None
    ack: datetime | None = None
    contained: datetime | None = None
    notified: datetime | None = None
    closed: datetime | None = None


def _earliest(old: datetime | None, new: datetime) -> datetime:
    return new if old is None or new < old else old


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _see(clock: _Clock, entry: Mapping[str, Any]) -> None:
    kind = entry.get("kind")
    ts = _time(entry.get("ts"))
    if ts is None:
        return
    if kind == "creado":
        if clock.created is None or ts < clock.created:
            fields = entry.get("fields") or {}
            clock.created = ts
            clock.detected = _time(fields.get("detected_at"))
            clock.occurred = _time(fields.get("occurred_at"))
    elif kind == "asignado":
        clock.ack = _earliest(clock.ack, ts)
    elif kind == "notificacion_cnsd":
        clock.notified = _earliest(clock.notified, ts)
    elif kind == "fase":
        if entry.get("from") == "nuevo":
            clock.ack = _earliest(clock.ack, ts)
        to = entry.get("to")
        if to == "erradicacion":
            clock.contained = _earliest(clock.contained, ts)
        elif to == "cerrado":
            clock.closed = _earliest(clock.closed, ts)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def durations(clock: _Clock) -> dict[str, float | None]:
    """Seconds of each metric for one case (None when its timeline lacks the entries)."""
    c = clock.created
    return {
        "ttd": _seconds(clock.occurred, clock.detected),
        "tta": _seconds(c, clock.ack),
        "ttc": _seconds(c, clock.contained),
        "ttn": _seconds(c, clock.notified),
        "ttr": _seconds(c, clock.closed),
    }


def clocks(entries: Iterable[Mapping[str, Any]]) -> dict[str, _Clock]:
    """Incident id -> its clock, from timeline entries in any order."""
    out: dict[str, _Clock] = {}
    for entry in entries:
        if entry.get("kind") in _KINDS:
            incident = entry.get("incident_id")
            if isinstance(incident, str):
                clock = out.get(incident)
                if clock is None:
                    clock = out[incident] = _Clock()
                _see(clock, entry)
    return out


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest rank: the value at rank ceil(0.9 n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)), 1) - 1]


@dataclass
class Metrics:
    """The rows of one ``metricas`` run and what was left out of them."""

    by: tuple[str, ...]  # the --por names
    rows: list[dict[str, Any]]
    cases: int  # incidents counted
    without_creation: list[str] = field(default_factory=list)  # numbers: no "creado" entry
    inconsistent: int = 0  # negative durations left out
    discarded: int = 0  # discarded cases left out


def _group_values(
    incident: Mapping[str, Any], month: str, by: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The group keys of one incident: one per site for ``mision`` (a case in two missions
    counts in both), one otherwise."""
    values: dict[str, list[Any]] = {
        "mes": [month],
        "severidad": [incident.get("severity")],
        "rsit": [incident.get("rsit_class") or None],
        "cnsd": [incident.get("cnsd_class") or None],
        "mision": list(dict.fromkeys(incident.get("sites") or [])) or [None],
    }
    keys: list[tuple[Any, ...]] = [()]
    for name in by:
        keys = [(*k, v) for k in keys for v in values[name]]
    return keys


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(v) if not isinstance(v, int) else f"{v:09d}") for v in key)


def _checked(
    result: Metrics, incident: Mapping[str, Any], values: dict[str, float | None]
) -> dict[str, float | None]:
    """The case's durations without negative ones (counted) and without the TTR of a case
    not closed now (reopened: its first closing no longer holds)."""
    if incident.get("status") != "cerrado":
        values["ttr"] = None
    for name, seconds in values.items():
        if seconds is not None and seconds < 0:
            result.inconsistent += 1
            values[name] = None
    return values


def compute(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Sequence[str] = DEFAULT_BY,
) -> Metrics:
    """The metrics of the incidents created in [since, until), grouped by ``by``."""
    by = tuple(by)
    case_clocks = clocks(store.entities(TIMELINE))
    groups: dict[tuple[Any, ...], dict[str, list[float]]] = {}
    counts: dict[tuple[Any, ...], int] = {}
    result = Metrics(by=by, rows=[], cases=0)
    for incident in store.entities(INCIDENT):
        clock = case_clocks.get(incident.get("id", ""))
        if clock is None or clock.created is None:
            result.without_creation.append(str(incident.get("number") or incident.get("id")))
            continue
        if (since and clock.created < since) or (until and clock.created >= until):
            continue
        if incident.get("status") == "descartado":
            result.discarded += 1
            continue
        result.cases += 1
        values = _checked(result, incident, durations(clock))
        for key in _group_values(incident, clock.created.strftime("%Y-%m"), by):
            counts[key] = counts.get(key, 0) + 1
            bucket = groups.setdefault(key, {m: [] for m in METRICS})
            for name, seconds in values.items():
                if seconds is not None:
                    bucket[name].append(seconds)
    for key in sorted(counts, key=_sort_key):
        row: dict[str, Any] = {DIMENSIONS[n]: v for n, v in zip(by, key, strict=True)}
        row["cases"] = counts[key]
        for name in METRICS:
            found = groups[key][name]
            row[f"{name}_median_s"] = median(found)
            row[f"{name}_p90_s"] = p90(found)
            row[f"{name}_count"] = len(found)
        result.rows.append(row)
    return result


def duration_text(seconds: float | None) -> str:
    """A duration as a person reads it, in two units at most: ``2 d 4 h``, ``3 h 5 min``,
    ``12 min``, ``40 s``; an empty text for none."""
    from pukara.formats import number

    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{number(s)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{number(minutes)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{number(hours)} h" + (f" {number(minutes)} min" if minutes else "")
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{number(days)} d" + (f" {number(hours)} h" if hours else "")
