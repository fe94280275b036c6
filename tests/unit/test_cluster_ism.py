"""OpenSearch with the Index State Management plugin, on RECORDED answers ("grabado") of
OpenSearch 2.19 with ISM, replayed by a loopback server: the test cluster (codelibs' runner)
has no ISM plugin, so this is not a test against a live ISM. The answers follow the ISM API
reference (create, 409 when the policy exists, get with _seq_no/_primary_term, update)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pukara.store.cluster import retention
from pukara.store.cluster.detect import Connection, detect
from pukara.store.cluster.opensearch import OpenSearchEngine
from tests.replay import Replay, serve

POLICY = "/_plugins/_ism/policies/pukara-retencion"
EXCHANGES = [
    {"method": "GET", "path": "/", "status": 200, "body": {
        "name": "Node 1", "cluster_name": "rree",
        "version": {"distribution": "opensearch", "number": "2.19.1", "lucene_version": "9.12.1"},
        "tagline": "The OpenSearch Project: https://opensearch.org/"}},
    {"method": "GET", "path": "/_cat/plugins", "status": 200, "body": [
        {"name": "node-1", "component": "opensearch-index-management", "version": "2.19.1.0"},
        {"name": "node-1", "component": "opensearch-job-scheduler", "version": "2.19.1.0"}]},
    {"method": "PUT", "path": POLICY, "status": 409, "sequence": [
        {"error": {"root_cause": [{"type": "version_conflict_engine_exception",
                                   "reason": "[pukara-retencion]: version conflict, document already exists (current version [1])"}],  # noqa: E501
                   "type": "version_conflict_engine_exception",
                   "reason": "[pukara-retencion]: version conflict, document already exists (current version [1])"},  # noqa: E501
         "status": 409},
        {"status": 200, "body": {"_id": "pukara-retencion", "_version": 2, "_primary_term": 1,
                                 "_seq_no": 8, "policy": {"policy": {"policy_id": "pukara-retencion"}}}},
    ]},
    {"method": "GET", "path": POLICY, "status": 200, "body": {
        "_id": "pukara-retencion", "_version": 1, "_seq_no": 7, "_primary_term": 1,
        "policy": {"policy_id": "pukara-retencion", "default_state": "hot", "states": []}}},
]  # fmt: skip


@pytest.fixture
def replay() -> Iterator[tuple[Replay, str]]:
    yield from serve(Replay(EXCHANGES), {"Content-Type": "application/json"})


def test_an_existing_ism_policy_is_replaced_at_the_version_read(
    replay: tuple[Replay, str],
) -> None:
    state, url = replay
    conn = Connection((url,), timeout_s=5.0)
    info, _ = detect(conn)
    engine = OpenSearchEngine(conn, info)
    assert engine.capabilities.lifecycle == "ism"
    assert retention.install_lifecycle(engine, 30) == "pukara-retencion"
    puts = [r for r in state.requests if r["method"] == "PUT"]
    assert len(puts) == 2 and puts[0]["query"] == {}
    assert puts[1]["query"] == {"if_seq_no": ["7"], "if_primary_term": ["1"]}
    body = json.loads(puts[1]["body"])
    assert body["policy"]["ism_template"][0]["index_patterns"] == retention.RAW_STREAMS
    assert not state.unknown
