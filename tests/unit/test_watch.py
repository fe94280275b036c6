"""The watcher over loopback TCP targets, a real SQLite store, spool and hook processes."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitoreo import maintenance
from monitoreo.notify import Hooks
from monitoreo.prober import ProbeOptions, Target
from monitoreo.rounds import TargetRound
from monitoreo.sites import Site
from monitoreo.spool import SpoolBusy, SpoolingWriter, SpoolLock, WriterHealth
from monitoreo.states import Notice, Policy, Tracker
from monitoreo.stats import summarize
from monitoreo.watch import Watcher, _writer_store, tunnel_verdict
from pukara.store import SQLiteStore

FAST = ProbeOptions(count=2, interval_ms=1, period_ms=20, timeout_ms=300)
T0 = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)


def _site(code: str) -> Site:
    return Site(code, code, "America/Lima", "127.0.0.1", None, None, None, 99.0, 5.0, 500.0,
                False, None, None, None)  # fmt: skip


@pytest.fixture
def ports() -> Iterator[tuple[int, int]]:
    """A listening loopback port (an "up" site) and a silent one (a "down" site).

    A closed port answers with a reset, which is "refused", not down: the silent port is a
    listener whose accept queue is full, where the kernel drops every new connection attempt.
    """
    up = socket.create_server(("127.0.0.1", 0), backlog=64)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    fill = [socket.socket() for _ in range(3)]
    for c in fill:
        c.setblocking(False)
        c.connect_ex(silent.getsockname())
    time.sleep(0.05)
    yield up.getsockname()[1], silent.getsockname()[1]
    for c in [up, silent, *fill]:
        c.close()


class Clock:
    def __init__(self) -> None:
        self.now = T0 - timedelta(minutes=1)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def _watcher(tmp_path: Path, ports: tuple[int, int], **kw: object) -> tuple[Watcher, SQLiteStore]:
    store = SQLiteStore(tmp_path / "pukara.db", busy_timeout_ms=50)
    targets = [Target("a", "127.0.0.1", ports[0], "a"), Target("b", "127.0.0.1", ports[1], "b")]
    w = Watcher(store, {"a": _site("a"), "b": _site("b")}, targets, FAST,
                tmp_path / "cola" / "m.jsonl", tracker=Tracker(Policy(fall_rounds=2,
                rise_rounds=1, isolated_min_sites=10)), snmp=False, clock=Clock(),
                **kw)  # type: ignore[arg-type]  # fmt: skip
    return w, store


def _tr(received: int) -> TargetRound:
    rtts: list[float | None] = [10.0] * received + [None] * (3 - received)
    return TargetRound(Target("a/vpn", "198.18.0.1"), rtts, summarize(rtts), None)


def test_a_tunnel_nothing_could_read_is_unknown_not_down() -> None:
    assert tunnel_verdict(None, None, "sin respuesta SNMP") == (
        None, "estado desconocido: SNMP falló (sin respuesta SNMP)")  # fmt: skip
    assert tunnel_verdict(None, None)[0] is None
    assert tunnel_verdict(None, "up")[0] is True
    assert tunnel_verdict(None, "down")[0] is False and tunnel_verdict(None, "missing")[0] is False
    assert tunnel_verdict(_tr(3), None)[0] is True and tunnel_verdict(_tr(0), None)[0] is False
    assert tunnel_verdict(_tr(0), "up")[0] is False


def test_a_tunnel_that_carries_traffic_is_up_whatever_the_if_mib_says() -> None:
    """A probe through it that answers wins over a stale row listed down or missing."""
    assert tunnel_verdict(_tr(3), "down") == (
        True, "sondeo a través del túnel 3/3, aunque el equipo lo lista inactivo (IF-MIB)")  # fmt: skip
    assert tunnel_verdict(_tr(1), "missing")[0] is True
    assert tunnel_verdict(_tr(3), "up") == (
        True,
        "sondeo a través del túnel 3/3, activo en el equipo",
    )


def test_every_round_has_a_health_event_and_problems_reach_the_console(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    seen: list[WriterHealth] = []
    w, store = _watcher(tmp_path, ports, on_health=seen.append)
    w.start()
    try:
        w.round()
        assert seen == []  # healthy: nothing to say
        blocker = sqlite3.connect(tmp_path / "pukara.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            w.round()
            assert w.writer is not None
            deadline = time.monotonic() + 10
            while w.writer.health().last_error is None and time.monotonic() < deadline:
                time.sleep(0.02)
            w.round()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert seen and not seen[-1].ok and seen[-1].spooled > 0
        assert any("el almacén no recibe eventos" in r for h in seen for r in h.reports)
        deadline = time.monotonic() + 10
        while not w.writer.health().ok and time.monotonic() < deadline:
            time.sleep(0.02)
        w.round()
        assert seen[-1].ok  # and the console hears that it is over
    finally:
        report = w.close()
    assert report.leftovers() == []
    health = list(store.search_events(dataset="monitoreo.salud"))
    assert len(health) == 4
    outcomes = [h["event"]["outcome"] for h in health]
    assert outcomes[0] == "success" and outcomes[2:] == ["failure", "success"]
    assert health[2]["monitoreo"]["salud"]["spooled"] > 0 and health[2]["error"]["message"]
    ids = [e["event"]["id"] for e in store.search_events()]
    assert len(ids) == len(set(ids))
    store.close()


def test_close_reports_what_it_could_not_hand_over(tmp_path: Path, ports: tuple[int, int]) -> None:
    w, store = _watcher(tmp_path, ports)
    w.start()
    blocker = sqlite3.connect(tmp_path / "pukara.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        w.round()
        report = w.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    lines = report.leftovers()
    assert report.writer is not None and report.writer.spooled >= 3
    assert any("quedan en la cola local" in x for x in lines)
    store.close()


def test_maintenance_windows_are_read_again_only_when_they_change(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    w, store = _watcher(tmp_path, ports)
    w.start()
    try:
        for _ in range(3):
            w.round()
        assert w.windows is not None and w.windows.reads == 1
        maintenance.add(store, "b", T0, T0 + timedelta(hours=1), "obra")
        w.round()
        assert w.windows.reads == 2 and w.windows.windows[0].site == "b"
        w.round()
        assert w.windows.reads == 2
        w.windows.refresh_s = 0.0  # the periodic re-read
        w.round()
        assert w.windows.reads == 3
    finally:
        w.close()
        store.close()


def _recorder(tmp_path: Path) -> tuple[str, Path]:
    out = tmp_path / "avisos.jsonl"
    script = tmp_path / "aviso.py"
    script.write_text(
        "import sys, pathlib\n"
        f"with pathlib.Path({str(out)!r}).open('a') as fh:\n"
        "    fh.write(sys.stdin.read())  # one line of JSON, newline included\n"
    )
    return f"{sys.executable} {script}", out


def test_hooks_hear_alerts_but_never_a_muted_notice(tmp_path: Path, ports: tuple[int, int]) -> None:
    command, out = _recorder(tmp_path)
    w, store = _watcher(tmp_path, ports, hooks=Hooks.from_settings(None, command))
    w.start()
    try:
        for _ in range(3):
            w.round()  # b is down: confirmed on the second round
        maintenance.add(store, "a", T0, T0 + timedelta(days=1), "obra")
        closed = w.targets[1]
        w.targets = [w.targets[0], Target("b", "127.0.0.1", ports[0], "b")]  # b comes back
        w.round()
        w.targets = [Target("a", "127.0.0.1", closed.port, "a"), w.targets[1]]  # a, in a window
        for _ in range(3):
            w.round()
    finally:
        report = w.close()
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(e["monitoreo"]["entity"], e["event"]["action"]) for e in got] == [
        ("b", "alert"), ("b", "recovery")
    ]  # fmt: skip
    assert w.tracker.states["a"].state == "down"  # muted by its window: no hook call
    assert report.alerts is not None and report.alerts.delivered == 2
    store.close()


def test_a_slow_hook_does_not_slow_the_rounds(tmp_path: Path, ports: tuple[int, int]) -> None:
    slow = Hooks.from_settings(None, f"{sys.executable} -c 'import time; time.sleep(3)'")
    w, store = _watcher(tmp_path, ports, hooks=slow)
    w.start()
    try:
        started = time.monotonic()
        for _ in range(3):
            w.round()  # the alert for b goes to the hook on the second
        assert time.monotonic() - started < 2.5
    finally:
        w.close()
        store.close()


def test_watch_closes_and_releases_the_spool_when_a_round_fails(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    def explode(_: object) -> None:
        raise RuntimeError("fallo de la consola")

    w, store = _watcher(tmp_path, ports, on_notice=explode)
    with pytest.raises(RuntimeError):
        w.watch(0.01, max_rounds=5)
    assert w.report is not None  # closed in the finally
    with contextlib.closing(store):
        assert {e["monitoreo"]["target"] for e in store.search_events(dataset="monitoreo.sondeo")}
    again = SpoolingWriter(lambda: SQLiteStore(tmp_path / "pukara.db"), w.spool_path)
    again.close()  # the lock was released


def test_vigilar_polls_with_the_settings_timeout_and_concurrency() -> None:
    from monitoreo.cli import watch_poller
    from pukara.config import load_settings

    settings = load_settings(
        {"concurrency": 7}, environ={"PUKARA_TIMEOUT_S": "1.5", "PUKARA_DATA_DIR": "/tmp/x"}
    )
    poller = watch_poller(settings)
    assert poller.timeout_s == 1.5 and poller.concurrency == 7


def test_estado_shows_the_writer_health(
    tmp_path: Path, ports: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    w, store = _watcher(tmp_path, ports)
    w.watch(0.01, max_rounds=2)
    store.close()
    assert main(["--base-datos", str(tmp_path / "pukara.db"), "monitoreo", "estado",
                 "--formato", "json"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert {r["entity"] for r in json.loads(out)} >= {"a", "b"}
    assert "Escritor de eventos" in err and "eventos al día en el almacén" in err


def test_a_watcher_can_watch_again_after_closing(tmp_path: Path, ports: tuple[int, int]) -> None:
    w, store = _watcher(tmp_path, ports)
    first = w.watch(0.01, max_rounds=1)
    second = w.watch(0.01, max_rounds=2)
    assert first.rounds == 1 and second.rounds == 2 and second is not first
    assert len(list(store.search_events(dataset="monitoreo.salud"))) == 2
    store.close()


def test_the_close_report_names_everything_left_undone() -> None:
    from monitoreo.notify import NotifierReport
    from monitoreo.watch import WatchReport

    writer = WriterHealth(spooled=4, held=2, queued=1, dropped=5, quarantined=1, written=9,
                          last_error="base bloqueada", alive=False, states_pending=1)  # fmt: skip
    lines = WatchReport(3, writer, NotifierReport(1, 0, 2, 3), Path("/d/cola/m.jsonl")).leftovers()
    assert lines == [
        "4 eventos quedan en la cola local /d/cola/m.jsonl; se guardarán en la próxima ejecución",
        "3 eventos en memoria no llegaron ni al almacén ni a la cola local: se pierden",
        "5 eventos se descartaron durante la vigilancia",
        "el último estado de las sedes no se guardó en el almacén",
        "1 líneas dañadas de la cola quedaron en cuarentena en /d/cola/m.jsonl.cuarentena",
        "último error del almacén: base bloqueada",
        "3 avisos sin entregar a los ganchos al terminar y 2 descartados por cola llena",
    ]
    clean = WriterHealth(0, 0, 0, 0, 0, 9, None, False)
    assert WatchReport(3, clean, NotifierReport(2, 0, 0, 0)).leftovers() == []


def test_the_writer_connection_signs_with_the_analyst(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "pukara.db", actor="ana.quispe") as store:
        own = _writer_store(store)()
        own.upsert("monitor_state", [{"entity": "a", "state": "down"}], key=("entity",))
        own.close()
        (change,) = store.changes(collection="monitor_state")
        assert change.actor == "ana.quispe"


def _summary_threads() -> int:
    return sum(t.name == "pukara-resumen" and t.is_alive() for t in threading.enumerate())


def test_a_start_refused_by_a_busy_spool_leaves_no_thread_behind(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    w, store = _watcher(tmp_path, ports)
    w.spool_path.parent.mkdir()
    lock = SpoolLock(w.spool_path.with_name(w.spool_path.name + ".lock"))
    before = _summary_threads()
    try:
        with pytest.raises(SpoolBusy):
            w.start()
        assert _summary_threads() == before and w.summaries is None and w.writer is None
    finally:
        lock.release()
    w.watch(0.01, max_rounds=1)  # free again: the same watcher starts
    assert _summary_threads() == before
    store.close()


def test_a_spool_folder_is_created_private_with_its_parents(tmp_path: Path) -> None:
    spool = tmp_path / "a" / "b" / "m.jsonl"
    SpoolingWriter(lambda: SQLiteStore(tmp_path / "x.db"), spool).close()
    assert oct((tmp_path / "a").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "a" / "b").stat().st_mode & 0o777) == "0o700"


def test_summaries_the_store_refuses_reach_the_health_and_the_close_report(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    seen: list[WriterHealth] = []
    w, store = _watcher(tmp_path, ports, on_health=seen.append)
    w.start()
    try:
        w.round()
        conn = sqlite3.connect(tmp_path / "pukara.db", isolation_level=None)
        conn.execute("DROP TABLE round_summaries")  # every summary write fails from now on
        conn.close()
        w.round()
        assert w.summaries is not None
        deadline = time.monotonic() + 10
        while w.summaries.last_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        w.round()
    finally:
        report = w.close()
    assert seen and not seen[-1].ok and seen[-1].summaries is not None
    assert any("no recibe los resúmenes por ronda" in r for h in seen for r in h.reports)
    health = list(store.search_events(dataset="monitoreo.salud"))
    last = health[-1]
    assert last["event"]["outcome"] == "failure"
    assert last["monitoreo"]["salud"]["summaries_error"]
    assert last["monitoreo"]["salud"]["summaries_pending"] > 0
    assert last["monitoreo"]["salud"]["summaries_alive"] is True
    lines = report.leftovers()
    assert report.summaries_left > 0
    assert any("resúmenes por ronda no llegaron" in x and "faltan en los informes" in x
               for x in lines)  # fmt: skip
    assert any("último error de los resúmenes" in x for x in lines)
    assert not any("se resumirán" in x for x in lines)
    store.close()


def test_a_site_whose_port_refuses_is_refused_not_down(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: the kernel answers RST
        port = closed.getsockname()[1]
        store = SQLiteStore(tmp_path / "pukara.db")
        w = Watcher(store, {"a": _site("a"), "b": _site("b"), "c": _site("c")},
                    [Target(c, "127.0.0.1", port, c) for c in "abc"], FAST,
                    tmp_path / "cola" / "m.jsonl", tracker=Tracker(Policy(fall_rounds=2)),
                    snmp=False, clock=Clock())  # fmt: skip
        try:
            notices: list[Notice] = []
            w.start()
            for _ in range(3):
                notices += w.round()
        finally:
            w.close()
            store.close()
    # every site refuses: not "most sites lost at once", so not the monitor isolated either
    assert [(n.entity, n.kind, n.current) for n in notices if n.kind != "state"] == [
        (c, "alert", "refused") for c in "abc"
    ]
    assert all("rechazada" in n.message and f"puerto {port}" in n.message
               for n in notices if n.kind == "alert")  # fmt: skip
    assert {s.state for s in w.tracker.states.values()} == {"refused"}
