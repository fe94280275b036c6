"""What `registros buscar` and `registros resumen` understand, turned into an EventQuery.

Filters (each a separate argument; the shell's quotes keep spaces in a value):

- ``campo=valor``: the field's value is exactly ``valor`` (text, case-sensitive).
- ``campo!=valor``: it is not (events without the field are kept too).
- ``campo=val*`` / ``campo!=val*``: a ``*`` (any run of characters) or ``?`` (one character)
  makes the value a pattern, matched whole and case-insensitively as Kibana does; every
  other character, a backslash too (``C:\\Users\\*``), is itself.

Times (``--desde``, ``--hasta``): ``ahora``; relative to now, ``-30s``, ``-15m``, ``-1h``,
``-2d``, ``-1sem`` (also ``-1w``); or absolute ISO 8601: ``2026-12-01``, ``2026-12-01 08:30``,
``2026-12-01T08:30:15``, with or without a zone (``Z``, ``-05:00``). A time without a zone is
in the machine's local zone (``TZ``), the one the table shows. ``--desde`` is inclusive and
``--hasta`` exclusive; a date alone in ``--hasta`` takes in the whole of that day.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from pukara.errors import UsageError
from pukara.events import get_field, parse_timestamp
from pukara.store import Store
from pukara.store.query import EventQuery, FieldFilter, Op
from pukara.store.sqlite_query import mapped_type

DEFAULT_WINDOW = timedelta(minutes=15)  # Kibana Discover's default: the last 15 minutes
DEFAULT_LIMIT = 100
FOLLOW_INTERVAL_S = 1.0
READ_AHEAD = 10_000
FOLLOW_GRACE = timedelta(seconds=30)  # how late an event may be stored and still be followed
# an ECS field name: dotted words; "@timestamp" is asked with --desde/--hasta instead
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*")
# what other query languages use (KQL "a:b", ">=", "=~"): refused, not taken as a name
_OTHER_OPERATOR = re.compile(r"[<>~:!]+=?")
_RELATIVE = re.compile(r"-\s*(\d+)\s*(s|seg|m|min|h|d|w|sem)", re.IGNORECASE)
_UNITS = {"s": "seconds", "seg": "seconds", "m": "minutes", "min": "minutes", "h": "hours",
          "d": "days", "w": "weeks", "sem": "weeks"}  # fmt: skip
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_filter(text: str) -> FieldFilter:
    """``campo=valor``, ``campo!=valor`` (``*``/``?`` in the value: a wildcard pattern)."""
    shown = f"filtro «{text}»"
    equals = text.find("=")
    if equals < 0:
        other = _OTHER_OPERATOR.search(text)
        if other:
            raise _unknown(shown, other.group())
        raise UsageError(
            f"{shown}: falta el operador; escriba campo=valor o campo!=valor "
            "(para buscar texto en el mensaje use --texto)"
        )
    name, value = text[:equals], text[equals + 1 :]
    negate = name.endswith("!")
    name = (name[:-1] if negate else name).strip()
    other = _OTHER_OPERATOR.search(name + "=")
    if other and other.group() not in ("=",):
        raise _unknown(shown, other.group())
    if value.startswith("="):
        raise _unknown(shown, ("!" if negate else "") + "==")
    if not name:
        raise UsageError(f"{shown}: falta el nombre del campo antes de «{'!=' if negate else '='}»")
    if name == "@timestamp":
        raise UsageError(f"{shown}: la fecha se indica con --desde y --hasta")
    if not FIELD_NAME.fullmatch(name):
        raise UsageError(
            f"{shown}: «{name}» no es un nombre de campo (p. ej. user.name, source.ip, "
            "event.outcome)"
        )
    op: Op
    if "*" in value or "?" in value:
        op = "not_wildcard" if negate else "wildcard"
    else:
        op = "ne" if negate else "eq"
        if mapped_type(name) == "ip" and not _address_or_network(value):
            raise UsageError(
                f"{shown}: «{value}» no es una dirección IP ni una red CIDR "
                "(p. ej. 198.18.0.7, 198.18.0.0/15, fd70:756b:6172::/48)"
            )
    return FieldFilter(name, op, value)


def _address_or_network(value: str) -> bool:
    try:
        if "/" in value:
            ipaddress.ip_network(value.strip(), strict=False)
        else:
            ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


def _unknown(shown: str, operator: str) -> UsageError:
    return UsageError(
        f"{shown}: operador desconocido «{operator}»; use = (igual) o != (distinto), con * o ? "
        "en el valor para un patrón"
    )


def local_zone() -> tzinfo:
    """The machine's zone (``TZ``, else ``/etc/localtime``), in which times without a zone
    are read and shown: the IANA zone when it can be named, so that a window across a change
    of summer time is right; else the current offset."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        with contextlib.suppress(OSError):
            target = os.path.realpath("/etc/localtime")
            if "/zoneinfo/" in target:
                name = target.split("/zoneinfo/", 1)[1]
    if name:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError, OSError):
            return ZoneInfo(name)
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


def parse_time(
    text: str, option: str, *, now: datetime, tz: tzinfo, end_of_day: bool = False
) -> datetime:
    """A moment for ``--desde``/``--hasta`` (see the module docstring), in UTC."""
    value = text.strip()
    if value.lower() == "ahora":
        return now
    relative = _RELATIVE.fullmatch(value)
    if relative:
        amount, unit = int(relative.group(1)), _UNITS[relative.group(2).lower()]
        try:
            return now - timedelta(**{unit: amount})
        except OverflowError:
            raise UsageError(f"{option} {text}: demasiado atrás en el tiempo") from None
    try:
        if _DATE_ONLY.fullmatch(value):
            day = datetime.fromisoformat(value).replace(tzinfo=tz)
            return (day + timedelta(days=1) if end_of_day else day).astimezone(UTC)
        moment = datetime.fromisoformat(value.replace(" ", "T", 1).replace("z", "Z"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31 plus a day, 0001-01-01 east of UTC
        raise UsageError(f"{option} «{text}»: fuera del calendario que pukara maneja") from None
    except ValueError:
        raise UsageError(
            f"{option} «{text}»: no es una fecha ni un tiempo relativo; use p. ej. -1h, -30m, "
            "-2d, ahora, 2026-12-01 o 2026-12-01 08:30 (hora local; o con zona, 08:30Z)"
        ) from None


def build_query(
    filters: Sequence[str],
    *,
    since: str | None,
    until: str | None,
    text: str | None = None,
    datasets: Sequence[str] = (),
    limit: int | None = DEFAULT_LIMIT,
    now: datetime,
    tz: tzinfo,
) -> EventQuery:
    """The query a command line asks for: the newest ``limit`` events of the window.

    Without ``--desde`` the window is the last 15 minutes before ``--hasta`` (or now).
    """
    parsed = tuple(parse_filter(f) for f in filters)
    end = parse_time(until, "--hasta", now=now, tz=tz, end_of_day=True) if until else None
    start = parse_time(since, "--desde", now=now, tz=tz) if since else (end or now) - DEFAULT_WINDOW
    if end is not None and end <= start:
        raise UsageError(
            f"--hasta {until} es anterior (o igual) a --desde {since or '(últimos 15 min)'}: "
            "la ventana quedaría vacía"
        )
    if text is not None and not text.strip():
        raise UsageError("--texto: indique al menos una palabra")
    return EventQuery(
        since=start, until=end, filters=parsed, text=text, limit=limit,
        newest_first=limit is not None, datasets=tuple(datasets),
    )  # fmt: skip


def cursor(doc: dict[str, Any]) -> tuple[datetime, str] | None:
    """The (``@timestamp``, ``event.id``) a later search resumes after."""
    stamp, event_id = doc.get("@timestamp"), get_field(doc, "event.id")
    if not isinstance(stamp, str) or not isinstance(event_id, str):
        return None
    try:
        return parse_timestamp(stamp), event_id
    except ValueError:
        return None


def search(store: Store, q: EventQuery) -> list[dict[str, Any]] | Iterator[dict[str, Any]]:
    """The events of ``q``, oldest first: the newest ``limit`` of them, like ``tail``.

    With a limit the newest are fetched and put back in time order (at most ``limit`` in
    memory); without one they stream in time order.
    """
    if q.limit is None:
        return store.query_events(replace(q, newest_first=False))
    newest = list(store.query_events(replace(q, newest_first=True)))
    newest.reverse()
    return newest


class Tail:
    """The events shown lately, so that following shows each event once, late ones too.

    An event may be stored after a later one was shown: a batch of another receiver process,
    a syslog time with whole seconds, the cluster's refresh. Each poll therefore reads again
    from ``grace`` before the newest event shown, and leaves out what was shown already; an
    event stored more than ``grace`` after its own time is not seen.
    """

    def __init__(self, grace: timedelta = FOLLOW_GRACE) -> None:
        self.grace = grace
        self.newest: datetime | None = None
        self._seen: dict[str, datetime] = {}

    def add(self, doc: dict[str, Any]) -> bool:
        """Note ``doc`` as shown; False when it was already."""
        mark = cursor(doc)
        if mark is None:
            return True
        stamp, event_id = mark
        if event_id in self._seen:
            return False
        self._seen[event_id] = stamp
        if self.newest is None or stamp > self.newest:
            self.newest = stamp
        if len(self._seen) > 4 * READ_AHEAD:  # a long first listing: keep only the tail
            self.since(None)
        return True

    def since(self, start: datetime | None) -> datetime | None:
        """Where the next poll starts: ``grace`` before the newest shown (not before
        ``start``); what is older is forgotten."""
        if self.newest is None:
            return start
        edge = self.newest - self.grace
        self._seen = {k: v for k, v in self._seen.items() if v >= edge}
        return edge if start is None else max(start, edge)


def follow(
    store: Store,
    q: EventQuery,
    tail: Tail,
    *,
    interval_s: float = FOLLOW_INTERVAL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """New events of ``q`` (no end of window), in time order, forever: after a pause of
    ``interval_s``, those ``tail`` has not shown (``tail`` holds what was shown before)."""
    base = replace(q, until=None, limit=None, newest_first=False, after=None)
    while True:
        sleep(interval_s)
        for doc in store.query_events(replace(base, since=tail.since(q.since))):
            if tail.add(doc):
                yield doc
