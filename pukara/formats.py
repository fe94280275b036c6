"""Numbers, percentages and times as a reader in Peru writes them (CLDR data through Babel).

Every figure a person reads (tables, HTML reports, console messages) goes through these
functions, so 1234.5 is written the same way everywhere: ``1,234.5`` with the es_PE
separators CLDR gives, a percentage as ``96.53 %``, a time as ``1 dic. 2026, 05:44 PET``.
JSON and CSV keep machine values: these are for text a person reads.

Babel is imported on first use; a command that formats nothing does not pay for it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal

LOCALE = "es_PE"


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")


def number(value: float | int | Decimal, digits: int = 0) -> str:
    """``value`` with exactly ``digits`` decimals and es_PE grouping: ``1,234.50``."""
    from babel.numbers import format_decimal

    return format_decimal(value, format=_pattern(digits), locale=LOCALE)


def percent(value: float | int | Decimal, digits: int = 2) -> str:
    """A percentage already in 0-100 (``96.53``) written ``96.53 %``."""
    return f"{number(value, digits)}\u00a0%"


def milliseconds(value: float, digits: int = 1) -> str:
    return f"{number(value, digits)}\u00a0ms"


def datetime_text(ts: datetime, tz: tzinfo | None = None, *, seconds: bool = False) -> str:
    """A moment for a reader: ``1 dic. 2026, 05:44 PET`` in ``tz`` (default: ts's own zone)."""
    from babel.dates import format_datetime, get_timezone_gmt

    if ts.tzinfo is None:
        raise ValueError("naive datetime: pukara only shows zone-aware moments")
    local = ts.astimezone(tz) if tz is not None else ts
    zone = format_datetime(local, "zzz", locale=LOCALE)
    if len(zone) > 5:  # "hora de verano de Europa central": the offset reads better, +0200
        zone = get_timezone_gmt(local, width="short", locale=LOCALE)
    pattern = "d MMM y, HH:mm:ss" if seconds else "d MMM y, HH:mm"
    return f"{format_datetime(local, pattern, locale=LOCALE)} {zone}"
