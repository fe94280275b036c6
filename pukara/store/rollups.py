"""Round summaries and their 5-minute and hourly rollups, as SQL on one sqlite3 connection.

A round summary is one compact typed row per entity (a site, or ``code/vpn``) per monitoring
round: the time it stands for (``span_us``, the gap to the next round, at most ``MAX_GAP_US``),
whether the entity answered (1, 0, or NULL when unknown), probe counts, RTT quantiles in
microseconds and the link rates. Rollups consolidate them as RRDtool does: per bucket the
time up and down, counts, min and max, and each RTT quantile averaged over the rounds that had
replies (RRDtool's AVERAGE over SmokePing's sorted pings). Averages compose exactly, so an
hourly rollup is the weighted sum of its twelve 5-minute ones.

Writing summaries lowers a dirty mark to the oldest timestamp written; :func:`build` recomputes
every closed bucket from the mark on, idempotently, and moves it to the first open bucket.
:func:`purge` deletes old summaries and rollups and records where summaries begin, so that
readers know where the rollups stand in for them. Readers never load a month into Python:
they aggregate in SQL and stream what is left.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

FIVE_MIN_US = 300_000_000
HOUR_US = 3_600_000_000
MAX_GAP_US = 600_000_000  # a round stands for the gap to the next one, at most this
LEVELS = {"rollup_5m": FIVE_MIN_US, "rollup_1h": HOUR_US}
DIRTY_KEY = "rollups.dirty_us"  # in ``meta``: buckets from here on must be (re)built
HORIZON_KEY = "summaries.horizon_us"  # in ``meta``: summaries before this were purged

_RTT = ("rtt_min_us", "rtt_p10_us", "rtt_p25_us", "rtt_median_us", "rtt_p75_us",
        "rtt_p90_us", "rtt_max_us")  # fmt: skip
SUMMARY_COLUMNS = ("entity", "ts_us", "span_us", "up", "sent", "received", *_RTT,
                   "in_bps", "out_bps")  # fmt: skip
_ROLLUP_COLUMNS = ("entity", "bucket_us", "rounds", "observed_us", "up_us", "down_us", "sent",
                   "received", "rtt_rounds", *_RTT, "rate_samples", "in_bps", "out_bps",
                   "busy_bps", "last_ts_us", "last_up")  # fmt: skip


class Summary(NamedTuple):
    """One entity's round; a tuple, so that batches go to ``executemany`` as they are."""

    entity: str
    ts_us: int
    span_us: int
    up: int | None
    sent: int
    received: int
    rtt_min_us: int | None = None
    rtt_p10_us: int | None = None
    rtt_p25_us: int | None = None
    rtt_median_us: int | None = None
    rtt_p75_us: int | None = None
    rtt_p90_us: int | None = None
    rtt_max_us: int | None = None
    in_bps: int | None = None
    out_bps: int | None = None


@dataclass(frozen=True, slots=True)
class Availability:
    rounds: int = 0
    observed_us: int = 0  # known-state time, exclusions taken out
    down_us: int = 0
    excluded_us: int = 0


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive down rounds, clipped to the period asked; ``first_end_us`` ends the first."""

    start_us: int
    end_us: int
    first_end_us: int


@dataclass(frozen=True, slots=True)
class Hour:
    """One bucket (an hour unless asked otherwise) of loss and RTT quantiles.

    ``counted_sent`` and ``counted_received`` are the probes of the rounds with the link up
    (with a reply) outside the exclusions asked for: the loss a latency chart colours by, as
    rounds without any reply are outages, not loss. From the round summaries they are exact;
    from a rollup, the probes of its rounds with replies are its probes per round times those
    rounds (exact while the probes per round stay the same, as within one ``vigilar``).
    """

    start_us: int
    sent: int
    received: int
    p10_ms: float | None
    p25_ms: float | None
    median_ms: float | None
    p75_ms: float | None
    p90_ms: float | None
    rounds: int = 0
    answered: int = 0  # rounds with at least one reply
    counted_sent: float = 0.0
    counted_received: int = 0


# -- writing -------------------------------------------------------------------------------
_INSERT = (
    f"INSERT INTO round_summaries ({', '.join(SUMMARY_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(SUMMARY_COLUMNS))})"
    " ON CONFLICT (entity, ts_us) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SUMMARY_COLUMNS[2:])
)


def _meta_int(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _set_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, str(value)),
    )


def write(conn: sqlite3.Connection, rows: Sequence[Summary]) -> int:
    """Upsert summaries by (entity, ts_us), inside the caller's transaction; how many.

    Rows older than the purge horizon are dropped: their buckets are final.
    """
    start = horizon(conn)
    if start is not None:  # the rollups stand for purged rounds: a late one cannot undo them
        rows = [r for r in rows if r.ts_us >= start]
    if not rows:
        return 0
    conn.executemany(_INSERT, rows)
    oldest = min(r.ts_us for r in rows)
    dirty = _meta_int(conn, DIRTY_KEY)
    if dirty is None or oldest < dirty:
        _set_meta(conn, DIRTY_KEY, oldest)
    return len(rows)


# -- building rollups ----------------------------------------------------------------------
def _entities_cte(table: str) -> str:
    """Every entity of ``table`` by one index seek each (SQLite has no loose index scan)."""
    return (
        f"WITH RECURSIVE ents(name) AS (SELECT min(entity) FROM {table} UNION ALL"
        f" SELECT (SELECT min(entity) FROM {table} WHERE entity > name) FROM ents"
        " WHERE name IS NOT NULL) "
    )


def _upsert_tail(table: str) -> str:
    cols = _ROLLUP_COLUMNS
    return (
        f" INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM g WHERE true"
        " ON CONFLICT (entity, bucket_us) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in cols[2:])
    )


_BUILD_5M = (
    _entities_cte("round_summaries")
    + """, a AS (
        SELECT r.entity, r.ts_us - r.ts_us % :b AS bucket_us, count(*) AS rounds,
            coalesce(sum(r.span_us) FILTER (WHERE r.up IS NOT NULL), 0) AS observed_us,
            coalesce(sum(r.span_us) FILTER (WHERE r.up = 1), 0) AS up_us,
            coalesce(sum(r.span_us) FILTER (WHERE r.up = 0), 0) AS down_us,
            sum(r.sent) AS sent, sum(r.received) AS received,
            count(r.rtt_median_us) AS rtt_rounds, min(r.rtt_min_us) AS rtt_min_us,
            avg(r.rtt_p10_us) AS rtt_p10_us, avg(r.rtt_p25_us) AS rtt_p25_us,
            avg(r.rtt_median_us) AS rtt_median_us, avg(r.rtt_p75_us) AS rtt_p75_us,
            avg(r.rtt_p90_us) AS rtt_p90_us, max(r.rtt_max_us) AS rtt_max_us,
            count(r.in_bps) AS rate_samples, avg(r.in_bps) AS in_bps, avg(r.out_bps) AS out_bps,
            avg(max(r.in_bps, r.out_bps)) AS busy_bps, max(r.ts_us) AS last_ts_us
        FROM ents CROSS JOIN round_summaries AS r ON r.entity = ents.name
        WHERE r.ts_us >= :lo AND r.ts_us < :hi
        GROUP BY r.entity, bucket_us
    ), g AS (
        SELECT a.*, (SELECT x.up FROM round_summaries AS x
                     WHERE x.entity = a.entity AND x.ts_us = a.last_ts_us) AS last_up
        FROM a
    )"""
    + _upsert_tail("rollup_5m")
)


def _weighted(col: str, weight: str) -> str:
    return f"sum(f.{col} * f.{weight}) / sum(f.{weight}) FILTER (WHERE f.{col} IS NOT NULL)"


_BUILD_1H = (
    _entities_cte("rollup_5m")
    + """, a AS (
        SELECT f.entity, f.bucket_us - f.bucket_us % :b AS bucket_us, sum(f.rounds) AS rounds,
            sum(f.observed_us) AS observed_us, sum(f.up_us) AS up_us,
            sum(f.down_us) AS down_us, sum(f.sent) AS sent, sum(f.received) AS received,
            sum(f.rtt_rounds) AS rtt_rounds, min(f.rtt_min_us) AS rtt_min_us, """
    + ", ".join(
        f"{_weighted(c, 'rtt_rounds')} AS {c}"
        for c in ("rtt_p10_us", "rtt_p25_us", "rtt_median_us", "rtt_p75_us", "rtt_p90_us")
    )
    + """, max(f.rtt_max_us) AS rtt_max_us, sum(f.rate_samples) AS rate_samples, """
    + ", ".join(f"{_weighted(c, 'rate_samples')} AS {c}" for c in ("in_bps", "out_bps", "busy_bps"))
    + """, max(f.last_ts_us) AS last_ts_us
        FROM ents CROSS JOIN rollup_5m AS f ON f.entity = ents.name
        WHERE f.bucket_us >= :lo AND f.bucket_us < :hi
        GROUP BY f.entity, 2
    ), g AS (
        SELECT a.*, (SELECT x.last_up FROM rollup_5m AS x WHERE x.entity = a.entity
                     AND x.last_ts_us = a.last_ts_us AND x.bucket_us >= a.bucket_us
                     AND x.bucket_us < a.bucket_us + :b) AS last_up
        FROM a
    )"""
    + _upsert_tail("rollup_1h")
)


def build(conn: sqlite3.Connection, until_us: int) -> dict[str, int]:
    """(Re)build every bucket closed by ``until_us`` from the dirty mark on; idempotent."""
    dirty = _meta_int(conn, DIRTY_KEY)
    closed = until_us - until_us % FIVE_MIN_US
    if dirty is None or dirty >= closed:
        return {"rollup_5m": 0, "rollup_1h": 0}
    lo = max(dirty - dirty % FIVE_MIN_US, horizon(conn) or 0)
    before = conn.total_changes
    conn.execute(_BUILD_5M, {"b": FIVE_MIN_US, "lo": lo, "hi": closed})
    n5 = conn.total_changes - before
    hour_hi = until_us - until_us % HOUR_US
    hour_lo = lo - lo % HOUR_US
    if hour_hi > hour_lo:
        conn.execute(_BUILD_1H, {"b": HOUR_US, "lo": hour_lo, "hi": hour_hi})
    n1 = conn.total_changes - before - n5
    _set_meta(conn, DIRTY_KEY, closed)
    return {"rollup_5m": n5, "rollup_1h": n1}


# -- retention -----------------------------------------------------------------------------
def _entities(conn: sqlite3.Connection, table: str) -> list[str]:
    sql = _entities_cte(table) + "SELECT name FROM ents WHERE name IS NOT NULL"
    return [name for (name,) in conn.execute(sql)]


def purge(
    conn: sqlite3.Connection, summaries_before_us: int, rollups_before_us: int
) -> dict[str, int]:
    """Delete summaries before an hour boundary and rollups before theirs, rollups built first.

    Inside the caller's transaction. Returns the rows deleted per table.
    """
    cut = summaries_before_us - summaries_before_us % HOUR_US
    build(conn, cut)  # nothing is deleted before its rollups exist
    out: dict[str, int] = {"round_summaries": 0, "rollup_5m": 0, "rollup_1h": 0}
    for entity in _entities(conn, "round_summaries"):
        out["round_summaries"] += conn.execute(
            "DELETE FROM round_summaries WHERE entity = ? AND ts_us < ?", (entity, cut)
        ).rowcount
    for table in LEVELS:
        for entity in _entities(conn, table):
            out[table] += conn.execute(
                f"DELETE FROM {table} WHERE entity = ? AND bucket_us < ?",
                (entity, rollups_before_us),
            ).rowcount
    if cut > (horizon(conn) or 0):
        _set_meta(conn, HORIZON_KEY, cut)
    return out


def horizon(conn: sqlite3.Connection) -> int | None:
    """Summaries before this timestamp were purged: the rollups stand in for them."""
    return _meta_int(conn, HORIZON_KEY)


def _rollups_until(conn: sqlite3.Connection) -> int:
    """Hourly rollups are complete before this; summaries must be read from here on."""
    dirty = _meta_int(conn, DIRTY_KEY)
    if dirty is None:
        return horizon(conn) or 0
    return max(dirty - dirty % HOUR_US, horizon(conn) or 0)


def _whole_hours(conn: sqlite3.Connection, lo: int, hi: int) -> tuple[int, int]:
    """The hours the hourly rollups give of [lo, hi): whole ones inside it, rolled up already.

    Empty (``(lo, lo)``) when there are none. The rest of [lo, hi), the part of an hour at
    either end (a month in a +05:30 or -03:30 zone starts and ends on a half hour) and the
    hours not rolled up yet, must be read from finer data: see :func:`_finer`.
    """
    until = _rollups_until(conn)
    first = -(-lo // HOUR_US) * HOUR_US  # the first hour boundary at or after lo
    last = min(hi - hi % HOUR_US, until - until % HOUR_US)
    return (first, last) if last > first else (lo, lo)


def _finer(conn: sqlite3.Connection, lo: int, hi: int) -> list[tuple[str, int, int]]:
    """[lo, hi) outside :func:`_whole_hours`, as (table, from, to) pieces of finer data.

    Round summaries where they are kept; where they were purged (before the horizon), the
    5-minute rollups, whose buckets start and end on a 5-minute boundary as every zone's hour
    does today.
    """
    first, last = _whole_hours(conn, lo, hi)
    start = horizon(conn) or lo
    pieces: list[tuple[str, int, int]] = []
    for a, b in ((lo, first), (last, hi)):
        if b <= a:
            continue
        cut = max(a, min(b, start))
        if cut > a:
            pieces.append(("rollup_5m", a, cut))
        if b > cut:
            pieces.append(("round_summaries", cut, b))
    return pieces


# -- reading -------------------------------------------------------------------------------
# time of rounds [ts, ts + span) inside [lo, hi), for rounds of known state; the same query
# gives a period's totals and, over an exclusion, the part to take out of them
_SPANS = """SELECT count(*), coalesce(sum(d), 0), coalesce(sum(d) FILTER (WHERE up = 0), 0)
    FROM (SELECT up, min(ts_us + span_us, :hi) - max(ts_us, :lo) AS d FROM round_summaries
          WHERE entity = :e AND ts_us >= :lo - :gap AND ts_us < :hi AND up IS NOT NULL)
    WHERE d > 0"""
# the same over 5-minute buckets, each weighted by the part of it inside [lo, hi)
_BUCKET_SPANS = """SELECT coalesce(sum(rounds), 0), coalesce(sum(observed_us * w), 0),
        coalesce(sum(down_us * w), 0)
    FROM (SELECT rounds, observed_us, down_us,
                 (min(bucket_us + :b, :hi) - max(bucket_us, :lo)) * 1.0 / :b AS w
          FROM rollup_5m WHERE entity = :e AND bucket_us > :lo - :b AND bucket_us < :hi)
    WHERE w > 0"""


def _spans(
    conn: sqlite3.Connection,
    sql: str,
    entity: str,
    lo: int,
    hi: int,
    excluded: Sequence[tuple[int, int]],
) -> Availability:
    if hi <= lo:
        return Availability()
    args = {"e": entity, "gap": MAX_GAP_US, "b": FIVE_MIN_US}
    rounds, observed, down = conn.execute(sql, {**args, "lo": lo, "hi": hi}).fetchone()
    cut_all = cut_down = 0.0
    for s, e in excluded:
        xlo, xhi = max(s, lo), min(e, hi)
        if xhi > xlo:
            _, c_all, c_down = conn.execute(sql, {**args, "lo": xlo, "hi": xhi}).fetchone()
            cut_all += c_all
            cut_down += c_down
    return Availability(
        int(rounds), round(observed - cut_all), round(down - cut_down), round(cut_all)
    )


def availability(
    conn: sqlite3.Connection, entity: str, lo: int, hi: int, excluded: Sequence[tuple[int, int]]
) -> Availability:
    """Observed, down and excluded time of ``entity`` in [lo, hi).

    ``excluded`` must be disjoint (merged) intervals. Exact from the summaries; where they were
    purged, from the 5-minute rollups, an exclusion taking its share of each bucket it touches.
    """
    cut = max(lo, min(hi, horizon(conn) or lo))
    a = _spans(conn, _BUCKET_SPANS, entity, lo, cut, excluded)
    b = _spans(conn, _SPANS, entity, cut, hi, excluded)
    return Availability(
        a.rounds + b.rounds, a.observed_us + b.observed_us, a.down_us + b.down_us,
        a.excluded_us + b.excluded_us,
    )  # fmt: skip


def down_runs(conn: sqlite3.Connection, entity: str, lo: int, hi: int) -> Iterator[Run]:
    """Runs of consecutive down rounds in [lo, hi), in order; 5-minute runs before the horizon.

    Two down rounds are consecutive when the second starts within one and a half spans of the
    first: a round of another state (or a gap in the data) between them would take a span.
    """
    cut = max(lo, min(hi, horizon(conn) or lo))
    tail: Run | None = None  # the last run before the horizon may go on after it
    if cut > lo:
        for r in _bucket_runs(conn, entity, lo, cut):
            if tail is not None:
                yield tail
            tail = r
    for r in _round_runs(conn, entity, cut, hi):
        if tail is not None:
            if r.start_us <= tail.end_us:
                r = Run(tail.start_us, r.end_us, tail.first_end_us)
            else:
                yield tail
            tail = None
        yield r
    if tail is not None:
        yield tail


def _round_runs(conn: sqlite3.Connection, entity: str, cut: int, hi: int) -> Iterator[Run]:
    rows = conn.execute(
        "SELECT ts_us, span_us FROM round_summaries INDEXED BY round_summaries_down"
        " WHERE entity = ? AND up = 0 AND ts_us >= ? AND ts_us < ? ORDER BY ts_us",
        (entity, cut - MAX_GAP_US, hi),
    )
    run: list[int] | None = None  # start, end, first end, last ts, last span
    for ts, span in rows:
        a, b = max(ts, cut), min(ts + span, hi)
        if b <= a:
            continue
        if run is not None and ts < run[3] + run[4] * 3 // 2:
            run[1], run[3], run[4] = b, ts, span
            continue
        if run is not None:
            yield Run(run[0], run[1], run[2])
        run = [a, b, b, ts, span]
    if run is not None:
        yield Run(run[0], run[1], run[2])


def _bucket_runs(conn: sqlite3.Connection, entity: str, lo: int, hi: int) -> Iterator[Run]:
    rows = conn.execute(
        "SELECT bucket_us FROM rollup_5m WHERE entity = ? AND bucket_us >= ? AND bucket_us < ?"
        " AND down_us > 0 ORDER BY bucket_us",
        (entity, lo, hi),
    )
    run: list[int] | None = None
    for (bucket,) in rows:
        end = min(bucket + FIVE_MIN_US, hi)
        if run is not None and bucket == run[1]:
            run[1] = end
            continue
        if run is not None:
            yield Run(run[0], run[1], run[2])
        run = [bucket, end, end]
    if run is not None:
        yield Run(run[0], run[1], run[2])


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 3)


_QUANTILES = ("rtt_p10_us", "rtt_p25_us", "rtt_median_us", "rtt_p75_us", "rtt_p90_us")
_BUCKET_SIZES = (60_000_000, FIVE_MIN_US, 900_000_000, HOUR_US)


def _hours_sql(table: str, size: int) -> str:
    """Per bucket of ``size`` of a piece of [lo, hi): sent, received, the five RTT quantiles,
    rounds, rounds with replies and the probes of those rounds."""
    if table == "rollup_1h":
        return (
            "SELECT bucket_us, sent, received, " + ", ".join(_QUANTILES)
            + ", rounds, rtt_rounds, sent * rtt_rounds * 1.0 / rounds"
            " FROM rollup_1h WHERE entity = ? AND bucket_us >= ? AND bucket_us < ? ORDER BY bucket_us"
        )  # fmt: skip
    if table == "rollup_5m":
        return (
            f"SELECT bucket_us - bucket_us % {size} AS h, sum(sent), sum(received), "
            + ", ".join(f"sum({q} * rtt_rounds) / sum(rtt_rounds) FILTER (WHERE {q} IS NOT NULL)"
                        for q in _QUANTILES)
            + ", sum(rounds), sum(rtt_rounds), sum(sent * rtt_rounds * 1.0 / rounds)"
            " FROM rollup_5m WHERE entity = ? AND bucket_us >= ? AND bucket_us < ?"
            " GROUP BY h ORDER BY h"
        )  # fmt: skip
    return (
        f"SELECT ts_us - ts_us % {size} AS h, sum(sent), sum(received), "
        + ", ".join(f"avg({q})" for q in _QUANTILES)
        + ", count(*), count(rtt_median_us), coalesce(sum(sent) FILTER (WHERE received > 0), 0)"
        " FROM round_summaries WHERE entity = ? AND ts_us >= ? AND ts_us < ?"
        " GROUP BY h ORDER BY h"
    )  # fmt: skip


def _counted(
    conn: sqlite3.Connection, entity: str, lo: int, hi: int, excluded: Sequence[tuple[int, int]]
) -> tuple[float, int]:
    """Probes sent and received in [lo, hi) by the rounds with replies outside ``excluded``."""
    outside = "".join(" AND NOT (ts_us >= ? AND ts_us < ?)" for _ in excluded)
    sent, received = conn.execute(
        "SELECT coalesce(sum(sent), 0), coalesce(sum(received), 0) FROM round_summaries"
        " WHERE entity = ? AND ts_us >= ? AND ts_us < ? AND received > 0" + outside,
        (entity, lo, hi, *(x for pair in excluded for x in pair)),
    ).fetchone()
    return float(sent), int(received)


def hours(
    conn: sqlite3.Connection,
    entity: str,
    lo: int,
    hi: int,
    size: int = HOUR_US,
    excluded: Sequence[tuple[int, int]] = (),
) -> list[Hour]:
    """Loss and RTT quantiles of rounds starting in [lo, hi), per bucket of ``size``.

    Buckets are UTC hours by default; a finer ``size`` (1, 5 or 15 minutes, for a short
    period) is read from the round summaries, or their 5-minute rollups before the purge
    horizon (5 minutes at the finest there). Only data inside [lo, hi) counts: an hourly
    rollup only for an hour wholly inside it, the part of an hour at either end from the
    summaries (or their 5-minute rollups). The rounds inside ``excluded`` (maintenance,
    isolation) count as probes of no bucket's ``counted_*``, where the summaries are kept.
    """
    if size not in _BUCKET_SIZES:
        raise ValueError(f"bucket size {size} not in {_BUCKET_SIZES}")
    start = horizon(conn) or lo
    if size == HOUR_US:
        first, last = _whole_hours(conn, lo, hi)
        pieces = [("rollup_1h", first, last), *_finer(conn, lo, hi)]
    else:
        cut = max(lo, min(hi, start))
        if cut > lo:
            size = max(size, FIVE_MIN_US)
        pieces = [("rollup_5m", lo, cut), ("round_summaries", cut, hi)]
    rows: list[tuple[Any, ...]] = []
    for table, a, b in pieces:
        if b > a:  # the pieces are disjoint and the horizon is on an hour: one row per bucket
            rows += conn.execute(_hours_sql(table, size), (entity, a, b)).fetchall()
    out = []
    for h, s, r, p10, p25, p50, p75, p90, n, answered, c_sent in sorted(rows, key=lambda x: x[0]):
        c_received = r
        touching = [(max(x, h, lo), min(y, h + size, hi)) for x, y in excluded
                    if x < h + size and y > h]  # fmt: skip
        if touching and h >= start:  # exact: those rounds are out of the loss
            c_sent, c_received = _counted(conn, entity, max(h, lo), min(h + size, hi), touching)
        out.append(Hour(h, s, r, _ms(p10), _ms(p25), _ms(p50), _ms(p75), _ms(p90),
                        int(n), int(answered), float(c_sent or 0), int(c_received)))  # fmt: skip
    return out


def last_state(conn: sqlite3.Connection, entity: str, lo: int, hi: int) -> tuple[bool, int | None]:
    """(any round in [lo, hi), the state of the last one)."""
    row = conn.execute(
        "SELECT up FROM round_summaries WHERE entity = ? AND ts_us >= ? AND ts_us < ?"
        " ORDER BY ts_us DESC LIMIT 1",
        (entity, lo, hi),
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT last_up FROM rollup_5m WHERE entity = ? AND bucket_us >= ? AND bucket_us < ?"
            " ORDER BY bucket_us DESC LIMIT 1",
            (entity, lo, hi),
        ).fetchone()
    return (False, None) if row is None else (True, row[0])


_BUSY = {
    "rollup_1h": "SELECT coalesce(sum(busy_bps * rate_samples), 0), coalesce(sum(rate_samples), 0)"
    " FROM rollup_1h WHERE entity = ? AND bucket_us >= ? AND bucket_us < ?",
    "rollup_5m": "SELECT coalesce(sum(busy_bps * rate_samples), 0), coalesce(sum(rate_samples), 0)"
    " FROM rollup_5m WHERE entity = ? AND bucket_us >= ? AND bucket_us < ?",
    "round_summaries": "SELECT coalesce(sum(max(in_bps, out_bps)), 0), count(in_bps)"
    " FROM round_summaries WHERE entity = ? AND ts_us >= ? AND ts_us < ? AND in_bps IS NOT NULL",
}


def mean_busy_rate(conn: sqlite3.Connection, entity: str, lo: int, hi: int) -> float | None:
    """Mean over [lo, hi) of each sample's larger direction (bit/s), or None without samples.

    Hourly rollups only for the hours wholly inside [lo, hi), as :func:`hours` does.
    """
    first, last = _whole_hours(conn, lo, hi)
    total, n = 0.0, 0
    for table, a, b in [("rollup_1h", first, last), *_finer(conn, lo, hi)]:
        if b > a:
            more, m = conn.execute(_BUSY[table], (entity, a, b)).fetchone()
            total, n = total + more, n + m
    return total / n if n else None
