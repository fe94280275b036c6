"""The SLA report's inline SVG charts, as geometry for the template: no markup, no text to escape.

Two charts. The availability dot plot puts each site with a verdict on a zoomed axis, its dot
against its own target's tick, so 96.5 % and 100 % are far apart; a value below the axis is
drawn as an arrow at its left edge, its number beside it. Every label sits in a column of its
own, one row per site, so no two overlap.

The latency chart is SmokePing's: per hour, the spread of the rounds' samples as smoke (light
between the 10th and 90th percentiles, darker between the 25th and 75th), the median as a line
coloured on SmokePing's loss scale by the hour's loss among the rounds with the link up, the same
colour in a strip under the axis, days of the month on the x axis in the site's time zone and
milliseconds on a labelled y scale. A round without any reply is an outage, not loss: shaded
red, never drawn as a bar at the top; maintenance and the monitor's isolation are shaded apart.
When a site was observed for a short time only, the x axis spans that time, in finer buckets
(down to a minute) with ticks at round local times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pukara import formats

HOUR_US = 3_600_000_000
FONT = 11  # px, every label; the template sets the same size
CHAR_W = 0.62  # a label's width per character, in em (system-ui digits and capitals fit)

# SmokePing's loss colours (its defaults for 20 pings), by the share of probes lost
LOSS_SCALE: tuple[tuple[float, str, str], ...] = (
    (0.0, "#26ff00", "0 %"),
    (5.0, "#00b8ff", "hasta 5 %"),
    (10.0, "#0059ff", "hasta 10 %"),
    (15.0, "#5e00ff", "hasta 15 %"),
    (25.0, "#7e00ff", "hasta 25 %"),
    (50.0, "#dd00ff", "hasta 50 %"),
    (100.0, "#ff0000", "más del 50 %"),
)


def loss_color(loss_pct: float) -> str:
    for bound, color, _ in LOSS_SCALE:
        if loss_pct <= bound:
            return color
    return LOSS_SCALE[-1][1]


def nice_step(span: float, most: int) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k that cuts ``span`` in at most ``most`` steps."""
    if span <= 0:
        return 1.0
    raw = span / max(1, most)
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw - 1e-12:
            return m * power
    return 10 * power


def _digits(step: float) -> int:
    for d in range(4):
        if abs(step * 10**d - round(step * 10**d)) < 1e-9:
            return d
    return 3


def text_width(text: str, size: float = FONT) -> float:
    return len(text) * size * CHAR_W


# -- availability dot plot -----------------------------------------------------------------
ROW_H = 16
LABEL_W = 230  # the site column
PLOT_W = 640
VALUE_GAP = 12
AXIS_H = 30


def axis_floor(values: Sequence[float], targets: Sequence[float]) -> float:
    """The zoomed axis' left end: below every target (by half a point at least) and every value
    within 5 points of the lowest target; a value further down is an arrow at the edge, so
    that one site down all month does not squash the others against 100 %."""
    lowest_target = min(targets, default=99.0)
    near = [v for v in values if v >= lowest_target - 5]
    floor = min([lowest_target - 0.5, *near])
    step = nice_step(100 - floor, 8)
    return round(max(0.0, math.floor(floor / step) * step), 6)


def availability_plot(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows with a verdict (met or not), worst first, on a dot plot against their targets."""
    values = [float(r["availability_pct"]) for r in rows]
    targets = [float(r["target_pct"]) for r in rows]
    lo = axis_floor(values, targets)

    def x(v: float) -> float:
        return round(LABEL_W + PLOT_W * (max(lo, v) - lo) / (100 - lo), 1)

    step = nice_step(100 - lo, 8)
    digits = _digits(step)
    ticks = []
    n = round((100 - lo) / step)
    for i in range(n + 1):
        v = lo + i * step
        ticks.append({"x": x(v), "label": formats.percent(v, digits)})
    entries = []
    for i, r in enumerate(rows):
        a, t = float(r["availability_pct"]), float(r["target_pct"])
        y = AXIS_H + ROW_H * i + ROW_H / 2
        site = f"{r['site']} · {r['name']}"
        most = int((LABEL_W - 12) / (FONT * CHAR_W))  # what the site column holds
        if len(site) > most:
            site = site[: most - 1] + "…"
        entries.append({
            "y": round(y, 1), "dot_x": x(a), "target_x": x(t), "clipped": a < lo,
            "color": "#1b7a3d" if r["met"] else "#c1121f", "site": site,
            "value": f"{formats.percent(a, 3)} (meta {formats.percent(t, 2)})",
        })  # fmt: skip
    height = AXIS_H + ROW_H * max(len(rows), 2) + 8
    return {
        "entries": entries, "ticks": ticks, "lo": lo, "left": LABEL_W, "right": LABEL_W + PLOT_W,
        "value_x": LABEL_W + PLOT_W + VALUE_GAP, "width": LABEL_W + PLOT_W + VALUE_GAP + 210,
        "height": height, "axis_y": AXIS_H - 6, "font": FONT,
        "lo_label": formats.percent(lo, digits),
    }  # fmt: skip


# -- latency (smoke) chart -----------------------------------------------------------------
SMOKE_LEFT = 58
SMOKE_W = 1116  # 1.5 px per hour of a 31-day month
SMOKE_H = 150
SMOKE_TOP = 10
RUG_H = 5  # the loss strip under the plot
OUTAGE = "#ffd6d6"  # rounds without any reply: the link was down
MAINTENANCE = "#d9e3f0"  # a maintenance window (the site's or its hub's): excluded
ISOLATION = "#e6dcf0"  # the monitor itself isolated: excluded
UNCOUNTED = "#888888"  # a median whose rounds were all excluded: no loss to colour by
DAY_S = 86_400
TICK_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
MOST_TICKS = 12


def _step_area(runs: list[list[tuple[float, float, float, float]]]) -> str:
    """Each run of hours (x0, x1, y_top, y_bottom) as one stepped polygon."""
    out = []
    for run in runs:
        top = "".join(f"V{yt:g}H{x1:g}" if i else f"M{x0:g} {yt:g}H{x1:g}"
                      for i, (x0, x1, yt, _) in enumerate(run))  # fmt: skip
        bottom = "".join(f"V{yb:g}H{x0:g}" for x0, _, _, yb in reversed(run))
        out.append(top + bottom + "z")
    return "".join(out)


def _day_ticks(start: datetime, end: datetime, tz: ZoneInfo, x: Any) -> list[dict[str, Any]]:
    """A tick at each local midnight, the day's number in the middle of its day (of the part
    shown, for a day cut by either end of the axis, when there is room for it)."""
    day = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while day < end:
        nxt = day + timedelta(days=1)  # wall-clock arithmetic: midnight, DST or not
        a = x(int(max(day, start).timestamp() * 1e6))
        b = x(int(min(nxt, end).timestamp() * 1e6))
        room = (day >= start and nxt <= end) or b - a >= 3 * FONT
        if day >= start or room:
            out.append({"x": a, "label_x": round((a + b) / 2, 1),
                        "label": str(day.day) if room else ""})  # fmt: skip
        day = nxt
    return out


def _time_ticks(start: datetime, end: datetime, tz: ZoneInfo, x: Any) -> list[dict[str, Any]]:
    """Ticks at round local times (every 1, 2, 5... minutes or 1, 2, 3... hours), HH:MM."""
    span = (end - start).total_seconds()
    step = next((s for s in TICK_STEPS_S if span / s <= MOST_TICKS), TICK_STEPS_S[-1])
    local = start.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    k = math.ceil((local - midnight).total_seconds() / step)
    out = []
    while (at := midnight + timedelta(seconds=k * step)) <= end:  # wall-clock steps
        at = at.astimezone(tz)
        ax = x(int(at.timestamp() * 1e6))
        out.append({"x": ax, "label_x": ax, "label": at.strftime("%H:%M")})
        k += 1
    return out


def _dates(start: datetime, end: datetime, tz: ZoneInfo, x: Any) -> list[dict[str, Any]]:
    """Under hour ticks: the date at the start of the axis and at each local midnight."""
    from babel.dates import format_date

    out: list[dict[str, Any]] = []
    day = start.astimezone(tz)
    while day < end:
        at = x(int(day.timestamp() * 1e6))
        if not out or at - out[-1]["x"] > 90:
            out.append({"x": at, "label": format_date(day, "d MMM y", locale=formats.LOCALE)})
        day = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return out


def _bands(intervals: Sequence[tuple[datetime, datetime]], x: Any) -> str:
    """Each interval as a full-height band, at least a pixel wide so that a short one shows."""
    out = []
    for s, e in intervals:
        a, b = x(int(s.timestamp() * 1e6)), x(int(e.timestamp() * 1e6))
        if b > a or (b == a and SMOKE_LEFT < a < SMOKE_LEFT + SMOKE_W):
            out.append(f"M{a:g} {SMOKE_TOP}h{max(1.0, round(b - a, 1)):g}v{SMOKE_H}H{a:g}z")
    return "".join(out)


def smoke_chart(
    hours: Sequence[Mapping[str, Any]],
    start: datetime,
    end: datetime,
    timezone: str,
    *,
    bucket_s: int = 3600,
    outages: Sequence[tuple[datetime, datetime]] = (),
    maintenance: Sequence[tuple[datetime, datetime]] = (),
    isolation: Sequence[tuple[datetime, datetime]] = (),
) -> dict[str, Any]:
    """Geometry of one site's latency between ``start`` and ``end`` (UTC), per ``bucket_s``.

    The median is coloured by the bucket's loss among the rounds with the link up
    (``loss_pct``); the rounds without any reply are an outage, shaded (with ``outages``),
    and maintenance and isolation are shaded apart, neither counted as loss. The x axis has
    a tick per local day over three days or more, else ticks at round local times.
    """
    lo_us, hi_us = int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)
    span = max(1, hi_us - lo_us)
    width_us = bucket_s * 1_000_000

    def x(us: int) -> float:
        return round(SMOKE_LEFT + SMOKE_W * (min(max(us, lo_us), hi_us) - lo_us) / span, 1)

    highest = max((float(h["p90"]) for h in hours if "p90" in h), default=0.0)
    step = nice_step(highest * 1.05 or 1.0, 5)
    top_ms = step * max(1, math.ceil(highest * 1.05 / step))
    bottom = SMOKE_TOP + SMOKE_H

    def y(ms: float) -> float:
        return round(bottom - SMOKE_H * min(ms, top_ms) / top_ms, 1)

    outer: list[list[tuple[float, float, float, float]]] = []
    inner: list[list[tuple[float, float, float, float]]] = []
    medians: dict[str, list[str]] = {}
    rug: dict[str, list[str]] = {}
    silent: list[str] = []  # buckets without any reply
    last_end: int | None = None
    last_y = 0.0
    for h in hours:
        s_us = int(h["start_us"])
        x0, x1 = x(s_us), x(s_us + width_us)
        if x1 <= x0:
            continue
        loss = h.get("loss_pct")
        color = UNCOUNTED if loss is None else loss_color(float(loss))
        if loss is not None and loss > 0:
            rug.setdefault(color, []).append(
                f"M{x0:g} {bottom + 2:g}h{x1 - x0:g}v{RUG_H}h-{x1 - x0:g}z"
            )
        if "median" not in h:
            silent.append(f"M{x0:g} {SMOKE_TOP}h{x1 - x0:g}v{SMOKE_H}h-{x1 - x0:g}z")
            last_end = None
            continue
        joined = last_end == s_us and outer
        if not joined:
            outer.append([])
            inner.append([])
        outer[-1].append((x0, x1, y(h["p90"]), y(h["p10"])))
        inner[-1].append((x0, x1, y(h["p75"]), y(h["p25"])))
        ym = y(h["median"])  # a stepped line: from the previous bucket's median when it joins
        medians.setdefault(color, []).append(
            f"M{x0:g} {last_y:g}V{ym:g}H{x1:g}" if joined else f"M{x0:g} {ym:g}H{x1:g}"
        )
        last_end, last_y = s_us + width_us, ym
    tz = ZoneInfo(timezone)
    by_day = (end - start).total_seconds() >= 3 * DAY_S
    days = _day_ticks(start, end, tz, x) if by_day else _time_ticks(start, end, tz, x)
    dates = [] if by_day else _dates(start, end, tz, x)
    yticks = [{"y": y(step * i), "label": formats.number(step * i, _digits(step))}
              for i in range(round(top_ms / step) + 1)] if highest else []  # fmt: skip
    return {
        "outer": _step_area(outer), "inner": _step_area(inner),
        "medians": [{"color": c, "d": "".join(p)} for c, p in medians.items()],
        "rug": [{"color": c, "d": "".join(p)} for c, p in rug.items()],
        "silent": "".join(silent) + _bands(outages, x), "maintenance": _bands(maintenance, x),
        "isolation": _bands(isolation, x), "days": days, "dates": dates, "by_day": by_day,
        "yticks": yticks, "left": SMOKE_LEFT, "right": SMOKE_LEFT + SMOKE_W, "top": SMOKE_TOP,
        "bottom": bottom, "width": SMOKE_LEFT + SMOKE_W + 24,  # a last HH:MM label fits
        "height": bottom + RUG_H + (34 if by_day else 46),
        "top_ms": top_ms if highest else None, "font": FONT,
    }  # fmt: skip
