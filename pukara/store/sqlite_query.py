"""An :class:`~pukara.store.query.EventQuery` as SQL over the ``events`` table.

The semantics are those of :mod:`pukara.store.query`, made exact here so that the cluster's
query DSL can give the same events:

- A field's value is compared in its text form: a string as it is, a number as JSON writes
  it (``22``), a boolean as ``true``/``false``. An array matches when one of its elements
  does (as a term query on a multi-valued field); ``null``, an object or a nested array is
  no value. The indexed columns (``event.dataset``, ``host.name``, ``event.id``) are used
  directly; every other field goes through ``json_each`` on the stored document. A field
  the cluster maps as ``ip`` (``source.ip``...) compares addresses, not spellings, and takes
  a network too (``source.ip=198.18.0.0/15``), as a term query on it does.
- ``wildcard``: ``*`` any run of characters, ``?`` one character, every other character
  (a backslash too) literal; matched against the whole value, case-insensitively (Unicode
  lower case, as ``case_insensitive: true``).
- ``text``: each word of the query (split at white space) must appear somewhere in
  ``message``, case-insensitively, as a substring (``root`` also finds ``rootkit``): the
  cluster asks a ``*word*`` wildcard on ``message.keyword``.
- Order: ``@timestamp`` then ``event.id`` (microseconds; the cluster keeps them with
  ``date_nanos``). ``after`` resumes strictly after that pair in the query's order.
- Top values: per value, how many matched events hold it (an array's element counted once
  per event); equal counts in the field's order, as a terms aggregation breaks ties (an
  ``ip`` field by address, a number by size, text by its bytes).

The Python functions the SQL calls (``pukara_wildcard``, ``pukara_text``, ``pukara_ip``,
``pukara_ip_text``, ``pukara_order``) are registered on every connection the store opens
(:func:`register`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
import sqlite3
from functools import lru_cache
from typing import Any

from pukara.store.query import EventQuery, FieldFilter

# dotted ECS field -> indexed column of ``events`` (see migrations 1 and 2)
COLUMNS = {"event.dataset": "dataset", "host.name": "host_name", "event.id": "event_id"}
# the text form of one json_each row (see the module docstring)
_FORM = (
    "CASE v.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(v.value AS TEXT) END"
)
_SCALAR = "v.type IN ('text', 'integer', 'real', 'true', 'false')"


def words(text: str) -> list[str]:
    """The words of a query text: what lies between white space, lower-cased."""
    return [w.lower() for w in text.split()]


@lru_cache(maxsize=64)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def wildcard_match(pattern: str, value: str) -> bool:
    return _wildcard_regex(pattern).fullmatch(value) is not None


def _sql_wildcard(pattern: Any, value: Any) -> int:
    if not isinstance(pattern, str) or value is None:
        return 0
    return int(wildcard_match(pattern, str(value)))


@lru_cache(maxsize=64)
def _wanted(text: str) -> tuple[str, ...]:
    return tuple(text.split("\t"))


def _sql_text(message: Any, wanted: Any) -> int:
    """1 when every tab-separated word of ``wanted`` is in ``message`` (case-insensitive)."""
    if not isinstance(message, str) or not isinstance(wanted, str) or not wanted:
        return 0
    low = message.lower()
    return int(all(w in low for w in _wanted(wanted)))


def register(conn: sqlite3.Connection) -> None:
    """Make the functions the query SQL calls known to ``conn``."""
    conn.create_function("pukara_wildcard", 2, _sql_wildcard, deterministic=True)
    conn.create_function("pukara_text", 2, _sql_text, deterministic=True)
    conn.create_function("pukara_order", 3, _sql_order, deterministic=True)
    conn.create_function("pukara_ip", 2, _sql_ip, deterministic=True)
    conn.create_function("pukara_ip_text", 1, _sql_ip_text, deterministic=True)


def json_path(dotted: str) -> str:
    return "$" + "".join('."' + part.replace('"', "") + '"' for part in dotted.split("."))


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # the engine keeps both as the same 16 bytes
    return address


@lru_cache(maxsize=64)
def _ip_wanted(value: str) -> _Address | ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "/" in value:
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            return None
    return _address(value)


def _sql_ip(wanted: Any, value: Any) -> int:
    """1 when the address ``value`` is ``wanted`` (any spelling of it) or lies in the network
    ``wanted`` (``198.18.0.0/15``), as a term query on an ``ip`` field; a ``wanted`` that is
    no address is compared as text."""
    if value is None or not isinstance(wanted, str):
        return 0
    target = _ip_wanted(wanted)
    if target is None:
        return int(str(value) == wanted)
    address = _address(str(value))
    if address is None:
        return 0
    if isinstance(target, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return int(address.version == target.version and address in target)
    return int(address == target)


def _sql_ip_text(value: Any) -> Any:
    """An address as the engine gives it back in an aggregation (IPv6 compressed, an
    IPv4-mapped one as IPv4); anything else as it is."""
    if not isinstance(value, str) or ":" not in value:
        return value  # IPv4 has one spelling (ipaddress refuses leading zeros)
    address = _address(value)
    return value if address is None else str(address)


_NUMERIC = frozenset({"long", "integer", "short", "byte", "double", "float", "half_float",
                      "scaled_float", "unsigned_long"})  # fmt: skip


def _number(text: Any) -> int | float | None:
    """``text`` as the number a number field's match reads it, or None."""
    if not isinstance(text, str):
        return None
    try:
        whole = int(text)
    except ValueError:
        pass
    else:
        return whole if -(2**63) <= whole < 2**63 else float(whole)  # SQLite's integers
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _value_test(f: FieldFilter, params: list[Any]) -> str:
    """SQL true when the event has a value of ``f.field`` that equals (or matches) it."""
    column = COLUMNS.get(f.field)
    wild = f.op in ("wildcard", "not_wildcard")
    if column is not None:
        params.append(f.value)
        return f"pukara_wildcard(?, {column}) = 1" if wild else f"{column} IS ?"
    params.extend((json_path(f.field), f.value))
    if wild:
        test = f"pukara_wildcard(?, {_FORM}) = 1"
    elif mapped_type(f.field) == "ip":
        test = f"pukara_ip(?, {_FORM}) = 1"
    elif mapped_type(f.field) in _NUMERIC and (number := _number(f.value)) is not None:
        # by value, as the cluster's match on a number field: 022 is 22, 1.0 is 1
        params.append(number)
        test = f"({_FORM} = ? OR (v.type IN ('integer', 'real') AND v.value = ?))"
    else:
        test = f"{_FORM} = ?"
    return f"EXISTS (SELECT 1 FROM json_each(events.doc, ?) AS v WHERE {_SCALAR} AND {test})"  # noqa: S608


def where(q: EventQuery, *, with_after: bool = True) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (empty when nothing filters) and its parameters."""
    from pukara.store.sqlite import to_us

    clauses: list[str] = []
    params: list[Any] = []
    if q.datasets:
        clauses.append(f"dataset IN ({', '.join('?' * len(q.datasets))})")
        params.extend(q.datasets)
    if q.since is not None:
        clauses.append("ts_us >= ?")
        params.append(to_us(q.since))
    if q.until is not None:
        clauses.append("ts_us < ?")
        params.append(to_us(q.until))
    if with_after and q.after is not None:
        stamp, event_id = q.after
        cmp = "<" if q.newest_first else ">"
        clauses.append(f"(ts_us {cmp} ? OR (ts_us = ? AND event_id {cmp} ?))")
        params.extend((to_us(stamp), to_us(stamp), event_id))
    for f in q.filters:
        test = _value_test(f, params)
        clauses.append(f"NOT ({test})" if f.op in ("ne", "not_wildcard") else test)
    if q.text is not None:
        wanted = words(q.text)
        if wanted:  # a text without words asks nothing of the message
            clauses.append("pukara_text(json_extract(doc, '$.message'), ?) = 1")
            params.append("\t".join(sorted(set(wanted))))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def select(q: EventQuery) -> tuple[str, list[Any]]:
    """The documents ``q`` asks for, in its order."""
    clause, params = where(q)
    order = "DESC" if q.newest_first else "ASC"
    sql = f"SELECT doc FROM events{clause} ORDER BY ts_us {order}, event_id {order}"  # noqa: S608
    if q.limit is not None:
        sql += " LIMIT ?"
        params.append(int(q.limit))
    return sql, params


@lru_cache(maxsize=256)
def mapped_type(field: str) -> str | None:
    """The type the cluster's templates give ``field`` (``ip``, ``long``, ``keyword``...),
    None for a field they do not name (the engine then maps it from its first value)."""
    from pukara.store.cluster.templates import mappings

    node: Any = {"properties": mappings("flat_object")["properties"]}
    parts = [field] if field == "@timestamp" else field.split(".")
    for part in parts:
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    kind = node.get("type") if isinstance(node, dict) else None
    return kind if isinstance(kind, str) else None


_NUMBER_TYPES = frozenset({"long", "integer", "short", "byte", "double", "float", "half_float",
                           "scaled_float", "unsigned_long"})  # fmt: skip


def _sql_order(mapped: Any, json_type: Any, value: Any) -> Any:
    """Where ``value`` sorts among values of equal count, as a terms aggregation breaks ties:
    by the field's own order (an address as its 16 bytes, a number by its size), not its
    text: ``198.18.9.1`` before ``198.18.10.1``, ``9`` before ``10``."""
    text = "" if value is None else str(value)
    if mapped == "ip":
        address = _address(text)
        if address is None:  # the engine would not hold it: after every address
            return b"\xff" * 17 + text.encode()
        if address.version == 4:
            return b"\0" * 10 + b"\xff\xff" + address.packed
        return address.packed
    if mapped in _NUMBER_TYPES or (mapped is None and json_type in ("integer", "real")):
        try:
            return int(text)
        except ValueError:
            with contextlib.suppress(ValueError):
                return float(text)
    return text


# only the values that can still be among the first ``size`` (a count at least the size-th
# largest) are put in the field's order, which takes a Python call each
_TOP = (
    "WITH g AS MATERIALIZED ({grouped})"
    " SELECT c, n FROM g WHERE n >= coalesce("
    "(SELECT n FROM g ORDER BY n DESC LIMIT 1 OFFSET max(? - 1, 0)), 0)"
    " ORDER BY n DESC, pukara_order(?, t, c) LIMIT ?"
)


def top_values(field: str, q: EventQuery, size: int) -> list[tuple[str, list[Any]]]:
    """Three statements: the matched events, those lacking ``field``, and ``size`` values
    with their counts, most frequent first (ties in the field's order, see
    :func:`_sql_order`, as the cluster's terms aggregation). ``q``'s ``limit``,
    ``after`` and order play no part: the figures are over every matched event."""
    clause, params = where(q, with_after=False)
    total = (f"SELECT count(*) FROM events{clause}", params)  # noqa: S608
    column = COLUMNS.get(field)
    if column is not None:
        joiner = " AND " if clause else " WHERE "
        missing = (f"SELECT count(*) FROM events{clause}{joiner}{column} IS NULL", params)  # noqa: S608
        top = (
            f"SELECT {column}, count(*) AS n FROM events{clause}{joiner}{column} IS NOT NULL"  # noqa: S608
            f" GROUP BY {column} ORDER BY n DESC, pukara_order(?, NULL, {column}) LIMIT ?",
            [*params, mapped_type(field), size],
        )
        return [total, missing, top]
    path = json_path(field)
    # a scalar is read with json_extract (fast); only an array goes through json_each
    kind = "ifnull(json_type(doc, ?), '')"  # '' when absent: NOT of a NULL would be NULL
    scalar = f"{kind} IN ('text', 'integer', 'real', 'true', 'false')"
    in_array = f"EXISTS (SELECT 1 FROM json_each(events.doc, ?) AS v WHERE {_SCALAR})"  # noqa: S608
    has = f"({scalar} OR ({kind} = 'array' AND {in_array}))"
    joiner = " AND " if clause else " WHERE "
    sql = f"SELECT count(*) FROM events{clause}{joiner}NOT {has}"  # noqa: S608
    missing = (sql, [*params, path, path, path])
    form = (
        f"CASE {kind} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
        " ELSE CAST(json_extract(doc, ?) AS TEXT) END"
    )
    # an address is counted and shown as the engine writes it (fd70::2, not fd70:0:...:2)
    shown = "pukara_ip_text(value)" if mapped_type(field) == "ip" else "value"
    grouped = (
        f"SELECT {shown} AS c, count(*) AS n, max(t) AS t FROM"  # noqa: S608
        f" (SELECT {form} AS value, {kind} AS t FROM events"
        f"{clause}{joiner}{scalar}"
        # the arrays first, on their own (LIMIT -1 keeps SQLite from flattening the
        # subquery into a join that scans the whole table), then their distinct elements
        f" UNION ALL SELECT value, t FROM (SELECT DISTINCT arrays.id, {_FORM} AS value,"
        " v.type AS t FROM"
        f" (SELECT id, doc FROM events{clause}{joiner}{kind} = 'array' LIMIT -1) AS arrays,"
        f" json_each(arrays.doc, ?) AS v WHERE {_SCALAR})) GROUP BY c"
    )
    top = (
        _TOP.format(grouped=grouped),
        [path, path, path, *params, path, *params, path, path, size, mapped_type(field), size],
    )
    return [total, missing, top]
