import os
import signal
import threading
import time

import pytest

from pukara.errors import DeviceTimeout
from pukara.results import Result, Status
from pukara.runner import run_many


class Recorder:
    def __init__(self) -> None:
        self.started: tuple[int, str] | None = None
        self.seen: list[Result] = []
        self.finished = False

    def start(self, total: int, description: str) -> None:
        self.started = (total, description)

    def advance(self, result: Result) -> None:
        self.seen.append(result)

    def finish(self) -> None:
        self.finished = True


def test_failures_are_results_and_order_is_kept() -> None:
    def work(n: int) -> dict[str, int]:
        if n == 3:
            raise DeviceTimeout("198.18.0.14 no respondió en 2 s")
        if n == 5:
            raise ValueError("roto")
        time.sleep(0.01 * (10 - n))
        return {"double": n * 2}

    rec = Recorder()
    run = run_many(work, range(10), action="prueba", workers=4, reporter=rec)
    assert [r.target for r in run.results] == [str(n) for n in range(10)]
    assert run.results[3].error == "198.18.0.14 no respondió en 2 s"
    assert run.results[5].error is not None and "ValueError" in run.results[5].error
    assert [r.data["double"] for r in run.ok] == [0, 2, 4, 8, 12, 14, 16, 18]
    assert run.exit_code() == 3
    assert rec.started == (10, "prueba") and rec.finished and len(rec.seen) == 10


def test_concurrency_is_bounded() -> None:
    lock = threading.Lock()
    now = peak = 0

    def work(_: int) -> None:
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        time.sleep(0.02)
        with lock:
            now -= 1

    run = run_many(work, range(40), action="x", workers=5)
    assert peak == 5
    assert run.exit_code() == 0


def test_skipped_results_are_not_failures() -> None:
    run = run_many(lambda t: Result(t, Status.SKIPPED), ["a"], action="x")
    assert run.exit_code() == 0 and not run.failed


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="señales")
def test_ctrl_c_keeps_finished_work_and_starts_nothing_new() -> None:
    stored: list[str] = []

    def work(n: int) -> dict[str, int]:
        time.sleep(0.1)
        return {"n": n}

    timer = threading.Timer(0.25, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    run = run_many(
        work, range(100), action="x", workers=2, on_result=lambda r: stored.append(r.target)
    )
    timer.join()
    assert run.interrupted and run.exit_code() == 130
    assert 2 <= len(run.results) < 100
    assert all(r.status is Status.OK for r in run.results)  # nothing half-done
    assert stored == [r.target for r in sorted(run.results, key=lambda r: stored.index(r.target))]
    assert len(stored) == len(run.results)
