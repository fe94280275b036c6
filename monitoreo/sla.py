"""Monthly availability per site, computed from the stored round summaries.

The month is the calendar month in the site's own time zone. Each round stands for the time
until the next round, at most ten minutes (``pukara.store.rollups.MAX_GAP_US``); beyond that
there is no data, which counts neither way. Maintenance windows and the periods when the monitor
itself was isolated are taken out of the denominator, not counted as up: exactly, round by
round, where the summaries are kept, and by each 5-minute bucket's share where only the rollups
are left. An incident is a run of consecutive rounds without any reply.

A hub's maintenance is its dependents' too: the windows of a site's parent (and of the parent's
parent) are taken out of the site's time as well, since its rounds could not reach it, and each
incident says whose window covered it.

Coverage has one definition, used everywhere: the time the site's rounds stand for (excluded
time included) over the time of the month elapsed, all of it once the month is over; for the
month under way, up to the moment of the report ("mes en curso, hasta ..."), and a verdict then
is provisional. Only a site observed for most of that time gets a verdict: under
``min_coverage_pct`` (the ``sla_min_coverage_pct`` setting, 90 % by default) its verdict is
"insufficient_coverage", and a site with no round at all is "no_data". One stray round is not a
month at 0 %. A monitored site is one with at least one round in the month.

Everything is aggregated by the store (in SQL); no month of rounds is loaded into memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitoreo import maintenance
from monitoreo.sites import Site
from pukara.errors import UsageError
from pukara.events import format_timestamp, get_field, parse_timestamp, utc_now
from pukara.store import Hour, Run, Store
from pukara.store.rollups import MAX_GAP_US

Interval = tuple[datetime, datetime]
DEFAULT_MIN_COVERAGE_PCT = 90.0
MAX_GAP_S = MAX_GAP_US / 1e6  # a round stands for the time to the next one, at most this
# the machine verdicts (JSON/CSV keep these keys) and what a person reads
VERDICTS = {"met": "cumple", "not_met": "no cumple",
            "insufficient_coverage": "cobertura insuficiente", "no_data": "sin datos"}  # fmt: skip


def month_bounds(month: str, timezone: str) -> Interval:
    try:
        year, mon = (int(x) for x in month.split("-"))
        first = datetime(year, mon, 1, tzinfo=ZoneInfo(timezone))
    except ValueError:
        raise UsageError(f"--mes: se espera AAAA-MM, no {month!r}") from None
    nxt = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=ZoneInfo(timezone))
    return first.astimezone(UTC), nxt.astimezone(UTC)


def check_month(month: str, timezones: Iterable[str], now: datetime) -> None:
    """A month that has not begun anywhere yet (in none of ``timezones``) is a usage error."""
    zones = list(timezones) or ["UTC"]
    start = min(month_bounds(month, z)[0] for z in zones)
    if start > now:
        from pukara import formats

        raise UsageError(
            f"--mes {month}: ese mes aún no ha empezado (ahora es "
            f"{formats.datetime_text(now, ZoneInfo('UTC'))}); no hay nada que informar"
        )


def previous_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def _overlap(a: datetime, b: datetime, intervals: Sequence[Interval]) -> float:
    total = 0.0
    for s, e in intervals:
        lo, hi = max(a, s), min(b, e)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


@dataclass(slots=True)
class SiteSla:
    site: str
    name: str
    timezone: str
    target_pct: float
    observed_s: float = 0.0
    excluded_s: float = 0.0
    down_s: float = 0.0
    incidents: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0
    smoke: list[dict[str, Any]] = field(default_factory=list)  # latency percentiles per bucket
    period_s: float = 0.0  # the month's time so far (all of it once the month is over)
    min_coverage_pct: float = DEFAULT_MIN_COVERAGE_PCT
    in_progress: bool = False  # the month is under way: coverage and verdict up to now
    # what the latency chart spans and shades (see monitoreo.charts.smoke_chart)
    chart_span: Interval | None = None
    bucket_s: int = 3600
    maintenance: list[Interval] = field(default_factory=list)  # own and the hubs', merged
    isolation: list[Interval] = field(default_factory=list)

    @property
    def availability_pct(self) -> float | None:
        if self.observed_s <= 0:
            return None
        return round(100 * (1 - self.down_s / self.observed_s), 3)

    @property
    def coverage_pct(self) -> float | None:
        """Share of the month the rounds stand for, excluded time included."""
        if self.period_s <= 0:
            return None
        return round(min(100.0, 100 * (self.observed_s + self.excluded_s) / self.period_s), 3)

    @property
    def verdict(self) -> str:
        a, c = self.availability_pct, self.coverage_pct
        if not self.rounds or c is None:
            return "no_data"
        if c < self.min_coverage_pct or a is None:
            return "insufficient_coverage"
        return "met" if a >= self.target_pct else "not_met"

    @property
    def provisional(self) -> bool:
        """A verdict on a month under way: it may still change."""
        return self.in_progress and self.verdict in ("met", "not_met")

    @property
    def met(self) -> bool | None:
        """Whether it met its target; None without a verdict (no data, too little coverage)."""
        v = self.verdict
        return None if v not in ("met", "not_met") else v == "met"

    def row(self) -> dict[str, Any]:
        return {
            "site": self.site, "name": self.name, "timezone": self.timezone,
            "availability_pct": self.availability_pct, "target_pct": self.target_pct,
            "coverage_pct": self.coverage_pct, "verdict": self.verdict, "met": self.met,
            "down_minutes": round(self.down_s / 60, 1),
            "excluded_minutes": round(self.excluded_s / 60, 1),
            "observed_hours": round(self.observed_s / 3600, 2), "incidents": len(self.incidents),
            "rounds": self.rounds, "provisional": self.provisional,
        }  # fmt: skip


def isolated_intervals(store: Store, since: datetime, until: datetime) -> list[Interval]:
    out: list[Interval] = []
    start: datetime | None = None
    for ev in store.search_events(dataset="monitoreo.estado", until=until,
                                  where={"monitoreo.entity": "monitor"}):  # fmt: skip
        at = parse_timestamp(ev["@timestamp"])
        action = get_field(ev, "event.action")
        if action == "isolated":
            start = at
        elif action == "isolated_end" and start is not None:
            out.append((start, at))
            start = None
    if start is not None:
        out.append((start, until))
    return [(s, e) for s, e in out if e > since]


def _smoke(h: Hour) -> dict[str, Any]:
    """One bucket for the chart; ``loss_pct`` among the rounds with the link up (None when
    none counted: all down, or excluded), ``silent`` when no round had a reply."""
    row: dict[str, Any] = {
        "hour": format_timestamp(datetime.fromtimestamp(h.start_us / 1_000_000, UTC)),
        "start_us": h.start_us,
        "loss_pct": 100 * (1 - h.counted_received / h.counted_sent) if h.counted_sent else None,
        "silent": h.received == 0,
    }
    if h.median_ms is not None:
        row.update(p10=h.p10_ms, p25=h.p25_ms, median=h.median_ms, p75=h.p75_ms, p90=h.p90_ms)
    return row


def _clip(intervals: Sequence[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(s, start), min(e, end)) for s, e in intervals if min(e, end) > max(s, start)]


def hubs(code: str, sites: Mapping[str, Site]) -> list[str]:
    """The sites ``code`` hangs from, nearest first (its parent, the parent's parent...)."""
    out: list[str] = []
    seen = {code}
    parent = sites[code].parent if code in sites else None
    while parent and parent not in seen:
        out.append(parent)
        seen.add(parent)
        parent = sites[parent].parent if parent in sites else None
    return out


BUCKETS_S = (60, 300, 900, 3600)  # the latency chart's bucket sizes, finest first
MOST_BUCKETS = 800  # about 1.4 px each across the chart


def _bucket_s(span_s: float, round_s: float) -> int:
    """The finest bucket that cuts ``span_s`` in at most MOST_BUCKETS and holds a round."""
    for size in BUCKETS_S:
        if span_s / size <= MOST_BUCKETS and size >= round_s:
            return size
    return BUCKETS_S[-1]


def _chart(store: Store, sla: SiteSla, start: datetime, end: datetime,
           excluded: Sequence[Interval]) -> None:  # fmt: skip
    """What the latency chart spans and its buckets: the month (the elapsed part of a month
    under way) or, when coverage is short, just the period observed, in finer buckets."""
    if not sla.rounds or end <= start:
        sla.chart_span = (start, max(start, end))
        return
    hours = store.hourly(sla.site, start, end, excluded=excluded)
    lo, hi = start, end
    short = (sla.coverage_pct or 0.0) < sla.min_coverage_pct
    if short and hours:
        lo = max(start, _at(min(h.start_us for h in hours if h.rounds or h.sent)))
        hi = min(end, _at(max(h.start_us for h in hours if h.rounds or h.sent) + 3_600_000_000))
    round_s = (sla.observed_s + sla.excluded_s) / sla.rounds
    size = _bucket_s((hi - lo).total_seconds(), round_s)
    if size != 3600:
        hours = store.hourly(sla.site, lo, hi, size_s=size, excluded=excluded)
        if short and hours:  # trim to the buckets observed
            first, last = hours[0].start_us, hours[-1].start_us + size * 1_000_000
            lo, hi = max(lo, _at(first)), min(hi, _at(last))
    sla.chart_span, sla.bucket_s = (lo, hi), size
    sla.smoke = [_smoke(h) for h in hours]


def compute(
    store: Store,
    sites: Mapping[str, Site],
    month: str,
    *,
    min_coverage_pct: float = DEFAULT_MIN_COVERAGE_PCT,
    now: datetime | None = None,
) -> list[SiteSla]:
    """Every probed site's month; ``now`` ends the month under way (default: the clock)."""
    probed = [s for s in sites.values() if s.address]
    if not probed:
        return []
    bounds = {s.code: month_bounds(month, s.timezone) for s in probed}
    since = min(b[0] for b in bounds.values())
    until = max(b[1] for b in bounds.values())
    windows = maintenance.windows(store)
    isolated = isolated_intervals(store, since, until)
    moment = now or utc_now()
    by_site: dict[str, list[Interval]] = {}
    for w in windows:
        by_site.setdefault(w.site, []).append((w.start, w.end))
    out = []
    for site in probed:
        start, end = bounds[site.code]
        sources = {c: _clip(_merge(by_site.get(c, [])), start, end)
                   for c in [site.code, *hubs(site.code, sites)]}  # fmt: skip
        own = _merge(x for ws in sources.values() for x in ws)  # own and the hubs' windows
        cut = _clip(isolated, start, end)
        excluded = _clip(_merge([*own, *cut]), start, end)
        a = store.availability(site.code, start, end, excluded)
        sla = SiteSla(site.code, site.name, site.timezone, site.availability_target,
                      observed_s=a.observed_us / 1e6, excluded_s=a.excluded_us / 1e6,
                      down_s=a.down_us / 1e6, rounds=a.rounds,
                      period_s=max(0.0, (min(end, moment) - start).total_seconds()),
                      min_coverage_pct=min_coverage_pct, in_progress=end > moment,
                      maintenance=own, isolation=cut)  # fmt: skip
        sla.incidents = [
            _incident(run, own, sources, cut, site.timezone)
            for run in store.down_runs(site.code, start, end)
        ]
        _chart(store, sla, start, min(end, moment), excluded)
        out.append(sla)
    return out


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _incident(
    run: Run,
    windows: Sequence[Interval],
    sources: Mapping[str, Sequence[Interval]],
    isolated: Sequence[Interval],
    timezone: str,
) -> dict[str, Any]:
    tz = ZoneInfo(timezone)
    start, end, first_end = _at(run.start_us), _at(run.end_us), _at(run.first_end_us)
    first = (first_end - start).total_seconds()
    return {
        "start": start.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "end": end.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "timezone": timezone, "start_utc": format_timestamp(start),
        "end_utc": format_timestamp(end),
        "minutes": round((run.end_us - run.start_us) / 60e6, 1),
        # the incident began inside an exclusion (its first round wholly excluded): a window
        # of the site's or of a hub it hangs from, or the monitor's own isolation
        "in_maintenance": _overlap(start, first_end, windows) >= first,
        "in_isolation": _overlap(start, first_end, isolated) >= first,
        # how much of it each exclusion covers (the rest counts as down)
        "maintenance_minutes": round(_overlap(start, end, windows) / 60, 1),
        "isolation_minutes": round(_overlap(start, end, isolated) / 60, 1),
        # whose windows: the site's own first, then each hub's ("mantenimiento de emb-ar")
        "maintenance_by": [
            {"site": code, "minutes": round(_overlap(start, end, ws) / 60, 1)}
            for code, ws in sources.items() if _overlap(start, end, ws) > 0
        ],
    }  # fmt: skip


def vpn_indicator(
    store: Store, sites: Mapping[str, Site], month: str, monitored: Iterable[str] = ()
) -> dict[str, Any]:
    """The monitored missions with a VPN kit whose tunnel worked at the month's last check.

    Only the missions monitored this month (``monitored``: the sites with rounds) count; the
    kits of the others are in ``missions_with_kit`` alone.
    """
    watched = set(monitored)
    kits = [s for s in sites.values() if s.vpn_kit]
    working = 0
    detail = []
    for s in kits:
        if s.code not in watched:
            continue
        found, up = store.last_state(f"{s.code}/vpn", *month_bounds(month, s.timezone))
        working += up == 1
        detail.append({"site": s.code, "working": None if not found or up is None else up == 1})
    counted = len(detail)
    pct = round(100 * working / counted, 1) if counted else None
    return {"missions_with_kit": len(kits), "monitored_with_kit": counted, "working": working,
            "unknown": sum(1 for d in detail if d["working"] is None), "working_pct": pct,
            "sites": detail}  # fmt: skip


def speed_change(store: Store, sites: Mapping[str, Site], month: str) -> list[dict[str, Any]]:
    """Each link's mean measured rate this month against the previous one, in %."""
    out = []
    for s in sites.values():
        if not s.address:
            continue
        now = store.mean_busy_rate(s.code, *month_bounds(month, s.timezone))
        before = store.mean_busy_rate(s.code, *month_bounds(previous_month(month), s.timezone))
        change = None if not now or not before else round(100 * (now - before) / before, 1)
        out.append({"site": s.code, "mean_bps": None if now is None else round(now),
                    "previous_mean_bps": None if before is None else round(before),
                    "change_pct": change})  # fmt: skip
    return out
