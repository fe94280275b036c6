"""Every shipped Sigma rule finds the same events in SQLite and in the real 3-node OpenSearch
cluster, on one golden corpus with mixed-case values, and exactly the events it should."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from pukara.config import load_settings
from pukara.store.cluster import templates
from pukara.store.cluster.client import connect
from pukara.store.cluster.engine import SearchEngine
from pukara.store.sqlite import SQLiteStore
from registros import detections
from registros.sigma_cluster import ClusterSource, matches
from registros.sigma_sqlite import ALERT_DATASET, SQLiteSource
from tests.opensearch_cluster import OpenSearchCluster
from tests.sigma_corpus import EXPECTED, NEAR_MISSES, SINCE, UNTIL, corpus

pytestmark = pytest.mark.integration

STREAM = "pukara-logs-paridad-sigma"  # a stream of its own on the shared cluster


@pytest.fixture(scope="module")
def engine(
    opensearch: OpenSearchCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchEngine]:
    folder = tmp_path_factory.mktemp("sigma-os")
    the_engine = connect(load_settings({"data_dir": folder, "es_url": opensearch.url}, environ={}))
    templates.install(the_engine)  # with the detection component composed in
    lines = []
    for doc in corpus():
        action = {"create": {"_index": STREAM, "_id": doc["event"]["id"]}}
        lines += [orjson.dumps(action), orjson.dumps(doc)]
    results = the_engine.bulk(b"\n".join(lines) + b"\n")
    assert {r.status for r in results} <= {201, 409}, [r for r in results if r.status >= 300]
    the_engine.refresh(STREAM)
    yield the_engine
    the_engine.close()
    opensearch.request("DELETE", f"/_data_stream/{STREAM}")  # with its backing indices


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteSource]:
    path = tmp_path_factory.mktemp("sigma-sqlite") / "pukara.db"
    with SQLiteStore(path) as store:
        store.write_events(corpus())
    source = SQLiteSource(path)
    yield source
    source.close()


def _hits(source: detections.Source, rule: detections.Rule) -> list[tuple[str, ...]]:
    return [
        tuple(str(e["event"]["id"]) for e in hit.events)
        for hit in detections.run(source, [rule], SINCE, UNTIL)
    ]


def test_every_rule_same_hits_on_both_stores_and_the_expected_ones(
    engine: SearchEngine, sqlite_source: SQLiteSource
) -> None:
    rules = detections.load_rules()
    assert len(rules) >= 20
    assert {r.path.stem for r in rules} == set(EXPECTED)
    cluster = ClusterSource(engine, index=STREAM)
    for rule in rules:
        on_sqlite, on_cluster = _hits(sqlite_source, rule), _hits(cluster, rule)
        assert on_cluster == on_sqlite, rule.path.name
        assert on_sqlite == EXPECTED[rule.path.stem], rule.path.name
        found = {i for hit in on_sqlite for i in hit}
        assert found.isdisjoint(NEAR_MISSES[rule.path.stem]), rule.path.name


def test_alerts_are_the_same_from_both_stores(
    engine: SearchEngine, sqlite_source: SQLiteSource
) -> None:
    rules = detections.load_rules()
    cluster = ClusterSource(engine, index=STREAM)

    def keys(source: detections.Source) -> list[tuple[str, str, list[str]]]:
        out = []
        for hit in detections.run(source, rules, SINCE, UNTIL):
            alert = detections.alert(hit)
            out.append((alert["event"]["id"], alert["rule"]["id"],
                        alert["pukara"]["alert"]["event_ids"]))  # fmt: skip
        return out

    on_sqlite = keys(sqlite_source)
    assert keys(cluster) == on_sqlite
    assert len(on_sqlite) == sum(len(v) for v in EXPECTED.values())


def test_case_folding_is_what_makes_mixed_case_match(engine: SearchEngine) -> None:
    """Without the .lc subfields the cluster misses "Root" and "SSHD": the gap is real."""
    rules = {r.path.stem: r for r in detections.load_rules()}
    root = rules["ssh_root_aceptado"].queries[0]
    exact = root.lucene.replace(".lc:", ":")
    body = {"query": {"query_string": {"query": exact}}, "size": 50}
    ids = {h["_id"] for h in engine.search(STREAM, body)["hits"]["hits"]}
    assert ids == {"g-ssh-root-01"}  # "Root" (g-ssh-root-02) needs the folding


EDGE_RULES = Path(__file__).parents[1] / "data" / "registros" / "reglas_borde"
EDGE_EXPECTED = {
    "mayusculas_exactas": [("g-ssh-bf-06",), ("g-ssh-root-02",)],
    "lista_negada": None,  # many: every failed authentication (none has "session")
    "comodines_y_numeros": None,
    "existe_y_regex": None,
    "no_ascii": [("g-ssh-jose-01",)],  # "JOSÉ": SQLite's NOCASE would not fold the É
    "tipos_mixtos": [("g-type-01",), ("g-type-02",), ("g-type-03",)],
}


def test_edge_rules_same_hits_on_both_stores(
    engine: SearchEngine, sqlite_source: SQLiteSource
) -> None:
    """|cased, NOT on a list field, numbers, ``?``, CIDR, exists: false, a regular expression."""
    rules = detections.load_rules([EDGE_RULES], shipped=False)
    assert {r.path.stem for r in rules} == set(EDGE_EXPECTED)
    cluster = ClusterSource(engine, index=STREAM)
    for rule in rules:
        on_sqlite = _hits(sqlite_source, rule)
        assert on_sqlite, rule.path.name
        assert _hits(cluster, rule) == on_sqlite, rule.path.name
        expected = EDGE_EXPECTED[rule.path.stem]
        if expected is not None:
            assert on_sqlite == expected
    negated = next(r for r in rules if r.path.stem == "lista_negada")
    found = {i for hit in _hits(sqlite_source, negated) for i in hit}
    assert "g-ssh-root-01" not in found  # its categories are authentication AND session
    assert "g-ssh-bf-01" in found


def test_probar_in_cluster_mode_gives_what_it_gives_on_sqlite(
    engine: SearchEngine,
    opensearch: OpenSearchCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command, not only the library: es_url set, the rules run on the cluster's streams."""
    from cli import main

    db = tmp_path / "pukara.db"
    with SQLiteStore(db) as store:
        store.write_events(corpus())
    window = ["--desde", "2026-11-30T09:00", "--hasta", "2026-11-30T13:30", "--formato", "json"]
    args = ["registros", "reglas", "probar", *window]
    assert main(["--base-datos", str(db), *args]) == 3
    on_sqlite = orjson.loads(capsys.readouterr().out)
    monkeypatch.setenv("PUKARA_ES_URL", opensearch.url)
    assert main(args) == 3
    on_cluster = orjson.loads(capsys.readouterr().out)

    def ids(alerts: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
        return [(a["event"]["id"], a["pukara"]["alert"]["event_ids"]) for a in alerts]

    assert ids(on_cluster) == ids(on_sqlite)
    assert len(on_sqlite) == sum(len(v) for v in EXPECTED.values())


def test_cluster_hits_are_paged_with_pit_and_search_after(
    engine: SearchEngine, sqlite_source: SQLiteSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 4: the 22 events of the port scan come in 6 pages, none lost or repeated."""
    from registros import sigma_cluster

    monkeypatch.setattr(sigma_cluster, "PAGE", 4)
    rules = {r.path.stem: r for r in detections.load_rules()}
    cluster = ClusterSource(engine, index=STREAM)
    for name in ("escaneo_puertos", "ssh_fuerza_bruta", "ssh_usuario_inexistente"):
        assert _hits(cluster, rules[name]) == _hits(sqlite_source, rules[name]) == EXPECTED[name]


def test_no_stream_yet_is_no_hit_not_an_error(engine: SearchEngine) -> None:
    rules = detections.load_rules()
    empty = ClusterSource(engine, index="pukara-logs-no-existe-*,pukara-eventos-no-existe-*")
    assert list(detections.run(empty, rules, SINCE, UNTIL)) == []


def test_a_second_copy_in_another_backing_index_is_counted_once(
    engine: SearchEngine, sqlite_source: SQLiteSource, opensearch: OpenSearchCluster
) -> None:
    """A resend after a rollover leaves the same event (same event.id) in two backing
    indices of one stream: rules must still see it once, as in SQLite."""
    stream = "pukara-logs-paridad-copias"
    docs = list(corpus())
    lines = [
        line
        for doc in docs
        for line in (
            orjson.dumps({"create": {"_index": stream, "_id": doc["event"]["id"]}}),
            orjson.dumps(doc),
        )
    ]
    body = b"\n".join(lines) + b"\n"
    try:
        assert {r.status for r in engine.bulk(body)} == {201}
        engine.rollover(stream)
        assert {r.status for r in engine.bulk(body)} == {201}  # the copies, in the new index
        engine.refresh(stream)
        assert engine.count(stream, {"query": {"match_all": {}}}) == 2 * len(docs)
        everything = list(matches(engine, "*", None, None, index=stream))
        assert sorted(d["event"]["id"] for d in everything) == sorted(
            d["event"]["id"] for d in docs if d["event"]["dataset"] != ALERT_DATASET
        )
        cluster = ClusterSource(engine, index=stream)
        for rule in detections.load_rules():
            assert _hits(cluster, rule) == _hits(sqlite_source, rule), rule.path.name
    finally:
        opensearch.request("DELETE", f"/_data_stream/{stream}")
