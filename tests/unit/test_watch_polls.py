"""Which devices a round polls: only the watched sites', alongside the probes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from monitoreo.device import Poller
from monitoreo.prober import ProbeOptions, Target
from monitoreo.sites import Site
from monitoreo.watch import Watcher
from pukara.store import SQLiteStore
from tests.conftest import skip_or_fail


def _site(code: str, address: str) -> Site:
    return Site(code, code, "UTC", address, f"gw-{code}", None, None, 99.0, 5.0, 500.0,
                False, None, None, "prueba")  # fmt: skip


def _agent(address: str) -> socket.socket:
    """A UDP socket where an SNMP agent would listen: it counts what reaches it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 161))
    sock.setblocking(False)
    return sock


def _received(sock: socket.socket) -> int:
    n = 0
    while True:
        try:
            sock.recv(65535)
        except BlockingIOError:
            return n
        n += 1


def test_a_round_polls_only_the_watched_sites_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        skip_or_fail("escuchar en el puerto 161 necesita root")
    monkeypatch.setenv("PUKARA_CRED_PRUEBA_COMMUNITY", "c0munidad")
    watched, other = _agent("127.0.0.2"), _agent("127.0.0.3")
    up = socket.create_server(("127.0.0.1", 0))
    store = SQLiteStore(tmp_path / "p.db")
    try:
        known = {"a": _site("a", "127.0.0.2"), "c": _site("c", "127.0.0.3")}  # the inventory
        targets = [Target("a", "127.0.0.1", up.getsockname()[1], "a")]  # what is watched
        w = Watcher(store, known, targets, ProbeOptions(1, 1, 20, 300),
                    tmp_path / "cola" / "m.jsonl",
                    poller=Poller(timeout_s=0.2, retries=0))  # fmt: skip
        assert w.watch(0.1, max_rounds=2).rounds == 2
        assert _received(watched) >= 2  # one request a round, unanswered
        assert _received(other) == 0  # a site of the inventory that nobody watches
        links = list(store.search_events(dataset="monitoreo.enlace"))
        assert [e["host"]["name"] for e in links] == ["a", "a"]
    finally:
        store.close()
        for s in (watched, other, up):
            s.close()


def test_vigilar_cuts_the_snmp_wait_to_fit_the_round() -> None:
    from monitoreo.cli import watch_poller
    from pukara.config import load_settings

    settings = load_settings(environ={})  # timeout_s 5 s, 2 tries
    assert watch_poller(settings, 5.0).timeout_s == 2.0
    assert watch_poller(settings, 30.0).timeout_s == 5.0
    assert watch_poller(settings).timeout_s == 5.0


def test_a_round_longer_than_its_period_is_reported(tmp_path: Path) -> None:
    up = socket.create_server(("127.0.0.1", 0))
    store = SQLiteStore(tmp_path / "p.db")
    overruns: list[tuple[float, float]] = []
    try:
        targets = [Target("a", "127.0.0.1", up.getsockname()[1], "a")]
        known = {"a": _site("a", "127.0.0.1")}
        w = Watcher(store, known, targets, ProbeOptions(3, 1, 60, 300), tmp_path / "cola" / "m.jsonl",
                    snmp=False, on_overrun=lambda took, period: overruns.append((took, period)))  # fmt: skip
        w.watch(0.05, max_rounds=2)  # three probes 60 ms apart cannot fit in 50 ms
        assert len(overruns) == 2 and all(took > period == 0.05 for took, period in overruns)
        w2 = Watcher(store, known, targets, ProbeOptions(1, 1, 20, 300), tmp_path / "cola2" / "m.jsonl",
                     snmp=False, on_overrun=lambda took, period: overruns.append((took, period)))  # fmt: skip
        w2.watch(1.0, max_rounds=1)
        assert len(overruns) == 2  # a round inside its period says nothing
    finally:
        store.close()
        up.close()
