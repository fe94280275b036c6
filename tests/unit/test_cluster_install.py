"""Who installs templates and the lifecycle policy: the writers, never a read.

Against recorded answers of OpenSearch 2.19 with ISM replayed by a loopback server (the
test cluster has no ISM plugin, see test_cluster_ism.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pukara.config import load_settings
from pukara.store.cluster import retention, templates
from pukara.store.cluster.detection import DETECTION_COMPONENT
from pukara.store.cluster.engine import EngineRefused
from pukara.store.elastic import cluster_engine, open_cluster_store
from tests.replay import Replay, serve

POLICY = "/_plugins/_ism/policies/pukara-retencion"
_OK = {"acknowledged": True}
EXCHANGES = [
    {"method": "GET", "path": "/", "status": 200, "body": {
        "name": "Node 1", "cluster_name": "rree",
        "version": {"distribution": "opensearch", "number": "2.19.1", "lucene_version": "9.12.1"},
        "tagline": "The OpenSearch Project: https://opensearch.org/"}},
    {"method": "GET", "path": "/_cat/plugins", "status": 200, "body": [
        {"name": "node-1", "component": "opensearch-index-management", "version": "2.19.1.0"}]},
    {"method": "PUT", "path": POLICY, "status": 200, "body": {"_id": "pukara-retencion"}},
    {"method": "GET", "path": POLICY, "status": 200, "body": {
        "_id": "pukara-retencion", "_seq_no": 7, "_primary_term": 1,
        "policy": retention.ism_policy(30)["policy"]}},
    *({"method": "PUT", "path": f"/_component_template/{n}", "status": 200, "body": _OK}
      for n in (templates.COMPONENT_MAPPINGS, templates.COMPONENT_SETTINGS, DETECTION_COMPONENT)),
    *({"method": "PUT", "path": f"/_index_template/{n}", "status": 200, "body": _OK}
      for n in ("pukara-eventos", "pukara-logs")),
]  # fmt: skip


@pytest.fixture
def replay() -> Iterator[tuple[Replay, str]]:
    yield from serve(Replay(EXCHANGES), {"Content-Type": "application/json"})


def _puts(state: Replay) -> list[str]:
    return [r["path"] for r in state.requests if r["method"] != "GET"]


def test_a_read_never_installs_templates_nor_rewrites_the_policy(
    replay: tuple[Replay, str], tmp_path: Path
) -> None:
    state, url = replay
    settings = load_settings({"data_dir": tmp_path, "es_url": url, "retention_days": 1}, environ={})
    engine = cluster_engine(settings)
    engine.close()
    with open_cluster_store(settings, read_only=True) as store:
        assert store.engine.capabilities.lifecycle == "ism"
    assert _puts(state) == []


def test_a_writer_installs_templates_and_the_policy(
    replay: tuple[Replay, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state, url = replay
    settings = load_settings({"data_dir": tmp_path, "es_url": url, "retention_days": 7}, environ={})
    cluster_engine(settings, install=True).close()
    assert POLICY in _puts(state) and "/_index_template/pukara-eventos" in _puts(state)
    put = next(r for r in state.requests if r["path"] == POLICY and r["method"] == "PUT")
    assert json.loads(put["body"]) == retention.ism_policy(7)
    # the cluster's 30 days are not changed to 7 in silence
    assert "guarda 30d; se cambia a 7d" in caplog.text
    assert not state.unknown


def _forbidden(version: int) -> list[dict[str, object]]:
    denied = {"error": {"type": "security_exception", "reason": "no permissions"}, "status": 403}
    return [
        *EXCHANGES[:2],
        *({"method": "PUT", "path": f"/_component_template/{n}", "status": 403, "body": denied}
          for n in (templates.COMPONENT_MAPPINGS, templates.COMPONENT_SETTINGS)),
        *({"method": "GET", "path": f"/_index_template/{n}", "status": 200, "body": {
            "index_templates": [{"name": n, "index_template": {
                "index_patterns": [f"{n}-*"], "_meta": {"managed_by": "pukara", "version": version}}}]}}
          for n in ("pukara-eventos", "pukara-logs")),
    ]  # fmt: skip


@pytest.mark.parametrize("current", [True, False])
def test_a_key_that_may_not_install_goes_on_when_the_templates_are_current(
    tmp_path: Path, current: bool
) -> None:
    version = templates.TEMPLATE_VERSION if current else templates.TEMPLATE_VERSION - 1
    for state, url in serve(Replay(_forbidden(version)), {"Content-Type": "application/json"}):
        settings = load_settings({"data_dir": tmp_path, "es_url": url}, environ={})
        if current:
            cluster_engine(settings, install=True).close()
        else:
            with pytest.raises(EngineRefused) as refused:
                cluster_engine(settings, install=True)
            assert refused.value.status == 403
        assert "GET /_index_template/pukara-eventos" not in state.unknown
