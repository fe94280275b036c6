"""Interface rates from SNMP counters without false spikes.

A counter that went down between two polls is accepted as a wrap, ``(cur - prev) mod 2^bits``,
only when the agent did not restart (sysUpTime grew), ifCounterDiscontinuityTime (RFC 2863)
did not change, and the rate this implies fits the link. Otherwise the interval is unknown:
never a spike after a reboot, a counter reset or a collector outage. Counters stay Python
integers end to end (a float loses Counter64 precision above 2^53). Time is the agent's own
sysUpTime, not the collector's clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CounterSample:
    uptime_cs: int  # sysUpTime, hundredths of a second
    in_octets: int
    out_octets: int
    discontinuity: int | None = None  # ifCounterDiscontinuityTime, when the agent has it
    speed_mbps: int | None = None  # ifHighSpeed
    bits: int = 64


@dataclass(frozen=True, slots=True)
class Rate:
    in_bps: int | None
    out_bps: int | None
    reason: str | None = None  # why the interval is unknown

    def utilisation(self, capacity_mbps: float | None) -> float | None:
        if not capacity_mbps or self.in_bps is None or self.out_bps is None:
            return None
        return round(100 * max(self.in_bps, self.out_bps) / (capacity_mbps * 1_000_000), 3)


def _delta(prev: int, cur: int, bits: int) -> int:
    return cur - prev if cur >= prev else cur + (1 << bits) - prev


def rate(
    prev: CounterSample | None, cur: CounterSample, *, contracted_mbps: float | None = None
) -> Rate:
    """Rates over the interval between two samples, or unknown with the reason why."""
    if prev is None:
        return Rate(None, None, "primera muestra")
    if cur.uptime_cs <= prev.uptime_cs:
        return Rate(None, None, "el equipo se reinició (sysUpTime retrocedió)")
    if cur.discontinuity != prev.discontinuity:
        return Rate(None, None, "discontinuidad de contadores (ifCounterDiscontinuityTime)")
    if cur.bits != prev.bits:
        return Rate(None, None, "cambió el tamaño de los contadores")
    seconds = (cur.uptime_cs - prev.uptime_cs) / 100
    in_bps = _delta(prev.in_octets, cur.in_octets, cur.bits) * 8 // max(seconds, 0.01)
    out_bps = _delta(prev.out_octets, cur.out_octets, cur.bits) * 8 // max(seconds, 0.01)
    capacity = cur.speed_mbps or contracted_mbps
    if capacity:
        limit = capacity * 1_000_000 * 1.05  # 5% for polling skew
        if in_bps > limit or out_bps > limit:
            return Rate(None, None, "la tasa excede la capacidad del enlace (contador anómalo)")
    return Rate(int(in_bps), int(out_bps))
