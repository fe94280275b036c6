"""Per-target statistics of one round of probes.

Dispersion is computed over received samples only (SmokePing's ``calc_stddev`` counts a lost
ping as a 0 ms sample, which inflates it). Loss carries a 95% Wilson score interval: N probes
with no loss only prove loss below about 3/N. Jitter is RFC 3550's interarrival estimator
(section 6.4.1) fed with consecutive RTTs: J += (|D| - J) / 16.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class RoundStats:
    sent: int
    received: int
    loss_pct: float
    loss_low_pct: float
    loss_high_pct: float
    min_ms: float | None
    median_ms: float | None
    mean_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    stddev_ms: float | None
    jitter_ms: float | None
    refused: int = 0  # TCP probes answered by a reset: an answer, neither received nor lost

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(lost: int, sent: int) -> tuple[float, float]:
    """95% Wilson score interval of a loss proportion, in percent."""
    if sent == 0:
        return 0.0, 100.0
    p = lost / sent
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * sent)) / (1 + z2 / sent)
    half = Z95 * math.sqrt(p * (1 - p) / sent + z2 / (4 * sent * sent)) / (1 + z2 / sent)
    return round(max(0.0, centre - half) * 100, 6), round(min(1.0, centre + half) * 100, 6)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rfc3550_jitter(rtts: Sequence[float], start: float = 0.0) -> float:
    jitter = start
    for previous, current in itertools.pairwise(rtts):
        jitter += (abs(current - previous) - jitter) / 16
    return jitter


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def summarize(rtts: Sequence[float | None], refused: int = 0) -> RoundStats:
    """Statistics of one target's probes (None = lost or refused), in send order.

    ``refused`` of the None samples were TCP resets: the host answered, so they are not loss.
    """
    got = [r for r in rtts if r is not None]
    sent, received = len(rtts), len(got)
    lost = sent - received - refused
    low, high = wilson_interval(lost, sent)
    loss = 100.0 * lost / sent if sent else 0.0
    if not got:
        return RoundStats(
            sent, 0, round(loss, 3), low, high, None, None, None, None, None, None, None, refused
        )
    ordered = sorted(got)
    return RoundStats(
        sent=sent,
        received=received,
        loss_pct=round(loss, 3),
        loss_low_pct=round(low, 3),
        loss_high_pct=round(high, 3),
        min_ms=_round(ordered[0]),
        median_ms=_round(statistics.median(ordered)),
        mean_ms=_round(statistics.fmean(got)),
        p95_ms=_round(percentile(ordered, 95)),
        max_ms=_round(ordered[-1]),
        stddev_ms=_round(statistics.stdev(got)) if received > 1 else 0.0,
        jitter_ms=_round(rfc3550_jitter(got)),
        refused=refused,
    )
