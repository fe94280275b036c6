"""Sigma rules on the cluster: pySigma's Lucene backend (OpenSearch's or Elasticsearch's,
same query syntax) as ``query_string`` queries, paged with a point in time and
``search_after`` on ``[@timestamp, event.id]`` over ``pukara-logs-*`` and ``pukara-eventos-*``.

Case: Sigma compares strings case-insensitively, ``query_string`` on a keyword field does not.
Every string field pukara knows has a ``.lc`` subfield with a lowercase normalizer (the
component :func:`pukara.store.cluster.detection.detection_component`, composed into the index
templates), and string conditions go to it with their values lowered
(:func:`registros.sigma_fields.fold`), exactly as the SQLite view does. ``|cased`` conditions
and regular expressions use the field itself (``message``: its ``keyword`` subfield), which is
case-sensitive on both stores.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule

from pukara.events import format_timestamp
from pukara.store.cluster import reads
from pukara.store.cluster.engine import ALL_STREAMS, SearchEngine
from registros.sigma_fields import (
    FIELDS,
    fold,
)
from registros.sigma_sqlite import ALERT_DATASET

if TYPE_CHECKING:
    from registros.detections import Query

PAGE = 1000


class PukaraLuceneBackend(OpensearchLuceneBackend):
    """The Lucene backend with pukara's case folding; ``|cased`` on the field itself."""

    # each value of a list on its own, so that each is folded (``field:(a OR b)`` would not)
    convert_or_as_in = False
    convert_and_as_in = False

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return super().convert_condition_field_eq_val(fold(cond), state)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        # a keyword field compares case-sensitively already
        return self.convert_condition_field_eq_val_str(_raw(cond), state)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return super().convert_condition_field_eq_val_re(_raw(cond), state)


def _raw(cond: ConditionFieldEqualsValueExpression) -> ConditionFieldEqualsValueExpression:
    """``message`` is text (words); its whole value is the ``keyword`` subfield."""
    if cond.field and FIELDS.get(cond.field) == "text":
        out = copy.copy(cond)
        out.field = cond.field + ".keyword"
        return out
    return cond


def to_lucene(rule: SigmaRule) -> str:
    queries = PukaraLuceneBackend().convert_rule(rule)
    if len(queries) != 1:
        raise ValueError(f"se esperaba una consulta, hay {len(queries)}")
    return str(queries[0])


def search_body(query: str, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [{"query_string": {"query": query, "analyze_wildcard": True}}]
    window: dict[str, str] = {}
    if since is not None:
        window["gte"] = format_timestamp(since)
    if until is not None:
        window["lt"] = format_timestamp(until)
    if window:
        filters.append({"range": {"@timestamp": window}})
    return {
        "query": {
            "bool": {
                "filter": filters,
                "must_not": [{"term": {"event.dataset": ALERT_DATASET}}],
            }
        },
        "sort": [{"@timestamp": "asc"}, {"event.id": "asc"}],
        "track_total_hits": False,
    }


def matches(
    engine: SearchEngine,
    query: str,
    since: datetime | None,
    until: datetime | None,
    *,
    index: str = ALL_STREAMS,
) -> Iterator[dict[str, Any]]:
    """The documents the query selects, paged with a point in time and ``search_after``.

    A count comes first: most rules match nothing, and a point in time cannot be opened on
    patterns that name no index yet (a cluster with no logs). A second copy of an event
    that a resend left in another backing index after a rollover is skipped, and a failure
    to close the point in time is no error: :func:`pukara.store.cluster.reads.search_hits`
    does the paging.
    """
    body = search_body(query, since, until)
    if engine.count(index, {"query": body["query"]}) == 0:
        return
    yield from reads.search_hits(engine, index, body["query"], page=PAGE)


class ClusterSource:
    """Rules over the cluster's data streams, through the engine adapter."""

    def __init__(self, engine: SearchEngine, index: str = ALL_STREAMS) -> None:
        self.engine, self.index = engine, index
        self.pending = 0  # events still in the local outbox, not searched

    def matches(
        self, query: Query, since: datetime | None, until: datetime | None
    ) -> Iterator[dict[str, Any]]:
        return matches(self.engine, query.lucene, since, until, index=self.index)
