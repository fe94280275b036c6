"""Monthly availability per site, computed from the stored rounds.

The month is the calendar month in the site's own time zone. Each round stands for the time
until the next round (the last one, for the usual gap), at most ``MAX_GAP``; beyond that there
is no data, which counts neither way. Maintenance windows and the periods when the monitor
itself was isolated are taken out of the denominator, not counted as up. An incident is a run
of consecutive rounds without any reply.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitoreo import maintenance
from monitoreo.rounds import DATASET as ROUND_DATASET
from monitoreo.sites import Site
from monitoreo.stats import percentile
from pukara.errors import UsageError
from pukara.events import format_timestamp, get_field, parse_timestamp
from pukara.store import Store

MAX_GAP = timedelta(minutes=10)
Interval = tuple[datetime, datetime]


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

    @property
    def availability_pct(self) -> float | None:
        if self.observed_s <= 0:
            return None
        return round(100 * (1 - self.down_s / self.observed_s), 3)

    @property
    def met(self) -> bool | None:
        a = self.availability_pct
        return None if a is None else a >= self.target_pct

    def row(self) -> dict[str, Any]:
        return {
            "site": self.site, "name": self.name, "availability_pct": self.availability_pct,
            "target_pct": self.target_pct, "met": self.met,
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


def percentiles(ordered: Sequence[float]) -> dict[int, float]:
    """The 10th, 25th, 50th, 75th and 90th percentiles of sorted values (nearest rank)."""
    return {q: percentile(ordered, q) for q in (10, 25, 50, 75, 90)}


def _smoke(samples: list[tuple[datetime, list[float | None]]]) -> list[dict[str, Any]]:
    buckets: dict[datetime, list[float | None]] = defaultdict(list)
    for at, rtts in samples:
        buckets[at.replace(minute=0, second=0, microsecond=0)].extend(rtts)
    out = []
    for hour in sorted(buckets):
        values = buckets[hour]
        got = sorted(v for v in values if v is not None)
        row: dict[str, Any] = {
            "hour": format_timestamp(hour),
            "loss_pct": 100 * (1 - len(got) / len(values)),
        }
        if got:
            p = percentiles(got)
            row.update(p10=p[10], p25=p[25], median=p[50], p75=p[75], p90=p[90])
        out.append(row)
    return out


def compute(store: Store, sites: Mapping[str, Site], month: str) -> list[SiteSla]:
    monitored = [s for s in sites.values() if s.address]
    if not monitored:
        return []
    bounds = {s.code: month_bounds(month, s.timezone) for s in monitored}
    since = min(b[0] for b in bounds.values())
    until = max(b[1] for b in bounds.values())
    per_site: dict[str, list[tuple[datetime, bool, list[float | None]]]] = defaultdict(list)
    for ev in store.search_events(dataset=ROUND_DATASET, since=since - MAX_GAP, until=until):
        code = get_field(ev, "monitoreo.site")
        if code not in bounds or get_field(ev, "monitoreo.target") != code:
            continue
        rtts = get_field(ev, "monitoreo.rtts_ms") or []
        per_site[code].append(
            (parse_timestamp(ev["@timestamp"]), bool(get_field(ev, "monitoreo.received")), rtts)
        )
    windows = maintenance.windows(store)
    isolated = isolated_intervals(store, since, until)
    out = []
    for site in monitored:
        start, end = bounds[site.code]
        excluded = _merge([(w.start, w.end) for w in windows if w.site == site.code] + isolated)
        sla = SiteSla(site.code, site.name, site.timezone, site.availability_target)
        rounds = sorted(per_site.get(site.code, []), key=lambda r: r[0])
        incident: dict[str, Any] | None = None
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(rounds)]
        last_span = min(sorted(gaps)[len(gaps) // 2], MAX_GAP) if gaps else MAX_GAP
        for i, (at, ok, _) in enumerate(rounds):
            nxt = rounds[i + 1][0] if i + 1 < len(rounds) else at + last_span
            a, b = max(at, start), min(nxt, at + MAX_GAP, end)
            if b <= a:
                continue
            sla.rounds += 1
            span = (b - a).total_seconds()
            cut = _overlap(a, b, excluded)
            sla.excluded_s += cut
            sla.observed_s += span - cut
            if not ok:
                sla.down_s += span - cut
                if incident is None:
                    incident = {"start": a, "end": b, "excluded": cut >= span}
                    sla.incidents.append(incident)
                incident["end"] = b
            else:
                incident = None
        sla.incidents = [_incident(x, site.timezone) for x in sla.incidents]
        sla.smoke = _smoke([(at, rtts) for at, _, rtts in rounds if start <= at < end])
        out.append(sla)
    return out


def _incident(x: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    tz = ZoneInfo(timezone)
    return {
        "start": x["start"].astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "end": x["end"].astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "minutes": round((x["end"] - x["start"]).total_seconds() / 60, 1),
        "in_maintenance": x["excluded"],
    }


def vpn_indicator(store: Store, sites: Mapping[str, Site], month: str) -> dict[str, Any]:
    """Missions with a VPN kit whose tunnel worked at the last check of the month."""
    kits = [s for s in sites.values() if s.vpn_kit]
    working = 0
    detail = []
    for s in kits:
        start, end = month_bounds(month, s.timezone)
        last = next(iter(store.search_events(dataset="monitoreo.vpn", since=start, until=end,
                                             where={"host.name": s.code}, limit=1,
                                             newest_first=True)), None)  # fmt: skip
        ok = bool(last and get_field(last, "monitoreo.vpn.working"))
        working += ok
        detail.append({"site": s.code, "working": ok if last else None})
    pct = round(100 * working / len(kits), 1) if kits else None
    return {"missions_with_kit": len(kits), "working": working, "working_pct": pct, "sites": detail}


def _mean_speed(store: Store, code: str, since: datetime, until: datetime) -> float | None:
    values = []
    for ev in store.search_events(dataset="monitoreo.enlace", since=since, until=until,
                                  where={"host.name": code}):  # fmt: skip
        i, o = get_field(ev, "monitoreo.link.in_bps"), get_field(ev, "monitoreo.link.out_bps")
        if i is not None and o is not None:
            values.append(max(i, o))
    return statistics.fmean(values) if values else None


def speed_change(store: Store, sites: Mapping[str, Site], month: str) -> list[dict[str, Any]]:
    """Each link's mean measured rate this month against the previous one, in %."""
    out = []
    for s in sites.values():
        if not s.address:
            continue
        now = _mean_speed(store, s.code, *month_bounds(month, s.timezone))
        before = _mean_speed(store, s.code, *month_bounds(previous_month(month), s.timezone))
        change = None if not now or not before else round(100 * (now - before) / before, 1)
        out.append({"site": s.code, "mean_bps": None if now is None else round(now),
                    "previous_mean_bps": None if before is None else round(before),
                    "change_pct": change})  # fmt: skip
    return out
