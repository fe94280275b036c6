"""What changed between two stored IPv6 runs, per subject and check (``ipv6 diff``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ipv6.almacen import Run, list_runs, load_run, named_run
from ipv6.modelo import CheckResult, Status
from pukara.errors import PukaraError, UsageError

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
    """Fewer than two runs stored of the kind asked for."""


class DifferentKinds(UsageError):
    """The two runs named are of different kinds: there is nothing to compare."""


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


@dataclass(frozen=True, slots=True)
class Comparison:
    """What ``ipv6 diff`` shows: the changes of the subjects both runs have, and the subjects
    only one of them has (summarised, not listed check by check)."""

    older: Run
    newer: Run
    changes: list[Change]
    only_older: list[str]
    only_newer: list[str]


def compare(older: Run, newer: Run) -> Comparison:
    """The changes between two runs over the subjects both tested."""
    before = {r.subject for r in older.results}
    after = {r.subject for r in newer.results}
    shared = before & after
    found = changes(
        [r for r in older.results if r.subject in shared],
        [r for r in newer.results if r.subject in shared],
    )
    return Comparison(older, newer, found, sorted(before - after), sorted(after - before))


def incomplete(run: Run) -> str | None:
    """The flag of a run stored short (:attr:`Run.complete` False): «corrida incompleta: X de
    Y resultados»; None for a whole run."""
    from pukara.formats import number

    if run.complete:
        return None
    counted = sum(run.counts.values())
    return (f"corrida incompleta: {run.id} tiene {number(len(run.results))} de "
            f"{number(counted)} resultados; los que faltan no son cambios reales")  # fmt: skip


def in_time_order(a: Run, b: Run) -> bool:
    """Whether ``a`` is not newer than ``b`` (the order :func:`list_runs` keeps)."""
    return (a.finished_at, a.started_at, a.id) <= (b.finished_at, b.started_at, b.id)


def pick_runs(
    store: Store, run_a: str | None, run_b: str | None, kind: str | None = None
) -> tuple[Run, Run]:
    """The two runs to compare, older first: both named (in either order: they are put in
    time order), one named (and the run of its kind before it), or none (the newest run, of
    ``kind`` when given, and the one of the same kind before it). A named id that matches no
    run, or several, is a :class:`~ipv6.almacen.BadRunId`."""
    if run_a and run_b:
        older, newer = named_run(store, run_a), named_run(store, run_b)
        if not in_time_order(older, newer):
            older, newer = newer, older
        if older.kind != newer.kind:
            raise DifferentKinds(
                f"las corridas {older.id} ({older.kind}) y {newer.id} ({newer.kind}) "
                "no son del mismo tipo"
            )
        return older, newer
    newer = named_run(store, run_a) if run_a else load_run(store, None, kind)
    runs = [r.id for r in list_runs(store, newer.kind)]
    at = runs.index(newer.id)
    if at == 0:
        raise NothingToCompare(
            f"no hay una corrida IPv6 de {newer.kind} anterior a {newer.id} con la que comparar"
        )
    return load_run(store, runs[at - 1]), newer
