"""Round summaries, their rollups and retention, on real SQLite files; the SLA read from them."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitoreo import charts, maintenance, report, rounds, sla
from monitoreo.prober import ProbeOptions, Target
from monitoreo.sites import Site
from monitoreo.stats import summarize
from monitoreo.summaries import SummaryWriter
from pukara.store import SQLiteStore, Summary
from pukara.store.retention import ROLLUP_RETENTION
from pukara.store.rollups import FIVE_MIN_US, HOUR_US
from pukara.store.sqlite import to_us

T0 = datetime(2026, 10, 1, tzinfo=UTC)
S30 = 30_000_000


def _row(entity: str, i: int, up: int = 1, *, start: datetime = T0, rate: bool = True) -> Summary:
    rtt = [None] * 7 if not up else [20_000, 21_000, 22_000, 23_000 + i, 24_000, 25_000, 30_000]
    return Summary(entity, to_us(start) + i * S30, S30, up, 5, 5 if up else 0, *rtt,
                   *((1000 * i, 2000) if rate else (None, None)))  # fmt: skip


def _site(code: str, **kw: object) -> Site:
    base: dict[str, object] = {
        "code": code, "name": f"Misión {code}", "timezone": "UTC", "address": "198.18.0.2",
        "gateway": None, "parent": None, "bandwidth_mbps": None, "availability_target": 99.0,
        "loss_threshold_pct": 5.0, "latency_threshold_ms": 500.0, "vpn_kit": False,
        "vpn_interface": None, "vpn_probe": None, "credential_profile": None,
    }  # fmt: skip
    base.update(kw)
    return Site(**base)  # type: ignore[arg-type]


def _table(store: SQLiteStore, table: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
    finally:
        conn.close()


def test_writing_summaries_twice_changes_nothing(store: SQLiteStore) -> None:
    rows = [_row("a", i) for i in range(50)]
    assert store.write_summaries(rows) == 50
    store.build_rollups(T0 + timedelta(hours=1))
    first = (_table(store, "round_summaries"), _table(store, "rollup_5m"))
    assert store.write_summaries(rows) == 50
    store.build_rollups(T0 + timedelta(hours=1))
    assert (_table(store, "round_summaries"), _table(store, "rollup_5m")) == first
    assert len(first[0]) == 50


def test_a_bucket_of_known_rounds_gives_known_numbers(store: SQLiteStore) -> None:
    # the first 5 minutes: 10 rounds of 30 s, rounds 3 and 4 down
    rows = [_row("a", i, up=0 if i in (3, 4) else 1) for i in range(120)]
    store.write_summaries(rows)
    assert store.build_rollups(T0 + timedelta(minutes=59)) == {"rollup_5m": 11, "rollup_1h": 0}
    (b0, *_) = _table(store, "rollup_5m")
    got = dict(zip(("entity", "bucket_us", "rounds", "observed_us", "up_us", "down_us", "sent",
                    "received", "rtt_rounds", "rtt_min_us", "rtt_p10_us", "rtt_p25_us",
                    "rtt_median_us", "rtt_p75_us", "rtt_p90_us", "rtt_max_us", "rate_samples",
                    "in_bps", "out_bps", "busy_bps", "last_ts_us", "last_up"), b0, strict=True))  # fmt: skip
    medians = [23_000 + i for i in range(10) if i not in (3, 4)]
    assert got == {
        "entity": "a", "bucket_us": to_us(T0), "rounds": 10, "observed_us": 300_000_000,
        "up_us": 240_000_000, "down_us": 60_000_000, "sent": 50, "received": 40,
        "rtt_rounds": 8, "rtt_min_us": 20_000, "rtt_p10_us": 21_000.0, "rtt_p25_us": 22_000.0,
        "rtt_median_us": sum(medians) / 8, "rtt_p75_us": 24_000.0, "rtt_p90_us": 25_000.0,
        "rtt_max_us": 30_000, "rate_samples": 10, "in_bps": 4500.0, "out_bps": 2000.0,
        "busy_bps": sum(max(1000 * i, 2000) for i in range(10)) / 10,
        "last_ts_us": to_us(T0) + 9 * S30, "last_up": 1,
    }  # fmt: skip
    # the hour closes: its rollup is the exact composition of its twelve 5-minute ones
    assert store.build_rollups(T0 + timedelta(hours=1))["rollup_1h"] == 1
    (h,) = _table(store, "rollup_1h")
    assert h[2:6] == (120, 3_600_000_000, 3_540_000_000, 60_000_000)
    assert h[12] == pytest.approx(sum(23_000 + i for i in range(120) if i not in (3, 4)) / 118)
    assert h[17] == pytest.approx(sum(1000 * i for i in range(120)) / 120)


def test_a_late_summary_rebuilds_its_closed_bucket(store: SQLiteStore) -> None:
    store.write_summaries([_row("a", i) for i in range(20) if i != 2])
    store.build_rollups(T0 + timedelta(minutes=10))
    assert [r[2] for r in _table(store, "rollup_5m")] == [9, 10]
    store.write_summaries([_row("a", 2, up=0)])  # it was in the spool
    store.build_rollups(T0 + timedelta(minutes=10))
    assert [(r[2], r[5]) for r in _table(store, "rollup_5m")] == [(10, S30), (10, 0)]


def test_purge_deletes_old_summaries_and_keeps_their_rollups(store: SQLiteStore) -> None:
    store.write_summaries([_row("a", i) for i in range(2 * 120)])  # two hours
    # nothing built yet: the purge builds the rollups of what it deletes first
    got = store.purge_summaries(T0 + timedelta(hours=1, minutes=20), T0 - timedelta(days=1))
    assert got == {"round_summaries": 120, "rollup_5m": 0, "rollup_1h": 0}
    assert len(_table(store, "round_summaries")) == 120
    assert len(_table(store, "rollup_5m")) == 12 and len(_table(store, "rollup_1h")) == 1
    got = store.purge_summaries(T0 + timedelta(hours=1), T0 + timedelta(minutes=30))
    assert got == {"round_summaries": 0, "rollup_5m": 6, "rollup_1h": 1}


def _month(store: SQLiteStore, downs: set[int]) -> dict[str, Site]:
    """Site a over October at 30 s rounds, the rounds in ``downs`` without replies."""
    days = 31 * 2880
    store.write_summaries(_row("a", i, up=0 if i in downs else 1, rate=False) for i in range(days))
    store.build_rollups(T0 + timedelta(days=31))
    return {"a": _site("a")}


def _sla(store: SQLiteStore, sites: dict[str, Site]) -> tuple[object, ...]:
    (r,) = sla.compute(store, sites, "2026-10")
    return r.row(), r.incidents, len(r.smoke), r.smoke[5]


def test_sla_from_summaries_equals_sla_from_rollups(store: SQLiteStore) -> None:
    # down from 10:00 to 10:20 on the 3rd, and a maintenance window over the first 10 minutes
    first = (2 * 24 + 10) * 120
    sites = _month(store, set(range(first, first + 40)))
    at = T0 + timedelta(days=2, hours=10)
    maintenance.add(store, "a", at, at + timedelta(minutes=10), "cambio de equipo")
    exact = _sla(store, sites)
    row = exact[0]
    assert isinstance(row, dict)
    assert row["down_minutes"] == 10.0 and row["excluded_minutes"] == 10.0
    assert row["observed_hours"] == round(31 * 24 - 10 / 60, 2) and row["rounds"] == 31 * 2880
    assert exact[1] == [{"start": "2026-10-03 10:00", "end": "2026-10-03 10:20",
                         "timezone": "UTC", "start_utc": "2026-10-03T10:00:00.000000Z",
                         "end_utc": "2026-10-03T10:20:00.000000Z", "minutes": 20.0,
                         "in_maintenance": True, "in_isolation": False,
                         "maintenance_minutes": 10.0, "isolation_minutes": 0.0,
                         "maintenance_by": [{"site": "a", "minutes": 10.0}]}]  # fmt: skip
    store.purge_summaries(T0 + timedelta(days=2, hours=10), T0 - timedelta(days=1))
    assert _sla(store, sites) == exact  # the rollups up to the outage, the rounds from it
    store.purge_summaries(T0 + timedelta(days=40), T0 - timedelta(days=1))
    assert _table(store, "round_summaries") == []
    assert _sla(store, sites) == exact


def test_a_window_off_the_buckets_is_taken_out_exactly(store: SQLiteStore) -> None:
    sites = _month(store, set(range(1000, 1020)))  # 10 minutes down from 08:20 on the 1st
    start = T0 + timedelta(hours=8, minutes=22, seconds=15)
    maintenance.add(store, "a", start, start + timedelta(seconds=100), "x")
    (r,) = sla.compute(store, sites, "2026-10")
    assert r.excluded_s == 100 and r.down_s == 600 - 100
    assert r.observed_s == 31 * 86_400 - 100
    # with the rounds purged, the window takes its share of each bucket: same totals here
    store.purge_summaries(T0 + timedelta(days=40), T0 - timedelta(days=1))
    (r,) = sla.compute(store, sites, "2026-10")
    assert r.excluded_s == pytest.approx(100) and r.down_s == pytest.approx(500)


def test_rounds_are_cut_at_the_month_edges(store: SQLiteStore) -> None:
    # rounds every 5 minutes from 23:50 on 30 September: the first spills into October
    start = T0 - timedelta(minutes=10)
    store.write_summaries(
        Summary("a", to_us(start) + i * 300_000_000, 300_000_000, 1, 5, 5) for i in range(4)
    )
    (r,) = sla.compute(store, {"a": _site("a")}, "2026-10")
    assert r.rounds == 2 and r.observed_s == 600  # 00:00-00:10
    (r,) = sla.compute(store, {"a": _site("a")}, "2026-09")
    assert r.rounds == 2 and r.observed_s == 600


def _round(at: datetime, m3_up: bool) -> rounds.Round:
    opts = ProbeOptions(count=4)
    res = []
    for code in ("m1", "m3"):
        rtts: list[float | None] = [30.0, 31.0, 29.0, 30.5] if code != "m3" or m3_up else [None] * 4
        res.append(rounds.TargetRound(Target(code, "198.18.0.2", site=code), rtts,
                                      summarize(rtts), None))  # fmt: skip
    return rounds.Round("r", at, opts, res)


def test_vigilar_summaries_give_the_october_sla_without_raw_events(tmp_path: Path) -> None:
    """As the lab test: m3 cut for 3 rounds of 10 at 5 min, 2 of them in maintenance."""
    store = SQLiteStore(tmp_path / "a.db")
    start = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
    maintenance.add(store, "m3", start + timedelta(minutes=20), start + timedelta(minutes=30), "x")
    writer = SummaryWriter(store)
    for i in range(10):
        rnd = _round(start + timedelta(minutes=5 * i), m3_up=i not in (4, 5, 6))
        writer.put(rounds.round_events(rnd), rnd.started)  # the events themselves not stored
    assert writer.close() == 0
    assert store.count_events() == 0
    known = {c: _site(c) for c in ("m1", "m3")}
    rows = {r.site: r for r in sla.compute(store, known, "2026-10")}
    m3 = rows["m3"].row()
    assert m3["excluded_minutes"] == 10.0 and m3["down_minutes"] == 5.0
    assert m3["availability_pct"] == pytest.approx(87.5) and m3["rounds"] == 10
    assert rows["m3"].incidents[0]["in_maintenance"] and len(rows["m3"].incidents) == 1
    assert rows["m1"].row()["availability_pct"] == 100.0
    # 50 minutes seen: the chart spans them, in 5-minute buckets (one round each)
    m1, m3s = rows["m1"].smoke, rows["m3"].smoke
    assert rows["m1"].bucket_s == 300
    assert rows["m1"].chart_span == (start, start + timedelta(minutes=50))
    assert len(m1) == 10 and all(h["median"] == 30.25 and h["loss_pct"] == 0 for h in m1)
    # m3's three rounds without replies are an outage (two in maintenance), not loss
    assert [h["loss_pct"] for h in m3s] == [0] * 4 + [None] * 3 + [0] * 3
    assert [h["silent"] for h in m3s] == [False] * 4 + [True] * 3 + [False] * 3
    # 50 minutes of a month: no verdict, whatever the availability of what was seen
    data = report.build(store, known, "2026-10")
    assert [r["verdict"] for r in data["rows"]] == ["insufficient_coverage"] * 2
    page = report.html(data)
    assert page.count("<svg") == 1 + 2 and "<script" not in page  # an empty plot, the latency
    assert "Ninguna sede tiene veredicto" in page
    assert "no cumple</td>" not in page and page.count("cobertura insuficiente</td>") == 2
    # the medians coloured by loss among the rounds up: neither lost any; m3's cut is shaded
    assert 'stroke="#26ff00"' in page and 'stroke="#dd00ff"' not in page
    assert f'fill="{charts.OUTAGE}"' in page and f'fill="{charts.MAINTENANCE}"' in page
    store.close()


def test_the_first_span_is_corrected_by_the_next_round(store: SQLiteStore) -> None:
    writer = SummaryWriter(store, period_s=60)
    at = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
    writer.put(rounds.round_events(_round(at, True)), at)
    writer.put(
        rounds.round_events(_round(at + timedelta(seconds=45), True)), at + timedelta(seconds=45)
    )
    writer.put(rounds.round_events(_round(at + timedelta(hours=1), True)), at + timedelta(hours=1))
    writer.close()
    spans = [r[2] // 1_000_000 for r in _table(store, "round_summaries") if r[0] == "m1"]
    assert spans == [45, 600, 60]  # a gap over ten minutes is no data, not up


def test_buckets_are_aligned() -> None:
    assert HOUR_US % FIVE_MIN_US == 0 and to_us(T0) % HOUR_US == 0


def test_vpn_and_speed_trends_read_the_summaries(store: SQLiteStore) -> None:
    sep = datetime(2026, 9, 1, tzinfo=UTC)
    # September: 2 days at 1 Mbit/s; October: 2 days at 1.5 Mbit/s, the last hours not rolled up
    store.write_summaries(
        Summary("a", to_us(sep) + i * S30, S30, 1, 5, 5, in_bps=1_000_000, out_bps=10)
        for i in range(2 * 2880)
    )
    store.write_summaries(
        Summary("a", to_us(T0) + i * S30, S30, 1, 5, 5, in_bps=10, out_bps=1_500_000)
        for i in range(2 * 2880)
    )
    store.build_rollups(T0 + timedelta(hours=30))
    last = to_us(T0 + timedelta(days=20))
    store.write_summaries(
        [Summary("a/vpn", last, S30, 1, 5, 5), Summary("a/vpn", last + S30, S30, 0, 5, 0)]
    )
    sites = {"a": _site("a", vpn_kit=True), "b": _site("b", vpn_kit=True)}
    vpn = sla.vpn_indicator(store, sites, "2026-10", ["a", "b"])
    assert vpn["working"] == 0 and vpn["sites"] == [
        {"site": "a", "working": False},
        {"site": "b", "working": None},
    ]
    (speed, _) = sla.speed_change(store, sites, "2026-10")
    assert speed == {"site": "a", "mean_bps": 1_500_000, "previous_mean_bps": 1_000_000,
                     "change_pct": 50.0}  # fmt: skip
    store.purge_summaries(T0 + timedelta(days=40), T0 - timedelta(days=60))
    assert sla.speed_change(store, sites, "2026-10")[0] == speed
    assert sla.vpn_indicator(store, sites, "2026-10", ["a"])["sites"][0]["working"] is False
    # only the missions monitored this month count: a kit not watched is not «not working»
    vpn = sla.vpn_indicator(store, sites, "2026-10", ["a"])
    assert (vpn["missions_with_kit"], vpn["monitored_with_kit"], len(vpn["sites"])) == (2, 1, 1)


def test_summaries_wait_for_a_locked_store_and_arrive_later(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.db", busy_timeout_ms=100)
    writer = SummaryWriter(store, retry_s=0.1)
    blocker = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    at = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
    try:
        writer.put(rounds.round_events(_round(at, True)), at)
        deadline = time.monotonic() + 10
        while writer.last_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writer.last_error and writer.pending() == 2
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    later = at + timedelta(minutes=1)
    writer.put(rounds.round_events(_round(later, True)), later)
    assert writer.close() == 0 and writer.last_error is None
    assert len(_table(store, "round_summaries")) == 4
    store.close()


def test_vigilar_purges_once_a_day_and_keeps_the_rollups(store: SQLiteStore) -> None:
    def purge(at: datetime) -> None:
        store.purge_summaries(at - timedelta(days=1), at - ROLLUP_RETENTION)

    writer = SummaryWriter(store, daily=purge)
    day = datetime(2026, 10, 10, tzinfo=UTC)
    for at in (day, day + timedelta(minutes=5), day + timedelta(days=2, hours=1)):
        writer.put(rounds.round_events(_round(at, True)), at)
    writer.close()
    kept = {(r[0], r[1]) for r in _table(store, "round_summaries")}
    assert kept == {("m1", to_us(day + timedelta(days=2, hours=1))),
                    ("m3", to_us(day + timedelta(days=2, hours=1)))}  # fmt: skip
    assert {r[1] for r in _table(store, "rollup_5m")} >= {to_us(day), to_us(day) + FIVE_MIN_US}
    assert [r[2] for r in _table(store, "rollup_1h") if r[0] == "m1"] == [2]


def test_an_outage_across_the_horizon_is_one_incident_and_late_rounds_do_not_undo_it(
    store: SQLiteStore,
) -> None:
    store.write_summaries(_row("a", i, up=0 if 1180 <= i < 1240 else 1) for i in range(2880))
    store.purge_summaries(T0 + timedelta(hours=10), T0 - timedelta(days=1))  # down 9:50-10:20
    runs = store.down_runs("a", T0, T0 + timedelta(days=1))
    assert [(r.start_us, r.end_us) for r in runs] == [
        (to_us(T0 + timedelta(hours=9, minutes=50)), to_us(T0 + timedelta(hours=10, minutes=20)))
    ]
    before = _table(store, "rollup_5m")
    assert store.write_summaries([_row("a", 1000, up=0)]) == 0  # older than the horizon
    store.build_rollups(T0 + timedelta(days=1))
    assert _table(store, "rollup_5m")[: len(before)] == before


def test_rounds_spooled_across_a_restart_still_get_their_summaries(tmp_path: Path) -> None:
    """Summaries follow the events into the store: a spool replayed by the next run is
    summarised like live rounds, so the SLA does not lose what the spool kept."""
    from monitoreo.spool import SpoolingWriter

    db = tmp_path / "a.db"
    SQLiteStore(db).close()
    spool = tmp_path / "cola" / "m.jsonl"
    start = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the store is away for the whole first run
    first = SpoolingWriter(lambda: SQLiteStore(db, busy_timeout_ms=20), spool, retry_s=0.05)
    for i in range(6):
        first.put(rounds.round_events(_round(start + timedelta(minutes=5 * i), m3_up=i != 2)))
    assert first.close(timeout_s=5).spooled > 0
    blocker.execute("ROLLBACK")
    blocker.close()
    store = SQLiteStore(db)
    summaries = SummaryWriter(store)
    second = SpoolingWriter(lambda: SQLiteStore(db), spool, on_stored=summaries.put_stored)
    second.close()
    assert summaries.close() == 0
    known = {c: _site(c) for c in ("m1", "m3")}
    rows = {r.site: r.row() for r in sla.compute(store, known, "2026-10")}
    assert rows["m3"]["rounds"] == 6 and rows["m3"]["down_minutes"] == 5.0
    assert rows["m1"]["availability_pct"] == 100.0
    store.close()


def _spans(store: SQLiteStore, entity: str) -> dict[int, int]:
    return {r[1]: r[2] for r in _table(store, "round_summaries") if r[0] == entity}  # type: ignore[misc]


def test_a_late_older_round_corrects_no_span(store: SQLiteStore) -> None:
    """Held events stored before an older spool: the old round must not stretch to 10 min."""
    writer = SummaryWriter(store, period_s=30)
    at = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
    for t in (at + timedelta(seconds=60), at, at + timedelta(seconds=90)):
        writer.put(rounds.round_events(_round(t, True)), t)
    assert writer.close() == 0
    assert _spans(store, "m1") == {to_us(at): S30, to_us(at) + 2 * S30: S30,
                                   to_us(at) + 3 * S30: S30}  # fmt: skip


def test_a_full_disk_does_not_kill_the_summary_thread(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.db")
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    writer = SummaryWriter(store, retry_s=0.05)
    at = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
    for i in range(300):
        t = at + timedelta(minutes=i)
        writer.put(rounds.round_events(_round(t, True)), t)
    deadline = time.monotonic() + 10
    while writer.last_error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    health = writer.health(drain=True)
    assert health.alive and not health.ok and health.pending > 0
    assert any("no recibe los resúmenes" in r for r in health.reports)
    assert writer.close() > 0
    store.close()


def test_the_summary_writer_purges_nothing_unless_asked(store: SQLiteStore) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    store.write_summaries([Summary("a", to_us(old), S30, 1, 5, 5)])
    writer = SummaryWriter(store)  # vigilar passes enforce_retention as ``daily``
    at = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
    writer.put(rounds.round_events(_round(at, True)), at)
    assert writer.close() == 0
    assert ("a", to_us(old)) in {(r[0], r[1]) for r in _table(store, "round_summaries")}


def test_bucket_loss_counts_only_the_rounds_up_outside_exclusions(store: SQLiteStore) -> None:
    """An hour with 20 rounds down, 10 losing 2 of 5 probes, 10 of those inside a window."""
    rows = []
    for i in range(120):
        if 40 <= i < 60:  # down: an outage, not loss
            rows.append(_row("a", i, up=0))
        elif 80 <= i < 100:  # 2 probes of 5 lost; the last ten in the window below
            rows.append(_row("a", i)._replace(received=3))
        else:
            rows.append(_row("a", i))
    store.write_summaries(rows)
    store.build_rollups(T0 + timedelta(hours=2))
    window = [(T0 + timedelta(seconds=90 * 30), T0 + timedelta(seconds=100 * 30))]
    (hour,) = store.hourly("a", T0, T0 + timedelta(hours=1))  # from the hourly rollup
    assert (hour.sent, hour.received, hour.rounds, hour.answered) == (600, 460, 120, 100)
    assert hour.counted_sent == 500 and hour.counted_received == 460  # 8 % lost, not 23.3 %
    (hour,) = store.hourly("a", T0, T0 + timedelta(hours=1), excluded=window)
    assert hour.counted_sent == 450 and hour.counted_received == 430  # the window's out
    fine = store.hourly("a", T0, T0 + timedelta(hours=1), size_s=300)
    assert len(fine) == 12 and [h.answered for h in fine][4:6] == [0, 0]  # 5-minute buckets
    assert all(h.counted_sent == 50 for h in fine[:4])
    assert fine[8].counted_received == 30 and fine[4].counted_sent == 0
    one = store.hourly("a", T0, T0 + timedelta(minutes=10), size_s=60)
    assert len(one) == 10 and all(h.rounds == 2 for h in one)
    with pytest.raises(ValueError, match="bucket size"):
        store.hourly("a", T0, T0 + timedelta(hours=1), size_s=120)
