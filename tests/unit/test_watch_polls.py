"""Which devices a round polls: only the watched sites', alongside the probes."""

from __future__ import annotations

import dataclasses
import json
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


def test_snmp_failures_are_said_once_per_cause_and_kept_for_estado(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() != 0:
        skip_or_fail("escuchar en el puerto 161 necesita root")
    from cli import main
    from monitoreo.device import SnmpChange

    creds = tmp_path / "credenciales.toml"
    creds.write_text('[archivo]\ncommunity = "c0munidad"\n')
    creds.chmod(0o644)  # readable by everyone: refused
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))
    silent = [_agent(a) for a in ("127.0.0.2", "127.0.0.4")]  # agents that never answer
    up = socket.create_server(("127.0.0.1", 0))
    store = SQLiteStore(tmp_path / "p.db")
    changes: list[SnmpChange] = []
    try:
        known = {"a": _site("a", "127.0.0.2"), "c": _site("c", "127.0.0.4"),
                 "b": dataclasses.replace(_site("b", "127.0.0.3"), credential_profile=None)}  # fmt: skip
        known["a"] = dataclasses.replace(known["a"], credential_profile="archivo")
        known["c"] = dataclasses.replace(known["c"], credential_profile="archivo")
        targets = [Target(c, "127.0.0.1", up.getsockname()[1], c) for c in known]
        w = Watcher(store, known, targets, ProbeOptions(1, 1, 20, 300),
                    tmp_path / "cola" / "m.jsonl", poller=Poller(timeout_s=0.2, retries=0),
                    on_snmp=changes.append)  # fmt: skip
        w.start()
        try:
            for _ in range(3):
                w.round()
            lines = len(changes)  # a and c share one cause: one line for both
            first = [(s, c.now.reason) for c in changes for s in (c.now.site, *c.together)]
            creds.chmod(0o600)  # fixed: the agents are asked now, and do not answer
            for _ in range(3):
                w.round()
        finally:
            w.close()
    finally:
        store.close()
        for s in (*silent, up):
            s.close()
    assert sorted(s for s, _ in first) == ["a", "b", "c"]  # once each in three rounds
    reasons = dict(first)
    assert "permisos -rw-r--r-- demasiado abiertos" in (reasons["a"] or "")
    assert "chmod 600" in (reasons["a"] or "")
    assert reasons["b"] == ("sin credenciales: el equipo gw-b no tiene perfil de credenciales "
                            "(credential_profile) en el inventario")  # fmt: skip
    assert lines == 2
    later = [(s, c.now.reason, c.previous.reason if c.previous else None)
             for c in changes[lines:] for s in (c.now.site, *c.together)]  # fmt: skip
    assert sorted(s for s, _, _ in later) == ["a", "c"]  # the cause changed: said again, once
    assert all("tiempo agotado" in (r or "") and "permisos" in (p or "") for _, r, p in later)
    with SQLiteStore(tmp_path / "p.db") as db:
        said = list(db.search_events(dataset="monitoreo.snmp"))
    assert len(said) == 5 and all(e["event"]["outcome"] == "failure" for e in said)
    assert main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "estado",
                 "--formato", "json"]) == 0  # fmt: skip
    rows = {r["entity"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["b"]["snmp"] == "falla" and rows["b"]["snmp_device"] == "gw-b"
    assert rows["b"]["snmp_reason"].startswith("sin credenciales")
    assert rows["a"]["snmp"] == "falla" and "tiempo agotado" in rows["a"]["snmp_reason"]


def test_an_overrun_is_said_on_the_console_at_most_once_a_minute(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from monitoreo.cli import _Overrun

    said = _Overrun()
    said(6.25, 5.0)
    said(7.5, 5.0)  # seconds later: not again
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("la ronda tardó") == 1 and "tardó 6.25 s, más que --ronda 5.00 s" in err


def test_a_failure_a_previous_run_left_ends_when_the_device_answers() -> None:
    from monitoreo.device import DevicePoll, SnmpStatus, track

    earlier = {"a": SnmpStatus("a", "gw-a", False, "archivo de credenciales 0644", "t0"),
               "b": SnmpStatus("b", "gw-b", True, None, "t0")}  # fmt: skip
    answers = [DevicePoll(c, None, "eth0", True, None, 1, "lab") for c in ("a", "b")]
    statuses: dict[str, SnmpStatus] = {}
    changes = track(statuses, answers, {"a": "gw-a", "b": "gw-b"}, "t1", earlier)
    assert [(c.now.site, c.recovered, c.message) for c in changes] == [
        ("a", True, "SNMP a (gw-a): recuperado, el equipo responde")]  # fmt: skip
    assert statuses["a"].ok and statuses["a"].since == "t1" and statuses["b"].since == "t0"
    assert track(statuses, answers, {"a": "gw-a", "b": "gw-b"}, "t2", earlier) == []  # once


def test_snmp_is_not_judged_for_a_site_that_gives_no_answer_or_a_monitor_cut_off(
    tmp_path: Path,
) -> None:
    from monitoreo.device import SnmpChange
    from monitoreo.states import Policy, Tracker

    up = socket.create_server(("127.0.0.1", 0), backlog=64)
    silent = socket.socket()  # a listener whose accept queue is full: SYNs are dropped
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    fill = [socket.socket() for _ in range(3)]
    for c in fill:
        c.setblocking(False)
        c.connect_ex(silent.getsockname())
    store = SQLiteStore(tmp_path / "p.db")
    said: list[SnmpChange] = []
    try:
        # no credential profile: each device's poll fails without a request being sent
        known = {c: dataclasses.replace(_site(c, "127.0.0.1"), credential_profile=None)
                 for c in "abcd"}  # fmt: skip
        port = {"a": up.getsockname()[1]} | {c: silent.getsockname()[1] for c in "bcd"}
        targets = [Target(c, "127.0.0.1", port[c], c) for c in "ab"]
        w = Watcher(store, known, targets, ProbeOptions(1, 1, 20, 200), tmp_path / "c" / "m.jsonl",
                    tracker=Tracker(Policy(isolated_min_sites=10)), on_snmp=said.append)  # fmt: skip
        w.start()
        try:
            for _ in range(3):
                w.round()
            assert [c.now.site for c in said] == ["a"]  # b's link is down: its alert says it
            w.targets = [Target(c, "127.0.0.1", up.getsockname()[1], c) for c in "ab"]
            for _ in range(4):  # b answers again (up after 3 rounds): its SNMP failure remains
                w.round()
        finally:
            w.close()
        assert [c.now.site for c in said] == ["a", "b"]
        assert said[1].now.reason and said[1].now.reason.startswith("sin credenciales")
        # every watched site silent: the monitor is cut off, and SNMP says nothing either
        said.clear()
        cut = [Target(c, "127.0.0.1", port[c], c) for c in "bcd"]
        w2 = Watcher(store, known, cut, ProbeOptions(1, 1, 20, 200), tmp_path / "d" / "m.jsonl",
                     tracker=Tracker(Policy(isolated_min_sites=3)), on_snmp=said.append)  # fmt: skip
        w2.watch(0.05, max_rounds=2)
        assert w2.tracker.isolated and said == []
    finally:
        store.close()
        for s in (up, silent, *fill):
            s.close()


def test_snmp_is_not_judged_while_the_sites_link_is_degraded(tmp_path: Path) -> None:
    from monitoreo.states import DEGRADED, DOWN, UP, EntityState

    store = SQLiteStore(tmp_path / "p.db")
    try:
        known = {c: _site(c, "127.0.0.1") for c in "abc"}
        w = Watcher(store, known, [], ProbeOptions(1, 1, 20, 200), tmp_path / "c" / "m.jsonl")
        for code, state in zip("abc", (UP, DEGRADED, DOWN), strict=True):
            w.tracker.states[code] = EntityState(code, state)
        assert w._snmp_held([]) == {"b", "c"}  # a lossy link's SNMP timeouts are its alert's
    finally:
        store.close()
