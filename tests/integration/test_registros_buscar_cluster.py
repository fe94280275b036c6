"""`registros buscar` and `registros resumen` give the same output on SQLite and on the real
3-node OpenSearch cluster (``PUKARA_ES_URL``), on the same events.

Runs once the cluster store (``pukara.store.elastic``) is on the branch; the events reach
the cluster by a plain ``_bulk`` (``create``, ``_id`` = ``event.id``), the store's reads are
what is compared.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli import main
from pukara.config import load_settings
from pukara.events import make_event, utc_now
from pukara.store import SQLiteStore
from pukara.store.cluster.engine import ALL_STREAMS, stream_name
from tests.opensearch_cluster import OpenSearchCluster

pytestmark = pytest.mark.integration
NOW = utc_now().replace(microsecond=123456)
USERS = ["root", "Root", "admin", "ana", "a*b"]
IPS = ["198.18.1.2", "198.18.1.25", "198.19.7.9", "fd70:756b:6172:a::2", "198.18.9.1"]


def _events() -> list[dict[str, Any]]:
    rng = random.Random(7)  # noqa: S311 - test data, not secrets
    docs = []
    for i in range(120):
        fields: dict[str, Any] = {"host.name": rng.choice(["lima-fw1", "LIMA-sw2", "was-srv1"]),
                                  "log.syslog.appname": rng.choice(["sshd", "sudo", "kernel"])}  # fmt: skip
        if i % 7:
            fields["user.name"] = rng.choice(USERS)
        if i % 5:
            fields["source.ip"] = rng.choice(IPS)
        verb = rng.choice(["Failed password", "Accepted publickey", "session opened"])
        # several events share a microsecond: the order falls to event.id
        at = NOW - timedelta(minutes=50) + timedelta(seconds=(i // 3) * 20)
        doc = make_event(
            rng.choice(["registros.sshd", "registros.auth"]), timestamp=at,
            message=f"{verb} for {fields.get('user.name', '-')} from {fields.get('source.ip')}",
            outcome=rng.choice(["success", "failure"]), fields=fields,
        )  # fmt: skip
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    pytest.importorskip("pukara.store.elastic", reason="el almacén del clúster aún no está")
    from pukara.store.elastic import cluster_engine

    cluster: OpenSearchCluster = request.getfixturevalue("opensearch")
    url = ",".join(cluster.urls)
    tmp = tmp_path_factory.mktemp("buscar-cluster")
    docs = _events()
    with SQLiteStore(tmp / "sqlite.db") as store:
        store.write_events(docs)
    settings = load_settings({"data_dir": tmp, "es_url": url, "timeout_s": 30.0}, environ={})
    engine = cluster_engine(settings, install=True)
    try:
        body = b"".join(
            orjson.dumps({"create": {"_index": stream_name(d["event"]["dataset"]),
                                     "_id": d["event"]["id"]}}) + b"\n" + orjson.dumps(d) + b"\n"
            for d in docs
        )  # fmt: skip
        assert all(r.status == 201 for r in engine.bulk(body))
        engine.refresh(ALL_STREAMS)
        yield tmp / "sqlite.db", url
    finally:
        engine.close()
        cluster.request("DELETE", "/_data_stream/pukara-*")


SINCE = (NOW - timedelta(hours=2)).isoformat()
# a window whose edges fall between events (20 s apart), in absolute time: both runs agree
PART = [(NOW - timedelta(minutes=m, seconds=10)).isoformat() for m in (45, 40)]
ASKED = [
    ["buscar", "-f", "json", "--desde", SINCE],
    ["buscar", "-f", "json", "--desde", SINCE, "--limite", "7"],
    ["buscar", "-f", "json", "--desde", SINCE, "user.name=root"],
    ["buscar", "-f", "json", "--desde", SINCE, "user.name!=root", "host.name=lima-*"],
    ["buscar", "-f", "json", "--desde", SINCE, "user.name=R*", "event.outcome!=success"],
    ["buscar", "-f", "json", "--desde", SINCE, "source.ip=198.18.0.0/16"],
    ["buscar", "-f", "json", "--desde", SINCE, "--texto", "FAILED root"],
    ["buscar", "-f", "json", "--desde", SINCE, "--conjunto", "registros.auth", "--limite", "0"],
    ["buscar", "-f", "csv", "--desde", PART[0], "--hasta", PART[1]],
    ["resumen", "-f", "json", "--desde", SINCE],
    ["resumen", "-f", "json", "--desde", SINCE, "--top", "2", "--campos", "source.ip,user.name"],
    ["resumen", "-f", "json", "--desde", SINCE, "event.outcome=failure", "--campos", "host.name"],
]


@pytest.mark.parametrize("args", ASKED, ids=lambda a: " ".join(a))
def test_the_same_answer_from_both_stores(
    stores: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, args: list[str],
) -> None:  # fmt: skip
    db, url = stores
    code, on_sqlite, err = main(["--base-datos", str(db), "registros", *args]), *capsys.readouterr()
    assert code == 0, err
    monkeypatch.setenv("PUKARA_ES_URL", url)
    monkeypatch.setenv("PUKARA_TIMEOUT_S", "30")
    local = tmp_path / "local.db"  # entities and the rest: nothing needed here
    code, on_cluster, err = (
        main(["--base-datos", str(local), "registros", *args]),
        *capsys.readouterr(),
    )
    assert code == 0, err
    assert on_cluster == on_sqlite
    assert on_sqlite.strip() not in ("", "[]")
