"""An :class:`~pukara.store.query.EventQuery` as the query DSL both engines speak.

The semantics are SQLite's (``query.py``), so that the same search gives the same events on
both stores:

- ``since`` inclusive and ``until`` exclusive on ``@timestamp`` (mapped ``date_nanos``, so the
  microseconds pukara writes survive, order included);
- ``eq``/``ne``: a lenient ``match`` on the field: exact on a ``keyword`` (case-sensitive,
  the whole value), the value on a number, a boolean or an address (a network too, as
  SQLite's ``ip`` comparison), and no match rather than an error for a value that field
  cannot hold (``source.port=abc``); on a ``text`` field (``message``) a ``term`` on its
  ``keyword``. ``ne`` is a ``must_not``, so an event without the field is kept, as in SQLite;
- ``wildcard``/``not_wildcard``: a ``wildcard`` query with ``case_insensitive: true``; ``*``
  and ``?`` are the only special characters, a backslash is literal. A field that is not a
  keyword is matched on its text form, ``<field>.text`` (templates.py) -- the engines refuse
  a wildcard on an address or a number;
- ``text``: each word must appear in ``message``, case-insensitively, anywhere in it (a
  substring, as SQLite's ``LIKE``): a wildcard ``*word*`` on ``message.keyword``;
- ``after``: strictly after ``(@timestamp, event.id)`` in the query's order;
- order: ``@timestamp`` then ``event.id`` (``_shard_doc`` last where the engine has it, so
  that paging never skips a document even if two share both keys).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pukara.events import format_timestamp
from pukara.store.cluster.engine import ALL_STREAMS, stream_name
from pukara.store.query import EventQuery, FieldFilter

TEXT_SUBFIELD = "text"  # templates.TEXT_SUBFIELD: a field's text form, for a wildcard
TIMESTAMP = "@timestamp"
EVENT_ID = "event.id"
DATASET = "event.dataset"
MESSAGE_EXACT = "message.keyword"  # the message as one keyword, for substring search
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stamp(ts: datetime) -> str:
    """A datetime as pukara stores it (UTC, microseconds, ``Z``): what ``date_nanos`` reads."""
    return format_timestamp(ts)


def from_ns(ns: int) -> datetime:
    """A ``date_nanos`` sort value as a datetime (pukara's microseconds are whole)."""
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


def indices(datasets: Sequence[str]) -> str:
    """The data streams that may hold events of ``datasets`` (every stream when empty).

    Each name ends in ``*``: a stream that does not exist yet then matches nothing instead of
    failing the request; what else the pattern matches the ``event.dataset`` filter leaves out.
    """
    if not datasets:
        return ALL_STREAMS
    return ",".join(sorted({stream_name(d) + "*" for d in datasets}))


def _escape_wildcard(text: str) -> str:
    """``text`` matched literally inside a wildcard pattern."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def _pattern(value: str) -> str:
    """A pukara wildcard (``*``, ``?``; everything else literal) as the engine's pattern."""
    return value.replace("\\", "\\\\")


_KEYWORDS = frozenset({"keyword", "constant_keyword", "wildcard"})


@lru_cache(maxsize=512)
def named_type(field: str) -> str | None:
    """The type pukara's templates give ``field``, None for one they do not name."""
    from pukara.store.cluster.templates import mappings

    node: Any = {"properties": mappings("flat_object")["properties"]}
    for part in [field] if field == TIMESTAMP else field.split("."):
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    kind = node.get("type") if isinstance(node, dict) else None
    return kind if isinstance(kind, str) else None


def unnamed(q: EventQuery) -> list[str]:
    """The wildcard fields of ``q`` the templates do not type: their types are asked of the
    engine (``SearchEngine.field_types``) before the query is built."""
    wild = {f.field for f in q.filters if f.op in ("wildcard", "not_wildcard")}
    return sorted(f for f in wild if named_type(f) is None)


def _kinds(field: str, types: Mapping[str, set[str]] | None) -> set[str]:
    if types and field in types:
        return set(types[field])
    kind = named_type(field)
    return {kind} if kind else set()


def field_clause(f: FieldFilter, types: Mapping[str, set[str]] | None = None) -> dict[str, Any]:
    """The positive clause of one filter (``ne``/``not_wildcard`` negate it); ``types``: the
    engine's types of fields the templates do not name."""
    kinds = _kinds(f.field, types)
    if f.op in ("eq", "ne"):
        if "text" in kinds:
            return {"term": {f"{f.field}.keyword": {"value": f.value}}}
        return {"match": {f.field: {"query": f.value, "lenient": True}}}
    name = f.field
    if "text" in kinds:
        name = f"{f.field}.keyword"
    elif kinds - _KEYWORDS:
        name = f"{f.field}.{TEXT_SUBFIELD}"
    return {"wildcard": {name: {"value": _pattern(f.value), "case_insensitive": True}}}


def _after_clause(ts: datetime, event_id: str, newest_first: bool) -> dict[str, Any]:
    op = "lt" if newest_first else "gt"
    moment = stamp(ts)
    return {
        "bool": {
            "should": [
                {"range": {TIMESTAMP: {op: moment}}},
                {
                    "bool": {
                        "filter": [
                            {"term": {TIMESTAMP: moment}},
                            {"range": {EVENT_ID: {op: event_id}}},
                        ]
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def query(q: EventQuery, types: Mapping[str, set[str]] | None = None) -> dict[str, Any]:
    """The ``query`` part of a search for ``q`` (``types``: see :func:`field_clause`)."""
    must: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    if q.datasets:
        must.append({"terms": {DATASET: list(q.datasets)}})
    window: dict[str, str] = {}
    if q.since is not None:
        window["gte"] = stamp(q.since)
    if q.until is not None:
        window["lt"] = stamp(q.until)
    if window:
        must.append({"range": {TIMESTAMP: window}})
    for f in q.filters:
        (must_not if f.op in ("ne", "not_wildcard") else must).append(field_clause(f, types))
    for word in (q.text or "").split():
        must.append(
            {
                "wildcard": {
                    MESSAGE_EXACT: {
                        "value": f"*{_escape_wildcard(word)}*",
                        "case_insensitive": True,
                    }
                }
            }
        )
    if q.after is not None:
        must.append(_after_clause(q.after[0], q.after[1], q.newest_first))
    if not must and not must_not:
        return {"match_all": {}}
    body: dict[str, Any] = {}
    if must:
        body["filter"] = must
    if must_not:
        body["must_not"] = must_not
    return {"bool": body}


def sort(newest_first: bool, *, shard_doc: bool) -> list[dict[str, Any]]:
    """``@timestamp`` then ``event.id`` (then ``_shard_doc`` where the engine has it)."""
    order = "desc" if newest_first else "asc"
    keys: list[dict[str, Any]] = [
        {TIMESTAMP: {"order": order, "numeric_type": "date_nanos"}},
        {EVENT_ID: {"order": order}},
    ]
    if shard_doc:
        keys.append({"_shard_doc": {"order": order}})
    return keys


def where_query(
    *,
    dataset: str | None,
    since: datetime | None,
    until: datetime | None,
    where: dict[str, Any] | None,
    newest_first: bool = False,
    limit: int | None = None,
) -> EventQuery:
    """``Store.search_events``'s arguments as an :class:`EventQuery` (equality filters).

    A value that is not a string is compared as its JSON text would be by the engine's
    ``term`` query (a number matches a number, a boolean a boolean).
    """
    filters = tuple(FieldFilter(name, "eq", _text(value)) for name, value in (where or {}).items())
    return EventQuery(
        since=since,
        until=until,
        filters=filters,
        limit=limit,
        newest_first=newest_first,
        datasets=(dataset,) if dataset is not None else (),
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
