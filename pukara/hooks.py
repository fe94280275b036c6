"""Work one area asks another area's long-running loop to do, without either importing the
other: the asking area registers a task here when its commands are mounted, the loop runs
what is registered. csirt's countermeasure expiry (``contramedida vencer``) runs so after
each round of ``monitoreo vigilar``.
"""

from __future__ import annotations

from collections.abc import Callable

from pukara.config import Settings

RoundTask = Callable[[Settings], None]  # says what it did itself (pukara.console.message)
_each_round: list[RoundTask] = []


def on_each_round(task: RoundTask) -> RoundTask:
    """Register ``task`` to run after each monitoring round (once, however often called)."""
    if task not in _each_round:
        _each_round.append(task)
    return task


def each_round() -> tuple[RoundTask, ...]:
    return tuple(_each_round)
