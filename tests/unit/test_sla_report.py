"""The monthly SLA report an auditor signs, on a realistic October of 150 sites (a real store).

See :mod:`tests.unit.sla_fixture` for what the month holds.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from cli import main
from monitoreo import charts, report
from monitoreo.sites import Site
from pukara.config import load_settings
from pukara.errors import ConfigError
from pukara.store import SQLiteStore
from tests.unit import sla_fixture
from tests.unit.sla_fixture import MONTH, NOW

Month = tuple[Path, dict[str, Site], dict[str, Any], str]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    db = tmp_path_factory.mktemp("sla") / "pukara.db"
    sites = sla_fixture.build(db)
    with SQLiteStore(db) as store:
        data = report.build(store, sites, MONTH, now=NOW)
    return db, sites, data, report.html(data)


def _rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["site"]: r for r in data["rows"]}


def _svgs(page: str) -> list[ElementTree.Element]:
    found = re.findall(r"<svg.*?</svg>", page, re.S)
    return [ElementTree.fromstring(m) for m in found]  # noqa: S314 - our own page


def _cli(db: Path, *args: str) -> list[str]:
    return ["--base-datos", str(db), "monitoreo", "informe", "--mes", MONTH, *args]


# -- summary first -------------------------------------------------------------------------
def test_the_page_opens_with_the_summary_and_the_method(month: Month) -> None:
    _, _, data, page = month
    s = data["summary"]
    assert s["sites_probed"] == 150 and s["sites_monitored"] == 144 and s["sites_judged"] == 140
    assert (s["sites_met"], s["sites_not_met"]) == (137, 3)
    assert s["worst"][:3] == ["s030", "s020", "s010"] and len(s["worst"]) == 10
    assert s["mean_round_s"] == 600.0 and s["isolation_periods"] == 1
    assert s["maintenance_windows"] == 2 and s["maintenance_minutes"] == 180.0
    assert 90 < s["coverage_pct"] < 96
    order = [page.index(h) for h in ('id="resumen"', "Cómo se calcula", "menor disponibilidad",
                                     'id="disponibilidad"', 'id="veredictos"', 'id="incidentes"',
                                     'id="latencia"', 'id="anexo"')]  # fmt: skip
    assert order == sorted(order)
    summary = page[: page.index('id="disponibilidad"')]
    for text in ("Sedes monitoreadas<b>144</b>", "137 de 140", "ronda media 600.0 s",
                 "ventanas de mantenimiento", "aislamiento del", "se excluye"):  # fmt: skip
        assert text.lower() in summary.lower(), text
    worst = summary[summary.index("menor disponibilidad") :]
    assert worst.index(">s030<") < worst.index(">s020<") < worst.index(">s010<")


def test_the_generation_time_reads_in_spanish(month: Month) -> None:
    assert "Generado el 1 dic. 2026, 10:04 PET" in month[3]


# -- verdicts only for sites monitored -----------------------------------------------------
def test_a_stray_round_is_insufficient_coverage_not_zero_percent(month: Month) -> None:
    _, _, data, page = month
    rows = _rows(data)
    stray = rows["s140"]
    assert stray["availability_pct"] == 0.0 and stray["rounds"] == 1
    assert stray["verdict"] == "insufficient_coverage" and stray["met"] is None
    assert stray["coverage_pct"] == pytest.approx(100 * 600 / (31 * 86_400), abs=1e-3)
    for code in ("s141", "s142", "s143"):
        assert rows[code]["verdict"] == "insufficient_coverage"
    assert rows["s030"]["verdict"] == "not_met"  # watched all month, never answering
    section = page[page.index('id="cobertura"') : page.index('id="incidentes"')]
    assert re.search(r">s140</td><td[^>]*>Embajada 140</td><td>0.02\u00a0%</td>", section)
    judged = page[page.index('id="veredictos"') : page.index('id="cobertura"')]
    assert ">s140<" not in judged and ">s030<" in judged
    assert "no cumple" not in section


def test_sites_without_data_are_one_line_in_the_appendix(month: Month) -> None:
    _, _, data, page = month
    assert data["summary"]["no_data_sites"] == [f"s{i}" for i in range(144, 150)]
    body = page[: page.index('id="anexo"')]
    assert "s145" not in body
    appendix = page[page.index('id="anexo"') :]
    line = re.sub(r"<[^>]+>", "", appendix.split("</p>")[0])
    assert "(6):\ns144, s145, s146, s147, s148, s149." in line
    assert '<span title="Embajada 145">s145</span>' in appendix  # the name, on hover
    assert "alterna, lima" in appendix  # no probe address: not monitored


def test_table_json_and_csv_give_the_same_verdicts(month: Month, capsys: Any) -> None:
    db = month[0]
    assert main(_cli(db, "--formato", "json", "-q")) == 0
    got = json.loads(capsys.readouterr().out)
    by_site = {r["site"]: r for r in got["rows"]}
    assert by_site["s140"]["verdict"] == "insufficient_coverage"
    assert by_site["s140"]["availability_pct"] == 0.0  # raw numbers
    assert by_site["s145"]["verdict"] == "no_data" and by_site["s030"]["verdict"] == "not_met"
    assert got["summary"]["no_data_sites"][0] == "s144"
    assert main(_cli(db, "--formato", "csv", "-q")) == 0
    rows = {r["site"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["s140"]["verdict"] == "insufficient_coverage" and rows["s140"]["coverage_pct"]
    assert rows["s010"]["availability_pct"] == str(by_site["s010"]["availability_pct"])
    assert main(_cli(db)) == 0
    out, err = capsys.readouterr()
    lines = {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 3}
    assert "cobertura insuficiente" in lines["s140"] and "0.000\u00a0%" in lines["s140"]
    assert "no cumple" in lines["s030"] and "96.740\u00a0%" in lines["s010"]
    assert "s145" not in lines and "Sin datos (6): s144, s145" in err
    assert "Cobertura insuficiente" in err and "s140" in err


def test_the_minimum_coverage_is_a_setting(month: Month, capsys: Any, monkeypatch: Any) -> None:
    assert load_settings(environ={}).sla_min_coverage_pct == 90.0
    got = load_settings(environ={"PUKARA_SLA_MIN_COVERAGE_PCT": "30"})
    assert got.sla_min_coverage_pct == 30.0
    for bad in ("0", "101", "nan", "mucho"):
        with pytest.raises(ConfigError, match="sla_min_coverage_pct") as e:
            load_settings(environ={"PUKARA_SLA_MIN_COVERAGE_PCT": bad})
        assert "PUKARA_SLA_MIN_COVERAGE_PCT" in e.value.message
    with pytest.raises(ConfigError, match="porcentaje mayor que 0 y hasta 100"):
        load_settings(environ={"PUKARA_SLA_MIN_COVERAGE_PCT": "0"})
    db = month[0]
    monkeypatch.setenv("PUKARA_SLA_MIN_COVERAGE_PCT", "30")  # s142-s143 saw 10 days of 31
    assert main(_cli(db, "--formato", "json", "-q")) == 0
    rows = {r["site"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["s142"]["verdict"] == "met" and rows["s141"]["verdict"] == "insufficient_coverage"


# -- availability on a scale that shows 96.5 % against 100 % -------------------------------
def _boxes(svg: ElementTree.Element) -> list[tuple[float, float, float, float, str]]:
    out = []
    for t in svg.iter("{http://www.w3.org/2000/svg}text"):
        text = "".join(t.itertext())
        w = charts.text_width(text)
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        anchor = t.get("text-anchor", "start")
        left = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
        out.append((left, y - charts.FONT * 0.8, left + w, y + charts.FONT * 0.25, text))
    return out


def test_availability_plot_is_zoomed_and_its_labels_never_overlap(month: Month) -> None:
    page = month[3]
    plot = _svgs(page.replace('role="img"', 'xmlns="http://www.w3.org/2000/svg" role="img"'))[0]
    assert "frente a su meta" in plot.get("aria-label", "")
    boxes = _boxes(plot)
    assert len(boxes) >= 2 * 140  # a site label and a value per site, plus the axis
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, f"{a[4]!r} overlaps {b[4]!r}"
    dots = {c.find("{http://www.w3.org/2000/svg}title").text.split()[0]: float(c.get("cx"))  # type: ignore[union-attr]
            for c in plot.iter("{http://www.w3.org/2000/svg}circle")}  # fmt: skip
    assert dots["s000"] - dots["s010"] > 100  # 100 % against 96.74 %: far apart
    width = float(plot.get("width", 0))
    assert width <= 1300  # fits a 1400 px window


def test_labels_do_not_overlap_with_long_names_either() -> None:
    rows = [{"site": f"m{i:03d}", "name": "Embajada del Perú en la República " * 3,
             "availability_pct": 96.5 + i / 50, "target_pct": 99.5, "met": i > 150}
            for i in range(150)]  # fmt: skip
    plot = charts.availability_plot(rows)
    site_right = plot["left"] - 8
    for e in plot["entries"]:
        assert charts.text_width(e["site"]) < site_right  # inside its column
        assert plot["value_x"] + charts.text_width(e["value"]) <= plot["width"]
    ys = [e["y"] for e in plot["entries"]]
    assert min(b - a for a, b in itertools.pairwise(ys)) >= charts.FONT * 1.2


# -- SmokePing-class latency ---------------------------------------------------------------
def _hour(start: datetime, loss: float, median: float | None) -> dict[str, Any]:
    h: dict[str, Any] = {"start_us": int(start.timestamp() * 1e6), "loss_pct": loss}
    if median is not None:
        h.update(p10=median - 2, p25=median - 1, median=median, p75=median + 1, p90=median + 4)
    return h


def test_smoke_chart_axes_and_loss_colours() -> None:
    lo, hi = datetime(2026, 10, 1, 5, tzinfo=UTC), datetime(2026, 11, 1, 5, tzinfo=UTC)  # Lima
    hours = [_hour(lo + timedelta(hours=i), 0.0, 40.0 + i % 7) for i in range(48)]
    hours += [_hour(lo + timedelta(hours=48 + i), 100.0, None) for i in range(3)]
    hours += [_hour(lo + timedelta(hours=51), 10.0, 80.0)]
    c = charts.smoke_chart(hours, lo, hi, "America/Lima")
    assert [d["label"] for d in c["days"]] == [str(d) for d in range(1, 32)]
    assert c["days"][0]["x"] == c["left"]  # local midnight of the 1st starts the axis
    labels = [t["label"] for t in c["yticks"]]
    assert labels[0] == "0" and all(float(v) % 20 == 0 for v in labels) and c["top_ms"] == 100
    assert {m["color"] for m in c["medians"]} == {"#26ff00", "#0059ff"}
    # three hours without replies: shaded and marked as loss, no band, no median at the top
    assert c["silent"].count("M") == 3 and c["outer"].count("z") == 2
    assert any(r["color"] == "#ff0000" for r in c["rug"])
    assert not re.search(rf"V{c['top']:g}(?![\d.])", "".join(m["d"] for m in c["medians"]))


def test_day_ticks_follow_the_sites_clock_through_a_dst_change() -> None:
    from monitoreo.sla import month_bounds

    lo, hi = month_bounds("2026-10", "Europe/Madrid")  # summer time ends on the 25th
    c = charts.smoke_chart([_hour(lo, 0.0, 30.0)], lo, hi, "Europe/Madrid")
    xs = [d["x"] for d in c["days"]] + [c["right"]]
    widths = [round(b - a, 1) for a, b in itertools.pairwise(xs)]
    assert len(widths) == 31 and widths[24] == pytest.approx(widths[23] * 25 / 24, abs=0.2)


def test_a_site_that_never_answered_gets_no_scale_and_no_bar(month: Month) -> None:
    page = month[3]
    chart = page[page.index('id="humo-s030"') : page.index('id="humo-s031"')]
    assert "ninguna respuesta en el mes" in chart and 'stroke="#26ff00"' not in chart
    assert 'fill="#d2d2d2"' in chart and 'd=""' in chart  # empty smoke
    svg = _svgs(chart)[0] if "<svg" in chart else None
    assert svg is not None


def test_every_chart_is_inline_svg_with_axes_and_the_loss_legend(month: Month) -> None:
    page = month[3]
    assert "<script" not in page and "<img" not in page and "http://" not in page
    assert page.count('id="humo-') == 144
    legend = page[page.index('id="latencia"') : page.index('id="humo-s000"')]
    for _, color, label in charts.LOSS_SCALE:
        assert color in legend and label in legend
    s000 = page[page.index('id="humo-s000"') : page.index('id="humo-s001"')]
    assert ">ms</text>" in s000 and ">31</text>" in s000 and "America/Lima" in s000
    svg = _svgs(s000.replace('role="img"', 'xmlns="http://www.w3.org/2000/svg" role="img"'))[0]
    boxes = [b for b in _boxes(svg) if b[4] != "ms"]  # the rotated unit stands alone
    assert len(boxes) == 31 + 4  # the days and 0, 20, 40, 60 ms
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


# -- incidents, isolation and maintenance --------------------------------------------------
def test_incidents_isolation_and_windows_with_who_and_when(month: Month) -> None:
    _, _, data, page = month
    by_site = {i["site"]: i for i in data["incidents"]}
    s040 = by_site["s040"]
    assert s040["in_isolation"] and not s040["in_maintenance"] and s040["isolation_minutes"] == 47
    assert by_site["s010"]["maintenance_minutes"] == 120.0
    incidents = page[page.index('id="incidentes"') : page.index('id="aislamiento"')]
    assert '<th class="text">Zona horaria</th>' in incidents
    assert "5 oct. 2026, 14:30 +0530" in incidents and "Asia/Kolkata" in incidents
    row = incidents[incidents.index(">s040<") :].split("</tr>")[0]
    assert "aislamiento del monitor: 47.0 min" in row and "mantenimiento" not in row
    isolation = page[page.index('id="aislamiento"') : page.index('id="mantenimiento"')]
    assert "11 oct. 2026, 22:00 PET" in isolation and "11 oct. 2026, 22:47 PET" in isolation
    w = {x["site"]: x for x in data["maintenance"]}
    assert w["s003"]["entered_by"] == "jperez" and not w["s003"]["after_the_fact"]
    assert w["s010"]["after_the_fact"] and w["s010"]["entered_utc"].startswith("2026-10-08T11")
    windows = page[page.index('id="mantenimiento"') : page.index('id="enlaces"')]
    assert "3 oct. 2026, 14:30 +0530" in windows and "jperez" in windows
    assert windows.count("a posteriori</span>") == 1 and "previa" in windows


# -- links ---------------------------------------------------------------------------------
def test_link_speed_and_use_or_why_not(month: Month) -> None:
    _, _, data, page = month
    links = {x["site"]: x for x in data["speeds"]}
    assert links["s000"]["speed_mbps"] == 1000 and links["s000"]["utilisation_pct"] > 0
    assert links["s001"]["reason"].startswith("error SNMP: SNMP sin respuesta")
    assert "sin perfil de credenciales" in links["s002"]["reason"]
    assert "interfaz WAN" in links["s006"]["reason"]
    assert "ninguna lectura SNMP" in links["s008"]["reason"]
    assert links["s003"]["reason"] is None
    section = page[page.index('id="enlaces"') : page.index('id="latencia"')]
    assert "1.00 Gbit/s" in section and "sin datos: error SNMP" in section
    assert re.search(r">s005</td>\s*<td>100.00 Mbit/s</td><td>50.00 Mbit/s</td>", section)


def test_numbers_are_written_as_in_peru(month: Month) -> None:
    page = month[3]
    assert "44,340.0" in page  # grouped, CLDR es_PE
    assert "96.740\u00a0%" in page and "99.50\u00a0%" in page  # a no-break space before %
    assert "96.74\u00a0%" not in page.replace("96.740", "")


def test_one_site_down_all_month_does_not_squash_the_others_against_100() -> None:
    rows = [{"site": c, "name": c, "availability_pct": a, "target_pct": 99.5, "met": a >= 99.5}
            for c, a in (("a", 0.0), ("b", 96.5), ("c", 99.5), ("d", 100.0))]  # fmt: skip
    plot = charts.availability_plot(rows)
    x = {e["site"].split()[0]: e["dot_x"] for e in plot["entries"]}
    assert plot["lo"] == 96.5 and x["d"] - x["b"] == charts.PLOT_W
    assert x["d"] - x["c"] > 80  # half a point is some 90 px
    assert [e["clipped"] for e in plot["entries"]] == [True, False, False, False]
