"""One compact summary per site (and per tunnel) per round, for the reports that span months.

A round's summaries are built from the events the round stored: the probe of each site and of
its tunnel (``monitoreo.sondeo``), the link rates (``monitoreo.enlace``) and the tunnel verdict
(``monitoreo.vpn``). Each stands for the time until the entity's next round, at most
``MAX_GAP``: it is written at once with the last gap seen (or the watch period) and corrected
when the next round comes, so a monitor killed between rounds leaves its last round with the
usual span. :class:`SummaryWriter` writes them from a thread of its own, keeps what the store
refused for the next attempt (up to ``MAX_PENDING``, the rest counted and reported), rebuilds
the rollups of the buckets that closed and, once a day, calls ``daily`` (vigilar passes
:func:`pukara.store.retention.enforce_retention`, the one retention policy).

A round summarised again (the spool's head replayed after a crash) is harmless: summaries are
upserts keyed by entity and ``ts_us``. A round older than an entity's last one (a late
delivery) is written with the usual span and corrects nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitoreo.stats import percentile
from pukara.errors import PukaraError
from pukara.events import get_field, parse_timestamp
from pukara.store import Store, Summary
from pukara.store.rollups import MAX_GAP_US
from pukara.store.sqlite import to_us

DEFAULT_SPAN_S = 30.0  # vigilar's default round, for an entity's first round
MAX_PENDING = 500_000  # summaries kept while the store refuses them (about 60 MB)
PURGE_EVERY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SummaryHealth:
    """What the summary writer has not written yet, and what went wrong."""

    pending: int  # summaries refused by the store, kept for the next attempt
    queued: int  # rounds handed over, not yet looked at by the thread
    dropped: int  # summaries given up for good (memory bound reached), since start
    last_error: str | None
    alive: bool
    reports: tuple[str, ...] = ()  # problems found since the previous drain

    @property
    def ok(self) -> bool:
        return self.last_error is None and self.alive


def _nothing(at: datetime) -> None:
    """The default ``daily``: no retention (the caller enforces its own)."""


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
        self, store: Store, *, period_s: float | None = None, retry_s: float = 1.0,
        daily: Callable[[datetime], object] = _nothing,
    ) -> None:  # fmt: skip
        self.store = store
        self.period_s = period_s
        self.daily = daily
        self.retry_s = retry_s
        self.last_error: str | None = None
        self.dropped = 0
        self._reports: deque[str] = deque(maxlen=100)
        self._closing = False
        self._previous: dict[str, Summary] = {}
        self._pending: list[Summary] = []
        self._last_purge: datetime | None = None
        self._queue: queue.Queue[tuple[list[Summary], datetime] | None] = queue.Queue()
        self._thread = self._start_thread()

    def put(self, events: Iterable[Mapping[str, Any]], at: datetime) -> None:
        """Summarise a round and queue it, with the corrected span of each entity's last one."""
        rows: list[Summary] = []
        for row in build(events, at, 0):
            prev = self._previous.get(row.entity)
            if prev is not None and row.ts_us <= prev.ts_us:  # summarised again, or late
                same = row.ts_us == prev.ts_us
                span = prev.span_us if same else round((self.period_s or DEFAULT_SPAN_S) * 1e6)
                rows.append(row._replace(span_us=min(span, MAX_GAP_US)))
                continue
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

    def health(self, *, drain: bool = False) -> SummaryHealth:
        """A snapshot; with ``drain``, the problems found since the last drain are taken."""
        reports: list[str] = []
        while drain and self._reports:
            reports.append(self._reports.popleft())
        return SummaryHealth(len(self._pending), self._queue.qsize(), self.dropped,
                             self.last_error, self._thread.is_alive(), tuple(reports))  # fmt: skip

    def restart(self) -> None:
        """Start the thread again if it died (it should not: it catches everything)."""
        if not self._closing and not self._thread.is_alive():
            self._problem("el escritor de resúmenes por ronda se detuvo; se reinicia")
            self._thread = self._start_thread()

    def close(self, timeout_s: float = 30.0) -> int:
        """Write what is queued and stop; returns how many summaries could not be written."""
        self._closing = True
        self._queue.put(None)
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # the stop mark, if the thread never took it
                while True:
                    item = self._queue.get_nowait()
                    self._pending.extend(item[0] if item else [])
        return len(self._pending) + self._queue.qsize()

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="pukara-resumen", daemon=True)
        thread.start()
        return thread

    def _problem(self, text: str) -> None:
        if text != self.last_error:
            self._reports.append(text)
        self.last_error = text

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
            extra = len(self._pending) - MAX_PENDING
            if extra > 0:
                self.dropped += extra
                del self._pending[:extra]
                self._reports.append(
                    f"se descartaron los {extra} resúmenes por ronda más antiguos: el almacén no "
                    f"los acepta y la memoria admite {MAX_PENDING} ({self.dropped} en total)"
                )
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
        except Exception as e:  # the store refused (or anything else): kept, tried again
            text = e.message if isinstance(e, PukaraError) else f"{type(e).__name__}: {e}"
            self._problem(f"el almacén no recibe los resúmenes por ronda: {text}")
