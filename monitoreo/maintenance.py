"""Maintenance windows per site: alerts are muted inside them and SLA excludes them.

``vigilar`` keeps the windows in a :class:`WindowCache` between rounds: they are read again
only when the change log shows a change to them (added or removed, by any process) or every
``refresh_s``, not once per round.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pukara.errors import StoreError, UsageError
from pukara.events import format_timestamp, parse_timestamp
from pukara.store import Store
from pukara.text import clean_line

COLLECTION = "maintenance"
KEY = ("site", "start")
CHANGES_LOOKED_AT = 20


@dataclass(frozen=True, slots=True)
class Window:
    site: str
    start: datetime
    end: datetime
    reason: str

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def parse_local(text: str, timezone: str, what: str) -> datetime:
    """``AAAA-MM-DD HH:MM`` in the site's time zone (or with an explicit offset) -> UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise UsageError(f"{what}: fecha y hora inválida {text!r} (use AAAA-MM-DD HH:MM)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


def add(store: Store, site: str, start: datetime, end: datetime, reason: str) -> Window:
    if end <= start:
        raise UsageError("el fin de la ventana de mantenimiento debe ser posterior a su inicio")
    window = Window(site, start, end, reason)
    store.upsert(COLLECTION, [_doc(window)], key=KEY)
    return window


def remove(store: Store, site: str, start: datetime) -> bool:
    return store.delete(COLLECTION, [site, format_timestamp(start)])


def _doc(w: Window) -> dict[str, Any]:
    return {
        "site": w.site, "start": format_timestamp(w.start), "end": format_timestamp(w.end),
        "reason": w.reason,
    }  # fmt: skip


def windows(store: Store) -> list[Window]:
    out = [
        Window(
            d["site"], parse_timestamp(d["start"]), parse_timestamp(d["end"]), d.get("reason", "")
        )
        for d in store.entities(COLLECTION)
    ]
    return sorted(out, key=lambda w: (w.start, w.site))


def active(all_windows: Iterable[Window], at: datetime) -> frozenset[str]:
    return frozenset(w.site for w in all_windows if w.covers(at))


@dataclass(slots=True)
class WindowCache:
    """The windows, read again when the change log shows a change to them or every ``refresh_s``.

    Each round looks at the change log's newest entries only (an indexed tail read); when more
    changed than it looks at, it reads the windows again to be safe.

    When the store cannot be read, or a window in it is malformed, the windows last read stay
    in force and ``error`` says why.
    """

    store: Store
    refresh_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    windows: list[Window] = field(default_factory=list)
    reads: int = 0
    error: str | None = None
    _mark: int | None = None
    _read_at: float | None = None

    def active(self, at: datetime) -> frozenset[str]:
        self.refresh()
        return active(self.windows, at)

    def refresh(self) -> None:
        now = self.clock()
        try:
            recent = list(self.store.changes(limit=CHANGES_LOOKED_AT))
            mark = recent[-1].seq if recent else 0
            new = [c for c in recent if self._mark is None or c.seq > self._mark]
            touched = any(c.collection == COLLECTION for c in new) or (
                len(new) == CHANGES_LOOKED_AT and mark != self._mark
            )
            if self._read_at is None or touched or now - self._read_at >= self.refresh_s:
                self.windows = windows(self.store)
                self._read_at = now
                self.reads += 1
            self._mark = mark
            self.error = None
        except StoreError as e:
            self.error = f"no se pudieron leer las ventanas de mantenimiento: {e.message}"
        except Exception as e:  # a malformed window (another tool wrote it) must not stop vigilar
            self.error = (
                "no se pudieron leer las ventanas de mantenimiento: una ventana guardada está mal "
                f"formada ({type(e).__name__}: {clean_line(str(e))[:200]})"
            )


def entered(store: Store) -> dict[tuple[str, str], tuple[str | None, str]]:
    """Who entered each window and when, from the change log: (site, start UTC) -> (actor, ts).

    The last insert of a key wins: it is the window as it stands now.
    """
    out: dict[tuple[str, str], tuple[str | None, str]] = {}
    for c in store.changes(collection=COLLECTION):
        if c.action != "insert":
            continue
        try:
            site, start = json.loads(c.key)
        except (ValueError, TypeError):
            continue
        out[(str(site), str(start))] = (c.actor, c.ts)
    return out


def records(
    all_windows: Iterable[Window],
    tz_of: Mapping[str, str],
    who: Mapping[tuple[str, str], tuple[str | None, str]] | None = None,
) -> list[dict[str, Any]]:
    """Each window as data: local and UTC ends, who entered it and when, and whether after it
    began ("after the fact": it excludes time already past)."""
    out = []
    for w in all_windows:
        zone = tz_of.get(w.site, "UTC")
        tz = ZoneInfo(zone)
        actor, ts = (who or {}).get((w.site, format_timestamp(w.start)), (None, None))
        out.append({
            "site": w.site, "timezone": zone,
            "start": w.start.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "end": w.end.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "start_utc": format_timestamp(w.start), "end_utc": format_timestamp(w.end),
            "minutes": round((w.end - w.start).total_seconds() / 60, 1), "reason": w.reason,
            "entered_by": actor, "entered_utc": ts,
            "after_the_fact": ts is not None and parse_timestamp(ts) > w.start,
        })  # fmt: skip
    return out
