"""IPv6 runs in a real SQLite store: ECS shape, idempotence, newest run, prefixes of ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipv6 import almacen
from ipv6.modelo import Category, CheckResult, Status
from pukara.store import SQLiteStore


def res(subject: str, check: str, status: Status, **evidence: object) -> CheckResult:
    return CheckResult(subject, check, status, f"{check} de {subject}", Category.WEB, evidence)


def test_a_run_is_stored_as_ecs_events_and_saving_twice_stores_nothing_twice(
    tmp_path: Path,
) -> None:
    results = [
        res("rree.test", "W1a", Status.PASS),
        res("rree.test", "W3", Status.FAIL, puertos_v4=[80, 443], puertos_v6=[80]),
    ]
    meta = {"run_id": "r-1", "started_at": "2026-12-01T10:00:00Z",
            "finished_at": "2026-12-01T10:01:00Z", "resolver": "198.19.16.2"}  # fmt: skip
    with SQLiteStore(tmp_path / "a.db") as store:
        assert almacen.save_run(store, "dominios", results, meta) == "r-1"
        assert almacen.save_run(store, "dominios", results, meta) == "r-1"
        docs = list(store.search_events(dataset=almacen.RESULT_DATASET))
        assert len(docs) == 2
        w3 = next(d for d in docs if d["rule"]["id"] == "W3")
        assert w3["url"]["domain"] == "rree.test"
        assert w3["event"]["outcome"] == "failure"
        assert w3["ecs"]["version"]
        assert w3["@timestamp"].startswith("2026-12-01T10:01:00")
        runs = list(store.search_events(dataset=almacen.RUN_DATASET))
        assert len(runs) == 1
        assert runs[0]["event"]["outcome"] == "failure"
        loaded = almacen.load_run(store, "r-1")
        assert loaded.kind == "dominios"
        assert loaded.meta == {"resolver": "198.19.16.2"}
        assert loaded.counts["fail"] == 1 and loaded.counts["pass"] == 1
        assert list(loaded.results) == sorted(results, key=lambda r: r.check)
        assert loaded.results[1].evidence == {"puertos_v4": [80, 443], "puertos_v6": [80]}


def test_newest_run_per_kind_and_id_prefixes(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store:
        with pytest.raises(almacen.RunNotFound, match="ninguna corrida"):
            almacen.load_run(store)
        almacen.save_run(store, "dominios", [res("a.test", "W1a", Status.FAIL)],
                         {"run_id": "aaa-1", "finished_at": "2026-12-01T10:00:00Z"})  # fmt: skip
        almacen.save_run(store, "servidores", [res("aud1", "S1", Status.PASS)],
                         {"run_id": "bbb-2", "finished_at": "2026-12-01T11:00:00Z"})  # fmt: skip
        almacen.save_run(store, "dominios", [res("a.test", "W1a", Status.PASS)],
                         {"run_id": "aaa-3", "finished_at": "2026-12-01T12:00:00Z"})  # fmt: skip
        assert [r.id for r in almacen.list_runs(store)] == ["aaa-1", "bbb-2", "aaa-3"]
        assert almacen.load_run(store).id == "aaa-3"
        assert almacen.load_run(store, kind="servidores").results[0].subject == "aud1"
        assert almacen.load_run(store, "bbb").id == "bbb-2"
        with pytest.raises(almacen.RunNotFound, match="más de una"):
            almacen.load_run(store, "aaa")
        before = almacen.latest_before(store, "dominios", "2026-12-01T11:30:00.000000Z")
        assert before is not None and before.id == "aaa-1"
        assert almacen.latest_before(store, "equipos") is None
        server = store.search_events(dataset=almacen.RESULT_DATASET, where={"rule.id": "S1"})
        assert next(server)["host"]["name"] == "aud1"


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as store, pytest.raises(ValueError, match="otro"):
        almacen.save_run(store, "otro", [])


def test_device_records_become_results() -> None:
    rows = [{"host.name": "lima-rt1", "site": "lima", "check": "D2", "status": "fail",
             "message": "solo enlace local", "evidence": {"addresses": ["fe80::1"]}}]  # fmt: skip
    (got,) = almacen.from_records(rows, Category.DEVICE)
    assert (got.subject, got.check, got.status) == ("lima-rt1", "D2", Status.FAIL)
    assert got.category is Category.DEVICE and got.evidence == {"addresses": ["fe80::1"]}


def _run(n: int) -> almacen.Run:
    results = tuple(res(f"d{i}.test", "W1a", Status.PASS) for i in range(n))
    return almacen.Run("r-9", "dominios", "2026-12-01T10:00:00Z", "2026-12-01T10:01:00Z", {},
                       almacen.counts(results), results)  # fmt: skip


def test_the_run_event_comes_last_so_an_interrupted_write_lists_no_run(tmp_path: Path) -> None:
    events = list(almacen.run_events(_run(5)))
    assert [e["event"]["dataset"] for e in events] == [almacen.RESULT_DATASET] * 5 + [
        almacen.RUN_DATASET]  # fmt: skip
    with SQLiteStore(tmp_path / "a.db") as store:
        store.write_events(events[:3])  # the writer died after three results
        assert almacen.list_runs(store) == []
        with pytest.raises(almacen.RunNotFound):
            almacen.load_run(store)


def test_a_short_run_is_marked_incomplete(tmp_path: Path) -> None:
    events = list(almacen.run_events(_run(4)))
    with SQLiteStore(tmp_path / "a.db") as store:
        store.write_events([*events[:2], events[-1]])  # two results lost
        short = almacen.load_run(store, "r-9")
        assert not short.complete and len(short.results) == 2
        store.write_events(events)
        assert almacen.load_run(store, "r-9").complete
