"""Cluster mode from the command line: what an operator sees when es_url, es_usuario or es_ca
is wrong. The HTTPS cases run against a real TLS endpoint: a tiny stdlib HTTPS server on
loopback with a self-signed certificate made here (it is not a cluster: it answers 401 or the
recorded GET / of OpenSearch 2.19.1)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pukara.store import SQLiteStore
from tests.cli.test_cli import run


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pukara-prueba")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "ca.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _State:
    status = 401
    body = b'{"error":"unauthorized"}'
    seen: list[str | None]

    def __init__(self) -> None:
        self.seen = []


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[_State, str, Path]]:
    cert, key = _self_signed(tmp_path)
    state = _State()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append(self.headers.get("Authorization"))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"https://127.0.0.1:{httpd.server_address[1]}", cert
    httpd.shutdown()
    httpd.server_close()


def _capacity(folder: Path) -> list[str]:
    """``inventario informe capacidad`` on a database with one server: it reads events."""
    db = folder / "p.db"
    with SQLiteStore(db) as store:
        store.upsert("asset", [{"name": "srv1", "kind": "servidor_fisico"}], key=["name"])
    return ["--base-datos", str(db), "inventario", "informe", "capacidad"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_entities_and_the_change_log_need_no_cluster_but_events_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:
        store.upsert("sede", [{"code": "lima"}], key=["code"])
    monkeypatch.setenv("PUKARA_ES_URL", f"http://127.0.0.1:{_closed_port()}")
    code, out, _ = run(capsys, "--base-datos", str(db), "cambios", "listar", "-f", "json")
    assert code == 0 and json.loads(out)[0]["collection"] == "sede"  # from SQLite
    # the capacity report reads the latest measurements: events, from the cluster
    code, _, err = run(capsys, "--base-datos", str(db), "inventario", "informe", "capacidad")
    text = " ".join(err.split())
    assert code == 1 and "no responde" in text and "127.0.0.1" in text


def test_an_untrusted_certificate_names_es_ca(
    https: tuple[_State, str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url, _ = https
    monkeypatch.setenv("PUKARA_ES_URL", url)
    code, _, err = run(capsys, *_capacity(tmp_path))
    text = " ".join(err.split())
    assert code == 1 and "certificado no confiable" in text and "es_ca" in text


def test_wrong_credentials_name_the_profile_never_the_password(
    https: tuple[_State, str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, url, ca = https
    monkeypatch.setenv("PUKARA_ES_URL", url)
    monkeypatch.setenv("PUKARA_ES_CA", str(ca))  # now trusted: TLS verified, then 401
    monkeypatch.setenv("PUKARA_ES_USUARIO", "registros")
    monkeypatch.setenv("PUKARA_CRED_REGISTROS_USERNAME", "pukara")
    monkeypatch.setenv("PUKARA_CRED_REGISTROS_PASSWORD", "s3creta-no-mostrar")
    code, out, err = run(capsys, *_capacity(tmp_path))
    text = " ".join(err.split())
    assert code == 1 and "HTTP 401" in text and "«registros»" in text
    assert "s3creta" not in out + err
    assert state.seen and (state.seen[-1] or "").startswith("Basic ")


def test_a_missing_profile_or_ca_file_is_refused_before_anything_is_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUKARA_ES_URL", "https://127.0.0.1:9200")
    monkeypatch.setenv("PUKARA_ES_CA", str(tmp_path / "no-existe.pem"))
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "cambios", "listar")
    assert code == 1 and "es_ca=" in err and "no existe" in err
    monkeypatch.delenv("PUKARA_ES_CA")
    monkeypatch.setenv("PUKARA_ES_USUARIO", "nadie")
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "cambios", "listar")
    assert code == 1 and "es_usuario=nadie" in err
    assert not (tmp_path / "p.db").exists()


def test_with_the_cluster_away_events_wait_in_the_outbox(tmp_path: Path) -> None:
    import time

    from pukara.config import load_settings
    from pukara.events import make_event
    from pukara.store import open_store
    from pukara.store.elastic import ElasticStore
    from pukara.store.outbox import Outbox

    url = f"http://127.0.0.1:{_closed_port()}"
    settings = load_settings({"data_dir": tmp_path, "es_url": url}, environ={})
    store = open_store(settings)
    assert isinstance(store, ElasticStore)
    store.flush_timeout_s = 1.0
    events = [make_event("monitoreo.sondeo", fields={"host.name": f"s{i}"}) for i in range(10)]
    assert store.write_events(events) == 10  # committed locally, whatever the cluster does
    assert store.write_events(events[:3]) == 0  # the same events: queued once
    started = time.monotonic()
    store.close()  # a bounded wait for the shipper, then the events stay on disk
    assert time.monotonic() - started < 20
    with SQLiteStore(settings.db) as local:
        assert Outbox(local, limit=settings.outbox_limit).backlog() == 10


def test_estado_with_the_cluster_away_counts_this_base_not_the_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:
        store.write_events([{"@timestamp": "2026-11-02T08:00:00.000000Z",
                             "event": {"dataset": "prueba.local", "id": f"e{i}"}}
                            for i in range(3)])  # fmt: skip
    monkeypatch.setenv("PUKARA_ES_URL", f"http://127.0.0.1:{_closed_port()}")
    code, _, err = run(capsys, "--base-datos", str(db), "almacen", "estado")
    text = " ".join(err.split())
    assert code == 3 and "3 eventos en esta base." in text and "no disponible" in text
    assert "en el clúster." not in text  # nothing is claimed of a cluster that is away
