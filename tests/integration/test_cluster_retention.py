"""Retention on the real cluster without ILM or ISM (the test cluster has neither): pukara's
own rollover and whole-index deletion, exact counts, and ``almacen depurar`` in cluster mode."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cli import main
from pukara.config import load_settings
from pukara.events import format_timestamp, new_event_id, utc_now
from pukara.store.cluster.engine import ALL_STREAMS, stream_name
from pukara.store.elastic import ElasticStore, cluster_engine
from pukara.store.sqlite import SQLiteStore
from tests.integration.test_store_contract import PlainBulk
from tests.opensearch_cluster import OpenSearchCluster

pytestmark = pytest.mark.integration


def _events(dataset: str, age: timedelta, n: int) -> list[dict[str, object]]:
    now = utc_now()
    return [
        {"@timestamp": format_timestamp(now - age + timedelta(seconds=i)),
         "event": {"dataset": dataset, "id": new_event_id()}}
        for i in range(n)
    ]  # fmt: skip


def _backing(opensearch: OpenSearchCluster, dataset: str) -> list[str]:
    answer = opensearch.get(f"/_data_stream/{stream_name(dataset)}")
    return [i["index_name"] for i in answer["data_streams"][0]["indices"]]


def test_old_indices_go_whole_and_the_purge_stays_exact(
    opensearch: OpenSearchCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = ",".join(opensearch.urls)
    # the session's cluster is shared: what other tests left in these streams is not ours
    opensearch.request("DELETE", "/_data_stream/pukara-eventos-monitoreo.*")
    engine = cluster_engine(
        load_settings({"data_dir": tmp_path, "es_url": url}, environ={}), install=True
    )
    from pukara.store.cluster import templates

    assert templates.installed(engine)  # what a key that may not install checks
    db = tmp_path / "p.db"
    store = ElasticStore(SQLiteStore(db), lambda: engine, sink=PlainBulk(lambda: engine))
    ds = "monitoreo.sondeo"
    try:
        store.write_events(
            _events(ds, timedelta(days=40), 100) + _events(ds, timedelta(days=2), 50)
        )
        store.write_events(_events("monitoreo.enlace", timedelta(days=40), 7))
        engine.refresh(ALL_STREAMS)
        first = _backing(opensearch, ds)
        # 100 past the cut-off, in the write index: deleted by query; the index, 40 days
        # old, is rolled over so that a later purge can take it whole
        assert store.purge_events(utc_now() - timedelta(days=30), [ds]) == 100
        assert store.count_events(datasets=[ds]) == 50
        assert store.count_events(datasets=["monitoreo.enlace"]) == 7  # another dataset
        assert _backing(opensearch, ds)[0] == first[0] and len(_backing(opensearch, ds)) == 2
        store.write_events(_events(ds, timedelta(hours=1), 10))  # into the new write index
        engine.refresh(ALL_STREAMS)
        # the first index is all past the new cut-off: it goes whole, with its 50 events
        assert store.purge_events(utc_now() - timedelta(days=1), [ds]) == 50
        assert first[0] not in _backing(opensearch, ds)
        assert store.count_events(datasets=[ds]) == 10
        # almacen depurar in cluster mode: the raw monitoring datasets, through the cluster
        env = ["--base-datos", str(db)]
        monkeypatch.setenv("PUKARA_ES_URL", url)
        code = main([*env, "almacen", "depurar", "--retencion-dias", "30", "--simular",
                     "-f", "json"])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0 and '"monitoreo.enlace"' in out and '"count": 7' in out
        assert main([*env, "almacen", "depurar", "--retencion-dias", "30"]) == 0
        assert "Depurados 7 registros" in " ".join(capsys.readouterr().err.split())
        assert engine.count(stream_name("monitoreo.enlace"), {"query": {"match_all": {}}}) == 0
    finally:
        store.close()
        opensearch.request("DELETE", "/_data_stream/pukara-*")


def test_a_cluster_without_pukaras_streams_reads_as_empty(
    opensearch: OpenSearchCluster, tmp_path: Path
) -> None:
    from pukara.store.query import EventQuery, FieldFilter

    opensearch.request("DELETE", "/_data_stream/pukara-*")
    url = ",".join(opensearch.urls)
    engine = cluster_engine(
        load_settings({"data_dir": tmp_path, "es_url": url}, environ={}), install=True
    )
    store = ElasticStore(SQLiteStore(tmp_path / "p.db"), lambda: engine)
    try:
        assert store.event_stats() == []
        assert store.count_events() == 0 and store.count_events(datasets=["a.b"]) == 0
        assert list(store.search_events(dataset="a.b", where={"host.name": "x"})) == []
        q = EventQuery(filters=(FieldFilter("otro.campo", "wildcard", "x*"),))
        assert list(store.query_events(q)) == []
        top = store.top_values("user.name", q)
        assert (top.total, top.missing, top.values) == (0, 0, ())
        assert store.purge_events(utc_now()) == 0
    finally:
        store.close()
