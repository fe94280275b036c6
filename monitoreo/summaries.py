"""One compact summary per site (and per tunnel) per round, for the reports that span months.

A round's summaries are built from the events the round stored: the probe of each site and of
its tunnel (``monitoreo.sondeo``), the link rates (``monitoreo.enlace``) and the tunnel verdict
(``monitoreo.vpn``). Each stands for the time until the entity's next round, at most
``MAX_GAP``: it is written at once with the last gap seen (or the watch period) and corrected
when the next round comes, so a monitor killed between rounds leaves its last round with the
usual span. :class:`SummaryWriter` writes them from a thread of its own, keeps what the store
refused for the next attempt, rebuilds the rollups of the buckets that closed and, once a day,
purges summaries past ``SUMMARY_RETENTION`` and rollups past ``ROLLUP_RETENTION``.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from monitoreo.stats import percentile
from pukara.errors import PukaraError
from pukara.events import get_field, parse_timestamp
from pukara.store import Store, Summary
from pukara.store.retention import ROLLUP_RETENTION, SUMMARY_RETENTION
from pukara.store.rollups import MAX_GAP_US

DEFAULT_SPAN_S = 30.0  # vigilar's default round, for an entity's first round
MAX_PENDING = 500_000  # summaries kept while the store refuses them (about 60 MB)
PURGE_EVERY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(at: datetime) -> int:
    return (at - _EPOCH) // _US


def _us(ms: float | None) -> int | None:
    return None if ms is None else round(ms * 1000)


def _probe(ev: Mapping[str, Any], ts_us: int, span_us: int) -> Summary | None:
    site, target = get_field(ev, "monitoreo.site"), get_field(ev, "monitoreo.target")
    if not site or target not in (site, f"{site}/vpn"):
        return None  # a bare address, not a site's own target
    got = sorted(x for x in get_field(ev, "monitoreo.rtts_ms") or [] if x is not None)
    sent = int(get_field(ev, "monitoreo.sent") or 0)
    q: list[int | None] = [None] * 7
    if got:
        median = get_field(ev, "monitoreo.median_ms")
        q = [_us(got[0]), *(_us(percentile(got, p)) for p in (10, 25)),
             _us(median if median is not None else percentile(got, 50)),
             *(_us(percentile(got, p)) for p in (75, 90)), _us(got[-1])]  # fmt: skip
    return Summary(target, ts_us, span_us, 1 if got else 0, sent, len(got), *q)


def build(events: Iterable[Mapping[str, Any]], at: datetime, span_us: int) -> list[Summary]:
    """The summaries of one round from its events, each standing for ``span_us``."""
    ts = to_us(at)
    rows: dict[str, Summary] = {}
    rates: dict[str, tuple[int, int]] = {}
    tunnels: dict[str, int | None] = {}
    for ev in events:
        dataset = get_field(ev, "event.dataset")
        if dataset == "monitoreo.sondeo":
            row = _probe(ev, ts, span_us)
            if row is not None:
                rows[row.entity] = row
        elif dataset == "monitoreo.enlace":
            i, o = get_field(ev, "monitoreo.link.in_bps"), get_field(ev, "monitoreo.link.out_bps")
            if i is not None and o is not None:  # both or neither: the rollups weigh them so
                rates[get_field(ev, "host.name")] = (int(i), int(o))
        elif dataset == "monitoreo.vpn":
            working = get_field(ev, "monitoreo.vpn.working")
            tunnels[f"{get_field(ev, 'host.name')}/vpn"] = None if working is None else int(working)
    for code, (i, o) in rates.items():
        if code in rows:
            rows[code] = rows[code]._replace(in_bps=i, out_bps=o)
    for entity, up in tunnels.items():  # the verdict (probe and device) is the tunnel's state
        old = rows.get(entity)
        rows[entity] = old._replace(up=up) if old else Summary(entity, ts, span_us, up, 0, 0)
    return list(rows.values())


class SummaryWriter:
    """Round summaries to the store from a thread of their own; rollups and retention too."""

    def __init__(
        self, store: Store, *, keep_summaries: timedelta = SUMMARY_RETENTION,
        keep_rollups: timedelta = ROLLUP_RETENTION, period_s: float | None = None,
        retry_s: float = 1.0, daily: Callable[[datetime], object] | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.keep_summaries, self.keep_rollups = keep_summaries, max(keep_rollups, keep_summaries)
        self.period_s = period_s
        self.daily = daily or self._purge
        self.retry_s = retry_s
        self.last_error: str | None = None
        self.dropped = 0
        self._previous: dict[str, Summary] = {}
        self._pending: list[Summary] = []
        self._last_purge: datetime | None = None
        self._queue: queue.Queue[tuple[list[Summary], datetime] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="pukara-resumen", daemon=True)
        self._thread.start()

    def put(self, events: Iterable[Mapping[str, Any]], at: datetime) -> None:
        """Summarise a round and queue it, with the corrected span of each entity's last one."""
        rows: list[Summary] = []
        for row in build(events, at, 0):
            prev = self._previous.get(row.entity)
            gap = None if prev is None else row.ts_us - prev.ts_us
            if prev is not None and gap and gap > 0 and min(gap, MAX_GAP_US) != prev.span_us:
                rows.append(prev._replace(span_us=min(gap, MAX_GAP_US)))
            if self.period_s is None and gap is not None and 0 < gap <= MAX_GAP_US:
                span = gap  # until the next round says otherwise: the last gap
            else:
                span = round((self.period_s or DEFAULT_SPAN_S) * 1_000_000)
            row = row._replace(span_us=min(span, MAX_GAP_US))
            self._previous[row.entity] = row
            rows.append(row)
        self._queue.put((rows, at))

    def put_stored(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Summarise events the store has just taken, round by round (a round shares its
        ``@timestamp``); the spool replays after a restart are summarised like live rounds."""
        for stamp, group in itertools.groupby(events, key=lambda e: e.get("@timestamp")):
            if isinstance(stamp, str):
                self.put(list(group), parse_timestamp(stamp))

    def pending(self) -> int:
        return len(self._pending)

    def close(self, timeout_s: float = 30.0) -> int:
        """Write what is queued and stop; returns how many summaries could not be written."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        return len(self._pending) + self._queue.qsize()

    def _purge(self, at: datetime) -> None:
        self.store.purge_summaries(at - self.keep_summaries, at - self.keep_rollups)

    def _run(self) -> None:
        at: datetime | None = None
        while True:
            try:
                item = self._queue.get(timeout=self.retry_s)
            except queue.Empty:
                item = ([], at) if self._pending and at else None
                if item is None:
                    continue
            if item is None:
                self._flush(at)
                return
            rows, at = item
            self._pending.extend(rows)
            if len(self._pending) > MAX_PENDING:
                self.dropped += len(self._pending) - MAX_PENDING
                del self._pending[: len(self._pending) - MAX_PENDING]
            self._flush(at)

    def _flush(self, at: datetime | None) -> None:
        if at is None:
            return
        try:
            if self._pending:
                self.store.write_summaries(self._pending)
                self._pending.clear()
            self.store.build_rollups(at)
            if self._last_purge is None or at - self._last_purge >= PURGE_EVERY:
                self.daily(at)
                self._last_purge = at
            self.last_error = None
        except PukaraError as e:  # the store refused: kept, tried again
            self.last_error = str(e)
