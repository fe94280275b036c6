"""Run one function over many targets concurrently; a target's failure is its Result.

Like nornir's threaded runner: a bounded thread pool, each target's exception captured into a
failed ``Result``, progress through a ``Reporter``. On Ctrl-C no new target starts, targets in
flight finish (so no record is left half-written) and the partial ``RunResult`` is returned
with ``interrupted=True``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from pukara.errors import PukaraError
from pukara.events import utc_now
from pukara.results import Result, RunResult, Status

T = TypeVar("T")


class Reporter(Protocol):
    def start(self, total: int, description: str) -> None: ...

    def advance(self, result: Result) -> None: ...

    def finish(self) -> None: ...


class NullReporter:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, result: Result) -> None:
        pass

    def finish(self) -> None:
        pass


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, PukaraError):
        return exc.message
    detail = str(exc) or type(exc).__name__
    return f"error inesperado ({type(exc).__name__}): {detail}"


def _call(fn: Callable[[T], Mapping[str, Any] | Result | None], target: T, name: str) -> Result:
    started = utc_now()
    try:
        out = fn(target)
    except Exception as exc:  # one target's failure never stops the run
        return Result(name, Status.FAILED, error=_error_text(exc), started_at=started,
                      finished_at=utc_now())  # fmt: skip
    if isinstance(out, Result):
        return out
    return Result(name, Status.OK, data=dict(out or {}), started_at=started, finished_at=utc_now())


def run_many(
    fn: Callable[[T], Mapping[str, Any] | Result | None],
    targets: Iterable[T],
    *,
    action: str,
    workers: int = 32,
    name: Callable[[T], str] = str,
    reporter: Reporter | None = None,
    on_result: Callable[[Result], None] | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Apply ``fn`` to each target with at most ``workers`` in flight.

    ``fn`` returns a JSON-able mapping (the Result's data), a ``Result`` of its own, or raises.
    ``on_result`` is called in the calling thread for each finished target (store it there).
    Results come back in target order.
    """
    items: Sequence[T] = list(targets)
    rep = reporter or NullReporter()
    rep.start(len(items), action)
    results: dict[int, Result] = {}
    interrupted = False
    stop = stop or threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1)))
    pending: dict[Future[Result], int] = {}
    queue = iter(enumerate(items))

    def submit_next() -> bool:
        if stop.is_set():
            return False
        for index, target in queue:
            pending[pool.submit(_call, fn, target, name(target))] = index
            return True
        return False

    try:
        for _ in range(max(1, workers)):
            if not submit_next():
                break
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                index = pending.pop(fut)
                result = fut.result()
                results[index] = result
                if on_result:
                    on_result(result)
                rep.advance(result)
                submit_next()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        # targets in flight finish and are kept; nothing new starts
        for fut, index in list(pending.items()):
            results[index] = fut.result()
            if on_result:
                on_result(results[index])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        rep.finish()
    interrupted = interrupted or (stop.is_set() and len(results) < len(items))
    ordered = [results[i] for i in sorted(results)]
    return RunResult(action, ordered, interrupted=interrupted)
