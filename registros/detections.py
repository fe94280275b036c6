"""Sigma detections over stored events: load and check the rules, run them on SQLite or on the
cluster, and turn each hit into an alert event.

Rule kinds (every file under ``registros/reglas/`` and the ministry's folder, ``*.yml``):

- a Sigma rule: one alert per matching event;
- a Sigma correlation (``event_count``, ``value_count``) over rules in the same file: pukara
  evaluates it itself on both stores, from the base rules' hits, in fixed windows of
  ``timespan`` aligned to the Unix epoch (a burst that straddles two windows counts in each);
- a *silence* rule: a Sigma rule with ``pukara: {silencio: {campo: host.name, ventana: 1h,
  referencia: 24h}}``: a value of ``campo`` that matched in the ``referencia`` before the last
  ``ventana`` and not since (a log source gone quiet), judged at the end of the run's window.

Every field a rule names must be one pukara knows (:mod:`registros.sigma_fields`); a rule
that does not parse, names another field, or cannot be translated for both stores is refused
with its file and the reason.
"""

from __future__ import annotations

import hashlib
import operator
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pukara.errors import UsageError
from pukara.events import format_timestamp, get_field, make_event, parse_timestamp

SHIPPED = Path(__file__).parent / "reglas"
ALERT_DATASET = "registros.alerta"
# ECS event.severity from the Sigma level (the risk scores Elastic's detection rules use)
SEVERITY = {"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}
EVENT_IDS_KEPT = 1000  # an alert lists at most this many matched event ids
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RulesRefused(UsageError):
    """One or more rule files were refused; ``problems`` holds (file, reason) pairs."""

    def __init__(self, problems: Sequence[tuple[Path, str]]) -> None:
        lines = [f"{path}: {reason}" for path, reason in problems]
        super().__init__("reglas rechazadas:\n  " + "\n  ".join(lines))
        self.problems = list(problems)


@dataclass(frozen=True)
class Silence:
    field: str
    window: timedelta  # quiet for at least this long
    reference: timedelta  # having matched in this long before


@dataclass(frozen=True)
class Correlation:
    kind: str  # event_count | value_count
    group_by: tuple[str, ...]
    span_s: int
    op: Callable[[int, int], bool]
    count: int
    value_field: str | None  # value_count: whose distinct values are counted


@dataclass(frozen=True)
class Rule:
    """A rule ready to run: each base query in both languages, and how hits are judged."""

    id: str
    title: str
    description: str
    level: str
    tags: tuple[str, ...]
    path: Path
    ruleset: str  # "pukara" (shipped) or "ministerio" (a folder of the operator's)
    queries: tuple[Query, ...]
    correlation: Correlation | None = None
    silence: Silence | None = None

    @property
    def severity(self) -> int:
        return SEVERITY.get(self.level, SEVERITY["medium"])


@dataclass(frozen=True)
class Query:
    sql: str
    lucene: str


@dataclass
class Hit:
    """What one alert is made of."""

    rule: Rule
    events: list[dict[str, Any]]
    key_material: str
    group: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # the alert's @timestamp (default: the last matched event)
    summary: str = ""


class Source(Protocol):
    """Where the rules run: the SQLite view or the cluster."""

    def matches(
        self, query: Query, since: datetime | None, until: datetime | None
    ) -> Iterator[dict[str, Any]]: ...


# -- loading ---------------------------------------------------------------------------------
def duration(text: Any, what: str) -> timedelta:
    value = str(text).strip()
    unit = value[-1:]
    if unit not in _UNITS or not value[:-1].isdigit() or int(value[:-1]) <= 0:
        raise ValueError(f"{what}: duración inválida {text!r} (p. ej. 30m, 1h, 2d)")
    return timedelta(seconds=int(value[:-1]) * _UNITS[unit])


def rule_files(folders: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"--reglas {folder}: no es una carpeta")
        files += sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml"))
    return files


def load_rules(extra: Sequence[Path] = (), *, shipped: bool = True) -> list[Rule]:
    """The shipped rules and those of ``extra`` folders; refuses the lot if any file is bad."""
    from registros import sigma_load

    folders = ([SHIPPED] if shipped else []) + list(extra)
    rules: list[Rule] = []
    problems: list[tuple[Path, str]] = []
    for path in rule_files(folders):
        ruleset = "pukara" if shipped and path.is_relative_to(SHIPPED) else "ministerio"
        try:
            rules += sigma_load.load_file(path, ruleset)
        except ValueError as e:
            problems.append((path, str(e)))
    seen: dict[str, Path] = {}
    for rule in rules:
        if rule.id in seen:
            problems.append((rule.path, f"id {rule.id} repetido (también en {seen[rule.id]})"))
        seen.setdefault(rule.id, rule.path)
    if problems:
        raise RulesRefused(problems)
    return rules


# -- running ---------------------------------------------------------------------------------
def _ts(doc: Mapping[str, Any]) -> datetime:
    return parse_timestamp(str(doc["@timestamp"]))


def _order(doc: Mapping[str, Any]) -> tuple[str, str]:
    return format_timestamp(_ts(doc)), str(get_field(doc, "event.id"))


def _union(
    source: Source, rule: Rule, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for query in rule.queries:
        for doc in source.matches(query, since, until):
            docs.setdefault(str(get_field(doc, "event.id")), doc)
    return sorted(docs.values(), key=_order)


def _group_value(doc: Mapping[str, Any], name: str) -> Any:
    value = get_field(doc, name)
    return value if not isinstance(value, list) else tuple(value)


def _correlate(rule: Rule, corr: Correlation, docs: list[dict[str, Any]]) -> Iterator[Hit]:
    buckets: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for doc in docs:
        values = tuple(_group_value(doc, name) for name in corr.group_by)
        if any(v is None for v in values):
            continue  # Sigma groups only events that have the fields
        start = int(_ts(doc).timestamp()) // corr.span_s * corr.span_s
        buckets.setdefault((*values, start), []).append(doc)
    for key, members in buckets.items():
        values, start = key[:-1], key[-1]
        if corr.kind == "value_count":
            seen = {repr(get_field(d, str(corr.value_field))) for d in members}
            seen.discard("None")
            n = len(seen)
        else:
            n = len(members)
        if not corr.op(n, corr.count):
            continue
        group = dict(zip(corr.group_by, values, strict=True))
        begin = datetime.fromtimestamp(start, UTC)
        what = "valores distintos de " + str(corr.value_field) if corr.value_field else "eventos"
        where = ", ".join(f"{k}={v}" for k, v in group.items()) or "todos"
        yield Hit(
            rule, members, f"{sorted(group.items())!r}|{start}", group,
            summary=f"{n} {what} en {_span(corr.span_s)} desde "
            f"{format_timestamp(begin)[:19]}Z ({where})",
        )  # fmt: skip


def _span(seconds: int) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _silent(
    rule: Rule, silence: Silence, docs: list[dict[str, Any]], until: datetime
) -> Iterator[Hit]:
    last: dict[Any, dict[str, Any]] = {}
    for doc in docs:  # time order: the last one wins
        value = _group_value(doc, silence.field)
        if value is not None:
            last[value] = doc
    quiet_since = until - silence.window
    for value, doc in sorted(last.items(), key=lambda item: _order(item[1])):
        seen = _ts(doc)
        if seen >= quiet_since:
            continue
        yield Hit(
            rule, [doc], f"{value!r}|{get_field(doc, 'event.id')}", {silence.field: value},
            at=seen + silence.window,
            summary=f"{silence.field}={value} sin registros desde {format_timestamp(seen)[:19]}Z",
        )  # fmt: skip


def run_rule(
    source: Source, rule: Rule, since: datetime | None, until: datetime | None
) -> Iterator[Hit]:
    if rule.silence is not None:
        silence = rule.silence
        end = until or datetime.now(UTC)
        begin = end - silence.window - silence.reference
        yield from _silent(rule, silence, _union(source, rule, begin, end), end)
        return
    if rule.correlation is not None:
        corr = rule.correlation
        start: datetime | None = since
        if since is not None:  # from the start of the window holding ``since``
            start = datetime.fromtimestamp(int(since.timestamp()) // corr.span_s * corr.span_s, UTC)
        yield from _correlate(rule, corr, _union(source, rule, start, until))
        return
    for doc in _union(source, rule, since, until):
        yield Hit(rule, [doc], str(get_field(doc, "event.id")), summary=_describe(doc))


def run(
    source: Source, rules: Iterable[Rule], since: datetime | None, until: datetime | None
) -> Iterator[Hit]:
    for rule in rules:
        yield from run_rule(source, rule, since, until)


def _describe(doc: Mapping[str, Any]) -> str:
    text = get_field(doc, "message")
    return str(text)[:200] if text else str(get_field(doc, "event.action") or "")


# -- alerts ----------------------------------------------------------------------------------
def dedup_key(hit: Hit) -> str:
    """sha256 of the rule id and what identifies the hit (the event; group and window)."""
    return hashlib.sha256(f"{hit.rule.id}|{hit.key_material}".encode()).hexdigest()


def alert_id(key: str) -> str:
    """A UUID (version 8, RFC 9562) made from the dedup key: the same hit, the same id."""
    raw = bytearray(bytes.fromhex(key)[:16])
    raw[6] = raw[6] & 0x0F | 0x80
    raw[8] = raw[8] & 0x3F | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def _related(events: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    sources = {
        "ip": ("source.ip", "destination.ip", "related.ip"),
        "user": ("user.name", "user.target.name", "related.user"),
        "hosts": ("host.name", "related.hosts"),
    }
    out: dict[str, list[str]] = {}
    for kind, names in sources.items():
        values: dict[str, None] = {}
        for doc in events:
            for name in names:
                value = get_field(doc, name)
                for v in value if isinstance(value, list) else [value]:
                    if v not in (None, ""):
                        values[str(v)] = None
        if values:
            out[kind] = list(values)
    return out


def alert(hit: Hit, *, now: datetime | None = None) -> dict[str, Any]:
    """The alert event of a hit, ready for ``store.write_events`` and for the CSIRT."""
    rule, events = hit.rule, hit.events
    key = dedup_key(hit)
    first, last = _ts(events[0]), _ts(events[-1])
    hosts = {get_field(d, "host.name") for d in events} - {None}
    doc = make_event(
        ALERT_DATASET,
        timestamp=hit.at or last,
        kind="alert",
        message=f"{rule.title}: {hit.summary}" if hit.summary else rule.title,
        fields={
            "event.severity": rule.severity,
            "event.created": format_timestamp(now or datetime.now(UTC)),
            "event.start": format_timestamp(first),
            "event.end": format_timestamp(last),
            "rule.id": rule.id,
            "rule.name": rule.title,
            "rule.description": rule.description,
            "rule.ruleset": rule.ruleset,
            "log.level": rule.level,
            "host.name": hosts.pop() if len(hosts) == 1 else None,
            "tags": list(rule.tags) or None,
            "related": _related(events) or None,
            "pukara.alert": {
                "dedup_key": key,
                "event_ids": [str(get_field(d, "event.id")) for d in events[:EVENT_IDS_KEPT]],
                "event_count": len(events),
                "group": hit.group or None,
            },
        },
    )
    doc["event"]["id"] = alert_id(key)
    return doc


COMPARE = {
    "lt": operator.lt, "lte": operator.le, "gt": operator.gt,
    "gte": operator.ge, "eq": operator.eq, "neq": operator.ne,
}  # fmt: skip
