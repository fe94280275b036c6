"""`ipv6 informe` for a person: C1 as one line above the matrix, a finding repeated over many
domains as one row, and an incomplete run flagged in the report and in `ipv6 diff`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main
from ipv6 import almacen, diff, informe
from ipv6.modelo import Category, CheckResult, Status
from pukara.store import SQLiteStore

NS = Category.NAMESERVERS


def _c1() -> CheckResult:
    return CheckResult("punto-de-prueba", "C1", Status.PASS, "el punto de prueba alcanza 4 de 4",
                       Category.VANTAGE, {"anchors": ["fd70::1", "fd70::2", "fd70::3", "fd70::4"],
                                          "reached": {"fd70::1": 53, "fd70::2": 53,
                                                      "fd70::3": 80, "fd70::4": 25}})  # fmt: skip


def _domains(n: int) -> list[CheckResult]:
    out = [_c1()]
    for i in range(n):
        d = f"embperu-{i:02d}.test"
        out += [CheckResult(d, "N1", Status.PASS, "bien", NS),
                CheckResult(d, "N3", Status.WARN, "todos los servidores en una /48", NS,
                            {"prefixes": ["fd70:756b:6172::/48"]}),
                CheckResult(d, "N2u", Status.FAIL, f"ns de {d} no responde", NS)]  # fmt: skip
    return out


def test_c1_is_a_line_and_a_repeated_finding_is_one_row(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        almacen.save_run(store, "dominios", _domains(13), {"run_id": "dom-1"})
        data = informe.build(store)
    section = data["pruebas"]["dominios"]
    assert section["vantage"]["text"] == "cumple, alcanza 4 de 4 anclas"
    assert "punto-de-prueba" not in {row["subject"] for row in section["subjects"]}
    assert "C1" not in {c["check"] for c in section["checks"]}
    assert section["run"]["subjects"] == 13
    n3 = [f for f in section["findings"] if f["check"] == "N3"]
    assert len(n3) == 1 and len(n3[0]["subjects"]) == 13
    assert n3[0]["subjects_text"].endswith("embperu-09.test y 3 más")
    assert len([f for f in section["findings"] if f["check"] == "N2u"]) == 13  # they differ
    page = informe.html(data)
    assert "Punto de prueba (C1): cumple, alcanza 4 de 4 anclas." in page
    assert "<td>punto-de-prueba</td>" not in page
    assert 'dominios: <span class="nombre">embperu-00.test</span>, ' in page
    assert "13 dominios:" in page and "y 3 más" in page
    assert "incompleta" not in page


def test_an_incomplete_run_is_flagged_in_the_report_and_in_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "a.db"
    with SQLiteStore(db) as store:
        almacen.save_run(store, "dominios", _domains(3),
                         {"run_id": "dom-1", "finished_at": "2026-12-01T10:00:00Z"})  # fmt: skip
        run = almacen.Run("dom-2", "dominios", "2026-12-01T11:00:00Z", "2026-12-01T11:00:00Z",
                          {}, almacen.counts(_domains(3)), tuple(_domains(3)))  # fmt: skip
        events = list(almacen.run_events(run))
        store.write_events([*events[:4], events[-1]])  # six results lost
        short = almacen.load_run(store, "dom-2")
        assert not short.complete
        data = informe.build(store, "dom-2")
        older, newer = diff.pick_runs(store, None, None)
    assert diff.incomplete(newer) == (
        "corrida incompleta: dom-2 tiene 4 de 10 resultados; los que faltan no son cambios reales"
    )
    assert diff.incomplete(older) is None
    page = informe.html(data)
    assert "Corrida incompleta: 4 de 10 resultados" in page
    assert main(["--base-datos", str(db), "ipv6", "diff"]) == 0
    err = capsys.readouterr().err
    assert "corrida incompleta: dom-2 tiene 4 de 10 resultados" in err
