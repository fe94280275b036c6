"""Hourly figures of a month in a half-hour time zone: nothing from the months next to it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitoreo.sla import month_bounds
from pukara.store import SQLiteStore, Summary
from pukara.store.rollups import HOUR_US
from pukara.store.sqlite import to_us

STEP = timedelta(minutes=5)
INSIDE_RTT = (19_000, 20_000, 21_000, 22_000, 23_000, 24_000, 30_000)


def _round(entity: str, at: datetime, inside: bool) -> Summary:
    span = int(STEP.total_seconds() * 1_000_000)
    if inside:  # answering, 1 Mbit/s at most
        return Summary(entity, to_us(at), span, 1, 5, 5, *INSIDE_RTT, 1_000_000, 400_000)
    # next door: every probe lost and a link flat out, so that any of it shows
    return Summary(entity, to_us(at), span, 0, 5, 0, *[None] * 7, 900_000_000, 900_000_000)


def _month(store: SQLiteStore, entity: str, lo: datetime, hi: datetime) -> int:
    """Rounds every 5 minutes from an hour before the month to an hour after it."""
    rows, at = [], lo - timedelta(hours=1)
    while at < hi + timedelta(hours=1):
        rows.append(_round(entity, at, lo <= at < hi))
        at += STEP
    store.write_summaries(rows)
    store.build_rollups(hi + timedelta(hours=3))
    return sum(1 for r in rows if r.received)


@pytest.mark.parametrize("timezone", ["Asia/Kolkata", "America/St_Johns"])
@pytest.mark.parametrize("purged", [False, True])
def test_hours_and_busy_rate_of_a_month_take_nothing_from_outside_it(
    tmp_path: Path, timezone: str, purged: bool
) -> None:
    lo, hi = month_bounds("2026-12", timezone)
    assert lo.minute == 30 and hi.minute == 30  # the month starts and ends on a half hour
    with SQLiteStore(tmp_path / "tz.db") as store:
        inside = _month(store, "a", lo, hi)
        if purged:  # the summaries are gone: the ends of the month come from 5-minute rollups
            store.purge_summaries(hi + timedelta(hours=2), lo - timedelta(days=400))
            assert store.hourly("a", hi + timedelta(hours=2), hi + timedelta(hours=4)) == []
        hours = store.hourly("a", lo, hi)
        busy = store.mean_busy_rate("a", lo, hi)
    assert sum(h.sent for h in hours) == 5 * inside
    assert all(h.received == h.sent for h in hours)  # no lost probe: none from next door
    assert all(h.median_ms == 22.0 and h.p90_ms == 24.0 for h in hours)
    assert busy == pytest.approx(1_000_000)
    # the half hours at either end are there, each with its own six rounds
    first, last = hours[0], hours[-1]
    assert first.start_us == to_us(lo) - to_us(lo) % HOUR_US and first.sent == 5 * 6
    assert last.start_us == to_us(hi) - to_us(hi) % HOUR_US and last.sent == 5 * 6
    assert len(hours) == (to_us(hi) - to_us(lo)) // HOUR_US + 1
