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


def test_without_an_id_a_run_newer_than_the_last_domains_run_is_in_the_report(
    tmp_path: Path,
) -> None:
    from ipv6 import almacen
    from ipv6.modelo import Category, CheckResult, Status

    with SQLiteStore(tmp_path / "a.db") as store:
        seed(store)  # its last domains run ends at 12:00
        later = CheckResult("gw-x", "D1", Status.PASS, "", Category.DEVICE, {})
        almacen.save_run(store, "equipos", [later],
                         {"run_id": "equ-2", "finished_at": "2026-12-01T13:00:00Z"})  # fmt: skip
        data = informe.build(store)
        assert data["run"]["id"] == "dom-2"
        assert data["diagnostico"]["equipos"]["run"]["id"] == "equ-2"
        assert informe.build(store, "dom-2")["diagnostico"]["equipos"]["run"]["id"] == "equ-1"


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
    assert "1 cumple, 2 fallan." in page  # the servers run, counts joined (plural)
    assert ">C1</th>" not in page  # C1 is a line above the matrix, not a column
    assert page.index(">N1</th>") < page.index(">W1a</th>")
    assert page.index(">W4</th>") < page.index(">M1</th>")
    assert '<th title="Servidores de nombres con AAAA">N1</th>' in page
    assert "<dt>Distancia:</dt> <dd>0.12</dd>" in page  # the evidence of a warn
    # readable for a person: what each check tests, who the subjects are, evidence in Spanish
    assert "IPv6 habilitado en el núcleo" in page and "<th>Qué se prueba</th>" in page
    assert "<th>Servidor</th>" in page and "<th>Sujeto</th>" not in page
    assert "3 servidores revisados." in page and "2 equipos revisados." in page
    assert informe.SUBJECTS_TEXT["equipos"][0] == "equipo revisado"
    assert "<dt>Desactivado IPv6:</dt> <dd>all: 1</dd>" in page and '{"all"' not in page
    assert '<td class="fail" title="S1: falla">✗</td>' in page and "✓ cumple" in page
    assert "se ejecuta\n<code>pukara ipv6 plan verificar</code>" in page  # empty: how to fill it
    assert page.index("2.1 Equipos de red") < page.index("2.4 Servicios públicos")


def test_evidence_keys_and_values_read_in_spanish() -> None:
    assert informe.evidence_label("v6_ports") == "Puertos IPv6"
    assert informe.evidence_label("link_local") == "Enlace local"
    assert informe.evidence_label("mx_zones") == "MX zonas"
    assert informe.evidence_label("grants_ipv4") == "Permite IPv4"
    assert informe.evidence_label("not_asked") == "No preguntado"
    # nested keys are data (hosts, interfaces) unless every word is known
    assert informe.evidence_text({"eth0": {"v6_ports": [22, 80], "ok": True}, "ms": 1.25}) == (
        "eth0: (puertos IPv6: 22, 80; bien: sí); ms: 1.25"
    )
    assert informe.evidence_items({"silent": None, "ok": False}) == [
        ("Bien", "no"),
        ("Sin respuesta", "—"),
    ]
    assert informe.counts_text([("pass", 1), ("not-tested", 3)]) == "1 cumple, 3 sin probar"


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


def test_every_domain_check_has_a_spanish_title() -> None:
    from ipv6 import dominios, informe

    titles = informe.check_titles()
    assert not [c for c in ("C1", *dominios.ALL_CHECKS) if not titles.get(c)]
    assert len(dominios.ALL_CHECKS) + 1 >= 25  # the issue asks for at least 25 checks
