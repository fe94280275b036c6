"""`ipv6 diff` logic over runs stored in a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipv6 import almacen, diff
from ipv6.modelo import Category, CheckResult, Status
from pukara.store import SQLiteStore


def res(subject: str, check: str, status: Status) -> CheckResult:
    return CheckResult(subject, check, status, f"{check} {status}", Category.WEB)


def test_changes_per_subject_and_check() -> None:
    older = [res("a.test", "W1a", Status.FAIL), res("a.test", "W3", Status.PASS),
             res("b.test", "W1a", Status.PASS), res("c.test", "N1", Status.PASS)]  # fmt: skip
    newer = [res("a.test", "W1a", Status.PASS), res("a.test", "W3", Status.PARTIAL),
             res("b.test", "W1a", Status.NOT_TESTED), res("d.test", "N1", Status.FAIL)]  # fmt: skip
    got = {(c.subject, c.check): c.trend for c in diff.changes(older, newer)}
    assert got == {
        ("a.test", "W1a"): "mejora",
        ("a.test", "W3"): "empeora",
        ("b.test", "W1a"): "cambia",
        ("c.test", "N1"): "desaparece",
        ("d.test", "N1"): "nuevo",
    }
    assert diff.changes(older, older) == []


def test_pick_runs_defaults_to_the_last_two_of_a_kind(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        for n, (kind, status) in enumerate(
            [("dominios", Status.FAIL), ("servidores", Status.PASS), ("dominios", Status.PASS)]
        ):
            almacen.save_run(store, kind, [res("a.test", "W1a", status)],
                             {"run_id": f"r{n}", "finished_at": f"2026-12-01T1{n}:00:00Z"})  # fmt: skip
        older, newer = diff.pick_runs(store, None, None)
        assert (older.id, newer.id) == ("r0", "r2")
        assert [c.trend for c in diff.changes(older.results, newer.results)] == ["mejora"]
        with pytest.raises(diff.DifferentKinds, match="mismo tipo"):
            diff.pick_runs(store, "r0", "r1")
        with pytest.raises(diff.NothingToCompare, match="anterior"):
            diff.pick_runs(store, "r1", None)
