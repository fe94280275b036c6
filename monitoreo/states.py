"""Site and tunnel states with hysteresis, flapping, parent dependencies and maintenance.

Each round gives an observation per entity (a site, or a site's VPN tunnel ``code/vpn``):
down when nothing answered, degraded when loss or median latency is over the site's thresholds,
up otherwise. Loss is judged over the entity's last probes (up to ``loss_window_probes``, whole
rounds), not over one round: a handful of probes proves little (1 lost of 5 is 20 %, on a link
that loses 2 %). An entity is degraded by loss when the lower bound of the 95 % Wilson interval
of the window's loss reaches the threshold (at least ``loss_min_probes`` probes, and the loss is
then surely over it), and it stays so while that bound is at or over the recovery share of the
threshold. Rounds with no reply at all are down rounds, not loss, and stay out; so do the
partial rounds at the edges of an outage (the cut began or ended mid-round). Leaving an outage,
the window starts anew and only the loss rule itself degrades, not the recovery condition: one
outage is one alert and one recovery.

A problem is confirmed after ``fall_rounds`` consecutive rounds; it clears only
after ``rise_rounds`` rounds that meet the stricter recovery condition (loss under half its
threshold and latency under 80% of it), as Zabbix's recovery expressions do. An entity whose
parent is down is unreachable, not down: it raises nothing of its own. One whose parent's problem
explains its own (a tunnel that loses, or is down, while its site's link loses; one slow while
the link is slow) may change state, but its alert is held back: one alert per root cause. It is
raised late if the problem is still there, and still over the thresholds, once the parent is up
again; a dead one, after ``parent_hold_rounds`` rounds whatever the parent does. A dependent's
problem is not confirmed while its parent's is only seen, not yet confirmed: no notice names a
cause before the cause's own alert. A refused port, or a slow link, explains no dead tunnel:
that one alerts at once. When most sites drop at once the monitor itself is cut off: states are
held and one alert says so; the rounds that led into it (their loss too) count for nothing, so
no problem is confirmed after it with their help.

An observation whose outcome could not be read (a tunnel whose device did not answer SNMP and
that has no probe of its own) is unknown: it changes no state. An alert held back by a
maintenance window or by flapping is raised when the window or the flapping ends, if the
problem is still there and the round's observation still shows it: no outage goes unreported,
and none that is already answering again is reported late. A problem that grows worse while
held (degraded, then down) raises its own alert the same way. Only the raising of problems is
ever muted: the recovery of an alert that went out always notifies, inside a window too, so
that the receiver never keeps an alert open for good.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from monitoreo.stats import wilson_interval
from monitoreo.thresholds import (
    ISOLATED_MIN_SITES,
    ISOLATED_PCT,
    LOSS_MIN_PROBES,
    LOSS_WINDOW_PROBES,
    PARENT_HOLD_ROUNDS,
)
from pukara import formats  # Babel only on first use

UP, DEGRADED, DOWN, UNREACHABLE, UNKNOWN = "up", "degraded", "down", "unreachable", "unknown"
REFUSED = "refused"  # a TCP probe's port answers with a reset: the host is there, the service not
LABELS = {
    UP: "arriba", DEGRADED: "degradada", DOWN: "caída", UNREACHABLE: "inalcanzable",
    UNKNOWN: "desconocido", REFUSED: "rechazada",
}  # fmt: skip
PROBLEMS = frozenset({DEGRADED, DOWN, REFUSED})
MONITOR = "monitor"  # the entity of the "monitor isolated" condition
HELD_ENDS = {"mantenimiento": "el mantenimiento", "oscilación": "la oscilación"}
LOSS, LATENCY = "loss", "latency"  # why an entity is degraded


@dataclass(frozen=True, slots=True)
class Policy:
    fall_rounds: int = 2
    rise_rounds: int = 3
    recovery_loss_factor: float = 0.5
    recovery_latency_factor: float = 0.8
    flap_changes: int = 4
    flap_window_rounds: int = 20
    isolated_fraction: float = ISOLATED_PCT / 100
    isolated_min_sites: int = ISOLATED_MIN_SITES
    loss_window_probes: int = LOSS_WINDOW_PROBES  # loss is judged over the last probes
    loss_min_probes: int = LOSS_MIN_PROBES  # fewer probes in the window: loss degrades nothing
    parent_hold_rounds: int = PARENT_HOLD_ROUNDS  # an alert held for its parent, at most


@dataclass(frozen=True, slots=True)
class Observation:
    entity: str
    site: str
    parent: str | None  # the entity this one depends on
    reachable: bool | None  # None: could not be told (no data), which changes no state
    loss_pct: float = 0.0
    median_ms: float | None = None
    loss_threshold_pct: float = 5.0
    latency_threshold_ms: float = 500.0
    detail: str | None = None
    refused: bool = False  # TCP probes answered only by resets (RST): refused, not lost
    sent: int = 0  # the round's probes; 0: no counts, loss_pct alone is judged (one round)
    received: int = 0


@dataclass(frozen=True, slots=True)
class WindowLoss:
    """The loss of an entity over its last probes, with its 95 % Wilson interval."""

    rounds: int
    sent: int
    lost: int
    low_pct: float
    high_pct: float

    @property
    def pct(self) -> float:
        return 100 * self.lost / self.sent if self.sent else 0.0

    @classmethod
    def of(cls, losses: Iterable[tuple[int, int]]) -> WindowLoss:
        got = list(losses)
        sent, lost = sum(s for s, _ in got), sum(x for _, x in got)
        return cls(len(got), sent, lost, *wilson_interval(lost, sent))


@dataclass(slots=True)
class EntityState:
    entity: str
    state: str = UNKNOWN
    since: str | None = None
    alerted: str | None = None  # the problem an open alert was raised for
    flapping: bool = False
    candidate: str | None = None
    streak: int = 0
    changes: list[int] = field(default_factory=list)  # rounds at which the state changed
    held: str | None = None  # why the alert of the current problem was held back
    losses: deque[tuple[int, int]] = field(default_factory=deque)  # (sent, lost) per round
    window: WindowLoss | None = None  # the loss over ``losses``, as of the last round
    why: frozenset[str] = frozenset()  # LOSS, LATENCY: what is not yet clear, as of last round
    held_at: int = 0  # the round at which its alert was first held for its parent
    silent: bool = False  # its last round had no reply at all (an outage, or its start)

    def document(self) -> dict[str, Any]:
        return {
            "entity": self.entity, "state": self.state, "since": self.since,
            "alerted": self.alerted, "flapping": self.flapping,
        }  # fmt: skip

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> EntityState:
        return cls(
            doc["entity"], doc.get("state") or UNKNOWN, doc.get("since"), doc.get("alerted"),
            bool(doc.get("flapping")),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth an event: a state change, an alert, its recovery, flapping, isolation."""

    entity: str
    site: str
    kind: str  # alert | recovery | state | flapping | flapping_end | isolated | isolated_end
    previous: str
    current: str
    message: str
    muted: str | None = None  # why no alert went out: maintenance, parent, flapping

    @property
    def notifies(self) -> bool:
        """Whether the hooks hear of it: alerts and their ends, never a muted notice.

        A recovery is never muted (see :meth:`Tracker._notice`): its alert went out.
        """
        return self.muted is None and self.kind in {
            "alert", "recovery", "flapping", "isolated", "isolated_end"
        }  # fmt: skip


def reasons(
    obs: Observation, policy: Policy, window: WindowLoss | None = None
) -> tuple[frozenset[str], frozenset[str]]:
    """What of loss and latency is over the thresholds, and what is not yet clear of recovery.

    ``window``: the loss over the entity's last probes, this round's included; without it (an
    observation with no probe counts) the round's own loss is judged.
    """
    median = obs.median_ms or 0.0
    threshold = obs.loss_threshold_pct
    if window is None:
        loss_over = obs.loss_pct >= threshold
        loss_unclear = obs.loss_pct >= threshold * policy.recovery_loss_factor
    else:  # surely over the threshold, not merely a few unlucky probes
        loss_over = window.sent >= policy.loss_min_probes and window.low_pct >= threshold
        loss_unclear = window.low_pct >= threshold * policy.recovery_loss_factor
    over = {LOSS} if loss_over else set()
    unclear = {LOSS} if loss_unclear or loss_over else set()
    if median > obs.latency_threshold_ms:
        over.add(LATENCY)
    if median > obs.latency_threshold_ms * policy.recovery_latency_factor:
        unclear.add(LATENCY)
    return frozenset(over), frozenset(unclear)


def classify(
    obs: Observation, current: str, policy: Policy, window: WindowLoss | None = None
) -> str | None:
    """The state this observation shows; None when it tells nothing (see :func:`reasons`)."""
    if obs.reachable is None:
        return None
    if not obs.reachable:
        return DOWN
    if obs.refused:
        return REFUSED
    over, unclear = reasons(obs, policy, window)
    if current == DOWN:  # back from an outage: the loss rule itself on its first rounds only
        if window is not None and window.sent and window.low_pct >= obs.loss_threshold_pct:
            over |= {LOSS}  # the window started anew with the outage: too few probes to wait
        unclear -= {LOSS}  # not the recovery condition: one outage, one alert and one recovery
    if over:
        return DEGRADED
    if current in PROBLEMS and unclear:
        return DEGRADED  # better, but not yet good enough to clear
    return UP


def explains(parent: str, parent_why: frozenset[str], seen: str, why: frozenset[str]) -> bool:
    """Whether the parent's problem is the root cause of the one its child shows.

    A parent down explains anything. One losing explains a child that loses or is down (its
    traffic crosses that link); one slow, a child that is slow. A refused port, or a slow link,
    explains no child that is down, and a parent with no problem explains nothing.
    """
    if parent == DOWN:
        return True
    if parent != DEGRADED or seen not in {DOWN, DEGRADED}:
        return False
    if seen == DOWN:
        return LOSS in parent_why
    return bool(parent_why & why)


PARENT_HELD = "sede superior"  # EntityState.held when the parent's problem held the alert


def _muted(
    st: EntityState, obs: Observation, maintenance: frozenset[str], cause: str | None = None
) -> str | None:
    """Why an alert of this entity would be held back now, if it would.

    ``cause``: the problem of the entity it depends on, if any (its own root cause).
    """
    if obs.site in maintenance:
        return "mantenimiento"
    if st.flapping:
        return "oscilación"
    if cause:
        return f"depende de {obs.parent}, que está {LABELS[cause]}"
    return None


def _with_window(obs: Observation, w: WindowLoss) -> Observation:
    """The observation with the window's loss told in its detail (what the alert says)."""
    pct = formats.percent
    rounds = "la última ronda" if w.rounds == 1 else f"{w.rounds} rondas"
    told = (f"pérdida en los últimos {w.sent} sondeos ({rounds}): {pct(w.pct, 1)}, "
            f"{w.lost} perdidos (IC 95 %: {pct(w.low_pct, 1)}–{pct(w.high_pct, 1)})")  # fmt: skip
    return replace(obs, detail=f"{obs.detail}; {told}" if obs.detail else told)


def _outage_edge(st: EntityState, obs: Observation) -> bool:
    """Whether this round borders an outage: the first one back after rounds with no reply.

    The first round with no reply drops the round before it from the window when that one
    lost probes: a cut that began in the middle of a round. Neither is loss of the link.
    """
    silent, was_silent = obs.reachable is False, st.silent
    st.silent = silent
    if silent and not was_silent and st.losses and st.losses[-1][1]:
        st.losses.pop()
    return was_silent and not silent and obs.received < obs.sent


def _depth(entity: str, parents: Mapping[str, str | None]) -> int:
    depth, seen = 0, {entity}
    while (entity := parents.get(entity) or "") and entity not in seen:
        seen.add(entity)
        depth += 1
    return depth


@dataclass(slots=True)
class Tracker:
    """States of every entity, updated round by round."""

    policy: Policy = field(default_factory=Policy)
    states: dict[str, EntityState] = field(default_factory=dict)
    round_no: int = 0
    isolated: bool = False

    def load(self, docs: Iterable[Mapping[str, Any]]) -> None:
        for doc in docs:
            st = EntityState.from_document(doc)
            if st.entity == MONITOR:
                self.isolated = st.state == DOWN
            else:
                self.states[st.entity] = st

    def update(
        self, observations: Sequence[Observation], *, now: str, maintenance: frozenset[str]
    ) -> list[Notice]:
        """Feed one round; return what changed. ``maintenance``: sites in a window now."""
        self.round_no += 1
        sites = [o for o in observations if o.entity == o.site]
        lost = sum(1 for o in sites if o.reachable is False)
        isolated = (
            len(sites) >= self.policy.isolated_min_sites
            and lost / len(sites) >= self.policy.isolated_fraction
        )
        if isolated != self.isolated:
            self.isolated = isolated
            if isolated:
                for st in self.states.values():  # the rounds that led into it were the cut's
                    st.candidate, st.streak = None, 0
                    st.losses.clear()  # their loss too: it was the monitor's, not the sites'
                    st.window = None
                text = f"monitor aislado: {lost} de {len(sites)} sedes sin respuesta a la vez"
                return [Notice(MONITOR, MONITOR, "isolated", UP, DOWN, text)]
            text = f"monitor conectado: {len(sites) - lost} de {len(sites)} sedes responden"
            notice = Notice(MONITOR, MONITOR, "isolated_end", DOWN, UP, text)
            return [notice, *self._update(observations, now, maintenance)]
        if isolated:
            return []  # hold every state: the problem is on this side
        return self._update(observations, now, maintenance)

    def _update(
        self, observations: Sequence[Observation], now: str, maintenance: frozenset[str]
    ) -> list[Notice]:
        parents = {o.entity: o.parent for o in observations}
        observed: dict[str, str] = {}
        notices: list[Notice] = []
        for obs in sorted(observations, key=lambda o: _depth(o.entity, parents)):
            st = self.states.setdefault(obs.entity, EntityState(obs.entity))
            window = st.window = self._window(st, obs)
            seen = classify(obs, st.state, self.policy, window)
            why = reasons(obs, self.policy, window)[1] if seen == DEGRADED else frozenset()
            if seen is not None:
                st.why = why
            if seen == DEGRADED and window is not None and LOSS in why:
                obs = _with_window(obs, window)
            parent = self._parent_problem(obs.parent, observed)
            if seen == DOWN and parent == DOWN:
                seen = UNREACHABLE
            cause = None
            if parent and explains(parent, self.states[obs.parent or ""].why, seen or st.state,
                                   st.why):  # fmt: skip
                cause = parent
                up_there = {observed.get(obs.parent or ""), self.states[obs.parent or ""].state}
                if parent == DOWN and UNREACHABLE in up_there:
                    cause = UNREACHABLE  # told as it is: «depende de X, que está inalcanzable»
            observed[obs.entity] = st.state if seen is None else seen
            notices += self._step(st, obs, seen, now, maintenance, cause)
        return notices

    def _window(self, st: EntityState, obs: Observation) -> WindowLoss | None:
        """Add this round to the entity's loss window; None when the round has no counts."""
        if not obs.sent:
            return None
        if _outage_edge(st, obs):
            pass  # the partial round where a cut began or ended is the outage's, not loss
        elif obs.reachable and obs.received:  # a round with no reply is down, not loss
            st.losses.append((obs.sent, obs.sent - obs.received))
            sent = sum(s for s, _ in st.losses)
            while len(st.losses) > 1 and sent > self.policy.loss_window_probes:
                sent -= st.losses.popleft()[0]  # whole rounds, the newest at least
        return WindowLoss.of(st.losses)

    def _parent_problem(self, parent: str | None, observed: Mapping[str, str]) -> str | None:
        """The problem of ``parent`` seen this round or still in its state: the worst one."""
        if not parent:
            return None
        found = {observed.get(parent), self.states[parent].state if parent in self.states else None}
        for problem in (UNREACHABLE, DOWN, DEGRADED):  # a refused port is no link's problem
            if problem in found:
                return DOWN if problem == UNREACHABLE else problem
        return None

    def _before_its_cause(self, obs: Observation, seen: str, cause: str | None) -> bool:
        """Whether a dependent's problem would be told before its parent's own: the parent's
        problem is only seen this round, not yet confirmed. It waits a round (or more) so that
        no notice names a root cause whose alert has not gone out."""
        if cause is None or seen not in PROBLEMS | {UNREACHABLE} or not obs.parent:
            return False
        parent = self.states.get(obs.parent)
        return parent is None or parent.state not in PROBLEMS | {UNREACHABLE}

    def _step(
        self,
        st: EntityState,
        obs: Observation,
        seen: str | None,
        now: str,
        maintenance: frozenset[str],
        cause: str | None = None,
    ) -> list[Notice]:
        notices: list[Notice] = []
        window_start = self.round_no - self.policy.flap_window_rounds
        st.changes = [r for r in st.changes if r > window_start]
        if st.flapping and not st.changes:
            st.flapping = False
            notices.append(
                Notice(st.entity, obs.site, "flapping_end", st.state, st.state,
                       f"{st.entity}: dejó de oscilar; estado {LABELS[st.state]}")
            )  # fmt: skip
        if seen is not None:
            notices += self._transition(st, obs, seen, now, maintenance, cause)
        held_long = (  # a dead child under a parent that only loses: its own alert, in time
            st.held == PARENT_HELD
            and st.state == DOWN
            and cause is not None
            and self.round_no - st.held_at >= self.policy.parent_hold_rounds
        )
        if (
            st.state in PROBLEMS
            and seen in PROBLEMS  # not a round that already answers again
            and st.alerted != st.state  # none open, or one for a lesser problem
            and (_muted(st, obs, maintenance, None if held_long else cause) is None)
            # held for its parent: only if it still shows it by itself, not just a slow recovery
            and (st.held != PARENT_HELD or classify(obs, UP, self.policy, st.window) in PROBLEMS)
        ):
            # held back by a window, flapping or its parent, over now: raise it late, not never
            if held_long:
                rounds = self.round_no - st.held_at
                when = f"desde hace {rounds} rondas, aunque {obs.parent} también falla"
            elif st.held == PARENT_HELD:
                when = f"tras recuperarse {obs.parent}"
            else:
                when = "al terminar " + HELD_ENDS.get(st.held or "", "el silencio de sus alertas")
            st.alerted, st.held = st.state, None
            text = f"{st.entity}: sigue {LABELS[st.state]} {when}"
            if obs.detail:
                text += f" ({obs.detail})"
            notices.append(Notice(st.entity, obs.site, "alert", st.state, st.state, text))
        return notices

    def _transition(
        self, st: EntityState, obs: Observation, seen: str, now: str, maintenance: frozenset[str],
        cause: str | None = None,
    ) -> list[Notice]:  # fmt: skip
        notices: list[Notice] = []
        if seen == st.state:
            st.candidate, st.streak = None, 0
            return notices
        if seen == st.candidate:
            st.streak += 1
        else:
            st.candidate, st.streak = seen, 1
        needed = self.policy.rise_rounds if seen == UP else self.policy.fall_rounds
        if st.state == UNKNOWN and seen == UP:
            needed = 1
        if st.streak < needed or self._before_its_cause(obs, seen, cause):
            return notices
        previous, st.state, st.since = st.state, seen, now
        st.candidate, st.streak = None, 0
        if seen in {DOWN, UNREACHABLE}:  # leaving it is judged on the rounds after it only
            st.losses.clear()
        if previous != UNKNOWN:
            st.changes.append(self.round_no)
        if not st.flapping and len(st.changes) >= self.policy.flap_changes:
            st.flapping = True
            notices.append(
                Notice(st.entity, obs.site, "flapping", previous, seen,
                       f"{st.entity}: oscila ({len(st.changes)} cambios en "
                       f"{self.policy.flap_window_rounds} rondas); se silencian sus alertas")
            )  # fmt: skip
        notices.append(self._notice(st, obs, previous, seen, maintenance, cause))
        return notices

    def _notice(
        self,
        st: EntityState,
        obs: Observation,
        previous: str,
        seen: str,
        maintenance: frozenset[str],
        cause: str | None = None,
    ) -> Notice:
        text = f"{st.entity}: {LABELS[previous]} → {LABELS[seen]}"
        if obs.detail:
            text += f" ({obs.detail})"
        muted = _muted(st, obs, maintenance, cause)
        if seen in PROBLEMS:
            if muted:
                st.held = PARENT_HELD if muted.startswith("depende de") else muted
                if st.held == PARENT_HELD:
                    st.held_at = self.round_no
                return Notice(st.entity, obs.site, "state", previous, seen, text, muted)
            st.alerted = seen
            return Notice(st.entity, obs.site, "alert", previous, seen, text)
        if seen == UNREACHABLE:
            muted = f"depende de {obs.parent}, que está {LABELS[cause or DOWN]}"
            return Notice(st.entity, obs.site, "state", previous, seen, text, muted)
        if st.alerted and seen == UP:
            # the end of an alert that went out: the receiver must hear it, window or not
            st.alerted = None
            return Notice(st.entity, obs.site, "recovery", previous, seen, text)
        return Notice(st.entity, obs.site, "state", previous, seen, text, muted)

    def documents(self) -> list[dict[str, Any]]:
        docs = [s.document() for s in self.states.values()]
        docs.append({"entity": MONITOR, "state": DOWN if self.isolated else UP})
        return docs
