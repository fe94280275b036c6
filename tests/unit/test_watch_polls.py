"""Which devices a round polls: only the watched sites', alongside the probes."""

from __future__ import annotations

import socket
from pathlib import Path

from monitoreo.prober import ProbeOptions, Target
from monitoreo.sites import Site
from monitoreo.watch import Watcher
from pukara.store import SQLiteStore


def _site(code: str) -> Site:
    # a credential profile that holds nothing: polling it is a quick, named failure
    return Site(code, code, "UTC", "127.0.0.1", f"gw-{code}", None, None, 99.0, 5.0, 500.0,
                False, None, None, "vacio")  # fmt: skip


def test_a_round_polls_only_the_watched_sites_devices(tmp_path: Path) -> None:
    up = socket.create_server(("127.0.0.1", 0))
    port = up.getsockname()[1]
    store = SQLiteStore(tmp_path / "p.db")
    try:
        known = {c: _site(c) for c in ("a", "b", "c", "d")}  # the inventory
        targets = [Target(c, "127.0.0.1", port, c) for c in ("a", "b")]  # what is watched
        w = Watcher(store, known, targets, ProbeOptions(1, 1, 20, 300),
                    tmp_path / "cola" / "m.jsonl")  # fmt: skip
        report = w.watch(0.1, max_rounds=2)
        assert report.rounds == 2
        links = list(store.search_events(dataset="monitoreo.enlace"))
        assert sorted(e["host"]["name"] for e in links) == ["a", "a", "b", "b"]
        assert all("sin credenciales SNMP" in e["error"]["message"] for e in links)
    finally:
        store.close()
        up.close()
