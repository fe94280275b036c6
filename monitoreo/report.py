"""The monthly SLA report: records for tables, JSON and CSV, and a self-contained HTML page.

The page opens with a summary an auditor can sign (sites monitored, sites that met their target,
the worst ten, the month's coverage and how availability is computed), then the availability
dot plot, the sites with a verdict, incidents, the monitor's isolation periods, maintenance
windows with who entered them and when, the links' speed and use, one SmokePing-class latency
chart per site and, in an appendix, the sites without data, one line.

Only a site observed for enough of the month gets a verdict (see :mod:`monitoreo.sla`); every
output (table, JSON, CSV, HTML) reads the same ``verdict``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitoreo import charts, maintenance, sla
from monitoreo.sites import Site
from pukara import formats
from pukara.events import format_timestamp, get_field, parse_timestamp, utc_now
from pukara.store import Store

REPORT_TZ = "America/Lima"  # the monitor's, headquarters': the report's own times
LINK_DATASET = "monitoreo.enlace"
WORST = 10


SOME = 10  # a summary line names this many sites, then says how many more


def _some(codes: list[str]) -> str:
    """The first site codes of a long list and how many more: one readable summary line."""
    if len(codes) <= SOME:
        return ", ".join(codes)
    return f"{', '.join(codes[:SOME])} y {_num(len(codes) - SOME)} más (lista completa: -f json)"


def build(
    store: Store,
    sites: Mapping[str, Site],
    month: str,
    *,
    min_coverage_pct: float = sla.DEFAULT_MIN_COVERAGE_PCT,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The month's report as data; a month that has not begun yet is a usage error.

    For a month under way, ``in_progress`` is true and ``until_utc`` says up to when: coverage
    is then over the time elapsed and each verdict is provisional (``provisional`` per row).
    """
    moment = now or utc_now()
    sla.check_month(month, {s.timezone for s in sites.values()}, moment)
    results = sla.compute(store, sites, month, min_coverage_pct=min_coverage_pct, now=moment)
    rows = [r.row() for r in results]
    since, until = _span(sites, month)
    isolation = _isolation(store, since, until)
    windows = window_records(store, sites, month)
    vpn = sla.vpn_indicator(store, sites, month, [r.site for r in results if r.rounds])
    return {
        "month": month,
        "previous": sla.previous_month(month),
        "generated_utc": format_timestamp(moment),
        "in_progress": until > moment,
        "until_utc": format_timestamp(min(until, moment)),
        "min_coverage_pct": min_coverage_pct,
        "results": results,
        "rows": rows,
        "summary": _summary(rows, results, sites, isolation, windows),
        "incidents": [{"site": r.site, **i} for r in results for i in r.incidents],
        "isolation": isolation,
        "maintenance": windows,
        "vpn": vpn,
        "speeds": links(store, sites, month),
    }


def _span(sites: Mapping[str, Site], month: str) -> tuple[datetime, datetime]:
    zones = {s.timezone for s in sites.values()} or {"UTC"}
    bounds = [sla.month_bounds(month, z) for z in zones]
    return min(b[0] for b in bounds), max(b[1] for b in bounds)


def _isolation(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    out = []
    for s, e in sla.isolated_intervals(store, since, until):
        s, e = max(s, since), min(e, until)
        out.append({"start_utc": format_timestamp(s), "end_utc": format_timestamp(e),
                    "minutes": round((e - s).total_seconds() / 60, 1)})  # fmt: skip
    return out


def window_records(store: Store, sites: Mapping[str, Site], month: str) -> list[dict[str, Any]]:
    """The month's maintenance windows with who entered each and when, from the change log,
    and the sites that hang from each window's site (its window is theirs too).

    A window entered after it began ("after the fact") excludes time already past: marked.
    """
    zones = {c: s.timezone for c, s in sites.items()}
    out = []
    for r in maintenance.records(maintenance.windows(store), zones, maintenance.entered(store)):
        lo, hi = sla.month_bounds(month, r["timezone"])
        if parse_timestamp(r["end_utc"]) <= lo or parse_timestamp(r["start_utc"]) >= hi:
            continue
        r["dependents"] = sorted(c for c, s in sites.items()
                                 if s.address and r["site"] in sla.hubs(c, sites))  # fmt: skip
        out.append(r)
    return out


def _summary(
    rows: Sequence[Mapping[str, Any]],
    results: Sequence[sla.SiteSla],
    sites: Mapping[str, Site],
    isolation: Sequence[Mapping[str, Any]],
    windows: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    judged = [r for r in rows if r["verdict"] in ("met", "not_met")]
    worst = sorted(judged, key=lambda r: (r["availability_pct"], -r["down_minutes"], r["site"]))
    known = sum(r.observed_s + r.excluded_s for r in results)
    rounds = sum(r.rounds for r in results)
    # one coverage: each monitored site's (see monitoreo.sla), and their mean here
    covered = [r["coverage_pct"] for r in rows if r["verdict"] != "no_data"]
    return {
        "sites_in_inventory": len(sites),
        "sites_probed": len(rows),  # with a probe address
        "sites_monitored": sum(1 for r in rows if r["verdict"] != "no_data"),
        "sites_judged": len(judged),
        "sites_met": sum(1 for r in judged if r["verdict"] == "met"),
        "sites_not_met": sum(1 for r in judged if r["verdict"] == "not_met"),
        "insufficient_coverage": [
            r["site"] for r in rows if r["verdict"] == "insufficient_coverage"
        ],
        "no_data_sites": [r["site"] for r in rows if r["verdict"] == "no_data"],
        "not_probed_sites": sorted(c for c, s in sites.items() if not s.address),
        "worst": [r["site"] for r in worst[:WORST]],
        "coverage_pct": round(sum(covered) / len(covered), 3) if covered else None,
        "mean_round_s": round(known / rounds, 1) if rounds else None,
        "max_gap_s": sla.MAX_GAP_S,
        "isolation_periods": len(isolation),
        "isolation_minutes": round(sum(i["minutes"] for i in isolation), 1),
        "maintenance_windows": len(windows),
        "maintenance_minutes": round(sum(w["minutes"] for w in windows), 1),
        "excluded_minutes": round(sum(r["excluded_minutes"] for r in rows), 1),
    }


# -- links ---------------------------------------------------------------------------------
def _last_link(
    store: Store, code: str, lo: datetime, hi: datetime, **where: Any
) -> dict[str, Any] | None:
    found = store.search_events(dataset=LINK_DATASET, since=lo, until=hi, newest_first=True,
                                limit=1, where={"host.name": code, **where})  # fmt: skip
    return next(iter(found), None)


def _why_no_counters(site: Site, last: Mapping[str, Any] | None,
                     good: Mapping[str, Any] | None) -> str:  # fmt: skip
    if not site.credential_profile:
        return "sin perfil de credenciales SNMP en el inventario"
    if last is not None and get_field(last, "error.message"):
        return f"error SNMP: {get_field(last, 'error.message')}"
    if good is not None:
        reason = get_field(good, "monitoreo.link.unknown_reason")
        if reason:
            return f"contadores leídos sin tasa: {reason}"
        if get_field(good, "monitoreo.link.in_octets") is None:
            return "el equipo responde pero no se halló su interfaz WAN: sin contadores"
    if last is None:
        return "ninguna lectura SNMP registrada en el mes (vigilar sin SNMP o lecturas depuradas)"
    return "sin lecturas de contadores en el mes"


def links(store: Store, sites: Mapping[str, Site], month: str) -> list[dict[str, Any]]:
    """Each monitored link's speed and use this month, and why not when the counters were not
    read (the newest poll's error: no credentials, SNMP timeout, no interface counters)."""
    trend = {t["site"]: t for t in sla.speed_change(store, sites, month)}
    out = []
    for code, t in trend.items():
        site = sites[code]
        lo, hi = sla.month_bounds(month, site.timezone)
        last = _last_link(store, code, lo, hi)
        good = last if last is not None and get_field(last, "event.outcome") == "success" else (
            _last_link(store, code, lo, hi, **{"event.outcome": "success"}))  # fmt: skip
        speed = get_field(good, "monitoreo.link.speed_mbps") if good else None
        mean = t["mean_bps"]

        def use(mbps: float | None, mean: float | None = mean) -> float | None:
            return round(100 * mean / (mbps * 1e6), 2) if mean is not None and mbps else None

        out.append({
            **t, "speed_mbps": speed, "contracted_mbps": site.bandwidth_mbps,
            "utilisation_pct": use(speed), "contracted_utilisation_pct": use(site.bandwidth_mbps),
            "reason": None if mean is not None else _why_no_counters(site, last, good),
        })  # fmt: skip
    return out


# -- what a person reads -------------------------------------------------------------------
def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else formats.percent(value, digits)


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else formats.number(value, digits)


def _when(ts: str | None, zone: str = REPORT_TZ) -> str:
    return "—" if not ts else formats.datetime_text(parse_timestamp(ts), ZoneInfo(zone))


def _rate(bps: float | None) -> str:
    if bps is None:
        return "—"
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= scale:
            return f"{formats.number(bps / scale, 2)} {unit}"
    return f"{formats.number(bps, 0)} bit/s"


def verdict_text(row: Mapping[str, Any]) -> str:
    """The verdict as a person reads it; «(provisional)» on a month under way."""
    text = sla.VERDICTS[row["verdict"]]
    return f"{text} (provisional)" if row.get("provisional") else text


def period_text(data: Mapping[str, Any]) -> str:
    """«2026-10», or «2026-12 (mes en curso, hasta 1 dic. 2026, 06:44 PET)»."""
    if not data["in_progress"]:
        return str(data["month"])
    return f"{data['month']} (mes en curso, hasta {_when(data['until_utc'])})"


def table_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """The sites with data, as a person reads them: formatted numbers, verdicts in Spanish."""
    out = []
    for r in data["rows"]:
        if r["verdict"] == "no_data":
            continue
        out.append({
            "site": r["site"], "name": r["name"],
            "availability_pct": _pct(r["availability_pct"], 3),
            "target_pct": _pct(r["target_pct"], 2), "coverage_pct": _pct(r["coverage_pct"], 1),
            "verdict": verdict_text(r),
            "down_minutes": _num(r["down_minutes"], 1),
            "excluded_minutes": _num(r["excluded_minutes"], 1),
            "incidents": _num(r["incidents"]), "rounds": _num(r["rounds"]),
        })  # fmt: skip
    return out


def summary_lines(data: Mapping[str, Any]) -> list[str]:
    """The summary the table opens with, for the console (stdout, before the table)."""
    s, vpn = data["summary"], data["vpn"]
    elapsed = "del tiempo transcurrido" if data["in_progress"] else "del mes"
    lines = [f"Disponibilidad {period_text(data)}."]
    if data["in_progress"]:
        lines.append("Mes en curso: cobertura sobre el tiempo transcurrido y veredictos "
                     "provisionales, que pueden cambiar hasta el fin del mes.")  # fmt: skip
    lines.append(
        f"Sedes monitoreadas (con rondas este mes): {_num(s['sites_monitored'])} de "
        f"{_num(s['sites_probed'])} con dirección de sondeo; cumplen su meta "
        f"{_num(s['sites_met'])} de {_num(s['sites_judged'])} con veredicto; cobertura media de "
        f"las monitoreadas {_pct(s['coverage_pct'], 1)} {elapsed}."
    )
    if s["insufficient_coverage"]:
        lines.append(
            f"Cobertura insuficiente (observadas menos del {_pct(data['min_coverage_pct'], 0)} "
            f"{elapsed}, sin veredicto): {', '.join(s['insufficient_coverage'])}."
        )
    if s["no_data_sites"]:
        lines.append(f"Sin datos ({_num(len(s['no_data_sites']))}): {_some(s['no_data_sites'])}.")
    lines.append(
        f"Kits VPN operativos: {_num(vpn['working'])} de {_num(vpn['monitored_with_kit'])} "
        f"misiones monitoreadas con kit ({_num(vpn['missions_with_kit'])} con kit en el "
        "inventario)."
    )
    return lines


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitoreo", "plantillas"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(pct=_pct, num=_num, when=_when, rate=_rate, verdict=sla.VERDICTS.get,
                       verdict_text=verdict_text,
                       mbps=lambda v: _rate(None if v is None else v * 1e6))  # fmt: skip
    return env


def _outages(incidents: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, datetime]]:
    return [(parse_timestamp(i["start_utc"]), parse_timestamp(i["end_utc"])) for i in incidents]


def html(data: Mapping[str, Any]) -> str:
    results = data["results"]
    by_site = {r["site"]: r for r in data["rows"]}
    judged = sorted((r for r in data["rows"] if r["verdict"] in ("met", "not_met")),
                    key=lambda r: (r["availability_pct"], r["site"]))  # fmt: skip
    smokes = []
    for r in results:
        if not r.smoke or r.chart_span is None:
            continue
        start, end = r.chart_span
        chart = charts.smoke_chart(r.smoke, start, end, r.timezone, bucket_s=r.bucket_s,
                                   outages=_outages(r.incidents), maintenance=r.maintenance,
                                   isolation=r.isolation)  # fmt: skip
        whole = sla.month_bounds(data["month"], r.timezone)
        smokes.append({"site": r.site, "name": r.name, "timezone": r.timezone,
                       "verdict": r.verdict, "row": by_site[r.site], "chart": chart,
                       "from": _when(format_timestamp(start), r.timezone),
                       "to": _when(format_timestamp(end), r.timezone),
                       "partial": (start, end) != whole,
                       "bucket": _bucket_text(r.bucket_s)})  # fmt: skip
    return str(
        _environment()
        .get_template("informe.html.j2")
        .render(
            month=data["month"], previous=data["previous"], summary=data["summary"],
            period=period_text(data), in_progress=data["in_progress"],
            until=_when(data["until_utc"]),
            generated=_when(data["generated_utc"]), min_coverage=data["min_coverage_pct"],
            rows=data["rows"], judged=judged, by_site=by_site,
            insufficient=[r for r in data["rows"] if r["verdict"] == "insufficient_coverage"],
            incidents=data["incidents"], isolation=data["isolation"],
            maintenance=data["maintenance"], vpn=data["vpn"],
            speeds=[s for s in data["speeds"] if by_site[s["site"]]["verdict"] != "no_data"],
            plot=charts.availability_plot(judged), smokes=smokes, loss_scale=charts.LOSS_SCALE,
            shades={"outage": charts.OUTAGE, "maintenance": charts.MAINTENANCE,
                    "isolation": charts.ISOLATION, "uncounted": charts.UNCOUNTED},
            report_tz=REPORT_TZ,
        )
    )  # fmt: skip


def _bucket_text(seconds: int) -> str:
    return "hora" if seconds == 3600 else f"{seconds // 60} min"
