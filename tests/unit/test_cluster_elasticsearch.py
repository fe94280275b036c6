"""The Elasticsearch adapter on RECORDED responses ("grabado", tests/data/es/): Elastic's real
client (elasticsearch 8.19) talks HTTP to a loopback server that replays Elasticsearch 8.19
answers, with its product header. This is not a test against a live Elasticsearch: the
answers are transcribed from Elasticsearch's REST API reference (see the file's _comment);
tests/integration/test_es_live.py runs against a real one when PUKARA_TEST_ES_URL is set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pukara.errors import StoreError
from pukara.store.cluster import reads, retention, templates
from pukara.store.cluster.detect import Connection, detect
from pukara.store.cluster.elasticsearch import ElasticsearchEngine
from pukara.store.cluster.engine import EngineRefused, EngineUnavailable
from pukara.store.query import EventQuery
from tests.replay import Replay, serve

RECORDED = Path(__file__).parents[1] / "data" / "es" / "grabado-8.19.json"
ES_HEADERS = {
    "X-Elastic-Product": "Elasticsearch",
    "Content-Type": "application/vnd.elasticsearch+json;compatible-with=8",
}


@pytest.fixture
def replay() -> Iterator[tuple[Replay, str]]:
    yield from serve(Replay(json.loads(RECORDED.read_text())["exchanges"]), ES_HEADERS)


def _engine(url: str) -> ElasticsearchEngine:
    conn = Connection((url,), timeout_s=5.0)
    info, _ = detect(conn)
    assert info.distribution == "elasticsearch" and info.version == (8, 19, 3)
    return ElasticsearchEngine(conn, info)


def test_templates_bulk_outcomes_and_compatibility_headers(replay: tuple[Replay, str]) -> None:
    state, url = replay
    engine = _engine(url)
    assert engine.capabilities.flat_object_type == "flattened"
    assert engine.capabilities.shard_doc and engine.capabilities.lifecycle == "ilm"
    templates.install(engine)
    put = {r["path"]: r for r in state.requests if r["method"] == "PUT"}
    mappings = json.loads(put["/_component_template/pukara-ecs-mappings"]["body"])
    syslog = mappings["template"]["mappings"]["properties"]["log"]["properties"]["syslog"]
    assert syslog["properties"]["structured_data"] == {"type": "flattened"}
    body = b'{"create":{"_index":"pukara-eventos-prueba.motor","_id":"a"}}\n{"x":1}\n'
    results = engine.bulk(body * 4)
    assert [r.status for r in results] == [201, 400, 409, 429]
    assert results[1].error_type == "document_parsing_exception"
    assert "source.port" in (results[1].reason or "") and "For input string" in (
        results[1].reason or ""
    )
    assert results[2].error_type == "version_conflict_engine_exception"
    bulk = next(r for r in state.requests if r["path"] == "/_bulk")
    assert bulk["body"] == body * 4  # the NDJSON bytes exactly as pukara made them
    # the 8.19 client's compatibility headers, which Elasticsearch 8 and 9 both accept
    assert "compatible-with=8" in (bulk["content_type"] or "")
    assert all("compatible-with=8" in (r["accept"] or "") for r in state.requests[1:])
    assert not state.unknown


def test_a_read_pages_through_a_point_in_time_and_closes_it(replay: tuple[Replay, str]) -> None:
    state, url = replay
    engine = _engine(url)
    got = list(reads.query_hits(engine, EventQuery(datasets=("prueba.motor",)), page=2))
    assert [d["event"]["id"][-1] for d in got] == ["1", "3", "2"]
    searches = [json.loads(r["body"]) for r in state.requests if r["path"] == "/_search"]
    assert len(searches) == 2
    assert searches[0]["pit"]["id"].startswith("gcSH") and "search_after" not in searches[0]
    # the second page: the PIT id the engine handed back, after the last hit's sort keys
    assert searches[1]["pit"]["id"].endswith("Mg==")
    assert searches[1]["search_after"][1].endswith("3") and searches[1]["sort"][-1] == {
        "_shard_doc": {"order": "asc"}
    }
    closed = next(r for r in state.requests if r["method"] == "DELETE" and r["path"] == "/_pit")
    assert json.loads(closed["body"]) == {"id": searches[1]["pit"]["id"]}
    assert not state.unknown


def test_counts_purges_streams_rollover_and_health(replay: tuple[Replay, str]) -> None:
    state, url = replay
    engine = _engine(url)
    match = {"query": {"match_all": {}}}
    assert engine.count("pukara-eventos-prueba.motor", match) == 1
    engine.refresh("pukara-eventos-prueba.motor")
    assert engine.delete_by_query("pukara-eventos-*", match) == 2
    dbq = next(r for r in state.requests if r["path"].endswith("/_delete_by_query"))
    assert dbq["query"]["conflicts"] == ["proceed"] and dbq["query"]["refresh"] == ["true"]
    streams = engine.data_streams("pukara-eventos-*")
    assert streams[0]["indices"][0]["index_name"].startswith(".ds-pukara-eventos-prueba.motor")
    assert engine.data_streams("pukara-logs-*") == []  # 404: none yet
    engine.rollover("pukara-eventos-prueba.motor")
    engine.delete_index([".ds-pukara-eventos-prueba.motor-2026.12.01-000001"])
    assert engine.health()["number_of_nodes"] == 3
    assert not state.unknown


def test_a_busy_engine_is_unavailable_and_a_forbidden_index_refused(
    replay: tuple[Replay, str],
) -> None:
    _, url = replay
    engine = _engine(url)
    with pytest.raises(EngineUnavailable) as busy:
        engine.count("pukara-sobrecargado", {"query": {"match_all": {}}})
    assert busy.value.status == 429 and "es_rejected_execution_exception" in str(busy.value)
    with pytest.raises(EngineRefused) as forbidden:
        engine.count("pukara-prohibido", {"query": {"match_all": {}}})
    assert forbidden.value.status == 403 and "security_exception" in str(forbidden.value)


def test_ilm_is_put_and_named_by_the_raw_datasets_template(replay: tuple[Replay, str]) -> None:
    state, url = replay
    engine = _engine(url)
    assert retention.install_lifecycle(engine, 30) == "pukara-retencion"
    put = {r["path"]: json.loads(r["body"]) for r in state.requests if r["method"] == "PUT"}
    delete = put["/_ilm/policy/pukara-retencion"]["policy"]["phases"]["delete"]
    assert delete["min_age"] == "30d"
    raw = put["/_index_template/pukara-eventos-crudos"]
    assert raw["template"]["settings"] == {"index.lifecycle.name": "pukara-retencion"}
    assert raw["priority"] > 200 and "pukara-eventos-monitoreo.sondeo" in raw["index_patterns"]
    # the raw streams have the lower-case twins Sigma rules search, as every other stream
    assert raw["composed_of"] == [
        "pukara-ecs-mappings",
        "pukara-ecs-deteccion",
        "pukara-ecs-settings",
    ]
    assert not state.unknown


def test_a_lapsed_point_in_time_is_a_spanish_error_and_is_still_closed() -> None:
    exchanges = json.loads(RECORDED.read_text())["exchanges"]
    search = next(x for x in exchanges if x["path"] == "/_search")
    lapsed = {"error": {"root_cause": [{"type": "search_context_missing_exception",
                                        "reason": "No search context found for id [17]"}],
                        "type": "search_phase_execution_exception", "reason": "all shards failed",
                        "phase": "query", "grouped": True}, "status": 404}  # fmt: skip
    search["sequence"] = [search["sequence"][0], {"status": 404, "body": lapsed}]
    gen = serve(Replay(exchanges), ES_HEADERS)
    state, url = next(gen)
    try:
        engine = _engine(url)
        got = reads.query_hits(engine, EventQuery(datasets=("prueba.motor",)), page=2)
        with pytest.raises(StoreError, match="más de 2m entre dos páginas"):
            list(got)
        assert any(r["method"] == "DELETE" and r["path"] == "/_pit" for r in state.requests)
    finally:
        gen.close()
