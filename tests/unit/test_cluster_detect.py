"""Engine detection with a plain GET /: a real HTTP server on loopback answers with the bodies
and headers each engine sends (recorded shapes of OpenSearch 2.19 and Elasticsearch 8/9 and 7
root answers, named as such), so every refusal is a Spanish message naming what to fix."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pukara.config import load_settings
from pukara.errors import ConfigError
from pukara.store.cluster import detect as d
from pukara.store.cluster.engine import EngineUnavailable

OPENSEARCH_ROOT = {  # recorded: GET / of OpenSearch 2.19.1
    "name": "Node 1", "cluster_name": "rree",
    "version": {"distribution": "opensearch", "number": "2.19.1", "lucene_version": "9.12.1"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}  # fmt: skip


def es_root(number: str) -> dict[str, Any]:  # recorded shape: GET / of Elasticsearch
    return {"name": "es01", "cluster_name": "rree",
            "version": {"number": number, "build_flavor": "default"},
            "tagline": "You Know, for Search"}  # fmt: skip


class _Server:
    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = b""
        self.headers: dict[str, str] = {}
        self.seen_auth: list[str | None] = []


@pytest.fixture
def server() -> Iterator[tuple[_Server, str]]:
    state = _Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen_auth.append(self.headers.get("Authorization"))
            self.send_response(state.status)
            for k, v in state.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _conn(url: str, **kw: Any) -> d.Connection:
    return d.Connection((url,), timeout_s=2.0, **kw)


def test_opensearch_is_recognised(server: tuple[_Server, str]) -> None:
    state, url = server
    state.body = json.dumps(OPENSEARCH_ROOT).encode()
    info, node = d.detect(_conn(url))
    assert (info.distribution, info.version, info.cluster_name) == (
        "opensearch", (2, 19, 1), "rree"
    )  # fmt: skip
    assert node == url and info.label == "OpenSearch 2.19.1"


@pytest.mark.parametrize("number", ["8.19.3", "9.2.0"])
def test_elasticsearch_8_and_9_are_spoken_by_the_8_19_client(
    server: tuple[_Server, str], number: str
) -> None:
    state, url = server
    state.body = json.dumps(es_root(number)).encode()
    state.headers = {"X-Elastic-Product": "Elasticsearch"}
    info, _ = d.detect(_conn(url))
    assert info.distribution == "elasticsearch" and info.version[0] == int(number[0])


def test_a_9_client_facing_elasticsearch_names_the_client_to_install(
    server: tuple[_Server, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = server
    state.body = json.dumps(es_root("8.15.0")).encode()
    state.headers = {"X-Elastic-Product": "Elasticsearch"}
    monkeypatch.setattr(d, "client_version", lambda pkg: (9, 5))
    with pytest.raises(ConfigError, match=r"elasticsearch>=8.19,<9"):
        d.detect(_conn(url))


def test_elasticsearch_7_and_unknown_servers_are_refused(server: tuple[_Server, str]) -> None:
    state, url = server
    state.body = json.dumps(es_root("7.10.2")).encode()
    with pytest.raises(ConfigError, match="Elasticsearch 8 y 9"):
        d.detect(_conn(url))
    state.body = b"<html>router</html>"
    with pytest.raises(ConfigError, match="no devolvió JSON"):
        d.detect(_conn(url))
    state.body = b'{"hello": "world"}'
    with pytest.raises(ConfigError, match="no dice la versión"):
        d.detect(_conn(url))


def test_rejected_credentials_name_the_profile_and_are_sent_only_as_a_header(
    server: tuple[_Server, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = server
    state.status, state.body = 401, b'{"error":"unauthorized"}'
    monkeypatch.setenv("PUKARA_CRED_REGISTROS_USERNAME", "pukara")
    monkeypatch.setenv("PUKARA_CRED_REGISTROS_PASSWORD", "s3creta-no-mostrar")
    settings = load_settings(
        {"data_dir": tmp_path, "es_url": url, "es_usuario": "registros"}, environ={}
    )
    conn = d.connection_from_settings(settings)
    assert "s3creta" not in repr(conn)
    with pytest.raises(ConfigError) as e:
        d.detect(conn)
    assert "«registros»" in str(e.value) and "HTTP 401" in str(e.value)
    assert "s3creta" not in str(e.value)
    assert state.seen_auth[-1] and state.seen_auth[-1].startswith("Basic ")


def test_a_closed_port_is_unavailable_not_a_config_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineUnavailable, match="no responde"):
        d.detect(_conn(f"http://127.0.0.1:{port}"))


@pytest.mark.parametrize(
    ("text", "needle"),
    [("ftp://x", "http:// o https://"), ("https://u:p@x:9200", "perfil de credenciales"),
     ("http://x:99999", "no es una URL válida"), (" , ", "vacío"), ("http://x/?a=1", "«?»")],
)  # fmt: skip
def test_bad_urls_are_refused_in_spanish(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        d.parse_urls(text)


def test_several_nodes_are_tried_in_order(server: tuple[_Server, str]) -> None:
    state, url = server
    state.body = json.dumps(OPENSEARCH_ROOT).encode()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    _, node = d.detect(d.Connection(d.parse_urls(f"{dead},{url}"), timeout_s=2.0))
    assert node == url
