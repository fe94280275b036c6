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
    covered = [r["coverage_pct"] for r in data["rows"] if r["verdict"] != "no_data"]
    assert s["coverage_pct"] == pytest.approx(sum(covered) / 144, abs=1e-3)  # monitored only
    assert 97 < s["coverage_pct"] < 98 and not data["in_progress"]
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
    assert '<span class="code" title="Embajada 145">s145</span>' in appendix  # name on hover
    assert ".code, td:first-child, td.t { white-space: nowrap; }" in page  # emb-ar: never cut
    assert '<span class="code">alterna</span>, <span class="code">lima</span>' in appendix


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
    assert main(_cli(db, "-q")) == 0  # the summary is data: on stdout, -q or not
    out, err = capsys.readouterr()
    lines = {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 3}
    assert "cobertura insuficiente" in lines["s140"] and "0.000\u00a0%" in lines["s140"]
    assert "no cumple" in lines["s030"] and "96.740\u00a0%" in lines["s010"]
    assert "s145" not in lines and "Sin datos (6): s144, s145" in out and err == ""
    assert out.startswith("Disponibilidad 2026-10.\nSedes monitoreadas (con rondas")
    assert out.index("Sin datos (6)") < out.index("Kits VPN") < out.index("│ s000 │")
    assert "Cobertura insuficiente" in out and "s140" in out


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


# -- a hub's maintenance, a month under way (a small store of its own) ---------------------
Hub = tuple[Path, dict[str, Any], str]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Hub:
    db = tmp_path_factory.mktemp("hub") / "pukara.db"
    sites = sla_fixture.build_hub(db)
    with SQLiteStore(db) as store:
        data = report.build(store, sites, "2026-12", now=sla_fixture.HUB_NOW)
    return db, data, report.html(data)


def test_a_hubs_maintenance_is_its_dependents_too(hub: Hub) -> None:
    _, data, page = hub
    rows = _rows(data)
    for code in ("emb-ar", "emb-bo", "emb-br"):  # the 40 s cut, inside emb-ar's window
        assert rows[code]["down_minutes"] == 0.0 and rows[code]["availability_pct"] == 100.0
        assert rows[code]["excluded_minutes"] == pytest.approx(1.3, abs=0.05), code
    assert rows["emb-co"]["down_minutes"] == 0.5  # its own cut: charged
    by = {i["site"]: i for i in data["incidents"]}
    assert by["emb-bo"]["in_maintenance"]
    assert by["emb-bo"]["maintenance_by"] == [{"site": "emb-ar", "minutes": 0.7}]
    assert by["emb-ar"]["maintenance_by"] == [{"site": "emb-ar", "minutes": 0.7}]
    incidents = page[page.index('id="incidentes"') : page.index('id="aislamiento"')]
    row = incidents[incidents.index(">emb-bo<") :].split("</tr>")[0]
    assert "mantenimiento de emb-ar: 0.7 min" in row
    own = incidents[incidents.index(">emb-ar<") :].split("</tr>")[0]
    assert "mantenimiento: 0.7 min" in own and "mantenimiento de" not in own
    (window,) = data["maintenance"]
    assert window["dependents"] == ["emb-bo", "emb-br"] and window["after_the_fact"]
    section = page[page.index('id="mantenimiento"') : page.index('id="enlaces"')]
    assert "Excluye también" in section and '<span class="code">emb-bo</span>' in section


def test_a_month_under_way_says_so_and_its_verdicts_are_provisional(tmp_path: Path) -> None:
    # watched since 00:00 UTC: the whole of the month elapsed in UTC-3 to UTC-5 sites
    t0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    sites = sla_fixture.build_hub(tmp_path / "p.db", minutes=11 * 60 + 30, t0=t0)
    now = t0 + timedelta(hours=11, minutes=30)
    with SQLiteStore(tmp_path / "p.db") as store:
        data = report.build(store, sites, "2026-12", now=now)
    assert data["in_progress"] and data["until_utc"] == "2026-12-01T11:30:00.000000Z"
    rows = _rows(data)
    assert rows["emb-ar"]["coverage_pct"] == 100.0  # of the 8.5 hours elapsed there
    assert rows["emb-ar"]["verdict"] == "met" and rows["emb-ar"]["provisional"]
    assert rows["emb-co"]["verdict"] == "met" and rows["emb-co"]["provisional"]
    page = report.html(data)
    head = page[: page.index('id="resumen"')]
    assert "2026-12 (mes en curso, hasta 1 dic. 2026, 06:30 PET)" in head
    assert "provisional" in head
    judged = page[page.index('id="veredictos"') : page.index('id="incidentes"')]
    assert "cumple (provisional)</td>" in judged
    assert next(r["verdict"] for r in report.table_rows(data)) == "cumple (provisional)"
    lines = report.summary_lines(data)
    assert lines[0] == "Disponibilidad 2026-12 (mes en curso, hasta 1 dic. 2026, 06:30 PET)."
    assert "veredictos provisionales" in lines[1]
    # a month that is over: no label, nothing provisional
    with SQLiteStore(tmp_path / "p.db") as store:
        later = report.build(store, sites, "2026-12", now=datetime(2027, 1, 2, tzinfo=UTC))
    assert not later["in_progress"] and not any(r["provisional"] for r in later["rows"])
    assert _rows(later)["emb-ar"]["verdict"] == "insufficient_coverage"  # 11 h of 31 days
    over = report.html(later)
    assert "(mes en curso" not in over and "provisional</strong>" not in over


def test_coverage_is_one_definition_and_kits_count_monitored_missions(hub: Hub) -> None:
    _, data, page = hub
    rows = _rows(data)
    # nine minutes of the 8 h 39 min elapsed in Buenos Aires: that share, said so
    elapsed = (sla_fixture.HUB_NOW - datetime(2026, 12, 1, 3, tzinfo=UTC)).total_seconds()
    assert rows["emb-ar"]["coverage_pct"] == pytest.approx(100 * 540 / elapsed, abs=0.01)
    assert rows["emb-pe"]["verdict"] == "no_data"  # probed, never watched
    monitored = [r["coverage_pct"] for r in data["rows"] if r["verdict"] != "no_data"]
    assert len(monitored) == 5
    assert data["summary"]["coverage_pct"] == pytest.approx(sum(monitored) / 5, abs=1e-3)
    title = page[page.index('id="humo-emb-ar"') :].split("</h3>")[0]
    assert "observada el 1.73\u00a0% del tiempo transcurrido del mes" in title
    method = page[page.index("Cómo se calcula") : page.index("Veredicto.")]
    assert "tiempo transcurrido del mes" in method and "media de las sedes monitoreadas" in method
    vpn = data["vpn"]  # emb-pe's kit is not watched: it is not «not working»
    assert (vpn["working"], vpn["monitored_with_kit"], vpn["missions_with_kit"]) == (4, 5, 6)
    kits = report.summary_lines(data)[-1]
    assert "4 de 5 misiones monitoreadas con kit (6 con kit en el inventario)" in kits
    assert "4 de 5</b>" in page and "misiones monitoreadas con kit" in page


def test_a_future_month_is_a_usage_error(hub: Hub, capsys: Any) -> None:
    db = hub[0]
    code = main(["--base-datos", str(db), "monitoreo", "informe", "--mes", "2027-01"])
    err = capsys.readouterr().err
    assert code == 2 and "2027-01" in err and "aún no ha empezado" in err
    assert main(["--base-datos", str(db), "monitoreo", "informe", "--mes", "2026-12", "-q",
                 "-f", "json"]) == 0  # fmt: skip
    got = json.loads(capsys.readouterr().out)
    assert got["in_progress"] is True and set(got["summary"]) >= {"coverage_pct", "worst"}


def test_the_maintenance_list_says_who_when_and_after_the_fact(hub: Hub, capsys: Any) -> None:
    db = hub[0]
    args = ["--base-datos", str(db), "monitoreo", "mantenimiento", "listar"]
    assert main([*args, "-f", "json"]) == 0
    (w,) = json.loads(capsys.readouterr().out)
    assert w["entered_by"] == "jperez" and w["after_the_fact"] is True
    assert w["end_utc"] == "2026-12-01T11:34:00.000000Z"
    assert w["start_utc"] == "2026-12-01T11:32:40.000000Z"
    assert w["entered_utc"].startswith("2026-12-01T11:34:40")
    assert main(args) == 0
    out = capsys.readouterr().out
    for text in ("Registrada por", "jperez", "a posteriori", "Fin (UTC)", "1 dic. 2026, 11:34 UTC"):
        assert text in out, text


# -- latency charts for a short coverage ---------------------------------------------------
def test_a_short_coverage_chart_spans_the_time_observed(hub: Hub) -> None:
    _, data, page = hub
    (ar,) = [r for r in data["results"] if r.site == "emb-ar"]
    assert ar.chart_span == (sla_fixture.HUB_T0, sla_fixture.HUB_T0 + timedelta(minutes=9))
    assert ar.bucket_s == 60 and len(ar.smoke) == 9  # a minute each, not a 1.5 px sliver
    chart = page[page.index('id="humo-emb-ar"') : page.index('id="humo-emb-bo"')]
    assert "de 1 dic. 2026, 08:30 -0300 a 1 dic. 2026, 08:39 -0300" in chart
    assert ">08:30</text>" in chart and ">08:39</text>" in chart and ">1 dic. 2026</text>" in chart
    svg = _svgs(chart.replace('role="img"', 'xmlns="http://www.w3.org/2000/svg" role="img"'))[0]
    xs = [float(t.get("x", 0)) for t in svg.iter("{http://www.w3.org/2000/svg}text")
          if "".join(t.itertext()) == "08:39"]  # fmt: skip
    assert xs and xs[0] + charts.text_width("08:39") / 2 <= float(svg.get("width", 0))
    # the hub's window is shaded as maintenance, its minute's median not coloured as loss
    assert f'fill="{charts.MAINTENANCE}"' in chart
    assert {m["color"] for m in charts.smoke_chart(
        ar.smoke, *ar.chart_span, ar.timezone, bucket_s=60)["medians"]} == {
        charts.LOSS_SCALE[0][1], charts.UNCOUNTED}  # fmt: skip
    co = page[page.index('id="humo-emb-co"') : page.index('id="anexo"')]
    assert f'fill="{charts.OUTAGE}"' in co and 'stroke="#26ff00"' in co  # cut: shaded, 0 % loss
    assert 'stroke="#dd00ff"' not in co and 'stroke="#7e00ff"' not in co


def test_the_loss_strip_is_in_the_legend(month: Month) -> None:
    page = month[3]
    legend = page[page.index('id="latencia"') : page.index('id="humo-s000"')]
    assert "franja bajo el eje" in legend and "Mediana y franja de pérdida" in legend
    for shade in (charts.OUTAGE, charts.MAINTENANCE, charts.ISOLATION):
        assert shade in legend
    assert "caída (sin respuesta)" in legend and "monitor aislado" in legend


def test_a_down_hour_is_an_outage_not_loss() -> None:
    lo = datetime(2026, 10, 1, 5, tzinfo=UTC)
    hi = lo + timedelta(days=31)
    hours = [{**_hour(lo, 0.0, 40.0), "silent": False},
             {"start_us": int((lo + timedelta(hours=1)).timestamp() * 1e6), "loss_pct": None,
              "silent": True}]  # fmt: skip
    c = charts.smoke_chart(hours, lo, hi, "America/Lima",
                           outages=[(lo + timedelta(hours=1), lo + timedelta(hours=2))])  # fmt: skip
    assert c["rug"] == [] and {m["color"] for m in c["medians"]} == {"#26ff00"}
    assert c["silent"].count("M") == 2  # the silent hour and the outage band


def test_a_day_cut_by_the_axis_is_labelled_only_with_room_for_it() -> None:
    lo = datetime(2026, 10, 1, 0, tzinfo=UTC)  # 02:00 in Madrid, for ten days
    c = charts.smoke_chart([_hour(lo, 0.0, 30.0)], lo, lo + timedelta(days=10), "Europe/Madrid")
    labels = [d["label"] for d in c["days"] if d["label"]]
    assert labels == [str(d) for d in range(1, 11)]  # the 1st from 02:00 on; not the 11th
    assert c["days"][0]["x"] == c["left"]


def test_a_long_list_of_sites_is_a_readable_summary_line() -> None:
    from monitoreo.report import _some

    codes = [f"s{i:03d}" for i in range(148)]
    line = _some(codes)
    assert line.startswith("s000, s001") and "s010" not in line
    assert line.endswith("y 138 más (lista completa: -f json)")
    assert _some(codes[:3]) == "s000, s001, s002"
