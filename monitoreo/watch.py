"""Continuous monitoring: every period, one round over every site, its tunnel and counters.

Each round's events go to the store through the spooling writer, which has its own connection,
so a store that is busy or unavailable delays nothing and loses nothing. Each round the
writer's health is checked: a problem goes to ``on_health`` and, every round, into a
``monitoreo.salud`` event. Alerts go to the hooks through :class:`Notifier`'s bounded queue,
never from the probing loop. Memory stays flat: a round's data is dropped once handed to the
writer; what is kept per site is its state and its last counter sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitoreo import maintenance, rounds
from monitoreo.counters import CounterSample, rate
from monitoreo.device import DevicePoll, Poller, SnmpChange, SnmpStatus, by_cause, track
from monitoreo.notify import Hooks, Notifier, NotifierReport
from monitoreo.prober import ProbeOptions, Target
from monitoreo.rounds import TargetRound
from monitoreo.sites import Site, vpn_targets
from monitoreo.spool import SpoolingWriter, WriterHealth
from monitoreo.states import (
    DEGRADED,
    DOWN,
    LABELS,
    MONITOR,
    UNREACHABLE,
    Notice,
    Observation,
    Tracker,
)
from monitoreo.summaries import SummaryHealth, SummaryWriter
from pukara import formats
from pukara.errors import Interrupted, StoreError
from pukara.events import format_timestamp, make_event, utc_now
from pukara.store import SQLiteStore, Store
from pukara.store.retention import enforce_retention

STATE_COLLECTION = "monitor_state"
SNMP_COLLECTION = "monitor_snmp"  # the last SNMP outcome of each watched site's device
STATE_DATASET = "monitoreo.estado"
SNMP_DATASET = "monitoreo.snmp"  # an SNMP outcome that changed: a new cause, or its end
LINK_DATASET = "monitoreo.enlace"
VPN_DATASET = "monitoreo.vpn"
HEALTH_DATASET = "monitoreo.salud"
WRITER_BUSY_TIMEOUT_MS = 5_000  # the writer's own connection: spool soon rather than wait


def site_observation(site: Site, r: TargetRound, monitored: set[str]) -> Observation:
    s = r.stats
    detail = "sin respuesta"
    if r.reachable:
        median = "sin dato" if s.median_ms is None else formats.milliseconds(s.median_ms)
        detail = f"pérdida en la ronda {formats.percent(s.loss_pct, 1)}, mediana {median}"
    refused = r.result == "rechazado"
    if r.result == "error":
        detail = f"no se pudo sondear: {r.error}"
    if refused:
        detail = f"conexión rechazada (RST) en el puerto {r.target.port}"
    return Observation(
        entity=site.code, site=site.code,
        parent=site.parent if site.parent in monitored else None,
        reachable=r.reachable, loss_pct=s.loss_pct, median_ms=s.median_ms,
        loss_threshold_pct=site.loss_threshold_pct, latency_threshold_ms=site.latency_threshold_ms,
        detail=detail, refused=refused, sent=s.sent, received=s.received,
    )  # fmt: skip


def tunnel_verdict(
    probe: TargetRound | None, device: str | None, device_error: str | None = None
) -> tuple[bool | None, str]:
    """Whether a tunnel works: True, False, or None when nothing could tell.

    A probe across it decides when it has one: a tunnel that carries traffic is up whatever
    the device's IF-MIB says (a stale row after a restart, say), and the discrepancy is told as
    a note. Without a probe, the device (if it answered) decides. With neither its state is
    unknown, not down.
    """
    parts = []
    if probe is not None:
        parts.append(f"sondeo a través del túnel {probe.stats.received}/{probe.stats.sent}")
    if device is not None:
        parts.append({"up": "activo en el equipo", "down": "inactivo en el equipo",
                      "missing": "ausente de la tabla del equipo"}[device])  # fmt: skip
    if probe is None and device is None:
        why = f": SNMP falló ({device_error})" if device_error else ": sin datos"
        return None, "estado desconocido" + why
    if probe is None:
        return device == "up", ", ".join(parts)
    if probe.reachable and device in ("down", "missing"):
        parts[-1] = {"down": "aunque el equipo lo lista inactivo (IF-MIB)",
                     "missing": "aunque falta en la tabla del equipo (IF-MIB)"}[device]  # fmt: skip
    return probe.reachable, ", ".join(parts)


def tunnel_observation(
    site: Site, ok: bool | None, detail: str, probe: TargetRound | None
) -> Observation:
    loss = probe.stats.loss_pct if probe else 0.0
    return Observation(
        entity=f"{site.code}/vpn", site=site.code, parent=site.code, reachable=ok, loss_pct=loss,
        median_ms=probe.stats.median_ms if probe else None,
        loss_threshold_pct=site.loss_threshold_pct, latency_threshold_ms=site.latency_threshold_ms,
        detail=detail, sent=probe.stats.sent if probe else 0,
        received=probe.stats.received if probe else 0,
    )  # fmt: skip


def notice_event(n: Notice, at: datetime) -> dict[str, Any]:
    return make_event(
        STATE_DATASET, timestamp=at,
        kind="alert" if n.kind in {"alert", "flapping", "isolated"} else "state",
        message=n.message + (f" [silenciada: {n.muted}]" if n.muted else ""),
        fields={
            "event.action": n.kind, "event.reason": n.muted, "host.name": n.site,
            "monitoreo.entity": n.entity, "monitoreo.state.previous": n.previous,
            "monitoreo.state.current": n.current, "monitoreo.muted": n.muted is not None,
        },
    )  # fmt: skip


def snmp_event(c: SnmpChange, at: datetime) -> dict[str, Any]:
    """A ``monitoreo.snmp`` event: a device's SNMP failure began, changed cause, or ended."""
    return make_event(
        SNMP_DATASET, timestamp=at, kind="state", outcome="success" if c.now.ok else "failure",
        message=c.message,
        fields={
            "event.action": "recovered" if c.recovered else "failed", "host.name": c.now.site,
            "monitoreo.snmp.device": c.now.device, "error.message": c.now.reason,
            "monitoreo.snmp.previous_reason": c.previous.reason if c.previous else None,
        },
    )  # fmt: skip


def health_event(h: WriterHealth, alerts: Notifier | None, at: datetime) -> dict[str, Any]:
    """The writer's (and the hooks') health this round, as a ``monitoreo.salud`` event."""
    s = h.summaries
    text = (
        "eventos al día en el almacén"
        if h.ok
        else f"{h.spooled} eventos en la cola local, {h.in_memory} en memoria"
        + (f"; último error: {h.last_error}" if h.last_error else "")
        + (f"; resúmenes por ronda: {s.last_error}" if s and s.last_error else "")
        + ("; el escritor de resúmenes no está activo" if s and not s.alive else "")
    )
    return make_event(
        HEALTH_DATASET, timestamp=at, kind="state", outcome="success" if h.ok else "failure",
        message=text,
        fields={
            "monitoreo.salud.spooled": h.spooled, "monitoreo.salud.in_memory": h.in_memory,
            "monitoreo.salud.dropped": h.dropped, "monitoreo.salud.quarantined": h.quarantined,
            "monitoreo.salud.written": h.written, "monitoreo.salud.writer_alive": h.alive,
            "monitoreo.salud.problems": list(h.reports) or None, "error.message": h.last_error,
            "monitoreo.salud.alerts_pending": alerts.pending() if alerts else None,
            "monitoreo.salud.alerts_dropped": alerts.dropped if alerts else None,
            "monitoreo.salud.summaries_pending": s.pending + s.queued if s else None,
            "monitoreo.salud.summaries_dropped": s.dropped if s else None,
            "monitoreo.salud.summaries_alive": s.alive if s else None,
            "monitoreo.salud.summaries_error": s.last_error if s else None,
        },
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class WatchReport:
    """What a watch did, and what it could not hand over when it stopped."""

    rounds: int
    writer: WriterHealth | None = None
    alerts: NotifierReport | None = None
    spool_path: Path | None = None
    summaries_left: int = 0  # round summaries the store did not take
    summaries: SummaryHealth | None = None  # the summary writer once closed

    def leftovers(self) -> list[str]:
        """Spanish lines for each thing left undone; empty when everything was handed over."""
        out: list[str] = []
        w, a = self.writer, self.alerts
        if w is not None:
            # what the writer found after the last round's report (a replay done at the end)
            out.extend(f"almacén: {problem}" for problem in w.reports)
            if w.spooled:
                out.append(f"{w.spooled} eventos quedan en la cola local {self.spool_path}; "
                           "se guardarán en la próxima ejecución")  # fmt: skip
            if w.in_memory:
                out.append(f"{w.in_memory} eventos en memoria no llegaron ni al almacén ni a la "
                           "cola local: se pierden")  # fmt: skip
            if w.dropped:
                out.append(f"{w.dropped} eventos se descartaron durante la vigilancia")
            if w.states_pending:
                out.append("el último estado de las sedes no se guardó en el almacén")
            if w.quarantined:
                where = f" en {self.spool_path}.cuarentena" if self.spool_path else ""
                out.append(f"{w.quarantined} líneas dañadas de la cola quedaron en cuarentena"
                           f"{where}")  # fmt: skip
            if w.last_error and not w.ok:
                out.append(f"último error del almacén: {w.last_error}")
        if self.summaries_left:
            out.append(f"{self.summaries_left} resúmenes por ronda no llegaron al almacén (sus "
                       "eventos sí): esas rondas faltan en los informes de disponibilidad")  # fmt: skip
        s = self.summaries
        if s is not None and s.dropped:
            out.append(f"{s.dropped} resúmenes por ronda se descartaron durante la vigilancia "
                       "(memoria llena): esas rondas faltan en los informes de disponibilidad")  # fmt: skip
        if s is not None and s.last_error and self.summaries_left:
            out.append(f"último error de los resúmenes por ronda: {s.last_error}")
        if a is not None and (a.undelivered or a.dropped):
            out.append(f"{a.undelivered} avisos sin entregar a los ganchos al terminar y "
                       f"{a.dropped} descartados por cola llena")  # fmt: skip
        return out


def _writer_store(store: Store) -> Callable[[], Store]:
    """A factory of the writer's own connection to the same database."""
    if not isinstance(store, SQLiteStore):
        raise TypeError("Watcher: pass open_writer_store for a store other than SQLite")
    path, busy = store.path, min(store.busy_timeout_ms, WRITER_BUSY_TIMEOUT_MS)
    actor = store.actor  # state changes are signed by the analyst, as on the main connection
    return lambda: SQLiteStore(path, busy_timeout_ms=busy, actor=actor)


@dataclass(slots=True)
class Watcher:
    store: Store
    sites: Mapping[str, Site]
    targets: Sequence[Target]
    options: ProbeOptions
    spool_path: Path
    tracker: Tracker = field(default_factory=Tracker)
    hooks: Hooks = field(default_factory=Hooks)
    snmp: bool = True
    clock: Callable[[], datetime] = utc_now
    on_notice: Callable[[Notice], None] | None = None
    on_hook_error: Callable[[str], None] | None = None
    on_health: Callable[[WriterHealth], None] | None = None
    on_overrun: Callable[[float, float], None] | None = None  # (round took, period), in s
    on_snmp: Callable[[SnmpChange], None] | None = None  # once per cause, and its end
    open_writer_store: Callable[[], Store] | None = None  # default: same SQLite file
    # called after each round in a thread of its own (csirt's expiry of countermeasures): a
    # slow or failing call never delays or breaks a round; one at a time, waited for on close
    each_round: Callable[[], None] | None = None
    poller: Poller = field(default_factory=Poller)
    maintenance_refresh_s: float = 300.0
    retention_days: int = 30  # raw events; enforced once a day by the summary writer
    previous: dict[str, CounterSample] = field(default_factory=dict)
    snmp_status: dict[str, SnmpStatus] = field(default_factory=dict)
    snmp_earlier: dict[str, SnmpStatus] = field(default_factory=dict)  # a previous run's
    rounds_done: int = 0
    snmp_saved: bool = False  # whether the SNMP outcomes went to the store once in this run
    writer: SpoolingWriter | None = None
    summaries: SummaryWriter | None = None
    notifier: Notifier | None = None
    windows: maintenance.WindowCache | None = None
    report: WatchReport | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _was_healthy: bool = True
    _side: threading.Thread | None = None

    def start(self) -> None:
        """Take the spool (and its lock: :class:`~monitoreo.spool.SpoolBusy` if held)."""
        if self.writer is not None and self.report is None:
            return  # already started
        try:
            open_store = self.open_writer_store or _writer_store(self.store)
            self.summaries = SummaryWriter(self.store, daily=self._daily)
            self.writer = SpoolingWriter(
                open_store, self.spool_path, on_stored=self.summaries.put_stored
            )
            self.report = None
            self.windows = maintenance.WindowCache(self.store, self.maintenance_refresh_s)
            if self.hooks:
                self.notifier = Notifier(self.hooks, on_error=self.on_hook_error)
            self._loop = asyncio.new_event_loop()
        except BaseException:  # SpoolBusy, most likely: nothing started may outlive this
            self._abandon_start()
            raise
        with contextlib.suppress(StoreError):  # else unknown states; the store may come back
            self.tracker.load(self.store.entities(STATE_COLLECTION))
        with contextlib.suppress(StoreError, KeyError, TypeError):  # only for their ``since``
            for doc in self.store.entities(SNMP_COLLECTION):
                if doc.get("site") in self.sites:
                    self.snmp_earlier[doc["site"]] = SnmpStatus(**doc)

    def _abandon_start(self) -> None:
        with contextlib.suppress(Exception):
            if self.notifier:
                self.notifier.close()
        with contextlib.suppress(Exception):
            if self.writer:
                self.writer.close()
        with contextlib.suppress(Exception):
            if self.summaries:
                self.summaries.close()
        if self._loop:
            self._loop.close()
        self.notifier = self.writer = self.summaries = self._loop = None

    def close(self) -> WatchReport:
        """Deliver pending alerts, hand the events over, stop; say what is left. Idempotent."""
        if self.report is not None:
            return self.report
        if self._side is not None:
            self._side.join(timeout=600)  # a reverse playbook under way ends first
        alerts = writer = summaries = None
        summaries_left = 0
        try:
            if self.notifier:
                alerts = self.notifier.close()
        finally:
            try:
                if self.writer:
                    writer = self.writer.close()
            finally:
                if self.summaries:
                    summaries_left = self.summaries.close()
                    summaries = self.summaries.health()
                if self._loop:
                    with contextlib.suppress(Exception):
                        self._loop.run_until_complete(self.poller.close())
                    self._loop.close()
                    self._loop = None
        self.report = WatchReport(
            self.rounds_done, writer, alerts, self.spool_path, summaries_left, summaries
        )
        return self.report

    def _daily(self, at: datetime) -> None:
        enforce_retention(self.store, self.retention_days, now=at)

    def _start_polls(self, monitored: set[str]) -> Callable[[], dict[str, DevicePoll]]:
        """Poll the watched sites' devices in a thread while the round probes; the returned
        call waits for them. Only watched sites: the inventory may hold many more. A device
        without a credential profile is polled too: its poll says so, and no request is sent."""
        wanted = [s for c in sorted(monitored) if (s := self.sites[c]).address]
        loop = self._loop
        if not (self.snmp and wanted and loop):
            return dict
        done: list[list[DevicePoll]] = []
        failed: list[BaseException] = []

        def work() -> None:
            try:
                done.append(loop.run_until_complete(self.poller.cycle(wanted)))
            except BaseException as e:
                failed.append(e)

        thread = threading.Thread(target=work, name="pukara-snmp", daemon=True)
        thread.start()

        def result() -> dict[str, DevicePoll]:
            thread.join()
            if failed:
                raise failed[0]
            return {p.site: p for p in done[0]}

        return result

    def round(self, should_stop: Callable[[], bool] | None = None) -> list[Notice]:
        """One round: probe, poll, update states, hand everything to the writer."""
        monitored = {t.site for t in self.targets if t.site}
        probes = list(self.targets) + vpn_targets(self.sites.values(), monitored)
        collect = self._start_polls(monitored)
        try:
            rnd = rounds.run_round(probes, self.options, should_stop=should_stop, clock=self.clock)
        finally:
            polls = collect()  # also on Ctrl-C: the event loop is free again before close()
        by_label = {r.target.label: r for r in rnd.results}
        observations: list[Observation] = []
        events: list[dict[str, Any]] = rounds.round_events(rnd)
        for code in sorted(monitored):
            site = self.sites[code]
            r = by_label.get(code)
            if r is None:
                continue
            observations.append(site_observation(site, r, monitored))
            poll = polls.get(code)
            if poll is not None:
                events.append(self._link_event(site, poll, rnd.started))
            if site.vpn_kit and (site.vpn_probe or poll is not None):
                probe = by_label.get(f"{code}/vpn")
                device = poll.tunnel_state if poll and poll.error is None else None
                ok, detail = tunnel_verdict(probe, device, poll.error if poll else None)
                observations.append(tunnel_observation(site, ok, detail, probe))
                events.append(make_event(
                    VPN_DATASET, timestamp=rnd.started, kind="state",
                    outcome={True: "success", False: "failure", None: "unknown"}[ok],
                    message=f"{code}/vpn: {detail}",
                    fields={"host.name": code, "monitoreo.round": rnd.id,
                            "monitoreo.vpn.working": ok, "monitoreo.vpn.device_state": device,
                            "monitoreo.vpn.crossed": bool(probe and probe.reachable)},
                ))  # fmt: skip
        now = rnd.started
        in_window = self.windows.active(now) if self.windows else frozenset()
        notices = self.tracker.update(
            observations, now=format_timestamp(now), maintenance=in_window
        )
        notice_events = [notice_event(n, now) for n in notices]
        events += notice_events
        held = self._snmp_held(observations)
        snmp_changes = self._snmp_changes(
            {c: p for c, p in polls.items() if c not in held}, rnd.started
        )
        events += [snmp_event(c, rnd.started) for c in snmp_changes]
        events.append(self._check_health(now))
        if self.writer:
            self.writer.put(events)
            if notices:  # after this round's events; kept in memory while the store is away
                self.writer.put_state(STATE_COLLECTION, self.tracker.documents(), key=("entity",))
            if snmp_changes or (self.snmp_status and not self.snmp_saved):
                docs = [st.document() for st in self.snmp_status.values()]
                self.writer.put_state(SNMP_COLLECTION, docs, key=("site",))
                self.snmp_saved = True  # the first cycle's too: estado shows the good ones
        for change in by_cause(snmp_changes):  # one console line per cause, not per device
            if self.on_snmp:
                self.on_snmp(change)
        self._notify(notices, notice_events)
        self.rounds_done += 1
        self._after_round()
        return notices

    def _after_round(self) -> None:
        """Start :attr:`each_round` unless the previous one still runs; its errors are told."""
        if self.each_round is None or (self._side is not None and self._side.is_alive()):
            return
        call, told = self.each_round, self.on_hook_error

        def work() -> None:
            try:
                call()
            except Exception as e:  # never the round's problem
                if told:
                    told(f"tarea de cada ronda: {e}")

        self._side = threading.Thread(target=work, name="pukara-cada-ronda", daemon=True)
        self._side.start()

    def _snmp_held(self, observations: Sequence[Observation]) -> set[str]:
        """Sites whose SNMP outcome is not judged this round: the monitor is cut off, or the
        site gives no answer (this round, or in its state): SNMP cannot answer either, and the
        one alert of that root cause says it. What still fails afterwards is said then. A
        degraded link is held too: on a lossy link SNMP times out now and then, and each timeout
        and recovery said would be a line and a change-log entry every few rounds."""
        if self.tracker.isolated:
            return set(self.sites)
        held = {o.site for o in observations if o.entity == o.site and o.reachable is False}
        for code, st in self.tracker.states.items():
            if st.state in {DOWN, UNREACHABLE, DEGRADED}:
                held.add(code)
        return held

    def _snmp_changes(self, polls: Mapping[str, DevicePoll], at: datetime) -> list[SnmpChange]:
        """What changed in the devices' SNMP outcome this round."""
        devices = {c: self.sites[c].gateway for c in polls if c in self.sites}
        return track(self.snmp_status, [polls[c] for c in sorted(polls)], devices,
                     format_timestamp(at), self.snmp_earlier)  # fmt: skip

    def _check_health(self, at: datetime) -> dict[str, Any]:
        if self.writer is None:
            return health_event(WriterHealth(0, 0, 0, 0, 0, 0, None, False), None, at)
        if not self.writer.health().alive:
            self.writer.restart()
        h = self.writer.health(drain=True)
        if self.summaries is not None:
            self.summaries.restart()
            s = self.summaries.health(drain=True)
            h = dataclasses.replace(h, reports=(*h.reports, *s.reports), summaries=s)
        if self.windows and self.windows.error:
            h = dataclasses.replace(h, reports=(*h.reports, self.windows.error))
        if self.on_health and (h.reports or not h.ok or not self._was_healthy):
            self.on_health(h)
        self._was_healthy = h.ok
        return health_event(h, self.notifier, at)

    def _link_event(self, site: Site, poll: DevicePoll, at: datetime) -> dict[str, Any]:
        fields: dict[str, Any] = {"host.name": site.code, "interface.name": poll.wan_name,
                                  "monitoreo.snmp.requests": poll.requests,
                                  "monitoreo.snmp.credential": poll.credential,
                                  "monitoreo.link.oper_up": poll.wan_up,
                                  "error.message": poll.error}  # fmt: skip
        if poll.counters is not None:
            r = rate(
                self.previous.get(site.code), poll.counters, contracted_mbps=site.bandwidth_mbps
            )
            self.previous[site.code] = poll.counters
            fields.update({
                "monitoreo.link.in_bps": r.in_bps, "monitoreo.link.out_bps": r.out_bps,
                "monitoreo.link.unknown_reason": r.reason,
                "monitoreo.link.speed_mbps": poll.counters.speed_mbps,
                "monitoreo.link.utilisation_pct": r.utilisation(poll.counters.speed_mbps),
                "monitoreo.link.contracted_mbps": site.bandwidth_mbps,
                "monitoreo.link.contracted_utilisation_pct": r.utilisation(site.bandwidth_mbps),
                "monitoreo.link.in_octets": str(poll.counters.in_octets),
                "monitoreo.link.out_octets": str(poll.counters.out_octets),
                "monitoreo.link.uptime_cs": poll.counters.uptime_cs,
            })  # fmt: skip
        return make_event(
            LINK_DATASET,
            timestamp=at,
            kind="metric",
            outcome="failure" if poll.error else "success",
            fields=fields,
        )

    def _notify(self, notices: Sequence[Notice], events: Sequence[dict[str, Any]]) -> None:
        for notice, event in zip(notices, events, strict=True):
            if self.on_notice:
                self.on_notice(notice)
            if notice.notifies and self.notifier:
                self.notifier.submit(event)  # a full queue is counted and reported

    def watch(self, period_s: float, *, max_rounds: int | None = None) -> WatchReport:
        """Start, run until ``max_rounds`` or Ctrl-C, and close whatever happens.

        Ctrl-C becomes :class:`Interrupted` once every finished round is handed over; its
        message says what could not be.
        """
        try:
            self.start()
            self.run(period_s, max_rounds=max_rounds)
        except KeyboardInterrupt:
            with _interrupts_deferred():  # a second Ctrl-C must not cut the hand-over short
                report = self.close()
            text = f"vigilancia interrumpida; {report.rounds} rondas completas guardadas"
            raise Interrupted("; ".join([text, *report.leftovers()])) from None
        finally:
            self.close()
        return self.close()

    def run(
        self, period_s: float, *, max_rounds: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:  # fmt: skip
        """Round after round, each starting ``period_s`` after the previous one."""
        if self.summaries:
            self.summaries.period_s = period_s
        next_start = time.monotonic()
        while max_rounds is None or self.rounds_done < max_rounds:
            began = time.monotonic()
            self.round(should_stop)
            took = time.monotonic() - began
            if took > period_s and self.on_overrun:
                self.on_overrun(took, period_s)
            next_start += period_s
            while (left := next_start - time.monotonic()) > 0:
                if should_stop and should_stop():
                    raise KeyboardInterrupt
                time.sleep(min(left, 0.2))
            if time.monotonic() - next_start > period_s:
                next_start = time.monotonic()  # a round overran: do not burst to catch up


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM meanwhile (main thread only); the old handlers come back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def states_table(tracker: Tracker, snmp: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """One row per site and tunnel; a site's row says its device's last SNMP outcome."""
    by_site = {d["site"]: d for d in snmp if d.get("site")}
    rows = []
    entities = sorted({*tracker.states, *by_site})
    for entity in entities:
        st = tracker.states.get(entity)
        row: dict[str, Any] = {
            "entity": entity, "state": LABELS.get(st.state, st.state) if st else None,
            "since": st.since if st else None, "flapping": st.flapping if st else None,
            "alert": LABELS.get(st.alerted or "", None) if st else None,
        }  # fmt: skip
        if (d := by_site.get(entity)) is not None:
            row["snmp_device"] = d.get("device")
            row["snmp"] = "responde" if d.get("ok") else "falla"
            row["snmp_reason"] = d.get("reason")
            row["snmp_since"] = d.get("since")
        rows.append(row)
    if tracker.isolated:
        rows.insert(0, {"entity": MONITOR, "state": "aislado"})
    return rows
