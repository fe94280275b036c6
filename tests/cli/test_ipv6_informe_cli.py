"""`pukara ipv6 informe|diff` through the single error boundary."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli import main
from pukara.store import SQLiteStore
from tests.unit.ipv6_informe_runs import seed


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    path = tmp_path / "ipv6.db"
    with SQLiteStore(path) as store:
        seed(store)
    return ["--base-datos", str(path)]


def test_informe_formats(capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path) -> None:
    page = tmp_path / "informe.html"
    code, _, err = run(capsys, *db, "ipv6", "informe", "--archivo", str(page))
    assert code == 0 and "Informe escrito en" in err
    assert "1. Diagnóstico" in page.read_text() and "2. Pruebas" in page.read_text()
    code, out, _ = run(capsys, *db, "ipv6", "informe", "dom-1", "-f", "json")
    assert code == 0 and json.loads(out)["run"]["id"] == "dom-1"
    code, out, _ = run(capsys, *db, "ipv6", "informe", "-f", "csv")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 21
    code, out, _ = run(capsys, *db, "ipv6", "informe", "-f", "junit")
    assert code == 0 and out.startswith("<?xml")


def test_diff_defaults_to_the_last_two_runs(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, _ = run(capsys, *db, "ipv6", "diff", "-f", "json")
    rows = {(c["subject"], c["check"]): c for c in json.loads(out)}
    assert code == 0 and set(rows) == {("v4.test", "W1a"), ("v4.test", "W3"), ("v4.test", "W4")}
    assert rows["v4.test", "W1a"]["trend"] == "mejora"
    code, out, err = run(capsys, *db, "ipv6", "diff")
    assert code == 0 and "mejora" in out and "3 cambios: 1 mejoran" in err
    code, _, err = run(capsys, *db, "ipv6", "diff", "--tipo", "servidores")
    assert code == 1 and "anterior a srv-1" in err


def test_the_diff_summary_adds_up_to_the_number_of_changes() -> None:
    from ipv6.cli_informe import _diff_summary

    assert _diff_summary(["mejora", "empeora", "empeora"]) == "3 cambios: 1 mejoran, 2 empeoran."
    assert _diff_summary(["cambia", "nuevo", "desaparece", "desaparece"]) == (
        "4 cambios: 0 mejoran, 0 empeoran, 1 nueva, 2 ya no se prueban, 1 cambia de otro modo."
    )


def test_errors_are_spanish_messages_not_tracebacks(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, *db, "ipv6", "informe", "nada")
    assert code == 2 and "ninguna corrida IPv6 guardada tiene el id «nada»" in err
    code, _, err = run(capsys, *db, "ipv6", "diff", "srv-1", "dom-2")
    assert code == 2 and "no son del mismo tipo" in err
    empty = ["--base-datos", str(tmp_path / "vacia.db")]
    code, _, err = run(capsys, *empty, "ipv6", "informe")
    assert code == 1 and "Traceback" not in err
