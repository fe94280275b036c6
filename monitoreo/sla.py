"""Monthly availability per site, computed from the stored round summaries.

The month is the calendar month in the site's own time zone. Each round stands for the time
until the next round, at most ten minutes (``pukara.store.rollups.MAX_GAP_US``); beyond that
there is no data, which counts neither way. Maintenance windows and the periods when the monitor
itself was isolated are taken out of the denominator, not counted as up: exactly, round by
round, where the summaries are kept, and by each 5-minute bucket's share where only the rollups
are left. An incident is a run of consecutive rounds without any reply.

Only a site observed for most of the month gets a verdict: its coverage is the share of the
month (up to now, for the month under way) its rounds stand for, excluded time included; under
``min_coverage_pct`` (the ``sla_min_coverage_pct`` setting, 90 % by default) its verdict is
"insufficient_coverage", and a site with no round at all is "no_data". One stray round is not a
month at 0 %.

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
    smoke: list[dict[str, Any]] = field(default_factory=list)  # hourly latency percentiles
    period_s: float = 0.0  # the month's time so far (all of it once the month is over)
    min_coverage_pct: float = DEFAULT_MIN_COVERAGE_PCT

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
            "rounds": self.rounds,
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
    row: dict[str, Any] = {
        "hour": format_timestamp(datetime.fromtimestamp(h.start_us / 1_000_000, UTC)),
        "start_us": h.start_us,
        "loss_pct": 100 * (1 - h.received / h.sent) if h.sent else 100.0,
    }
    if h.median_ms is not None:
        row.update(p10=h.p10_ms, p25=h.p25_ms, median=h.median_ms, p75=h.p75_ms, p90=h.p90_ms)
    return row


def _clip(intervals: Sequence[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(s, start), min(e, end)) for s, e in intervals if min(e, end) > max(s, start)]


def compute(
    store: Store,
    sites: Mapping[str, Site],
    month: str,
    *,
    min_coverage_pct: float = DEFAULT_MIN_COVERAGE_PCT,
    now: datetime | None = None,
) -> list[SiteSla]:
    """Every monitored site's month; ``now`` ends the month under way (default: the clock)."""
    monitored = [s for s in sites.values() if s.address]
    if not monitored:
        return []
    bounds = {s.code: month_bounds(month, s.timezone) for s in monitored}
    since = min(b[0] for b in bounds.values())
    until = max(b[1] for b in bounds.values())
    windows = maintenance.windows(store)
    isolated = isolated_intervals(store, since, until)
    moment = now or utc_now()
    out = []
    for site in monitored:
        start, end = bounds[site.code]
        own = _clip(_merge([(w.start, w.end) for w in windows if w.site == site.code]), start, end)
        excluded = _clip(_merge([*own, *isolated]), start, end)
        a = store.availability(site.code, start, end, excluded)
        sla = SiteSla(site.code, site.name, site.timezone, site.availability_target,
                      observed_s=a.observed_us / 1e6, excluded_s=a.excluded_us / 1e6,
                      down_s=a.down_us / 1e6, rounds=a.rounds,
                      period_s=max(0.0, (min(end, moment) - start).total_seconds()),
                      min_coverage_pct=min_coverage_pct)  # fmt: skip
        cut = _clip(isolated, start, end)
        sla.incidents = [
            _incident(run, own, cut, site.timezone)
            for run in store.down_runs(site.code, start, end)
        ]
        sla.smoke = [_smoke(h) for h in store.hourly(site.code, start, end)]
        out.append(sla)
    return out


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _incident(
    run: Run, windows: Sequence[Interval], isolated: Sequence[Interval], timezone: str
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
        # of the site's, or the monitor's own isolation, which is no maintenance
        "in_maintenance": _overlap(start, first_end, windows) >= first,
        "in_isolation": _overlap(start, first_end, isolated) >= first,
        # how much of it each exclusion covers (the rest counts as down)
        "maintenance_minutes": round(_overlap(start, end, windows) / 60, 1),
        "isolation_minutes": round(_overlap(start, end, isolated) / 60, 1),
    }  # fmt: skip


def vpn_indicator(store: Store, sites: Mapping[str, Site], month: str) -> dict[str, Any]:
    """Missions with a VPN kit whose tunnel worked at the last check of the month."""
    kits = [s for s in sites.values() if s.vpn_kit]
    working = 0
    detail = []
    for s in kits:
        found, up = store.last_state(f"{s.code}/vpn", *month_bounds(month, s.timezone))
        working += up == 1
        detail.append({"site": s.code, "working": None if not found or up is None else up == 1})
    pct = round(100 * working / len(kits), 1) if kits else None
    return {"missions_with_kit": len(kits), "working": working, "working_pct": pct, "sites": detail}


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
