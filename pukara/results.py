"""Per-target results, after nornir's Result/AggregatedResult and napalm's ``skipped``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pukara.errors import ExitCode


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Result:
    """What happened to one target. ``data`` holds JSON-able values only."""

    target: str
    status: Status
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    changed: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED


@dataclass(frozen=True, slots=True)
class RunResult:
    """The results of one action over many targets, in target order."""

    action: str
    results: Sequence[Result]
    interrupted: bool = False

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status is Status.OK]

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.results)

    def exit_code(self) -> ExitCode:
        """0 when every target succeeded or was skipped, 3 when some failed, 130 if cut."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        return ExitCode.PARTIAL if self.failed else ExitCode.OK
