"""EventQuery -> query DSL: the clauses the cluster runs for each of SQLite's semantics."""

from __future__ import annotations

from datetime import UTC, datetime

from pukara.store.cluster import dsl
from pukara.store.cluster.engine import ALL_STREAMS
from pukara.store.query import EventQuery, FieldFilter

T0 = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)


def test_empty_query_matches_everything_over_every_stream() -> None:
    assert dsl.query(EventQuery()) == {"match_all": {}}
    assert dsl.indices(()) == ALL_STREAMS


def test_window_is_since_inclusive_until_exclusive_with_microseconds() -> None:
    body = dsl.query(EventQuery(since=T0, until=T1))
    assert body == {
        "bool": {
            "filter": [
                {"range": {"@timestamp": {"gte": "2026-11-30T12:00:00.123456Z",
                                          "lt": "2026-11-30T13:00:00.000000Z"}}}
            ]
        }
    }  # fmt: skip


def test_eq_is_a_lenient_match_and_ne_a_must_not_that_keeps_events_without_the_field() -> None:
    q = EventQuery(filters=(FieldFilter("user.name", "eq", "Root"),
                            FieldFilter("source.ip", "ne", "198.18.0.1"),
                            FieldFilter("message", "eq", "Failed password")))  # fmt: skip
    body = dsl.query(q)["bool"]
    # lenient: "source.port=abc" matches nothing instead of failing the search
    assert body["filter"] == [
        {"match": {"user.name": {"query": "Root", "lenient": True}}},
        {"term": {"message.keyword": {"value": "Failed password"}}},  # the whole message
    ]
    # must_not alone (no "exists"): an event lacking source.ip is kept, as in SQLite
    assert body["must_not"] == [{"match": {"source.ip": {"query": "198.18.0.1", "lenient": True}}}]


def test_a_wildcard_on_an_address_or_a_number_reads_its_text_form() -> None:
    q = EventQuery(filters=(FieldFilter("source.ip", "wildcard", "198.18.*"),
                            FieldFilter("monitoreo.rtt_ms", "wildcard", "2?"),
                            FieldFilter("otro.campo", "wildcard", "x*")))  # fmt: skip
    assert dsl.unnamed(q) == ["monitoreo.rtt_ms", "otro.campo"]  # asked of the engine
    types = {"monitoreo.rtt_ms": {"double"}}  # otro.campo: not mapped anywhere yet
    fields = [next(iter(c["wildcard"])) for c in dsl.query(q, types)["bool"]["filter"]]
    assert fields == ["source.ip.text", "monitoreo.rtt_ms.text", "otro.campo"]


def test_wildcard_is_case_insensitive_and_a_backslash_is_literal() -> None:
    q = EventQuery(filters=(FieldFilter("host.name", "wildcard", r"Sw?-*\x"),
                            FieldFilter("user.name", "not_wildcard", "adm*")))  # fmt: skip
    body = dsl.query(q)["bool"]
    assert body["filter"] == [
        {"wildcard": {"host.name": {"value": r"Sw?-*\\x", "case_insensitive": True}}}
    ]
    assert body["must_not"] == [
        {"wildcard": {"user.name": {"value": "adm*", "case_insensitive": True}}}
    ]


def test_text_needs_every_word_anywhere_in_the_message_literally() -> None:
    body = dsl.query(EventQuery(text="Failed  pass*"))["bool"]
    assert body["filter"] == [
        {"wildcard": {"message.keyword": {"value": "*Failed*", "case_insensitive": True}}},
        {"wildcard": {"message.keyword": {"value": r"*pass\**", "case_insensitive": True}}},
    ]


def test_datasets_pick_their_streams_and_filter_exactly() -> None:
    q = EventQuery(datasets=("monitoreo.sondeo", "registros.syslog"))
    assert dsl.indices(q.datasets) == "pukara-eventos-monitoreo.sondeo*,pukara-logs-syslog*"
    assert dsl.query(q) == {
        "bool": {"filter": [{"terms": {"event.dataset": ["monitoreo.sondeo", "registros.syslog"]}}]}
    }


def test_after_resumes_strictly_after_timestamp_then_id_in_either_order() -> None:
    for newest_first, op in ((False, "gt"), (True, "lt")):
        q = EventQuery(after=(T0, "0190-b"), newest_first=newest_first)
        (clause,) = dsl.query(q)["bool"]["filter"]
        stamp = "2026-11-30T12:00:00.123456Z"
        assert clause == {
            "bool": {
                "should": [
                    {"range": {"@timestamp": {op: stamp}}},
                    {"bool": {"filter": [{"term": {"@timestamp": stamp}},
                                         {"range": {"event.id": {op: "0190-b"}}}]}},
                ],
                "minimum_should_match": 1,
            }
        }  # fmt: skip


def test_sort_is_timestamp_then_event_id_and_shard_doc_only_when_available() -> None:
    assert dsl.sort(False, shard_doc=False) == [
        {"@timestamp": {"order": "asc", "numeric_type": "date_nanos"}},
        {"event.id": {"order": "asc"}},
    ]
    assert dsl.sort(True, shard_doc=True)[-1] == {"_shard_doc": {"order": "desc"}}


def test_search_events_arguments_become_equality_filters() -> None:
    q = dsl.where_query(dataset="monitoreo.enlace", since=T0, until=None,
                        where={"host.name": "lima", "up": True, "port": 22},
                        newest_first=True, limit=1)  # fmt: skip
    assert q.datasets == ("monitoreo.enlace",) and q.limit == 1 and q.newest_first
    assert [(f.field, f.op, f.value) for f in q.filters] == [
        ("host.name", "eq", "lima"),
        ("up", "eq", "true"),
        ("port", "eq", "22"),
    ]
