"""Audit runs and their results in the store.

Each result is an ECS-shaped event of dataset ``auditoria.resultado`` (``host.name``,
``rule.id`` = the check id, ``event.outcome``, the whole :class:`Result` under ``auditoria``);
the run itself is an entity (collection ``audit_run``, key ``id``) and an event
``auditoria.ejecucion``. The Ansible job events and the raw collections of a run are events too
(``auditoria.ansible``, ``auditoria.crudo``), so a bundle can be regenerated from the store alone.

Event ids are derived from the run and the result's identity (UUIDv7-shaped: the run's start in
milliseconds, then a hash), so saving the same run twice stores nothing twice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from auditoria.modelo import Check, Kind, Result, Status
from pukara.errors import PukaraError
from pukara.events import ECS_VERSION, parse_timestamp

if TYPE_CHECKING:
    from pukara.store import Store

RESULT_DATASET = "auditoria.resultado"
RUN_DATASET = "auditoria.ejecucion"
JOB_DATASET = "auditoria.ansible"
RAW_DATASET = "auditoria.crudo"
RUN_COLLECTION = "audit_run"

_OUTCOME = {
    Status.PASS: "success",
    Status.FAIL: "failure",
    Status.WAIVED: "failure",  # still a finding: accepted, not fixed
    Status.ERROR: "unknown",
    Status.NOT_APPLICABLE: "unknown",
}


class RunNotFound(PukaraError):
    """No audit run with that id (or none at all) in the store."""


@dataclass(frozen=True, slots=True)
class AuditRun:
    """One ``auditoria ejecutar``: who, when, on what, and what came out.

    ``scope`` and ``sampling`` are JSON-able mappings (see :mod:`auditoria.ejecutar`);
    ``hosts`` maps each host name to its identity (machine id, hostname, OS release).
    """

    id: str
    started_at: str  # UTC, ISO 8601 "Z"
    finished_at: str  # UTC, ISO 8601 "Z"
    operator: str
    complete: bool  # False: cut short (Ctrl-C); its results are stored, its bundle is marked
    scope: Mapping[str, Any] = field(default_factory=dict)
    sampling: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, Any] = field(default_factory=dict)  # pukara, catalogue, checks
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    results: tuple[Result, ...] = ()
    job_events: tuple[Mapping[str, Any], ...] = ()  # ansible-runner job events, as emitted
    raw: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # host -> key -> output

    def counts(self) -> dict[str, int]:
        out = {status.value: 0 for status in Status}
        for result in self.results:
            out[result.status.value] += 1
        return out

    def entity(self) -> dict[str, Any]:
        """The run's row in ``audit_run`` (results, raw output and job events stay events)."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "operator": self.operator,
            "complete": self.complete,
            "scope": dict(self.scope),
            "sampling": dict(self.sampling),
            "versions": dict(self.versions),
            "hosts": {name: dict(ident) for name, ident in self.hosts.items()},
            "counts": self.counts(),
        }


def _event_id(run: AuditRun, *parts: str) -> str:
    """UUIDv7-shaped and deterministic: the run's start (ms) then 74 bits of a SHA-256."""
    ms = int(parse_timestamp(run.started_at).timestamp() * 1000)
    digest = hashlib.sha256("\x1f".join((run.id, *parts)).encode()).digest()
    rand = int.from_bytes(digest[:10], "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def _doc(
    run: AuditRun, dataset: str, event_id: str, timestamp: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": timestamp,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "id": event_id,
            "dataset": dataset,
            "module": "auditoria",
            "kind": "event",
        },
    }
    for key, value in extra.items():
        if key == "event":
            doc["event"].update(value)
        else:
            doc[key] = value
    doc.setdefault("auditoria", {})["run_id"] = run.id
    return doc


def result_event(run: AuditRun, result: Result) -> dict[str, Any]:
    data = result.to_dict()
    return _doc(
        run,
        RESULT_DATASET,
        _event_id(run, "result", result.source, result.check_id, result.host),
        result.observed_at,
        {
            "event": {"outcome": _OUTCOME[result.status], "category": ["configuration"]},
            "host": {"name": result.host},
            "rule": {"id": result.check_id, "ruleset": result.source},
            "message": result.message,
            "auditoria": {"result": data},
        },
    )


def run_events(run: AuditRun) -> Iterator[dict[str, Any]]:
    """Every event ``save_run`` writes for ``run``: the run, its results, raw output, jobs."""
    yield _doc(
        run,
        RUN_DATASET,
        _event_id(run, "run"),
        run.finished_at,
        {
            "event": {"outcome": "success" if run.complete else "unknown"},
            "user": {"name": run.operator},
            "message": f"Auditoría {run.id}: {len(run.results)} resultados"
            + ("" if run.complete else " (interrumpida)"),
            "auditoria": {"run": run.entity()},
        },
    )
    for result in run.results:
        yield result_event(run, result)
    for host in sorted(run.raw):
        yield _doc(
            run,
            RAW_DATASET,
            _event_id(run, "raw", host),
            run.finished_at,
            {"host": {"name": host}, "auditoria": {"raw": dict(run.raw[host])}},
        )
    for n, job in enumerate(run.job_events):
        yield _doc(
            run,
            JOB_DATASET,
            _event_id(run, "job", str(n)),
            run.finished_at,
            {"auditoria": {"job": dict(job), "seq": n}},
        )


def save_run(store: Store, run: AuditRun) -> int:
    """Write the run (entity and events) and its results; idempotent. Returns new events."""
    written = int(store.write_events(run_events(run)))
    store.upsert(RUN_COLLECTION, [run.entity()], key=["id"])
    return written


def _result_of(doc: Mapping[str, Any]) -> Result:
    return Result.from_dict(doc["auditoria"]["result"])


def run_results(store: Store, run_id: str) -> list[Result]:
    """The results of one run, by check id then host then source."""
    docs = store.search_events(dataset=RESULT_DATASET, where={"auditoria.run_id": run_id})
    results = [_result_of(doc) for doc in docs]
    return sorted(results, key=lambda r: (r.check_id, r.host, r.source))


def latest_results(store: Store) -> list[Result]:
    """The newest result of every (check, host, source) across all stored runs, by check id
    then host: what ``auditoria soa`` and ``evidencia vencida`` read. A run limited to one site
    does not hide the others' earlier evidence; an older result stays until replaced."""
    newest: dict[tuple[str, str, str], Result] = {}
    for doc in store.search_events(dataset=RESULT_DATASET, newest_first=True):
        result = _result_of(doc)
        newest.setdefault((result.check_id, result.host, result.source), result)
    return sorted(newest.values(), key=lambda r: (r.check_id, r.host, r.source))


def list_runs(store: Store) -> list[dict[str, Any]]:
    """Stored runs (their ``audit_run`` rows), oldest first."""
    rows = list(store.entities(RUN_COLLECTION))
    return sorted(rows, key=lambda r: (str(r.get("started_at")), str(r.get("id"))))


def load_run(store: Store, run_id: str | None = None) -> AuditRun:
    """A stored run with its results, raw output and job events; ``None``: the newest complete
    one (an interrupted run is shown only when named: its report is not a whole audit)."""
    if run_id is None:
        runs = list_runs(store)
        if not runs:
            raise RunNotFound(
                "no hay ninguna auditoría guardada (ejecute «pukara auditoria ejecutar»)"
            )
        whole = [r for r in runs if r.get("complete")]
        if not whole:
            raise RunNotFound(
                "no hay ninguna auditoría completa; la última, "
                f"{runs[-1]['id']}, se interrumpió (indique su id para verla como incompleta)"
            )
        row: Mapping[str, Any] | None = whole[-1]
    else:
        row = store.get(RUN_COLLECTION, [run_id])
    if row is None:
        raise RunNotFound(f"no hay ninguna auditoría guardada con id {run_id}")
    rid = str(row["id"])
    raw: dict[str, dict[str, str]] = {}
    for doc in store.search_events(dataset=RAW_DATASET, where={"auditoria.run_id": rid}):
        raw[str(doc["host"]["name"])] = dict(doc["auditoria"]["raw"])
    jobs = sorted(
        store.search_events(dataset=JOB_DATASET, where={"auditoria.run_id": rid}),
        key=lambda d: int(d["auditoria"]["seq"]),
    )
    return AuditRun(
        id=rid,
        started_at=str(row["started_at"]),
        finished_at=str(row["finished_at"]),
        operator=str(row["operator"]),
        complete=bool(row["complete"]),
        scope=dict(row.get("scope") or {}),
        sampling=dict(row.get("sampling") or {}),
        versions=dict(row.get("versions") or {}),
        hosts={k: dict(v) for k, v in (row.get("hosts") or {}).items()},
        results=tuple(run_results(store, rid)),
        job_events=tuple(dict(d["auditoria"]["job"]) for d in jobs),
        raw=raw,
    )


def previous_run_id(store: Store, run_id: str) -> str | None:
    """The complete run stored just before ``run_id`` (for the report's trend), if any."""
    runs = list_runs(store)
    ids = [str(r["id"]) for r in runs]
    if run_id not in ids:
        return None
    earlier = [str(r["id"]) for r in runs[: ids.index(run_id)] if r.get("complete")]
    return earlier[-1] if earlier else None


UNOBSERVED = "sin observar: la ejecución quedó incompleta (interrumpida) antes de este resultado"


def with_unobserved(run: AuditRun, checks: Mapping[str, Check]) -> AuditRun:
    """An interrupted run for its report: each (check, selected host) it never observed is an
    ERROR, so that the report shows the gap and never an empty pass."""
    if run.complete:
        return run
    kinds = {str(k): str(v) for k, v in (run.scope.get("hosts") or {}).items()}
    selected = [str(h) for h in run.sampling.get("selected") or ()]
    selected += [h for h, kind in kinds.items() if kind == Kind.RECORDS.value and h not in selected]
    seen = {(r.check_id, r.host) for r in run.results}
    gaps = [
        Result(check.id, host, Status.ERROR, UNOBSERVED, run.finished_at, run.finished_at)
        for host in selected
        for check in sorted(checks.values(), key=lambda c: c.id)
        if check.kind.value == kinds.get(host) and (check.id, host) not in seen
    ]
    results = sorted((*run.results, *gaps), key=lambda r: (r.check_id, r.host, r.source))
    return replace(run, results=tuple(results))


def results_by_host(results: Iterable[Result]) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for result in results:
        out.setdefault(result.host, []).append(result)
    return out


def hosts_of(results: Sequence[Result]) -> list[str]:
    return sorted({r.host for r in results})
