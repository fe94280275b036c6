"""Audit runs and results in a real SQLite store: ECS shape, idempotence, latest results."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditoria import almacen
from auditoria.almacen import AuditRun
from auditoria.modelo import Result, Status
from pukara.store import SQLiteStore


def result(check: str, host: str, status: Status, at: str) -> Result:
    return Result(check, host, status, f"{check} en {host}", at, "2027-01-01T00:00:00Z")


def run(run_id: str, at: str, results: list[Result], complete: bool = True) -> AuditRun:
    return AuditRun(
        id=run_id,
        started_at=at,
        finished_at=at,
        operator="jperez",
        complete=complete,
        scope={"alcance": "todos"},
        results=tuple(results),
        raw={"srv-aud1": {"sshd": "permitrootlogin no"}},
        job_events=({"event": "playbook_on_start", "counter": 1},),
    )


def test_result_events_are_ecs_and_saving_twice_stores_nothing_twice(tmp_path: Path) -> None:
    first = run(
        "r1",
        "2026-12-01T10:00:00Z",
        [
            result("ssh_root_login", "srv-aud1", Status.PASS, "2026-12-01T10:00:01Z"),
            result("ntp_sync", "srv-aud1", Status.FAIL, "2026-12-01T10:00:02Z"),
        ],
    )
    with SQLiteStore(tmp_path / "a.db") as store:
        assert almacen.save_run(store, first) == 5  # run + 2 results + raw + 1 job event
        assert almacen.save_run(store, first) == 0
        docs = list(store.search_events(dataset=almacen.RESULT_DATASET))
        assert len(docs) == 2
        doc = next(d for d in docs if d["rule"]["id"] == "ntp_sync")
        assert doc["host"]["name"] == "srv-aud1"
        assert doc["event"]["outcome"] == "failure"
        assert doc["@timestamp"].startswith("2026-12-01T10:00:02")
        assert doc["event"]["id"]
        assert len(list(store.search_events(dataset=almacen.RUN_DATASET))) == 1
        loaded = almacen.load_run(store, "r1")
        assert loaded.results == tuple(sorted(first.results, key=lambda r: r.check_id))
        assert loaded.raw == first.raw
        assert loaded.job_events == first.job_events
        assert loaded.entity() == first.entity()


def test_latest_results_keeps_newest_per_check_and_host(tmp_path: Path) -> None:
    old = run(
        "r1",
        "2026-12-01T10:00:00Z",
        [
            result("ntp_sync", "srv-aud1", Status.FAIL, "2026-12-01T10:00:01Z"),
            result("ntp_sync", "srv-aud2", Status.FAIL, "2026-12-01T10:00:01Z"),
        ],
    )
    new = run(
        "r2",
        "2026-12-02T10:00:00Z",
        [result("ntp_sync", "srv-aud1", Status.PASS, "2026-12-02T10:00:01Z")],
    )
    with SQLiteStore(tmp_path / "a.db") as store:
        almacen.save_run(store, old)
        almacen.save_run(store, new)
        latest = almacen.latest_results(store)
        assert [(r.host, r.status) for r in latest] == [
            ("srv-aud1", Status.PASS),
            ("srv-aud2", Status.FAIL),
        ]
        assert almacen.load_run(store).id == "r2"
        assert almacen.previous_run_id(store, "r2") == "r1"
        assert almacen.previous_run_id(store, "r1") is None


def test_unknown_run_is_a_spanish_error(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        with pytest.raises(almacen.RunNotFound, match="ninguna auditoría"):
            almacen.load_run(store)
        with pytest.raises(almacen.RunNotFound, match="r9"):
            almacen.load_run(store, "r9")
