"""A delete by query that outlasts ``timeout_s`` is waited for, not cut: a
loopback server that takes longer than the connection's timeout to answer it, as a cluster
deleting millions of events does, for both adapters."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pukara.store.cluster.detect import Connection, detect
from pukara.store.cluster.elasticsearch import ElasticsearchEngine
from pukara.store.cluster.engine import SearchEngine
from pukara.store.cluster.opensearch import OpenSearchEngine

RECORDED = Path(__file__).parents[1] / "data" / "es" / "grabado-8.19.json"
OS_ROOT = {
    "name": "n1", "cluster_name": "rree", "tagline": "The OpenSearch Project: https://opensearch.org/",
    "version": {"distribution": "opensearch", "number": "2.19.1", "lucene_version": "9.12.1"},
}  # fmt: skip
ES_HEADERS = {
    "X-Elastic-Product": "Elasticsearch",
    "Content-Type": "application/vnd.elasticsearch+json;compatible-with=8",
}
SLOW_S = 1.5  # the delete by query's answer comes after this, over the 0.5 s timeout


def _es_root() -> Any:
    exchanges = json.loads(RECORDED.read_text())["exchanges"]
    return next(x["body"] for x in exchanges if x["method"] == "GET" and x["path"] == "/")


def _serve(root: Any, headers: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            path = self.path.split("?")[0]
            seen.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body: Any = {}
            if path == "/":
                body = root
            elif path == "/_cat/plugins":
                body = []
            elif path.endswith("/_delete_by_query"):
                time.sleep(SLOW_S)
                body = {"deleted": 3, "failures": [], "timed_out": False}
            out = json.dumps(body).encode()
            self.send_response(200)
            for k, v in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(params=["opensearch", "elasticsearch"])
def slow(request: pytest.FixtureRequest) -> Iterator[tuple[SearchEngine, list[str]]]:
    es = request.param == "elasticsearch"
    for url, seen in _serve(_es_root() if es else OS_ROOT, ES_HEADERS if es else {}):
        conn = Connection((url,), timeout_s=0.5)
        info, _ = detect(conn)
        engine: SearchEngine = (
            ElasticsearchEngine(conn, info) if es else OpenSearchEngine(conn, info)
        )
        yield engine, seen
        engine.close()


def test_a_long_delete_by_query_is_waited_for(slow: tuple[SearchEngine, list[str]]) -> None:
    engine, seen = slow
    match = {"query": {"range": {"@timestamp": {"lt": "2026-01-01T00:00:00Z"}}}}
    assert engine.delete_by_query("pukara-eventos-*", match) == 3
    dbq = [s for s in seen if "_delete_by_query" in s]
    assert len(dbq) == 1 and "slices=auto" in dbq[0]
