"""A month of monitoring in bounded memory: the SLA report over 150 sites x 31 days.

Generates 150 sites x 31 days of 30 s rounds (13.4 M round summaries) straight into a fresh
SQLite file through the store's summary API, with link rates, outages (two sites down all
month, others for hours; two watched only the last two days and one never answering, for
the verdicts), maintenance windows and a period when the monitor was isolated; builds the
5-minute and hourly rollups; then, in a fresh process, times the monthly report's data
(``sla.compute``, the VPN indicator, the links, windows and isolation) and prints its wall time
and peak RSS, and the HTML page's time (``--html`` keeps the page). Targets: under 10 s and
under 300 MB. Beside it, the reference: one raw sqlite3 ``GROUP BY entity`` over the same
month of summaries, in a fresh process too.

Needs no lab and no root; it takes about 1.5 GB of disk in a temporary directory, removed
at the end.

    python bench/sla_month.py [--sedes 150] [--dias 31] [--ronda 30] [--html informe.html]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitoreo import maintenance, report
from monitoreo.sites import Site
from pukara.events import make_event
from pukara.store import SQLiteStore, Summary
from pukara.store.sqlite import to_us

T0 = datetime(2026, 10, 1, tzinfo=UTC)
MONTH = "2026-10"
ZONES = ["UTC", "America/Lima", "Europe/Madrid", "Asia/Kolkata", "Asia/Tokyo"]
TARGET_S = 10.0
TARGET_MB = 300.0


def sites(n: int) -> dict[str, Site]:
    out = {}
    for i in range(n):
        code = f"s{i:03d}"
        out[code] = Site(
            code=code, name=f"Misión {i}", timezone=ZONES[i % len(ZONES)], address="198.18.0.2",
            gateway=f"gw-{code}", parent=None, bandwidth_mbps=100.0, availability_target=99.5,
            loss_threshold_pct=5.0, latency_threshold_ms=500.0, vpn_kit=i % 5 == 0,
            vpn_interface=None, vpn_probe=None, credential_profile=None,
        )  # fmt: skip
    return out


def _rounds(i: int, code: str, count: int, step_us: int) -> Iterator[Summary]:
    rnd = random.Random(i)
    base = 20_000 + 2_000 * (i % 140)  # 20 to 300 ms
    t0 = to_us(T0)
    always_down = i in (7, 8)
    outages = [] if always_down else [rnd.randrange(count) for _ in range(i % 4)]
    down_until = -1
    for k in range(count):
        if k in outages:
            down_until = k + rnd.randrange(20, 400)  # 10 minutes to 3 hours
        ts = t0 + k * step_us
        if always_down or k < down_until:
            yield Summary(code, ts, step_us, 0, 5, 0)
            continue
        m = base + rnd.randrange(0, 3_000)
        received = 5 if rnd.random() > 0.02 else 4
        yield Summary(code, ts, step_us, 1, 5, received, m - 900, m - 600, m - 300, m, m + 400,
                      m + 900, m + 2_500, rnd.randrange(1, 80_000_000),
                      rnd.randrange(1, 40_000_000))  # fmt: skip


def generate(db: Path, n: int, days: int, step_s: int) -> None:
    count = days * 86_400 // step_s
    step_us = step_s * 1_000_000
    known = sites(n)
    with SQLiteStore(db) as store:
        t = time.perf_counter()
        written = 0
        for i, code in enumerate(known):
            if i == n - 1:  # probed, never answered a round: the appendix
                continue
            # two sites watched only the last two days: insufficient coverage, no verdict
            few = i in (n - 3, n - 2)
            written += store.write_summaries(_rounds(i, code, 2 * 2880 if few else count, step_us))
        # the kits' tunnels over the last hour: the VPN indicator reads their last state
        last = to_us(T0) + (count - 120) * step_us
        store.write_summaries(
            Summary(f"{code}/vpn", last + k * step_us, step_us, int(j % 3 > 0), 5, 5)
            for j, code in enumerate(c for c, s in known.items() if s.vpn_kit)
            for k in range(120)
        )
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        store.build_rollups(T0 + timedelta(days=days))
        roll_s = time.perf_counter() - t
        for j, code in enumerate(list(known)[::10]):
            at = T0 + timedelta(days=1 + j % 28, hours=2, minutes=7)
            maintenance.add(store, code, at, at + timedelta(hours=2, minutes=13), "ventana")
        iso = T0 + timedelta(days=12, hours=3, minutes=1, seconds=15)
        store.write_events([
            make_event("monitoreo.estado", timestamp=at, kind="state",
                       fields={"event.action": action, "monitoreo.entity": "monitor"})
            for at, action in ((iso, "isolated"), (iso + timedelta(minutes=47), "isolated_end"))
        ])  # fmt: skip
    size = db.stat().st_size / 1e9
    print(f"Generación: {written:,} resúmenes ({n} sedes x {days} días, ronda {step_s} s) en "
          f"{gen_s:.1f} s ({written / gen_s:,.0f}/s); agregados en {roll_s:.1f} s; "
          f"archivo {size:.2f} GB")  # fmt: skip


def measure(db: Path, n: int, html_out: Path | None = None) -> dict[str, float]:
    known = sites(n)
    t = time.perf_counter()
    with SQLiteStore(db) as store:
        data = report.build(store, known, MONTH)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    page = report.html(data)
    html_s = time.perf_counter() - t
    if html_out is not None:
        html_out.write_text(page, encoding="utf-8")
    rows = data["rows"]
    verdicts = [r["verdict"] for r in rows]
    return {
        "wall_s": wall, "peak_mb": peak, "html_s": html_s, "html_mb": len(page) / 1e6,
        "html_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sites": len(rows),
        "incidents": len(data["incidents"]), "smoke_hours": sum(len(r.smoke) for r in data["results"]),
        "rounds": sum(r["rounds"] for r in rows),
        "down_sites": sum(1 for r in rows if r["availability_pct"] == 0.0),
        "kits_working": data["vpn"]["working"],
        "met": verdicts.count("met"), "not_met": verdicts.count("not_met"),
        "insufficient": verdicts.count("insufficient_coverage"),
        "no_data": verdicts.count("no_data"),
    }  # fmt: skip


def reference(db: Path) -> dict[str, float]:
    import sqlite3

    t = time.perf_counter()
    conn = sqlite3.connect(db)
    lo, hi = to_us(T0), to_us(T0 + timedelta(days=31))
    got = conn.execute(
        "SELECT entity, count(*), sum(span_us), sum(span_us) FILTER (WHERE up = 0)"
        " FROM round_summaries WHERE ts_us >= ? AND ts_us < ? GROUP BY entity",
        (lo, hi),
    ).fetchall()
    conn.close()
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall_s": wall, "peak_mb": peak, "entities": len(got)}


def _child(mode: str, db: Path, n: int, html_out: Path | None = None) -> dict[str, float]:
    extra = ["--html", str(html_out)] if html_out else []
    done = subprocess.run(
        [sys.executable, __file__, "--_medir", mode, "--_db", str(db), "--sedes", str(n), *extra],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sedes", type=int, default=150)
    ap.add_argument("--dias", type=int, default=31)
    ap.add_argument("--ronda", type=int, default=30)
    ap.add_argument("--html", type=Path, help="escribe además la página del informe aquí")
    ap.add_argument("--_medir", choices=["informe", "referencia"], help=argparse.SUPPRESS)
    ap.add_argument("--_db", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._medir:
        informe = args._medir == "informe"
        result = measure(args._db, args.sedes, args.html) if informe else reference(args._db)
        print(json.dumps(result))
        return
    tmp = Path(tempfile.mkdtemp(prefix="pukara-sla-"))
    try:
        db = tmp / "pukara.db"
        generate(db, args.sedes, args.dias, args.ronda)
        got = _child("informe", db, args.sedes, args.html)
        ref = _child("referencia", db, args.sedes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ok_t = "cumple" if got["wall_s"] < TARGET_S else "NO CUMPLE"
    ok_m = "cumple" if got["peak_mb"] < TARGET_MB else "NO CUMPLE"
    print(f"Informe {MONTH} (sla.compute + kits VPN + velocidades), proceso nuevo: "
          f"{got['wall_s']:.2f} s (meta < {TARGET_S:g} s: {ok_t}), pico de memoria "
          f"{got['peak_mb']:.0f} MB (meta < {TARGET_MB:g} MB: {ok_m})")  # fmt: skip
    print(f"  {got['sites']:.0f} sedes, {got['rounds']:,.0f} rondas contadas, "
          f"{got['incidents']:.0f} incidentes, {got['smoke_hours']:,.0f} horas de humo, "
          f"{got['down_sites']:.0f} sedes caídas todo el mes, {got['kits_working']:.0f} kits "
          "operativos")  # fmt: skip
    print(
        f"  veredictos: {got['met']:.0f} cumplen, {got['not_met']:.0f} no cumplen, "
        f"{got['insufficient']:.0f} con cobertura insuficiente, {got['no_data']:.0f} sin datos"
    )
    print(f"  la página HTML (--html, {got['html_mb']:.1f} MB) en {got['html_s']:.2f} s más; "
          f"pico con ella {got['html_peak_mb']:.0f} MB")  # fmt: skip
    print(f"Referencia: sqlite3 crudo, un GROUP BY entity sobre el mes: {ref['wall_s']:.2f} s, "
          f"pico {ref['peak_mb']:.0f} MB; informe/referencia = "
          f"{got['wall_s'] / ref['wall_s']:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
