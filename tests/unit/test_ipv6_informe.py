"""`ipv6 informe`: plan sections, NIST counts, indicator, escaping, CSV and JUnit."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from defusedxml import ElementTree as SafeET

from ipv6 import informe
from pukara.store import SQLiteStore
from tests.unit.ipv6_informe_runs import EVIL, seed


def test_report_data_takes_the_run_and_the_newest_of_each_other_kind(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        seed(store)
        data = informe.build(store)
        assert data["run"]["id"] == "dom-2"
        assert data["diagnostico"]["servidores"]["run"]["id"] == "srv-1"
        assert data["diagnostico"]["equipos"]["run"]["id"] == "equ-1"
        assert data["diagnostico"]["plan"] is None
        ind = data["indicador"]
        # dns: dual operational, v4 not; web: both operational now; mail: dual only (null MX)
        assert (ind["operational"], ind["tested"]) == (4, 5)
        assert ind["indicator"] == 0.8
        s1 = next(c for c in data["diagnostico"]["servidores"]["checks"] if c["check"] == "S1")
        assert s1["counts"]["fail"] == 1 and s1["failing"] == ["aud6"]
        json.dumps(data)  # JSON-able
        older = informe.build(store, "dom-1")
        assert older["indicador"]["indicator"] == 3 / 5  # v4.test had no web then
        early = informe.build(store, "srv-1")
        assert early["diagnostico"]["equipos"] is None and early["indicador"] is None


def test_html_follows_the_plan_sections_escapes_and_formats(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        seed(store)
        page = informe.html(informe.build(store))
    sections = ["1. Diagnóstico", "1.1 Equipos de red", "1.2 Servidores",
                "1.3 Plan de direccionamiento", "1.4 Servicios en Internet", "2. Pruebas",
                "3. Indicador del plan (informe PEGE)"]  # fmt: skip
    assert [page.index(s) for s in sections] == sorted(page.index(s) for s in sections)
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<svg" in page and 'aria-label="Servicios asignados' in page
    assert "80.0\u00a0%" in page  # pukara.formats.percent
    assert "1 dic. 2026, 07:00" in page  # 12:00 UTC in Lima
    assert "1 cumple, 2 falla." in page  # the servers run, counts joined
    assert page.index("<th>C1</th>") < page.index("<th>N1</th>") < page.index("<th>W1a</th>")
    assert page.index("<th>W4</th>") < page.index("<th>M1</th>")
    assert "distancia" in page  # the evidence of a warn


def test_csv_and_junit_cover_every_result_of_the_report(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        seed(store)
        data = informe.build(store)
        rows = informe.results_of(store, data)
    table = list(csv.DictReader(io.StringIO(informe.csv_text(rows))))
    assert len(table) == 16 + 3 + 2
    evil = next(t for t in table if t["check"] == "N1" and t["subject"] == "v4.test")
    assert evil["kind"] == "dominios" and json.loads(evil["evidence"]) == {"direcciones": [EVIL]}
    root = SafeET.fromstring(informe.junit_text(rows))
    assert root.get("tests") == "21"
    failed = " | ".join(c.get("name", "") for c in root.iter("testcase")
                        if c.find("failure") is not None)  # fmt: skip
    names = failed.split(" | ")
    assert "servidores aud6 S1" in names and "dominios v4.test W1w" in names
    assert "dominios dual.test W4" not in names  # a warn is not a failure
