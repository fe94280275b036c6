"""Maintenance windows kept by vigilar: a malformed one is reported, never fatal."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitoreo import maintenance
from monitoreo.prober import ProbeOptions, Target
from monitoreo.sites import Site
from monitoreo.spool import WriterHealth
from monitoreo.states import Policy, Tracker
from monitoreo.watch import Watcher
from pukara.store import SQLiteStore

T0 = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)
FAST = ProbeOptions(count=2, interval_ms=1, period_ms=20, timeout_ms=300)


@pytest.mark.parametrize(
    "bad",
    [
        {"site": "b", "start": "2026-10-05T15:00:00Z"},  # no end: KeyError
        {"site": "b", "start": "2026-10-05T15:00:00Z", "end": "mañana"},  # ValueError
        {"site": "b", "start": "2026-10-05T15:00:00Z", "end": 7},  # TypeError
    ],
)
def test_a_malformed_window_is_an_error_and_the_last_windows_stay(
    tmp_path: Path, bad: dict[str, object]
) -> None:
    with SQLiteStore(tmp_path / "m.db") as store:
        maintenance.add(store, "a", T0, T0 + timedelta(hours=1), "obra")
        cache = maintenance.WindowCache(store)
        assert cache.active(T0) == frozenset({"a"}) and cache.error is None
        store.upsert(maintenance.COLLECTION, [bad], key=maintenance.KEY)  # another tool's row
        assert cache.active(T0) == frozenset({"a"})  # the windows last read stay in force
        assert cache.error and "mal formada" in cache.error
        store.delete(maintenance.COLLECTION, ["b", "2026-10-05T15:00:00Z"])
        assert cache.active(T0) == frozenset({"a"}) and cache.error is None  # back to normal


def test_vigilar_goes_on_past_a_malformed_window_and_reports_it(tmp_path: Path) -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    store = SQLiteStore(tmp_path / "pukara.db", busy_timeout_ms=50)
    store.upsert(maintenance.COLLECTION, [{"site": "a", "start": "x"}], key=maintenance.KEY)
    site = Site("a", "a", "America/Lima", "127.0.0.1", None, None, None, 99.0, 5.0, 500.0,
                False, None, None, None)  # fmt: skip
    reported: list[WriterHealth] = []
    clock = iter(T0 + timedelta(minutes=i) for i in range(100))
    w = Watcher(store, {"a": site}, [Target("a", "127.0.0.1", port, "a")], FAST,
                tmp_path / "cola" / "m.jsonl", tracker=Tracker(Policy(isolated_min_sites=10)),
                snmp=False, clock=lambda: next(clock), on_health=reported.append)  # fmt: skip
    w.start()
    try:
        for _ in range(3):
            w.round()
        assert w.rounds_done == 3 and w.tracker.states["a"].state == "up"
    finally:
        w.close()
        store.close()
        listening.close()
    assert reported and all(
        any("ventanas de mantenimiento" in r and "mal formada" in r for r in h.reports)
        for h in reported
    )
