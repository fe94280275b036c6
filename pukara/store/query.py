"""What a search over stored events asks, the same for SQLite and for the cluster.

Each backend translates an :class:`EventQuery` on its own (SQL with ``json_extract``, or the
query DSL); a contract test suite runs the same queries against both and expects the same
events back, in the same order (``@timestamp``, then ``event.id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Op = Literal["eq", "ne", "wildcard", "not_wildcard"]


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """``field`` (dotted ECS name) compared with ``value``.

    ``eq``/``ne`` compare the stored value as text, exactly; ``wildcard`` takes ``*`` (any
    run of characters) and ``?`` (one character) and, as Kibana's, is case-insensitive.
    An ``ne`` or ``not_wildcard`` filter also keeps events that lack the field.
    """

    field: str
    op: Op
    value: str


@dataclass(frozen=True, slots=True)
class EventQuery:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    filters: tuple[FieldFilter, ...] = ()
    text: str | None = None  # words that must all appear in ``message`` (case-insensitive)
    limit: int | None = None
    newest_first: bool = False
    # resume strictly after this (timestamp, event.id), in the query's order: ``--seguir``
    after: tuple[datetime, str] | None = None
    datasets: tuple[str, ...] = field(default=())  # empty: every dataset


@dataclass(frozen=True, slots=True)
class TopValues:
    """The most frequent values of one field over a query (Kibana's "top 5")."""

    field: str
    total: int  # events the query matched
    missing: int  # of those, how many lack the field
    values: tuple[tuple[str, int], ...]  # (value, count), most frequent first
