"""Alerts: taken in without duplicates, then promoted to a case, merged into one, or discarded.

An alert is keyed on (source, source_ref), as TheHive's: the same reference again is a repeat
that raises ``count`` and moves ``last_seen`` (and keeps the highest severity), never a second
row. A repeat is a sighting outside the stored ``[first_seen, last_seen]``; the same sighting
again (a file or a detection window imported twice) changes nothing, so reimporting creates
no alert and counts nothing.

Intake is bulk (:func:`ingest`, through :meth:`pukara.store.SQLiteStore.upsert_counted`): a
batch of alerts is one ``executemany``, and the change log records ONE entry per batch (the
batch's figures and the SHA-256 of its rows, signed by the analyst with the command's request
id), not one per alert; one ``csirt.alerta`` event (action ``importar``) per batch says the
same. Promoting, merging and discarding are ordinary commands (:func:`csirt.records.command`):
each change there is its own change-log entry and event.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from csirt import alertas_fuentes as fuentes
from csirt.records import ALERT, INCIDENT, KEYS, Command, new_ulid, now_text
from pukara.errors import PukaraError, UsageError
from pukara.events import make_event
from pukara.store import CountedBatch, Store
from pukara.text import clean_line

NEW, PROMOTED, MERGED, DISCARDED = "nueva", "promovida", "unida", "descartada"
STATUSES = (NEW, PROMOTED, MERGED, DISCARDED)
STATUS_LABELS = {NEW: "nueva", PROMOTED: "promovida", MERGED: "unida a un caso",
                 DISCARDED: "descartada"}  # fmt: skip
SEVERITY_LABELS = {1: "baja", 2: "media", 3: "alta", 4: "crítica"}
# alerts per store batch (one transaction, one change-log entry): big enough that a file's
# repeats merge before they reach SQLite, small enough to hold in memory
INTAKE_BATCH = 200_000
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{1,26}")


class AlertNotFound(PukaraError):
    """No alert has that id (or prefix)."""


class AlertState(PukaraError):
    """The alert is not in a state that allows what was asked."""


@dataclass
class Report:
    """What one ``importar`` took in, per origin, and what the store did with it."""

    read: dict[str, int] = field(default_factory=dict)  # origin -> alerts read
    skipped: int = 0  # events that are no alert (recoveries, muted notices)
    request_id: str = ""
    batches: tuple[CountedBatch, ...] = ()

    @property
    def inserted(self) -> int:
        return sum(b.inserted for b in self.batches)

    @property
    def counted(self) -> int:
        return sum(b.counted for b in self.batches)

    @property
    def unchanged(self) -> int:
        return sum(b.unchanged for b in self.batches)


# -- intake --------------------------------------------------------------------------------
@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while a bulk intake builds its many small dicts: the
    intake makes no reference cycles, and each collection would walk every alert held so
    far (a third of the time at 100,000 alerts). Reference counting still frees as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_files(paths: Sequence[Path], now: str | None = None) -> list[dict[str, Any]]:
    """Every alert of every file; the first bad one refuses them all (nothing is written)."""
    obs = fuentes.Observables()
    stamp = now or now_text()
    out: list[dict[str, Any]] = []
    for path in paths:
        out += fuentes.read_file(path, obs, stamp)
    return out


def from_registros(
    store: Store, since: datetime | None, until: datetime | None, report: Report
) -> Iterator[dict[str, Any]]:
    from registros.detections import ALERT_DATASET

    obs = fuentes.Observables()
    for doc in store.search_events(dataset=ALERT_DATASET, since=since, until=until):
        alert = fuentes.from_registros(doc, obs)
        if alert is None:
            report.skipped += 1
            continue
        report.read["registros"] = report.read.get("registros", 0) + 1
        yield alert


def from_monitoreo(
    store: Store, since: datetime | None, until: datetime | None, report: Report
) -> Iterator[dict[str, Any]]:
    from monitoreo.watch import STATE_DATASET

    for doc in store.search_events(dataset=STATE_DATASET, since=since, until=until):
        alert = fuentes.from_monitoreo(doc)
        if alert is None:
            report.skipped += 1
            continue
        report.read["monitoreo"] = report.read.get("monitoreo", 0) + 1
        yield alert


def ingest(
    store: Store, alerts: Iterable[Mapping[str, Any]], report: Report | None = None
) -> Report:
    """Take alerts in, deduplicated on (source, source_ref); see the module docstring for
    what the change log and the events record."""
    report = report or Report()
    report.request_id = report.request_id or new_ulid()

    def summary(batch: CountedBatch) -> dict[str, Any]:
        return make_event(
            "csirt.alerta", message=(
                f"importación de alertas, lote {batch.number}: {batch.inserted} nuevas, "
                f"{batch.counted} repetidas, {batch.unchanged} ya vistas"),
            fields={
                "event.action": "importar", "user.name": store.actor,
                "csirt.request_id": report.request_id,
                "csirt.batch": {"number": batch.number, "rows": batch.rows,
                                "inserted": batch.inserted, "counted": batch.counted,
                                "unchanged": batch.unchanged, "sha256": batch.sha256,
                                "change_seq": batch.change_seq},
            },
        )  # fmt: skip

    done = store.upsert_counted(
        ALERT, alerts, key=KEYS[ALERT], greatest=("severity",),
        request_id=report.request_id, on_batch=summary, batch_size=INTAKE_BATCH,
    )  # fmt: skip
    report.batches = done.batches
    return report


def import_sources(
    store: Store,
    files: Sequence[Path] = (),
    *,
    registros: bool = False,
    monitoreo: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """What ``csirt alertas importar`` does: read every file first (all or nothing), then
    the store's detections and state notices when asked, and take it all in."""
    if not files and not registros and not monitoreo:
        raise UsageError(
            "indique de dónde importar: archivos JSON, --desde-registros o --desde-monitoreo"
        )
    with _bulk():
        return _import(store, files, registros, monitoreo, since, until)


def _import(
    store: Store,
    files: Sequence[Path],
    registros: bool,
    monitoreo: bool,
    since: datetime | None,
    until: datetime | None,
) -> Report:
    report = Report()
    alerts: list[Any] = []
    if files:
        from_files = read_files(files)
        report.read["archivos"] = len(from_files)
        alerts.append(from_files)
    if registros:
        alerts.append(from_registros(store, since, until, report))
    if monitoreo:
        alerts.append(from_monitoreo(store, since, until, report))
    if len(alerts) == 1:  # one source (a list when files): handed over as it is
        return ingest(store, alerts[0], report)
    return ingest(store, (a for group in alerts for a in group), report)


def by_hand(
    *,
    title: str,
    severity: str,
    observables: Sequence[str] = (),
    description: str = "",
    tlp: str = "AMBER",
    pap: str = "AMBER",
    source: str = "manual",
    source_ref: str | None = None,
    seen: str | None = None,
) -> dict[str, Any]:
    """An alert typed in (``alertas agregar``); options refused in Spanish."""
    obj: dict[str, Any] = {
        "source": source, "source_ref": source_ref or new_ulid(), "title": title,
        "description": description, "severity": severity, "tlp": tlp, "pap": pap,
        "observables": list(observables),
    }  # fmt: skip
    if seen is not None:
        obj["seen"] = seen
    try:
        return fuentes.generic(obj, fuentes.Observables(), now_text())
    except fuentes.Bad as e:
        raise UsageError(str(e)) from None


# -- reading -------------------------------------------------------------------------------
def find(reader: Store | Command, ref: str) -> dict[str, Any]:
    """The alert whose id is ``ref`` or starts with it (a unique prefix)."""
    text = ref.strip().upper()
    if not text or not _ULID.fullmatch(text):
        raise UsageError(f"alerta «{ref}»: indique su id (ULID) o el comienzo de él")
    scan = reader.tx.scan if isinstance(reader, Command) else reader.scan
    exact = list(scan(ALERT, (), {"id": text}))
    if exact:
        return exact[0]
    found = [a for a in scan(ALERT) if str(a.get("id", "")).startswith(text)]
    if not found:
        raise AlertNotFound(f"no hay ninguna alerta con id {ref} (vea `csirt alertas listar`)")
    if len(found) > 1:
        shown = ", ".join(a["id"] for a in found[:5])
        raise UsageError(
            f"alerta «{ref}»: {len(found)} alertas empiezan así ({shown}"
            f"{', ...' if len(found) > 5 else ''}); dé más caracteres"
        )
    return found[0]


def listing(
    store: Store,
    *,
    status: str | None = None,
    source: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, the newest sighting first, with the number of their case."""
    where = {k: v for k, v in (("status", status), ("source", source)) if v is not None}
    alerts = sorted(store.scan(ALERT, (), where), key=lambda a: a["last_seen"], reverse=True)
    if limit is not None:
        alerts = alerts[:limit]
    numbers: dict[str, str | None] = {}
    rows = []
    for a in alerts:
        case = a.get("incident_id")
        if case and case not in numbers:
            incident = store.get(INCIDENT, (case,))
            numbers[case] = incident.get("number") if incident else None
        rows.append({**{k: v for k, v in a.items() if k != "raw"},
                     "incident_number": numbers.get(case) if case else None})  # fmt: skip
    return rows


# -- promotion, merge, discard -------------------------------------------------------------
def _check_open(alert: Mapping[str, Any], what: str) -> None:
    if alert["status"] in (PROMOTED, MERGED):
        raise AlertState(
            f"la alerta {alert['id']} ya está {STATUS_LABELS[alert['status']]} "
            f"(caso {alert.get('incident_id')}); no se puede {what}"
        )


def promote(cmd: Command, ref: str, **incident: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new case from the alert (casos' ``open_incident``), with the alert's observables;
    ``incident`` overrides what the case takes from the alert (title, severity, rsit...)."""
    from csirt.casos import open_incident
    from csirt.observables_db import add_observable

    alert = find(cmd, ref)
    _check_open(alert, "promover")
    fields: dict[str, Any] = {
        "title": alert["title"], "severity": alert["severity"],
        "description": alert.get("description", ""), "tlp": alert["tlp"], "pap": alert["pap"],
        "detected_at": alert["first_seen"], "tz": "UTC",
    }  # fmt: skip
    fields.update({k: v for k, v in incident.items() if v is not None})
    if fields.get("rsit_type") and not fields.get("rsit_class"):  # as `incidente nuevo` does
        from csirt.taxonomia import rsit_class_of

        fields["rsit_class"] = rsit_class_of(str(fields["rsit_type"]))
    case = open_incident(cmd, source_alert=alert, **fields)
    for o in alert.get("observables") or []:
        add_observable(cmd, case, o["type"], o["value"], sighted=True,
                       tlp=observable_tlp(cmd, case, alert, o))  # fmt: skip
    case = _link(cmd, case, alert)
    alert = _set(cmd, alert, PROMOTED, case)
    cmd.emit("alerta", "promover", f"alerta {alert['id']} promovida a {case.get('number')}",
             incident=case, fields={"csirt.alert.id": alert["id"]})  # fmt: skip
    return alert, case


def merge(cmd: Command, ref: str, case_ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Add the alert to an open case: its observables and a timeline entry."""
    from csirt.casos import load_incident
    from csirt.estados import CLOSED, FINAL, LABELS
    from csirt.linea import add_timeline
    from csirt.observables_db import add_observable

    alert = find(cmd, ref)
    _check_open(alert, "unir")
    case = load_incident(cmd, case_ref)
    if case.get("status") in FINAL:
        raise AlertState(
            f"el caso {case.get('number')} está {LABELS.get(case['status'], case['status'])}: "
            "solo se unen alertas a casos abiertos"
            + (
                " (reábralo antes)"
                if case.get("status") == CLOSED
                else "; un caso descartado no se reabre: promueva la alerta a un caso nuevo "
                "(pukara csirt alertas promover)"
            )
        )
    for o in alert.get("observables") or []:
        add_observable(cmd, case, o["type"], o["value"], sighted=True,
                       tlp=observable_tlp(cmd, case, alert, o))  # fmt: skip
    times = "vez" if alert["count"] == 1 else "veces"
    tlp = strictest(alert.get("tlp"), case.get("tlp"))
    add_timeline(
        cmd, case, kind="alerta", ts=alert["first_seen"], source=alert["source"],
        raw_ref=alert["id"],
        message=f"alerta unida: {alert['title']} ({alert['source']}, {alert['count']} {times})",
        fields={"alert_id": alert["id"], "source_ref": alert["source_ref"], "tlp": tlp},
        tlp=tlp,
    )  # fmt: skip
    case = _link(cmd, case, alert)
    alert = _set(cmd, alert, MERGED, case)
    above = tlp != strictest(case.get("tlp"))
    note = (f" (la alerta es TLP:{tlp}, más restrictiva que el caso: sus observables y su "
            "entrada en la línea de tiempo la conservan)") if above else ""  # fmt: skip
    cmd.emit("alerta", "unir", f"alerta {alert['id']} unida a {case.get('number')}{note}",
             incident=case, fields={"csirt.alert.id": alert["id"], "csirt.alert.tlp": tlp})  # fmt: skip
    return alert, case


def strictest(*labels: Any) -> str:
    """The most restrictive of the TLP labels given (an empty one is AMBER, as a case's)."""
    from csirt.taxonomia import parse_tlp, tlp_rank

    return max((parse_tlp(str(t or "AMBER")) for t in labels), key=tlp_rank)


def observable_tlp(
    cmd: Command, case: Mapping[str, Any], alert: Mapping[str, Any], obs: Mapping[str, Any]
) -> str:
    """The TLP an alert's observable takes in the case: the strictest of the alert's, its own
    (a MISP attribute's tag), the case's and the one it already has there, so promoting or
    merging never lowers what the source marked."""
    from csirt.records import OBSERVABLE

    old = cmd.get(OBSERVABLE, (obs["type"], obs["value"], case["id"])) or {}
    return strictest(alert.get("tlp"), obs.get("tlp") or alert.get("tlp"), case.get("tlp"),
                     old.get("tlp") or case.get("tlp"))  # fmt: skip


def discard(cmd: Command, ref: str, reason: str) -> dict[str, Any]:
    alert = find(cmd, ref)
    text = clean_line(reason).strip()
    if not text:
        raise UsageError("--motivo: diga por qué se descarta la alerta")
    _check_open(alert, "descartar")
    if alert["status"] == DISCARDED:
        raise AlertState(f"la alerta {alert['id']} ya está descartada")
    alert = {**alert, "status": DISCARDED, "discard_reason": text[:1000],
             "discarded_by": cmd.analyst, "discarded_at": cmd.now}  # fmt: skip
    cmd.put(ALERT, alert)
    cmd.emit("alerta", "descartar", f"alerta {alert['id']} descartada: {text[:200]}",
             fields={"csirt.alert.id": alert["id"]})  # fmt: skip
    return alert


def _link(cmd: Command, case: dict[str, Any], alert: Mapping[str, Any]) -> dict[str, Any]:
    """The case as stored now, listing the alert (open_incident may have done it already)."""
    case = cmd.get(INCIDENT, (case["id"],)) or case
    linked = list(case.get("alerts") or [])
    if alert["id"] not in linked:
        case = {**case, "alerts": [*linked, alert["id"]], "updated_at": cmd.now}
        cmd.put(INCIDENT, case)
    return case


def _set(
    cmd: Command, alert: dict[str, Any], status: str, case: Mapping[str, Any]
) -> dict[str, Any]:
    alert = {**alert, "status": status, "incident_id": case["id"], "updated_at": cmd.now}
    cmd.put(ALERT, alert)
    return alert
