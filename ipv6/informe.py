"""`ipv6 informe`: the evidence for the DS 081-2017-PCM transition plan.

The report follows the plan's sections: *diagnóstico* (network devices, servers, address plan
and public services with the NIST-style assigned / reachable / operational counts) and
*pruebas* (every check run and its result, with the evidence of each non-pass), then the plan
indicator "% of Internet services in dual stack" for the PEGE report. It reads stored runs
only (:mod:`ipv6.almacen`): the chosen run and, for the other kinds, the newest run finished
no later than it. :func:`build` gives raw, JSON-able data; the HTML formats every figure
through :mod:`pukara.formats`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from ipv6 import indicador
from ipv6.almacen import KIND_TEXT, KINDS, Run, latest_before, list_runs, load_run
from ipv6.modelo import CheckResult, Status
from pukara.events import format_timestamp, parse_timestamp, utc_now

if TYPE_CHECKING:
    from pukara.store import Store

REPORT_TZ = "America/Lima"
STATUS_TEXT = {
    "pass": "cumple",
    "partial": "parcial",
    "warn": "advierte",
    "fail": "falla",
    "not-tested": "sin probar",
    "not-applicable": "no aplica",
}
STATUS_ORDER = [s.value for s in Status]
CSV_FIELDS = ["run_id", "kind", "subject", "check", "category", "status", "message",
              "evidence", "duration_ms"]  # fmt: skip


def _pick(store: Store, run_id: str | None) -> Run:
    if run_id is not None:
        return load_run(store, run_id)
    if list_runs(store, "dominios"):
        return load_run(store, kind="dominios")
    return load_run(store)


def _run_info(run: Run) -> dict[str, Any]:
    return {**run.summary(), "kind_text": KIND_TEXT.get(run.kind, run.kind),
            "subjects": len({r.subject for r in run.results}),
            "nonzero": [(s, n) for s in STATUS_ORDER if (n := run.counts.get(s, 0))]}  # fmt: skip


def _by_check(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """Per check: how many subjects got each status, and the subjects that did not pass."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r.check, {"check": r.check, "category": r.category.value,
                                        "counts": dict.fromkeys(STATUS_ORDER, 0),
                                        "failing": []})  # fmt: skip
        row["counts"][r.status.value] += 1
        if r.status in (Status.FAIL, Status.PARTIAL):
            row["failing"].append(r.subject)
    return [rows[k] for k in sorted(rows, key=_check_key)]


_PREFIX_ORDER = "CNWMDSP"  # vantage, name servers, web, mail, devices, servers, plan


def _check_key(check: str) -> tuple[int, int, str]:
    head, digits, tail = check[:1], "", check[1:]
    while tail[:1].isdigit():
        digits, tail = digits + tail[0], tail[1:]
    at = _PREFIX_ORDER.find(head)
    return at if at >= 0 else len(_PREFIX_ORDER), int(digits or 0), check


def _subjects(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """Per subject (domain, device, server): its statuses by check and its counts."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r.subject, {"subject": r.subject, "checks": {},
                                          "counts": dict.fromkeys(STATUS_ORDER, 0)})  # fmt: skip
        row["checks"][r.check] = r.status.value
        row["counts"][r.status.value] += 1
    return [rows[k] for k in sorted(rows)]


def _findings(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    keep = (Status.FAIL, Status.PARTIAL, Status.WARN)
    rows = [r.to_dict() for r in results if r.status in keep]
    for row in rows:
        row["evidence_text"] = json.dumps(row["evidence"], ensure_ascii=False, sort_keys=True)
    return sorted(rows, key=lambda d: (_check_key(d["check"]), d["subject"]))


def _section(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    results = list(run.results)
    return {"run": _run_info(run), "checks": _by_check(results),
            "subjects": _subjects(results), "findings": _findings(results)}  # fmt: skip


def _services(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    states = indicador.services(run.results)
    counts = indicador.counts(states)
    share = indicador.indicator(states)
    tested = [s for s in states if s.tested]
    return {
        "counts": [c.to_dict() | {"kind_text": indicador.SERVICE_TEXT[c.kind]}
                   for c in counts.values()],
        "indicator": share,
        "operational": sum(s.operational for s in tested),
        "tested": len(tested),
        "not_tested": len(states) - len(tested),
        "run_id": run.id,
        "finished_at": run.finished_at,
    }  # fmt: skip


def build(store: Store, run_id: str | None = None) -> dict[str, Any]:
    """The report's data: raw values, JSON-able."""
    main = _pick(store, run_id)
    runs: dict[str, Run | None] = {}
    for kind in KINDS:
        runs[kind] = main if main.kind == kind else latest_before(store, kind, main.finished_at)
    domains = runs["dominios"]
    return {
        "generated_at": format_timestamp(utc_now()),
        "run": _run_info(main),
        "diagnostico": {
            "equipos": _section(runs["equipos"]),
            "servidores": _section(runs["servidores"]),
            "plan": _section(runs["plan"]),
            "servicios": _services(domains),
        },
        "pruebas": {kind: _section(runs[kind]) for kind in KINDS},
        "indicador": _services(domains),
    }


def _runs_in(data: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for section in data["pruebas"].values():
        if section is not None:
            yield section


def results_of(store: Store, data: Mapping[str, Any]) -> list[tuple[Run, CheckResult]]:
    """Every stored result of the runs the report covers, in report order."""
    out: list[tuple[Run, CheckResult]] = []
    for section in _runs_in(data):
        run = load_run(store, section["run"]["id"])
        out.extend((run, r) for r in run.results)
    return out


def csv_text(rows: Sequence[tuple[Run, CheckResult]]) -> str:
    from pukara.text import csv_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for run, r in rows:
        d = r.to_dict()
        writer.writerow([csv_cell(str(v)) for v in (
            run.id, run.kind, d["subject"], d["check"], d["category"], d["status"],
            d["message"], json.dumps(d["evidence"], ensure_ascii=False, sort_keys=True),
            "" if d["duration_ms"] is None else d["duration_ms"])])  # fmt: skip
    return buf.getvalue()


def junit_text(rows: Sequence[tuple[Run, CheckResult]]) -> str:
    from ipv6.junit import Case, cases_junit

    cases = [Case(f"{run.kind} {r.subject} {r.check}", r.status.value, r.message)
             for run, r in rows]  # fmt: skip
    return cases_junit("pukara ipv6 informe", cases)


def _moment(value: Any, tz: tzinfo | str | None = REPORT_TZ) -> str:
    from zoneinfo import ZoneInfo

    from pukara.formats import datetime_text

    if not isinstance(value, str) or not value:
        return ""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return datetime_text(parse_timestamp(value), zone)


def bars(counts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Inline SVG geometry: per service kind, one bar per NIST stage, widths in 0-300."""
    out = []
    for row in counts:
        total = max(int(row["services"]), 1)
        out.append({"kind_text": row["kind_text"], "bars": [
            {"label": label, "value": int(row[key]),
             "width": round(300 * int(row[key]) / total, 1)}
            for key, label in (("assigned", "asignado"), ("reachable", "alcanzable"),
                               ("operational", "operativo"))]})  # fmt: skip
    return out


def html(data: Mapping[str, Any]) -> str:
    import jinja2

    from pukara.formats import number, percent

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ipv6", "plantillas"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = number
    env.filters["pct"] = lambda v: "—" if v is None else percent(100 * v, 1)
    env.filters["momento"] = _moment
    env.filters["estado"] = lambda s: STATUS_TEXT.get(s, s)
    template = env.get_template("informe.html.j2")
    return str(template.render(**data, bars=bars, status_order=STATUS_ORDER,
                               status_text=STATUS_TEXT, kind_text=KIND_TEXT))  # fmt: skip
