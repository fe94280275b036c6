"""`monitoreo vigilar` calls csirt's expiry each round: never delaying or breaking a round."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.unit.test_watch import _watcher, ports  # noqa: F401  (the fixture)


def test_each_round_runs_the_hook_in_its_own_thread_and_survives_its_errors(
    tmp_path: Path,
    ports: tuple[int, int],  # noqa: F811
) -> None:
    calls: list[str] = []
    errors: list[str] = []
    release = threading.Event()

    def hook() -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            release.wait(5)  # slow: the next rounds go on meanwhile, without a second call
        raise RuntimeError("el almacén no responde")

    w, store = _watcher(tmp_path, ports, each_round=hook, on_hook_error=errors.append)
    w.start()
    try:
        began = time.monotonic()
        for _ in range(3):
            w.round()
        assert time.monotonic() - began < 4  # the slow hook delayed no round
        assert len(calls) == 1  # one at a time: the first still runs
        release.set()
        w._side.join(5)  # type: ignore[union-attr]
        w.round()
        w._side.join(5)  # type: ignore[union-attr]
    finally:
        w.close()
        store.close()
    assert calls == ["pukara-cada-ronda"] * 2
    assert errors == ["tarea de cada ronda: el almacén no responde"] * 2
    assert w.rounds_done == 4
