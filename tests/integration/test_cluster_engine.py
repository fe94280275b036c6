"""The OpenSearch adapter against the real 3-node cluster: detection, templates, bulk item
outcomes as the engine gives them, point in time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pukara.config import load_settings
from pukara.events import make_event
from pukara.store.cluster.client import connect
from pukara.store.cluster.engine import stream_name
from pukara.store.cluster.templates import install
from tests.opensearch_cluster import OpenSearchCluster

pytestmark = pytest.mark.integration


def test_the_adapter_detects_installs_and_reports_each_item(
    opensearch: OpenSearchCluster, tmp_path: Path
) -> None:
    settings = load_settings(
        {"data_dir": tmp_path, "es_url": ",".join(opensearch.urls)}, environ={}
    )
    engine = connect(settings)
    try:
        assert engine.info.distribution == "opensearch"
        assert engine.info.version[0] >= 2
        install(engine)
        install(engine)  # idempotent
        good = make_event("prueba.motor", fields={"source.port": 22, "source.ip": "198.18.0.7"})
        bad = make_event("prueba.motor", fields={"source.port": "no-es-un-puerto"})
        stream = stream_name("prueba.motor")
        assert stream == "pukara-eventos-prueba.motor"

        def action(doc: dict[str, object]) -> bytes:
            meta = {"create": {"_index": stream, "_id": doc["event"]["id"]}}  # type: ignore[index]
            return (json.dumps(meta) + "\n" + json.dumps(doc) + "\n").encode()

        results = engine.bulk(action(good) + action(bad) + action(good))
        assert [r.status for r in results] == [201, 400, 409]
        assert results[1].error_type in ("mapper_parsing_exception", "document_parsing_exception")
        assert "source.port" in (results[1].reason or "")
        assert results[2].error_type == "version_conflict_engine_exception"
        engine.refresh(stream)
        assert engine.count(stream, {"query": {"match_all": {}}}) == 1
        streams = engine.data_streams("pukara-eventos-*")
        assert stream in {s["name"] for s in streams}
        pit = engine.open_pit(stream, "1m")
        page = engine.search(
            None,
            {"pit": {"id": pit, "keep_alive": "1m"}, "size": 10,
             "sort": [{"@timestamp": "asc"}, {"event.id": "asc"}]},
        )  # fmt: skip
        assert [h["_source"]["event"]["id"] for h in page["hits"]["hits"]] == [good["event"]["id"]]
        engine.close_pit(pit)
        assert engine.health()["number_of_nodes"] == 3
    finally:
        opensearch.request("DELETE", f"/_data_stream/{stream_name('prueba.motor')}")
        engine.close()
