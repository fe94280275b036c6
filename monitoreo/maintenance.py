"""Maintenance windows per site: alerts are muted inside them and SLA excludes them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pukara.errors import UsageError
from pukara.events import format_timestamp, parse_timestamp
from pukara.store import Store

COLLECTION = "maintenance"
KEY = ("site", "start")


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


def records(all_windows: Iterable[Window], tz_of: Mapping[str, str]) -> list[dict[str, Any]]:
    out = []
    for w in all_windows:
        tz = ZoneInfo(tz_of.get(w.site, "UTC"))
        out.append({
            "site": w.site,
            "start": w.start.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "end": w.end.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "start_utc": format_timestamp(w.start), "reason": w.reason,
        })  # fmt: skip
    return out
