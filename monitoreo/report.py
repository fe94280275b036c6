"""The monthly SLA report: records for tables, JSON and CSV, and a self-contained HTML page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from monitoreo import sla
from monitoreo.sites import Site
from pukara.events import format_timestamp, utc_now
from pukara.store import Store

BAR_WIDTH = 400
SMOKE_HEIGHT = 80


def build(store: Store, sites: Mapping[str, Site], month: str) -> dict[str, Any]:
    results = sla.compute(store, sites, month)
    return {
        "month": month,
        "previous": sla.previous_month(month),
        "results": results,
        "rows": [r.row() for r in results],
        "incidents": [{"site": r.site, **i} for r in results for i in r.incidents],
        "vpn": sla.vpn_indicator(store, sites, month),
        "speeds": sla.speed_change(store, sites, month),
    }


def _bars(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    items = []
    for i, r in enumerate(rows):
        a = r["availability_pct"]
        w = 0 if a is None else BAR_WIDTH * a / 100
        items.append({
            "site": r["site"], "y": 4 + 18 * i, "w": round(w, 1),
            "target_x": round(BAR_WIDTH * r["target_pct"] / 100, 1),
            "label": "sin datos" if a is None else f"{a:.3f} %",
            "color": "#999" if a is None else ("#2a9d8f" if r["met"] else "#d62828"),
        })  # fmt: skip
    return {
        "entries": items,
        "left": 90,
        "width": 90 + BAR_WIDTH + 90,
        "height": 8 + 18 * len(rows),
    }


def _bar(x: float, w: float, top: float, bottom: float) -> str:
    return f"M{x:g} {top:g}h{w:g}v{max(0.5, round(bottom - top, 1)):g}h-{w:g}z"


def _smoke(result: sla.SiteSla) -> dict[str, Any]:
    """One site's hourly smoke: bands and medians as three SVG paths; a tooltip per loss."""
    hours = result.smoke
    top = max((h.get("p90", 0.0) for h in hours), default=0.0) * 1.1 or 1.0
    w = max(1.0, min(6.0, 744 / max(len(hours), 1)))

    def y(v: float) -> float:
        return round(SMOKE_HEIGHT - SMOKE_HEIGHT * v / top, 1)

    outer, inner, medians = [], [], []
    losses: list[tuple[float, str]] = []
    for i, h in enumerate(hours):
        x = round(i * w, 1)
        loss = round(h["loss_pct"], 1)
        if loss:
            losses.append((x, f"{h['hour']}: pérdida {loss} %"))
        if "median" in h:
            outer.append(_bar(x, w, y(h["p90"]), y(h["p10"])))
            inner.append(_bar(x, w, y(h["p75"]), y(h["p25"])))
            medians.append(_bar(x, w, y(h["median"]), y(h["median"]) + 1.5))
    return {"site": result.site, "outer": "".join(outer), "inner": "".join(inner),
            "medians": "".join(medians), "losses": losses, "w": w,
            "width": round(w * max(len(hours), 1)), "height": SMOKE_HEIGHT,
            "top": round(top, 1)}  # fmt: skip


def html(data: Mapping[str, Any]) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitoreo", "plantillas"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("informe.html.j2").render(
        month=data["month"], previous=data["previous"], generated=format_timestamp(utc_now()),
        rows=data["rows"], incidents=data["incidents"], vpn=data["vpn"], speeds=data["speeds"],
        bars=_bars(data["rows"]), smokes=[_smoke(r) for r in data["results"] if r.smoke],
    )  # fmt: skip
