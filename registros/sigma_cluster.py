"""Sigma rules on the cluster: pySigma's Lucene backend (OpenSearch's or Elasticsearch's,
same query syntax) as ``query_string`` queries, paged with a point in time and
``search_after`` on ``[@timestamp, event.id]`` over ``pukara-logs-*`` and ``pukara-eventos-*``.

Case: Sigma compares strings case-insensitively, ``query_string`` on a keyword field does not.
Every string field pukara knows has a ``.lc`` subfield with a lowercase normalizer
(:func:`detection_component`, composed into the index templates), and string conditions go
to it with their values lowered (:func:`registros.sigma_fields.fold`), exactly as the SQLite
view does. ``|cased`` conditions and regular expressions use the field itself (``message``:
its ``keyword`` subfield), which is case-sensitive on both stores.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule

from pukara.events import format_timestamp
from pukara.store.cluster.engine import ALL_STREAMS, SearchEngine
from registros.sigma_fields import (
    FIELDS,
    FOLDED_SUFFIX,
    KEYWORD_LIMIT,
    STRING_TYPES,
    TEXT_LIMIT,
    fold,
)
from registros.sigma_sqlite import ALERT_DATASET

if TYPE_CHECKING:
    from registros.detections import Query

DETECTION_COMPONENT = "pukara-ecs-deteccion"
NORMALIZER = "pukara_minusculas"
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


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for dotted, mapping in flat.items():
        *parents, leaf = dotted.split(".") if dotted != "@timestamp" else [dotted]
        node = root
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = mapping
    return root


def detection_mappings() -> dict[str, Any]:
    """Mappings of every field a rule may name (:data:`registros.sigma_fields.FIELDS`).

    String fields get their lower-case ``lc`` twin: ``message`` stays ``text`` with its
    ``keyword`` subfield (8191) and gains ``lc`` (8191); every other string field is a
    ``keyword`` (ignore_above 1024) with ``lc`` (1024), normalised by :data:`NORMALIZER`
    (defined in :func:`detection_settings`). ``ip``, ``long`` and ``date`` fields are mapped
    as such, so that one the ECS component leaves out is not a dynamic keyword (on which a
    CIDR or a range would silently match nothing).
    """
    flat: dict[str, Any] = {}
    sub = FOLDED_SUFFIX.lstrip(".")
    for name, kind in FIELDS.items():
        if kind not in STRING_TYPES:
            flat[name] = {"type": kind}
            continue
        limit = TEXT_LIMIT if kind == "text" else KEYWORD_LIMIT
        folded = {"type": "keyword", "ignore_above": limit, "normalizer": NORMALIZER}
        if kind == "text":
            flat[name] = {
                "type": "text",
                "fields": {"keyword": {"type": "keyword", "ignore_above": limit}, sub: folded},
            }
        else:
            flat[name] = {"type": "keyword", "ignore_above": limit, "fields": {sub: folded}}
    return {"properties": _nest(flat)}


def detection_settings() -> dict[str, Any]:
    return {
        "analysis": {
            "normalizer": {
                NORMALIZER: {"type": "custom", "char_filter": [], "filter": ["lowercase"]}
            }
        }
    }


def detection_component() -> dict[str, Any]:
    """The component template to compose into both index templates, after the ECS one."""
    return {
        "template": {"settings": detection_settings(), "mappings": detection_mappings()},
        "_meta": {"managed_by": "pukara", "purpose": "detecciones Sigma"},
    }


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
    """The documents the query selects, paged with a point in time and ``search_after``."""
    pit = engine.open_pit(index, "2m")
    try:
        body = search_body(query, since, until) | {"size": PAGE}
        after: list[Any] | None = None
        while True:
            page = dict(body, pit={"id": pit, "keep_alive": "2m"})
            if after is not None:
                page["search_after"] = after
            response = engine.search(None, page)
            pit = response.get("pit_id", pit)
            hits = response["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]
    finally:
        engine.close_pit(pit)


class ClusterSource:
    """Rules over the cluster's data streams, through the engine adapter."""

    def __init__(self, engine: SearchEngine, index: str = ALL_STREAMS) -> None:
        self.engine, self.index = engine, index

    def matches(
        self, query: Query, since: datetime | None, until: datetime | None
    ) -> Iterator[dict[str, Any]]:
        return matches(self.engine, query.lucene, since, until, index=self.index)
