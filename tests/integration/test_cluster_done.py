"""Issue 12, done when: with the real 3-node cluster, events from monitoring, discovery and
the lab's syslog reach it through the outbox.

The real CLI, as an operator runs it with ``PUKARA_ES_URL`` set: every writer commits its
events to the local outbox. ``monitoreo sondear`` runs with the cluster up (its own shipper
empties the outbox before it exits); ``inventario descubrir`` and ``registros recibir`` run
with no node answering, so their events wait in the outbox until ``pukara almacen enviar``
drains it. The local events table stays empty: in cluster mode events live in the cluster."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import manage, rsyslog
from lab.sites import LabSite
from pukara.store.cluster.engine import ALL_STREAMS, stream_name
from tests.conftest import lab_available, skip_or_fail, write_lab_inventory
from tests.opensearch_cluster import OpenSearchCluster

pytestmark = pytest.mark.integration

# Indexes and prefix of their own, away from the other labs of the tests
SITES = [
    LabSite(index=3301, code="z1", delay_ms=20.0, syslog="udp"),
    LabSite(index=3302, code="z2", delay_ms=20.0, syslog="tcp"),
]
DESTINATION = rsyslog.Destination(rsyslog.HQ_LOG_V4, 55524)  # a port of this test's own
PUKARA = str(Path(sys.executable).parent / "pukara")
DATASETS = ("monitoreo.sondeo", "inventario.descubrimiento", "registros.syslog")


@pytest.fixture(scope="module")
def cluster_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    the_lab = manage.Lab(tmp_path_factory.mktemp("pkz") / "estado", prefix="pkz")
    try:
        manage.up(the_lab, SITES, syslog=DESTINATION)
        yield the_lab
    finally:
        manage.down(the_lab)


def _pukara(env: dict[str, str], db: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run([PUKARA, "--base-datos", str(db), *args], env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=300)  # fmt: skip
    if check:
        assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _failed_ssh(target: str, user: str, key: Path) -> None:
    done = subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(key), "-o", "IdentitiesOnly=yes",
         "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", f"{user}@{target}",
         "true"],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 255 and "Permission denied" in done.stderr, done.stderr


def _backlog(env: dict[str, str], db: Path) -> int:
    state = json.loads(_pukara(env, db, "almacen", "estado", "--formato", "json"))
    return int(state["outbox"]["backlog"])


def _closed_port() -> int:
    """A loopback port nothing listens on: a cluster away."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _count(cluster: OpenSearchCluster, dataset: str) -> int:
    """The cluster's documents of ``dataset`` in its data stream (none yet: 0)."""
    where = f"/{stream_name(dataset)}?ignore_unavailable=true"
    cluster.request("POST", where.replace("?", "/_refresh?"))
    body = {"query": {"term": {"event.dataset": dataset}}}
    found: dict[str, Any] = cluster.request("POST", where.replace("?", "/_count?"), body)
    assert "count" in found, found
    return int(found["count"])


def _found(cluster: OpenSearchCluster, event_ids: list[str]) -> int:
    """How many of ``event_ids`` the cluster holds, across every pukara stream."""
    cluster.request("POST", f"/{ALL_STREAMS}/_refresh")
    body = {"query": {"terms": {"event.id": event_ids}}}
    found: dict[str, Any] = cluster.request("POST", f"/{ALL_STREAMS}/_count", body)
    return int(found["count"])


def test_monitoring_discovery_and_syslog_reach_the_cluster_through_the_outbox(
    cluster_lab: manage.Lab, opensearch: OpenSearchCluster, tmp_path: Path
) -> None:
    (tmp_path / "datos").mkdir(mode=0o700)
    db = tmp_path / "datos" / "pukara.db"
    env = {**os.environ, "PUKARA_ES_URL": ",".join(opensearch.urls),
           "PUKARA_CREDENTIALS": str(cluster_lab.credentials_file),
           "XDG_DATA_HOME": str(tmp_path / "xdg")}  # fmt: skip
    env.pop("PUKARA_DB", None)
    before = {d: _count(opensearch, d) for d in DATASETS}  # the session's cluster is shared
    sedes, activos = write_lab_inventory(tmp_path / "inv", SITES)
    _pukara(env, db, "inventario", "importar", str(sedes), "-q")
    _pukara(env, db, "inventario", "importar", str(activos), "-q")

    # with the cluster up, the writer's own shipper empties the outbox before it exits
    rows = json.loads(_pukara(env, db, "monitoreo", "sondear", "--formato", "json", "-q",
                              "-c", "3", "-p", "50", "-t", "600"))  # fmt: skip
    assert {r["target"] for r in rows} == {"z1", "z2"}, rows
    assert all(r["received"] == 3 for r in rows), rows
    assert _backlog(env, db) == 0
    # with no node answering, the events wait in the outbox, on disk, for `almacen enviar`
    away = {**env, "PUKARA_ES_URL": f"http://127.0.0.1:{_closed_port()}"}
    _pukara(away, db, "inventario", "descubrir", "z1", "-m", "snmp", "--credencial", "lab",
            "-t", "1", "-f", "json", "-q")  # fmt: skip
    after_discovery = _backlog(env, db)
    assert after_discovery > 0

    key = tmp_path / "desconocida"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                   check=True, capture_output=True)  # fmt: skip
    argv = [PUKARA, "--base-datos", str(db), "registros", "recibir",
            "--udp", str(DESTINATION), "--tcp", str(DESTINATION)]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=away)  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "Escuchando" in first, first + proc.stderr.read()
        _failed_ssh(str(SITES[1].v4), "intrusoz2", key)
        deadline = time.monotonic() + 20
        while _backlog(env, db) == after_discovery and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1)  # the lines sshd logs after the first
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=40)
    assert proc.returncode == 130, err
    assert _backlog(env, db) > after_discovery
    with sqlite3.connect(db) as conn:
        queued = dict(conn.execute("SELECT event_id, stream FROM outbox").fetchall())
    assert set(queued.values()) == {stream_name(d) for d in DATASETS[1:]}, queued

    _pukara(env, db, "almacen", "enviar")
    state = json.loads(_pukara(env, db, "almacen", "estado", "--formato", "json"))
    assert state["outbox"]["backlog"] == 0, state["outbox"]
    assert state["dead_letters"]["count"] == 0, state["dead_letters"]
    assert state["cluster"]["reachable"] and state["cluster"]["nodes"] == 3, state["cluster"]
    assert _found(opensearch, list(queued)) == len(queued)  # each one, once
    added = {d: _count(opensearch, d) - before[d] for d in DATASETS}
    assert added["monitoreo.sondeo"] == len(rows), added
    assert added["inventario.descubrimiento"] > 0 and added["registros.syslog"] > 0, added
    assert added["inventario.descubrimiento"] + added["registros.syslog"] == len(queued), added
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)

    found = json.loads(_pukara(env, db, "registros", "buscar", "--formato", "json",
                               "--desde", "-1h", "event.outcome=failure"))  # fmt: skip
    mine = [d for d in found if d.get("user", {}).get("name") == "intrusoz2"]
    assert mine, found
    doc = mine[0]
    assert doc["event"]["dataset"] == "registros.syslog"
    assert "authentication" in doc["event"]["category"]
    assert doc["host"]["name"] == SITES[1].hostname and doc["labels"]["site"] == "z2"
    assert doc["source"]["ip"] == manage.hq_address(SITES[1], SITES)
    assert "Invalid user intrusoz2" in doc["event"]["original"]
