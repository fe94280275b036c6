"""The devices' SNMP problems on the console: one line per cause, the credentials file re-read.

A real watcher, a real credentials file and real SNMP requests to loopback addresses where
no agent listens (they time out at once: 0.2 s, no retry).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoreo.device import Poller, SnmpChange
from monitoreo.prober import ProbeOptions, Target
from monitoreo.sites import Site
from monitoreo.watch import Watcher
from pukara.store import SQLiteStore

CODES = ("a", "b", "c")


def _site(code: str, n: int, profile: str = "prueba") -> Site:
    return Site(code, code, "UTC", f"127.0.0.{10 + n}", f"gw-{code}", None, None, 99.0, 5.0,
                500.0, False, None, None, profile)  # fmt: skip


@pytest.fixture
def creds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "creds.toml"
    path.write_text('[prueba]\ncommunity = "c0munidad"\n')
    path.chmod(0o600)
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(path))
    for name in [k for k in os.environ if k.startswith("PUKARA_CRED_")]:
        monkeypatch.delenv(name)
    return path


@pytest.fixture
def port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as up:  # what the rounds probe: it answers
        yield up.getsockname()[1]


def _watch(tmp_path: Path, sites: dict[str, Site], port: int) -> tuple[Watcher, list[SnmpChange]]:
    said: list[SnmpChange] = []
    targets = [Target(c, "127.0.0.1", port, c) for c in sites]
    w = Watcher(SQLiteStore(tmp_path / "p.db"), sites, targets, ProbeOptions(1, 1, 20, 300),
                tmp_path / "cola" / "m.jsonl", poller=Poller(timeout_s=0.2, retries=0),
                on_snmp=said.append)  # fmt: skip
    w.start()
    return w, said


def test_an_open_credentials_file_is_one_line_and_a_chmod_during_the_run_is_noticed(
    tmp_path: Path, creds: Path, port: int
) -> None:
    w, said = _watch(tmp_path, {c: _site(c, i) for i, c in enumerate(CODES)}, port)
    try:
        w.round()  # 0600: each device is polled, none answers: one cause, one line
        assert [c.message.count("afecta a 3 equipos") for c in said] == [1], [
            c.message for c in said
        ]
        said.clear()
        creds.chmod(0o644)  # while the watch runs
        w.round()
        assert len(said) == 1, [c.message for c in said]
        text = said[0].message
        assert str(creds) in text and "demasiado abiertos" in text
        assert "afecta a 3 equipos: a, b, c" in text
        said.clear()
        w.round()
        assert said == []  # the same cause is not said again
    finally:
        w.close()
        w.store.close()


def test_an_unknown_profile_is_the_named_error_of_discovery(
    tmp_path: Path, creds: Path, port: int
) -> None:
    w, said = _watch(tmp_path, {"e": _site("e", 0, profile="noexiste")}, port)
    try:
        w.round()
    finally:
        w.close()
        w.store.close()
    (change,) = said
    assert "perfil de credenciales «noexiste» desconocido" in change.message
    assert f"no está en el archivo de credenciales {creds}" in change.message
    assert "PUKARA_CRED_NOEXISTE_*" in change.message
