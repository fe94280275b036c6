"""The SLA report escapes what it renders; built from a real store filled by code, no lab."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli import main
from monitoreo import report, rounds, sites, summaries
from monitoreo.prober import ProbeOptions, Target
from monitoreo.stats import summarize
from pukara.store import SQLiteStore

EVIL = "<script>alert(1)</script>"


def _inventory(folder: Path) -> list[Path]:
    folder.mkdir()
    sedes = folder / "sedes.csv"
    sedes.write_text(
        "code,name,kind,country,city,timezone,parent,vpn_kit,availability_target\n"
        "lima,Sede central,sede_central,PE,Lima,America/Lima,,no,99.9\n"
        f'm1,"Misión {EVIL}",embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires,lima,no,99.0\n'
        'm2,Misión & "comillas",embajada,CL,Santiago,America/Santiago,lima,no,99.0\n'
    )
    activos = folder / "activos.csv"
    activos.write_text(
        "name,kind,site,mgmt_ipv4,status\n"
        "gw-m1,router,m1,198.18.0.6,activo\ngw-m2,router,m2,198.18.0.10,activo\n"
    )
    return [sedes, activos]


def test_report_escapes_site_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    for f in _inventory(tmp_path / "inv"):
        assert main(["--base-datos", str(db), "inventario", "importar", str(f), "-q"]) == 0
    options = ProbeOptions(3, 10, 50, 500)
    start = datetime(2026, 10, 3, 12, tzinfo=UTC)
    with SQLiteStore(db) as store:
        for n in range(6):  # six 5-minute rounds: m1 answers, m2 is down in the last two
            results = []
            for code, addr in (("m1", "198.18.0.6"), ("m2", "198.18.0.10")):
                rtts: list[float | None] = [20.0, 21.0, 22.0]
                if code == "m2" and n >= 4:
                    rtts = [None, None, None]
                target = Target(code, addr, site=code)
                results.append(rounds.TargetRound(target, rtts, summarize(rtts), None))
            rnd = rounds.Round(f"r{n}", start + timedelta(minutes=5 * n), options, results)
            events = rounds.round_events(rnd)
            store.write_events(events)
            store.write_summaries(summaries.build(events, rnd.started, 300_000_000))
        data = report.build(store, sites.load_sites(store), "2026-10")
    page = report.html(data)
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert "Misión &amp; &#34;comillas&#34;" in page or "Misión &amp; &quot;comillas&quot;" in page
    html_file = tmp_path / "informe.html"
    code = main(["--base-datos", str(db), "monitoreo", "informe", "--mes", "2026-10", "-q",
                 "--formato", "json", "--html", str(html_file)])  # fmt: skip
    capsys.readouterr()
    assert code == 0 and EVIL not in html_file.read_text()
