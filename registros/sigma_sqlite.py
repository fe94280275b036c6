"""Sigma rules on the SQLite store: pysigma-backend-sqlite over a temporary view ``logs``.

The view has one column per ECS field pukara knows, named literally with the dotted name
(``"source.ip"``), read from the stored JSON document, and a lower-case twin of every
string field (``"user.name.lc"``) that string conditions use after :func:`fold` lowered
their values: that is how Sigma's case-insensitive matching is done, the same way as in the
cluster (lowercase-normalised ``.lc`` subfields). A list field (``event.category``) is a JSON
array in its column, and a condition on it holds when one element matches, as on a
multi-valued field in the cluster. String values longer than the cluster indexes
(``ignore_above``) read as absent, as there. ``REGEXP`` is Python's ``re``, anchored at both
ends as Lucene's regular expressions are.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import SigmaExists, SigmaNull

from pukara.errors import StoreError
from pukara.store.sqlite import to_us
from registros.sigma_fields import (
    FIELDS,
    FOLDED_SUFFIX,
    MULTI_VALUED,
    STRING_TYPES,
    fold,
    string_limit,
)

if TYPE_CHECKING:
    from registros.detections import Query

VIEW = "logs"
# what rules never look at: the alerts they produced themselves
ALERT_DATASET = "registros.alerta"


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: Any) -> bool | None:
    if value is None:
        return None
    return _regex(pattern).fullmatch(str(value)) is not None


# how a column reads its field, as the cluster's mapping of it indexes the value
RAW, FOLDED, NUMBER, ADDRESS, NATIVE = range(5)
_MODES = {"long": NUMBER, "ip": ADDRESS, "date": NATIVE, "boolean": NATIVE}


def _value(value: Any, limit: int, mode: int) -> Any:
    """One value as the cluster indexes it: a string field holds text (a number is its JSON
    text; a value over ``limit`` characters is not indexed), a long field numbers (a numeric
    string is coerced), an ip field the address (any spelling of it), or nothing."""
    if isinstance(value, dict | list) or value is None:
        return None
    if mode in (RAW, FOLDED):
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if len(text) > limit:
            return None
        return text.lower() if mode == FOLDED else text
    if mode == NUMBER and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    if mode == ADDRESS:
        try:
            return ipaddress.ip_address(str(value)).compressed
        except ValueError:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _scalar(raw: str | None, limit: int, mode: int) -> Any:
    """``doc -> '$.x'`` (JSON text) as a column value; a list holding one value is that value."""
    if raw is None:
        return None
    value = orjson.loads(raw)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return _value(value, limit, mode)


def _array(raw: str | None, limit: int, mode: int) -> str | None:
    """JSON text of the field's values as a list (a scalar is a list of one), or NULL."""
    if raw is None:
        return None
    value = orjson.loads(raw)
    items = value if isinstance(value, list) else [value]
    kept = [v for v in (_value(i, limit, mode) for i in items) if v is not None]
    if not kept:
        return None
    return orjson.dumps(kept).decode()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _path(name: str) -> str:
    return "'$." + name.replace("'", "''") + "'" if name != "@timestamp" else "'$.\"@timestamp\"'"


def _columns() -> list[str]:
    out = []
    for name, kind in FIELDS.items():
        reader = "pk_array" if name in MULTI_VALUED else "pk_scalar"
        limit = string_limit(name)
        source = f"doc -> {_path(name)}"
        mode = _MODES.get(kind, RAW)
        out.append(f"{reader}({source}, {limit}, {mode}) AS {_quote(name)}")
        if kind in STRING_TYPES:
            out.append(f"{reader}({source}, {limit}, {FOLDED}) AS {_quote(name + FOLDED_SUFFIX)}")
    return out


def prepare(conn: sqlite3.Connection, since_us: int | None, until_us: int | None) -> None:
    """Register the functions and (re)create the temporary view over ``[since, until)``."""
    conn.create_function("REGEXP", 2, _regexp, deterministic=True)
    conn.create_function("pk_scalar", 3, _scalar, deterministic=True)
    conn.create_function("pk_array", 3, _array, deterministic=True)
    where = [f"dataset != '{ALERT_DATASET}'"]
    if since_us is not None:
        where.append(f"ts_us >= {int(since_us)}")
    if until_us is not None:
        where.append(f"ts_us < {int(until_us)}")
    conn.execute(f"DROP VIEW IF EXISTS temp.{VIEW}")
    # column names come from FIELDS, the bounds are integers
    columns, conditions = ", ".join(_columns()), " AND ".join(where)
    conn.execute(
        f"CREATE TEMP VIEW {VIEW} AS SELECT id AS pk_row, ts_us AS pk_ts, doc AS pk_doc, "  # noqa: S608
        f"{columns} FROM main.events WHERE {conditions}"
    )


class PukaraSQLiteBackend(sqliteBackend):
    """The SQLite backend with pukara's case folding, list fields, and CIDR grouping."""

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        cond = fold(cond)
        base = cond.field.removesuffix(FOLDED_SUFFIX) if cond.field else None
        if base in MULTI_VALUED and not isinstance(cond.value, SigmaNull | SigmaExists):
            element = _with_field(cond, "value")
            expr = super().convert_condition_field_eq_val(element, state)
            column = self.escape_and_quote_field(cond.field)  # type: ignore[no-untyped-call]
            return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE {expr})"  # noqa: S608
        return super().convert_condition_field_eq_val(cond, state)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        # the backend joins the networks' LIKEs with OR and no brackets, so "a AND ip|cidr
        # AND b" read as "(a AND ip LIKE x) OR (ip LIKE y AND b)": grouped here
        return self.group_expression.format(
            expr=super().convert_condition_field_eq_val_cidr(cond, state)
        )


def _with_field(
    cond: ConditionFieldEqualsValueExpression, name: str
) -> ConditionFieldEqualsValueExpression:
    out = copy.copy(cond)
    out.field = name
    return out


def to_sql(rule: SigmaRule) -> str:
    """The rule's condition as one SQL query over the ``logs`` view."""
    queries = PukaraSQLiteBackend().convert_rule(rule)  # type: ignore[no-untyped-call]
    if len(queries) != 1:
        raise ValueError(f"se esperaba una consulta, hay {len(queries)}")
    return str(queries[0])


def matches(conn: sqlite3.Connection, sql: str) -> Iterator[dict[str, Any]]:
    """The documents the query selects, in time order (then ``event.id``)."""
    inner = sql.replace("SELECT * FROM logs", "SELECT pk_doc, pk_ts, `event.id` FROM logs", 1)
    # the backend's query, from a rule that passed the checks of registros.sigma_load
    cursor = conn.execute(f'SELECT pk_doc FROM ({inner}) ORDER BY pk_ts, "event.id"')  # noqa: S608
    try:
        while rows := cursor.fetchmany(500):
            for (doc,) in rows:
                loaded: dict[str, Any] = orjson.loads(doc)
                yield loaded
    finally:
        cursor.close()


def _us(ts: datetime | None) -> int | None:
    return None if ts is None else to_us(ts)


class SQLiteSource:
    """Rules over a SQLite database file, read through a read-only connection of its own."""

    def __init__(self, path: Path) -> None:
        try:
            self.conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
            self.conn.execute("SELECT 1 FROM events LIMIT 1")
        except sqlite3.Error as e:
            raise StoreError(f"{path}: no se puede leer la base de datos ({e})") from e

    def matches(
        self, query: Query, since: datetime | None, until: datetime | None
    ) -> Iterator[dict[str, Any]]:
        try:
            prepare(self.conn, _us(since), _us(until))
            yield from matches(self.conn, query.sql)
        except sqlite3.Error as e:
            raise StoreError(f"consulta de una regla: {e}") from e

    def close(self) -> None:
        self.conn.close()
