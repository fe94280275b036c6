"""Rules in cluster mode see what waits in the local outbox: it is sent (for a
bounded time) and the streams refreshed before the rules run; what cannot be sent is said
and the exit is 3. Against the real 3-node OpenSearch cluster and a real SQLite outbox."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import pytest

from pukara.config import load_settings
from pukara.events import get_field
from pukara.store.cluster.client import connect
from pukara.store.outbox import Outbox
from pukara.store.sqlite import SQLiteStore
from registros import reglas_cli
from tests.cli.test_cli import run
from tests.opensearch_cluster import OpenSearchCluster
from tests.sigma_corpus import corpus

pytestmark = pytest.mark.integration


def _queued_oom(db: Path) -> tuple[str, str]:
    """One kernel OOM event, of a unique id and instant, waiting in ``db``'s outbox."""
    doc = next(d for d in corpus() if d["event"]["id"] == "g-oom-01")
    doc = json.loads(json.dumps(doc))
    doc["event"]["id"] = str(uuid.uuid4())
    doc["@timestamp"] = f"2019-03-0{uuid.uuid4().int % 9 + 1}T04:05:06.000000Z"
    with SQLiteStore(db) as store:
        assert Outbox(store, limit=1000).put([doc]) == 1
    return doc["event"]["id"], doc["@timestamp"]


def _probar(capsys: pytest.CaptureFixture[str], db: Path, at: str) -> tuple[int, str, str]:
    day = at[:10]
    return run(capsys, "--base-datos", str(db), "registros", "reglas", "probar", "--regla",
               "kernel_oom", "--desde", f"{day}T00:00", "--hasta", f"{day}T23:59",
               "--formato", "json")  # fmt: skip


def test_an_event_waiting_in_the_outbox_is_sent_and_seen_by_the_rules(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    opensearch: OpenSearchCluster,
) -> None:
    db = tmp_path / "pukara.db"
    event_id, at = _queued_oom(db)
    monkeypatch.setenv("PUKARA_ES_URL", opensearch.url)
    try:
        code, out, err = _probar(capsys, db, at)
    finally:  # the shared cluster keeps no event of this test (other tests count theirs)
        engine = connect(load_settings({"data_dir": tmp_path, "es_url": opensearch.url},
                                       environ={}))  # fmt: skip
        engine.refresh("pukara-*")
        engine.delete_by_query("pukara-*", {"query": {"term": {"event.id": event_id}}})
        engine.close()
    assert code == 3, err
    alerts = json.loads(out)
    assert [get_field(a, "pukara.alert.event_ids") for a in alerts] == [[event_id]], alerts
    with SQLiteStore(db) as store:
        assert Outbox(store, limit=1000).backlog() == 0


def test_with_the_cluster_away_the_wait_is_bounded_and_what_waits_is_counted(
    tmp_path: Path,
) -> None:
    db = tmp_path / "pukara.db"
    _queued_oom(db)
    with socket.socket() as s:  # a port nothing listens on: the cluster away
        s.bind(("127.0.0.1", 0))
        away = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings = load_settings({"data_dir": tmp_path, "db": db, "es_url": away}, environ={})
    started = time.monotonic()
    assert reglas_cli.flush_outbox(settings, timeout_s=1.0) == 1
    assert time.monotonic() - started < 10
