"""Continuous monitoring: every period, one round over every site, its tunnel and counters.

Each round's events go to the store through the spooling writer, so a store that is briefly
unavailable delays nothing and loses nothing. Memory stays flat: a round's data is dropped once
handed to the writer; what is kept per site is its state and its last counter sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitoreo import maintenance, rounds
from monitoreo.counters import CounterSample, rate
from monitoreo.device import DevicePoll, Poller
from monitoreo.notify import Hooks
from monitoreo.prober import ProbeOptions, Target
from monitoreo.rounds import TargetRound
from monitoreo.sites import Site, vpn_targets
from monitoreo.spool import SpoolingWriter
from monitoreo.states import LABELS, MONITOR, Notice, Observation, Tracker
from monitoreo.summaries import SummaryWriter
from pukara.errors import Interrupted, StoreError
from pukara.events import format_timestamp, make_event, utc_now
from pukara.store import Store

STATE_COLLECTION = "monitor_state"
STATE_DATASET = "monitoreo.estado"
LINK_DATASET = "monitoreo.enlace"
VPN_DATASET = "monitoreo.vpn"


def site_observation(site: Site, r: TargetRound, monitored: set[str]) -> Observation:
    s = r.stats
    detail = (
        f"pérdida {s.loss_pct:g} %, mediana {s.median_ms} ms" if r.reachable else "sin respuesta"
    )
    return Observation(
        entity=site.code, site=site.code,
        parent=site.parent if site.parent in monitored else None,
        reachable=r.reachable, loss_pct=s.loss_pct, median_ms=s.median_ms,
        loss_threshold_pct=site.loss_threshold_pct, latency_threshold_ms=site.latency_threshold_ms,
        detail=detail,
    )  # fmt: skip


def tunnel_verdict(probe: TargetRound | None, device: str | None) -> tuple[bool, str]:
    """A tunnel works when a probe crosses it and the device (if asked) lists it up."""
    crossed = probe is not None and probe.reachable
    parts = []
    if probe is not None:
        parts.append(f"sondeo a través {probe.stats.received}/{probe.stats.sent}")
    if device is not None:
        parts.append({"up": "activo en el equipo", "down": "inactivo en el equipo",
                      "missing": "ausente de la tabla del equipo"}[device])  # fmt: skip
    ok = crossed and device in (None, "up")
    return ok, ", ".join(parts) or "sin datos"


def tunnel_observation(site: Site, ok: bool, detail: str, probe: TargetRound | None) -> Observation:
    loss = probe.stats.loss_pct if probe else 0.0
    return Observation(
        entity=f"{site.code}/vpn", site=site.code, parent=site.code, reachable=ok, loss_pct=loss,
        median_ms=probe.stats.median_ms if probe else None,
        loss_threshold_pct=site.loss_threshold_pct, latency_threshold_ms=site.latency_threshold_ms,
        detail=detail,
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
    poller: Poller = field(default_factory=Poller)
    previous: dict[str, CounterSample] = field(default_factory=dict)
    rounds_done: int = 0
    writer: SpoolingWriter | None = None
    summaries: SummaryWriter | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.writer = SpoolingWriter(self.store, self.spool_path)
        self.summaries = SummaryWriter(self.store)
        self._loop = asyncio.new_event_loop()
        with contextlib.suppress(StoreError):  # else unknown states; the store may come back
            self.tracker.load(self.store.entities(STATE_COLLECTION))

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        if self.summaries:
            self.summaries.close()
        if self._loop:
            self._loop.run_until_complete(self.poller.close())
            self._loop.close()

    def _poll_devices(self) -> dict[str, DevicePoll]:
        wanted = [s for s in self.sites.values() if s.address and s.credential_profile]
        if not (self.snmp and wanted and self._loop):
            return {}
        return {p.site: p for p in self._loop.run_until_complete(self.poller.cycle(wanted))}

    def round(self, should_stop: Callable[[], bool] | None = None) -> list[Notice]:
        """One round: probe, poll, update states, hand everything to the writer."""
        monitored = {t.site for t in self.targets if t.site}
        probes = list(self.targets) + vpn_targets(self.sites.values(), monitored)
        rnd = rounds.run_round(probes, self.options, should_stop=should_stop, clock=self.clock)
        polls = self._poll_devices()
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
                ok, detail = tunnel_verdict(probe, device)
                observations.append(tunnel_observation(site, ok, detail, probe))
                events.append(make_event(
                    VPN_DATASET, timestamp=rnd.started, kind="state",
                    outcome="success" if ok else "failure", message=f"{code}/vpn: {detail}",
                    fields={"host.name": code, "monitoreo.round": rnd.id,
                            "monitoreo.vpn.working": ok, "monitoreo.vpn.device_state": device,
                            "monitoreo.vpn.crossed": bool(probe and probe.reachable)},
                ))  # fmt: skip
        try:
            windows = maintenance.windows(self.store)
        except StoreError:
            windows = []
        now = rnd.started
        notices = self.tracker.update(
            observations, now=format_timestamp(now), maintenance=maintenance.active(windows, now)
        )
        events += [notice_event(n, now) for n in notices]
        if self.writer:
            self.writer.put(events)
        if self.summaries:
            self.summaries.put(events, rnd.started)
        if notices:
            with contextlib.suppress(StoreError):  # kept in memory; written with the next change
                self.store.upsert(STATE_COLLECTION, self.tracker.documents(), key=("entity",))
        self._notify(notices, events[-len(notices) :] if notices else [])
        self.rounds_done += 1
        return notices

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
            if notice.notifies and self.hooks:
                for error in self.hooks.send(event):
                    if self.on_hook_error:
                        self.on_hook_error(error)

    def watch(self, period_s: float, *, max_rounds: int | None = None) -> int:
        """Start, run until ``max_rounds`` or Ctrl-C, close; events left in the spool.

        Ctrl-C becomes :class:`Interrupted` once every finished round is handed to the store.
        """
        self.start()
        try:
            self.run(period_s, max_rounds=max_rounds)
        except KeyboardInterrupt:
            self.close()
            raise Interrupted(
                f"vigilancia interrumpida; {self.rounds_done} rondas completas guardadas"
            ) from None
        self.close()
        return self.writer.pending() if self.writer else 0

    def run(
        self, period_s: float, *, max_rounds: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:  # fmt: skip
        """Round after round, each starting ``period_s`` after the previous one."""
        if self.summaries:
            self.summaries.period_s = period_s
        next_start = time.monotonic()
        while max_rounds is None or self.rounds_done < max_rounds:
            self.round(should_stop)
            next_start += period_s
            while (left := next_start - time.monotonic()) > 0:
                if should_stop and should_stop():
                    raise KeyboardInterrupt
                time.sleep(min(left, 0.2))
            if time.monotonic() - next_start > period_s:
                next_start = time.monotonic()  # a round overran: do not burst to catch up


def states_table(tracker: Tracker) -> list[dict[str, Any]]:
    rows = []
    for st in sorted(tracker.states.values(), key=lambda s: s.entity):
        rows.append({
            "entity": st.entity, "state": LABELS.get(st.state, st.state), "since": st.since,
            "flapping": st.flapping, "alert": LABELS.get(st.alerted or "", None),
        })  # fmt: skip
    if tracker.isolated:
        rows.insert(0, {"entity": MONITOR, "state": "aislado"})
    return rows
