"""The tests' OpenSearch cluster is real: three nodes that elect a manager and spread shards."""

from __future__ import annotations

import pytest

from tests.opensearch_cluster import OpenSearchCluster

pytestmark = pytest.mark.integration


def test_three_nodes_form_one_green_cluster(opensearch: OpenSearchCluster) -> None:
    root = opensearch.get("/")
    assert root["version"]["distribution"] == "opensearch"
    nodes = opensearch.get("/_cat/nodes?format=json")
    assert len(nodes) == 3
    assert len(opensearch.urls) == 3
    made = opensearch.request(
        "PUT", "/prueba-replicas",
        {"settings": {"number_of_shards": 3, "number_of_replicas": 1}},
    )  # fmt: skip
    assert made.get("acknowledged"), made
    health = opensearch.get("/_cluster/health/prueba-replicas?wait_for_status=green&timeout=30s")
    assert health["status"] == "green"
    shards = opensearch.get("/_cat/shards/prueba-replicas?format=json")
    assert {s["node"] for s in shards} == {"Node 1", "Node 2", "Node 3"}
    opensearch.request("DELETE", "/prueba-replicas")
