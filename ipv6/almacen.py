"""IPv6 runs and their results in the store, as ECS-shaped events.

Every run of ``ipv6 dominios``, ``ipv6 servidores`` or ``ipv6 equipos`` calls
:func:`save_run` at its end. Each :class:`~ipv6.modelo.CheckResult` becomes an event of dataset
``ipv6.resultado`` (``rule.id`` = the check id, ``event.outcome``, the subject as ``host.name``
or ``url.domain``, the whole result under ``ipv6.result``); the run itself is an event
``ipv6.corrida`` carrying its kind, times, counts and the caller's ``meta`` (resolver, vantage,
scope...). ``ipv6 diff`` and ``ipv6 informe`` read them back.

Result event ids are derived from the run id and the result's (subject, check), UUIDv7-shaped,
so writing the same run twice stores nothing twice. The run event is written last: a run
interrupted while its results are written (they may take several transactions) has no run
event, so nothing lists it; :func:`load_run` still checks the results against the run's counts
and marks a short run ``complete=False``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ipv6.modelo import Category, CheckResult, Status
from pukara.errors import PukaraError, UsageError
from pukara.events import ECS_VERSION, format_timestamp, new_event_id, parse_timestamp, utc_now

if TYPE_CHECKING:
    from pukara.config import Settings
    from pukara.store import Store

RESULT_DATASET = "ipv6.resultado"
RUN_DATASET = "ipv6.corrida"
KINDS = ("dominios", "servidores", "equipos", "plan")
KIND_TEXT = {
    "dominios": "servicios públicos",
    "servidores": "servidores",
    "equipos": "equipos de red",
    "plan": "plan de direccionamiento",
}

_OUTCOME = {
    Status.PASS: "success",
    Status.PARTIAL: "failure",
    Status.WARN: "success",
    Status.FAIL: "failure",
    Status.NOT_TESTED: "unknown",
    Status.NOT_APPLICABLE: "unknown",
}


class RunNotFound(PukaraError):
    """No IPv6 run with that id (or none at all) in the store."""


class BadRunId(UsageError):
    """A run id the user gave names no stored run, or more than one."""


@dataclass(frozen=True, slots=True)
class Run:
    """One stored IPv6 run: what kind, when, and what came out."""

    id: str
    kind: str  # one of KINDS
    started_at: str  # UTC, ISO 8601 "Z"
    finished_at: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    results: tuple[CheckResult, ...] = ()
    complete: bool = True  # False: fewer results stored than the run counted

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "meta": dict(self.meta),
            "counts": dict(self.counts),
        }


def utc_text() -> str:
    """Now, UTC, ISO 8601: a run's ``started_at`` / ``finished_at``."""
    return format_timestamp(utc_now())


def counts(results: Iterable[CheckResult]) -> dict[str, int]:
    out = {status.value: 0 for status in Status}
    for result in results:
        out[result.status.value] += 1
    return out


def _result_id(run_id: str, started_at: str, result: CheckResult) -> str:
    """UUIDv7-shaped and deterministic: the run's start (ms) then 74 bits of a SHA-256."""
    ms = int(parse_timestamp(started_at).timestamp() * 1000)
    key = "\x1f".join((run_id, result.subject, result.check))
    rand = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def _plain(value: Any) -> Any:
    """Evidence as the store writes it: mapping keys as text (a port or an ifIndex may be a
    number), tuples and sets as lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_plain(v) for v in items]
    return value


def _subject_fields(kind: str, subject: str) -> dict[str, Any]:
    if kind == "dominios":
        return {"url": {"domain": subject}}
    return {"host": {"name": subject}}


def run_events(run: Run) -> Iterator[dict[str, Any]]:
    """Every event :func:`save_run` writes: one per result, then the run (last, so a run is
    visible only once all its results are in)."""
    base = {"ecs": {"version": ECS_VERSION}}
    for result in run.results:
        yield {
            **base,
            "@timestamp": run.finished_at,
            "event": {
                "id": _result_id(run.id, run.started_at, result),
                "dataset": RESULT_DATASET,
                "module": "ipv6",
                "kind": "event",
                "category": ["network"],
                "outcome": _OUTCOME[result.status],
            },
            **_subject_fields(run.kind, result.subject),
            "rule": {"id": result.check, "category": result.category.value},
            "message": result.message,
            "ipv6": {"run_id": run.id, "kind": run.kind, "result": _plain(result.to_dict())},
        }
    yield {
        **base,
        "@timestamp": run.finished_at,
        "event": {
            "id": run.id,
            "dataset": RUN_DATASET,
            "module": "ipv6",
            "kind": "event",
            "start": run.started_at,
            "end": run.finished_at,
            "outcome": "failure" if run.counts.get(Status.FAIL.value) else "success",
        },
        "message": f"IPv6 {run.kind}: {len(run.results)} resultados",
        "ipv6": {"run_id": run.id, "kind": run.kind, "run": run.summary()},
    }


def save_run(
    store: Store,
    kind: str,
    results: Sequence[CheckResult],
    meta: Mapping[str, Any] | None = None,
) -> str:
    """Store one run and its results; returns the run id.

    ``meta`` is JSON-able and never holds secrets; the keys ``run_id``, ``started_at`` and
    ``finished_at`` (UTC ISO 8601) are taken from it when present, the rest is kept as is
    (e.g. ``resolver``, ``v6_ok``, ``targets``). Saving the same run id twice stores nothing
    twice.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown IPv6 run kind: {kind!r}")
    extra = dict(meta or {})
    now = format_timestamp(utc_now())
    finished = format_timestamp(parse_timestamp(str(extra.pop("finished_at", now))))
    started = format_timestamp(parse_timestamp(str(extra.pop("started_at", finished))))
    run_id = str(extra.pop("run_id", None) or new_event_id())
    run = Run(run_id, kind, started, finished, extra, counts(results), tuple(results))
    store.write_events(run_events(run))
    return run_id


def store_run(settings: Settings, kind: str, results: Sequence[CheckResult],
              meta: Mapping[str, Any] | None = None) -> str:  # fmt: skip
    """:func:`save_run` on the configured store (opened for this write and closed); a store
    that cannot be written is a StoreError (a PukaraError) the caller may turn into a
    warning, after it has shown the run's results."""
    from pukara.store import opened_store

    with opened_store(settings) as store:
        return save_run(store, kind, results, meta)


def from_records(rows: Iterable[Mapping[str, Any]], category: Category) -> list[CheckResult]:
    """Flat records (``host.name``, ``check``, ``status``, ``message``, ``evidence``), as
    ``ipv6 equipos`` writes them, as results :func:`save_run` stores."""
    return [
        CheckResult(str(row["host.name"]), str(row["check"]), Status(str(row["status"])),
                    str(row.get("message") or ""), category, dict(row.get("evidence") or {}))
        for row in rows
    ]  # fmt: skip


def _run_of(doc: Mapping[str, Any]) -> Run:
    data = doc["ipv6"]["run"]
    return Run(
        id=str(data["id"]),
        kind=str(data["kind"]),
        started_at=str(data["started_at"]),
        finished_at=str(data["finished_at"]),
        meta=dict(data.get("meta") or {}),
        counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
    )


def list_runs(store: Store, kind: str | None = None) -> list[Run]:
    """Stored runs (without their results), oldest first; ``kind`` filters."""
    where = {"ipv6.kind": kind} if kind else None
    runs = [_run_of(doc) for doc in store.search_events(dataset=RUN_DATASET, where=where)]
    return sorted(runs, key=lambda r: (r.finished_at, r.started_at, r.id))


def run_results(store: Store, run_id: str) -> list[CheckResult]:
    """The results of one run, by subject then check."""
    docs = store.search_events(dataset=RESULT_DATASET, where={"ipv6.run_id": run_id})
    results = [CheckResult.from_dict(doc["ipv6"]["result"]) for doc in docs]
    return sorted(results, key=lambda r: (r.subject, r.check))


def load_run(store: Store, run_id: str | None = None, kind: str | None = None) -> Run:
    """A stored run with its results; ``None``: the newest (of ``kind``, when given)."""
    runs = list_runs(store, kind)
    if run_id is None:
        if not runs:
            what = f" de {KIND_TEXT.get(kind, kind)}" if kind else ""
            raise RunNotFound(f"no hay ninguna corrida IPv6{what} guardada")
        head = runs[-1]
    else:
        found = [r for r in runs if r.id == run_id or r.id.startswith(run_id)]
        if len(found) != 1:
            problem = "ninguna" if not found else "más de una"
            raise RunNotFound(f"{problem} corrida IPv6 guardada tiene el id {run_id}")
        head = found[0]
    results = tuple(run_results(store, head.id))
    complete = len(results) == sum(head.counts.values())
    return Run(head.id, head.kind, head.started_at, head.finished_at, head.meta, head.counts,
               results, complete)  # fmt: skip


def named_run(store: Store, run_id: str) -> Run:
    """The run ``run_id`` names (its id or the start of it), or a :class:`BadRunId` naming
    it and, when it is ambiguous, the runs it could be."""
    try:
        return load_run(store, run_id)
    except RunNotFound:
        found = [r.id for r in list_runs(store) if r.id.startswith(run_id)]
        if not found:
            raise BadRunId(f"ninguna corrida IPv6 guardada tiene el id «{run_id}»") from None
        shown = ", ".join(found[:10]) + (f" y {len(found) - 10} más" if len(found) > 10 else "")
        raise BadRunId(
            f"el id «{run_id}» es el comienzo de más de una corrida IPv6 ({shown}): "
            "escriba más caracteres"
        ) from None


def latest_before(store: Store, kind: str, until: str | None = None) -> Run | None:
    """The newest run of ``kind`` finished at or before ``until`` (all: ``None``)."""
    runs = [r for r in list_runs(store, kind) if until is None or r.finished_at <= until]
    return load_run(store, runs[-1].id) if runs else None
