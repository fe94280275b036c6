"""What changed between two stored IPv6 runs, per subject and check (``ipv6 diff``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ipv6.almacen import Run, list_runs, load_run
from ipv6.modelo import CheckResult, Status
from pukara.errors import PukaraError

if TYPE_CHECKING:
    from pukara.store import Store

# Better first: a move down this list is an improvement.
_RANK = {
    Status.PASS: 0,
    Status.WARN: 1,
    Status.PARTIAL: 2,
    Status.FAIL: 3,
}


class NothingToCompare(PukaraError):
    """Fewer than two runs stored, or runs of different kinds."""


@dataclass(frozen=True, slots=True)
class Change:
    subject: str
    check: str
    before: Status | None  # None: the check did not exist in the older run
    after: Status | None  # None: gone in the newer run
    message: str  # the newer result's message (the older one's when gone)

    @property
    def trend(self) -> str:
        """mejora, empeora, nuevo, desaparece or cambia (e.g. pass to not-tested)."""
        if self.before is None:
            return "nuevo"
        if self.after is None:
            return "desaparece"
        a, b = _RANK.get(self.before), _RANK.get(self.after)
        if a is None or b is None:
            return "cambia"
        return "mejora" if b < a else "empeora"

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "check": self.check,
            "before": self.before.value if self.before else None,
            "after": self.after.value if self.after else None,
            "trend": self.trend,
            "message": self.message,
        }


def changes(older: Sequence[CheckResult], newer: Sequence[CheckResult]) -> list[Change]:
    """Every (subject, check) whose status differs, appeared or disappeared; sorted."""
    old = {(r.subject, r.check): r for r in older}
    new = {(r.subject, r.check): r for r in newer}
    out: list[Change] = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and a.status is b.status:
            continue
        message = b.message if b is not None else a.message if a is not None else ""
        out.append(Change(key[0], key[1], a.status if a else None,
                          b.status if b else None, message))  # fmt: skip
    return out


def pick_runs(
    store: Store, run_a: str | None, run_b: str | None, kind: str | None = None
) -> tuple[Run, Run]:
    """The two runs to compare: both named, one named (and the run of its kind before it), or
    none (the newest run, of ``kind`` when given, and the one of the same kind before it)."""
    if run_a and run_b:
        older, newer = load_run(store, run_a), load_run(store, run_b)
        if older.kind != newer.kind:
            raise NothingToCompare(
                f"las corridas {older.id} ({older.kind}) y {newer.id} ({newer.kind}) "
                "no son del mismo tipo"
            )
        return older, newer
    newer = load_run(store, run_a, None if run_a else kind)
    runs = [r.id for r in list_runs(store, newer.kind)]
    at = runs.index(newer.id)
    if at == 0:
        raise NothingToCompare(
            f"no hay una corrida IPv6 de {newer.kind} anterior a {newer.id} con la que comparar"
        )
    return load_run(store, runs[at - 1]), newer
