"""Reports of one audit run: self-contained Spanish HTML, JSON, CSV and JUnit XML.

The HTML is for auditors (Jinja2, autoescaped, inline CSS and SVG only: it opens offline):
results per 2022 theme and per host, the trend against the previous run, the findings with
their evidence, every result. Figures a person reads go through :mod:`pukara.formats`; JSON
and CSV keep raw values. JUnit has one ``testcase`` per check and host, for pipelines.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import orjson

from auditoria.almacen import AuditRun
from auditoria.modelo import Check, Result, Status
from pukara.events import parse_timestamp
from pukara.text import csv_cell

STATUS_LABELS = {
    Status.PASS: "cumple",
    Status.FAIL: "no cumple",
    Status.ERROR: "error",
    Status.NOT_APPLICABLE: "no aplica",
    Status.WAIVED: "exceptuado",
}
STATUS_COLOURS = {
    Status.PASS: "#1a7f37",
    Status.FAIL: "#cf222e",
    Status.ERROR: "#8250df",
    Status.NOT_APPLICABLE: "#8c959f",
    Status.WAIVED: "#bf8700",
}
THEMES = {
    "A.5": "Organizacionales (A.5)",
    "A.6": "Personas (A.6)",
    "A.7": "Físicos (A.7)",
    "A.8": "Tecnológicos (A.8)",
}
NO_THEME = "Sin control 2022"
CSV_COLUMNS = (
    "run_id", "check_id", "host", "status", "message", "observed_at", "valid_until", "source",
    "waiver",
)  # fmt: skip


def theme(check: Check | None) -> str:
    """The 2022 theme of the check's first 2022 control."""
    controls = check.controls("2022") if check else []
    if not controls:
        return NO_THEME
    return THEMES.get(".".join(controls[0].split(".")[:2]), NO_THEME)


def counts(results: Sequence[Result]) -> dict[str, int]:
    out = {s.value: 0 for s in Status}
    for r in results:
        out[r.status.value] += 1
    return out


def pass_rate(results: Sequence[Result]) -> float | None:
    """Pass share (0-100) of the results that judged something (not n/a)."""
    judged = [r for r in results if r.status is not Status.NOT_APPLICABLE]
    if not judged:
        return None
    return 100 * sum(r.status is Status.PASS for r in judged) / len(judged)


# -- JSON, CSV, JUnit -----------------------------------------------------------------------


def to_json(run: AuditRun) -> bytes:
    state = "completa" if run.complete else "incompleta"
    data = {"run": {**run.entity(), "state": state}, "results": [r.to_dict() for r in run.results]}
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def to_csv(run: AuditRun) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in run.results:
        row = (run.id, r.check_id, r.host, r.status.value, r.message, r.observed_at,
               r.valid_until, r.source, r.waiver or "")  # fmt: skip
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def to_junit(run: AuditRun, checks: Mapping[str, Check]) -> bytes:
    """JUnit XML: a suite per host, a testcase per check (fail → failure, error → error,
    not applicable and waived → skipped, with the reason)."""
    state = "" if run.complete else " (incompleta)"
    root = ET.Element("testsuites", name=f"pukara auditoria {run.id}{state}")
    by_host: dict[str, list[Result]] = {}
    for r in run.results:
        by_host.setdefault(r.host, []).append(r)
    for host in sorted(by_host):
        results = by_host[host]
        c = counts(results)
        suite = ET.SubElement(
            root, "testsuite", name=host, tests=str(len(results)), failures=str(c["fail"]),
            errors=str(c["error"]), skipped=str(c["not-applicable"] + c["waived"]),
            timestamp=min(r.observed_at for r in results),
        )  # fmt: skip
        for r in sorted(results, key=lambda r: (r.check_id, r.source)):
            check = checks.get(r.check_id)
            case = ET.SubElement(
                suite, "testcase", name=r.check_id, classname=f"auditoria.{host}",
                time="0",
            )  # fmt: skip
            if check is not None:
                props = ET.SubElement(case, "properties")
                for link in check.links:
                    ET.SubElement(props, "property", name=f"iso27001:{link.edition}",
                                  value=link.control)  # fmt: skip
            if r.status is Status.FAIL:
                ET.SubElement(case, "failure", message=r.message, type="fail").text = r.message
            elif r.status is Status.ERROR:
                ET.SubElement(case, "error", message=r.message, type="error").text = r.message
            elif r.status in (Status.NOT_APPLICABLE, Status.WAIVED):
                ET.SubElement(case, "skipped", message=f"{STATUS_LABELS[r.status]}: {r.message}")
    totals = counts(run.results)
    root.set("tests", str(len(run.results)))
    root.set("failures", str(totals["fail"]))
    root.set("errors", str(totals["error"]))
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


# -- HTML -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One stacked bar: a label and its (status, count) segments."""

    label: str
    segments: tuple[tuple[Status, int], ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.segments)


def _bars(groups: Mapping[str, Sequence[Result]], order: Sequence[str] = ()) -> list[Bar]:
    """One bar per group: in ``order`` first (the themes A.5 to A.8), then by label."""
    out = []
    rank = {label: n for n, label in enumerate(order)}
    for label in sorted(groups, key=lambda g: (rank.get(g, len(rank)), g)):
        c = counts(groups[label])
        out.append(Bar(label, tuple((s, c[s.value]) for s in Status if c[s.value])))
    return out


def stacked_svg(bars: Sequence[Bar], *, label_width: int = 190, width: int = 860) -> str:
    """Horizontal stacked bars, one per label, as inline SVG (escaped by the caller's
    autoescape: built with markupsafe so labels stay text)."""
    from markupsafe import Markup, escape

    from pukara.formats import number

    row, gap = 22, 8
    height = max(1, len(bars)) * (row + gap) + 4
    top = max((b.total for b in bars), default=1) or 1
    span = width - label_width - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for i, bar in enumerate(bars):
        y = i * (row + gap) + 2
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{escape(bar.label)}</text>"
        )
        x = float(label_width)
        for status, n in bar.segments:
            w = span * n / top
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row}" '
                f'fill="{STATUS_COLOURS[status]}"><title>{escape(bar.label)}: '
                f"{escape(number(n))} {STATUS_LABELS[status]}</title></rect>"
            )
            x += w
        total = escape(number(bar.total))
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12">{total}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every label above is escaped)


def trend_svg(points: Sequence[tuple[str, float]]) -> str:
    """Pass rate (0-100) of the previous and this run, as a small line chart."""
    from markupsafe import Markup, escape

    from pukara.formats import percent

    width, height, pad = 420, 170, 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" '
        'stroke="#d0d7de"/>',
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{height - pad}" stroke="#d0d7de"/>',
        f'<text x="{pad - 6}" y="16" text-anchor="end" font-size="11">100</text>',
        f'<text x="{pad - 6}" y="{height - pad}" text-anchor="end" font-size="11">0</text>',
    ]
    step = (width - pad - 60) / max(1, len(points) - 1)
    xy = []
    for i, (label, rate) in enumerate(points):
        x = pad + 20 + i * step
        y = 10 + (height - pad - 10) * (1 - rate / 100)
        xy.append((x, y, label, rate))
    if len(xy) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in xy)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#0969da" stroke-width="2"/>')
    for x, y, label, rate in xy:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#0969da"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{y - 9:.1f}" text-anchor="middle" font-size="12">'
            f"{escape(percent(rate, 1))}</text>"
        )
        parts.append(
            f'<text x="{x:.1f}" y="{height - pad + 16}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every label above is escaped)


def _when(text: str) -> str:
    from pukara.formats import datetime_text

    return datetime_text(parse_timestamp(text), UTC, seconds=True)


def html(run: AuditRun, checks: Mapping[str, Check], previous: AuditRun | None = None) -> str:
    import jinja2

    from pukara.formats import number, percent

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("auditoria", "plantillas"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = number
    env.filters["when"] = _when
    results = list(run.results)
    by_theme: dict[str, list[Result]] = {}
    by_host: dict[str, list[Result]] = {}
    for r in results:
        by_theme.setdefault(theme(checks.get(r.check_id)), []).append(r)
        by_host.setdefault(r.host, []).append(r)
    points: list[tuple[str, float]] = []
    for label, rs in (("anterior", previous.results if previous else ()), ("esta", results)):
        rate = pass_rate(list(rs))
        if rate is not None:
            points.append((label, rate))
    rate = pass_rate(results)
    findings = [r for r in results if r.status in (Status.FAIL, Status.ERROR, Status.WAIVED)]
    template = env.get_template("informe.html.j2")
    return str(
        template.render(
            run=run,
            checks=checks,
            counts=counts(results),
            statuses=list(Status),
            labels={s.value: STATUS_LABELS[s] for s in Status},
            colours={s.value: STATUS_COLOURS[s] for s in Status},
            rate=percent(rate, 1) if rate is not None else "—",
            theme_svg=stacked_svg(_bars(by_theme, [*THEMES.values(), NO_THEME])),
            host_svg=stacked_svg(_bars(by_host)),
            trend=trend_svg(points) if previous is not None else None,
            previous=previous,
            findings=findings,
            results=results,
            hosts=len(by_host),
            controls=lambda check_id, edition: ", ".join(
                checks[check_id].controls(edition) if check_id in checks else []
            ),
        )
    )


def render(
    run: AuditRun, fmt: str, checks: Mapping[str, Check], previous: AuditRun | None = None
) -> bytes:
    if fmt == "html":
        return html(run, checks, previous).encode("utf-8")
    if fmt == "json":
        return to_json(run)
    if fmt == "csv":
        return to_csv(run).encode("utf-8")
    if fmt == "junit":
        return to_junit(run, checks)
    raise ValueError(f"unknown report format {fmt!r}")


def summary(run: AuditRun) -> dict[str, Any]:
    return {"run_id": run.id, "results": len(run.results), **counts(list(run.results))}
