"""One round of probes over many targets: statistics and the events stored for it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitoreo.prober import ProbeOptions, Samples, Target, probe
from monitoreo.stats import RoundStats, summarize
from pukara.events import make_event, utc_now

DATASET = "monitoreo.sondeo"


@dataclass(frozen=True, slots=True)
class TargetRound:
    target: Target
    rtts_ms: list[float | None]
    stats: RoundStats
    error: str | None

    @property
    def reachable(self) -> bool:
        """Something answered: an echo reply, a connection, or a reset (the host is there)."""
        return self.stats.received > 0 or self.stats.refused > 0

    @property
    def result(self) -> str:
        """What the round found, in a word: responde, rechazado, sin respuesta, or error when
        the system sent none of its probes (a forbidden address, no route): nothing was lost."""
        if self.error and not self.stats.sent:
            return "error"
        if self.stats.refused and not self.stats.received:
            return "rechazado"
        return "responde" if self.reachable else "sin respuesta"

    @property
    def failed(self) -> bool:
        """No answer, or a port that refuses: a partial result for ``sondear``."""
        return not self.reachable or self.stats.refused > 0


@dataclass(frozen=True, slots=True)
class Round:
    id: str
    started: datetime
    options: ProbeOptions
    results: list[TargetRound]


def run_round(
    targets: Sequence[Target],
    options: ProbeOptions,
    *,
    should_stop: Callable[[], bool] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Round:
    started = clock()
    samples: list[Samples] = probe(targets, options, should_stop=should_stop)
    results = []
    for s in samples:  # a probe the system would not send is neither sent nor lost
        rtts = [r for k, r in enumerate(s.rtts_ms) if k not in s.unsent]
        results.append(TargetRound(s.target, rtts, summarize(rtts, len(s.refused)), s.error))
    return Round(uuid.uuid4().hex[:16], started, options, results)


def to_row(r: TargetRound) -> dict[str, Any]:
    """The flat record shown by ``sondear``.

    A row whose probes were all refused (RST) or never sent has no loss interval to tell: a
    bound such as 56 % on 3 refused probes would read as loss.
    """
    row = {
        "target": r.target.label,
        "address": r.target.address,
        "method": r.target.method if not r.target.port else f"tcp/{r.target.port}",
        "result": r.result,
        **r.stats.as_dict(),
        "error": r.error,
    }
    if r.result in ("rechazado", "error"):
        row["loss_low_pct"] = row["loss_high_pct"] = None
        if r.result == "error":
            row["loss_pct"] = None
    return row


def round_events(rnd: Round) -> list[dict[str, Any]]:
    """One ECS event per target; ``monitoreo.rtts_ms`` keeps every sample for the smoke."""
    out = []
    for r in rnd.results:
        s = r.stats
        out.append(
            make_event(
                DATASET,
                timestamp=rnd.started,
                kind="metric",
                outcome="failure" if r.failed else "success",
                message=f"{r.target.label}: {s.received}/{s.sent} respuestas"
                + (f", {s.refused} rechazadas (puerto cerrado)" if s.refused else ""),
                fields={
                    "host.name": r.target.site or r.target.label,
                    "destination.ip": r.target.address,
                    "destination.port": r.target.port,
                    "network.transport": "tcp" if r.target.port else "icmp",
                    "error.message": r.error,
                    "monitoreo.round": rnd.id,
                    "monitoreo.site": r.target.site,
                    "monitoreo.target": r.target.label,
                    "monitoreo.rtts_ms": [None if x is None else round(x, 3) for x in r.rtts_ms],
                    "monitoreo.period_ms": rnd.options.period_ms,
                    **{f"monitoreo.{k}": v for k, v in s.as_dict().items()},
                },
            )
        )
    return out
