"""`pukara ipv6 diff A B`: time order, bad ids, and runs over different subjects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from ipv6 import almacen
from ipv6.modelo import Category, CheckResult, Status
from pukara.store import SQLiteStore
from tests.unit.ipv6_informe_runs import domains, seed


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    path = tmp_path / "ipv6.db"
    with SQLiteStore(path) as store:
        seed(store)  # dom-1 at 11:00, dom-2 at 12:00
        others = [CheckResult(f"m{i:03}.test", "N1", Status.FAIL, "sin NS", Category.NAMESERVERS)
                  for i in range(300)]  # fmt: skip
        kept = [r for r in domains(second=True) if r.subject != "dual.test"]
        almacen.save_run(store, "dominios", kept + others,
                         {"run_id": "dom-3", "finished_at": "2026-12-01T13:00:00Z"})  # fmt: skip
    return ["--base-datos", str(path)]


def test_newest_first_is_compared_in_time_order_and_said(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, forward, err = run(capsys, *db, "ipv6", "diff", "dom-1", "dom-2", "-f", "json")
    assert code == 0 and "posterior" not in err
    code, backward, err = run(capsys, *db, "ipv6", "diff", "dom-2", "dom-1", "-f", "json")
    assert code == 0 and json.loads(backward) == json.loads(forward)
    assert {c["trend"] for c in json.loads(forward)} == {"mejora", "cambia"}
    assert "La corrida dom-2 es posterior a dom-1: se comparan en orden de fecha, de dom-1" in err
    code, _, err = run(capsys, *db, "ipv6", "diff", "dom-2", "dom-1")
    assert code == 0 and "1 mejoran, 0 empeoran" in err
    code, out, err = run(capsys, *db, "ipv6", "diff", "dom-2", "dom-2", "-f", "json")
    assert code == 0 and json.loads(out) == [] and "son la misma corrida" in err


def test_a_bad_or_ambiguous_id_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, err = run(capsys, *db, "ipv6", "diff", "dom-1", "nada")
    assert (code, out) == (2, "") and "ninguna corrida IPv6 guardada tiene el id «nada»" in err
    code, _, err = run(capsys, *db, "ipv6", "diff", "dom")
    assert code == 2
    assert "«dom» es el comienzo de más de una corrida IPv6 (dom-1, dom-2, dom-3)" in err


def test_subjects_of_one_run_only_are_one_line_each_side(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, err = run(capsys, *db, "ipv6", "diff", "dom-2", "dom-3", "-f", "json")
    assert code == 0 and json.loads(out) == []  # what both tested did not change
    assert "1 dominio solo en la corrida A (dom-2, antes): dual.test; no se comparan." in err
    assert ("300 dominios solo en la corrida B (dom-3, ahora): m000.test, m001.test, "
            "m002.test, …; no se comparan.") in err  # fmt: skip
    code, out, err = run(capsys, *db, "ipv6", "diff", "dom-1", "dom-3")
    assert code == 0 and "ya no se prueba" not in out and "nueva" not in out
    assert "m299" not in out and "dual.test" not in out and "v4.test" in out
