"""The OpenSearch adapter trusts what detection trusts: es_ca, or the
system's CAs; never certifi's bundle. A real TLS endpoint on loopback with a CA made here
and trusted only through SSL_CERT_FILE (the system store's override), without es_ca."""

from __future__ import annotations

import json
import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pukara.store.cluster.detect import Connection, detect
from pukara.store.cluster.opensearch import OpenSearchEngine
from tests.cli.test_cluster_store import _self_signed

ANSWERS: dict[str, Any] = {
    "/": {"name": "n1", "cluster_name": "rree", "tagline": "The OpenSearch Project: https://opensearch.org/",
          "version": {"distribution": "opensearch", "number": "2.19.1", "lucene_version": "9.12.1"}},
    "/_cat/plugins": [],
    "/_cluster/health": {"cluster_name": "rree", "status": "green"},
}  # fmt: skip


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = _self_signed(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(ANSWERS.get(self.path.split("?")[0], {})).encode()
            self.send_response(200 if self.path.split("?")[0] in ANSWERS else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    httpd.shutdown()
    httpd.server_close()


def test_a_cluster_signed_by_a_ca_of_the_system_store_is_reached_without_es_ca(
    https: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = https
    # the ministry's CA in the system store: what OpenSSL's default verify paths see
    # (os.putenv reaches OpenSSL's getenv, not os.environ, which opensearch-py reads to
    # choose certifi's bundle instead)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    os.putenv("SSL_CERT_FILE", str(cert))
    try:
        conn = Connection((url,), timeout_s=5.0)
        info, _ = detect(conn)
        engine = OpenSearchEngine(conn, info)
        try:
            assert engine.health()["status"] == "green"
        finally:
            engine.close()
    finally:
        os.unsetenv("SSL_CERT_FILE")
