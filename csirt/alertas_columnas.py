"""JSON-lines alerts of the generic shape read a block of lines at a time, field by field.

The usual file (an IDS's or a SIEM's export) is all generic alerts already in the form pukara
stores: texts with nothing to clean, trim or cut, a severity, TLP and PAP of a few values, UTC
times with whole seconds (or in the stored form), observables that repeat. For a block of
such lines each field is checked for all of them at once, with the C loops of ``map``,
``str.join``, ``set`` and one regular expression, instead of a few calls per alert, and one
comprehension makes the alerts. A block with anything else in it (another shape, a text to
clean, an unknown value, a bad line) is read line by line by
:func:`csirt.alertas_fuentes.alerts_of`, which says what is wrong and on which line; both make
the same alerts (tests/unit/test_csirt_alertas_columnas.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from itertools import repeat
from operator import contains
from pathlib import Path
from typing import Any

import orjson

from csirt import alertas_fuentes as fuentes

BLOCK = 5_000  # lines per block: a bad one sends only its block line by line
# UTC times the full path keeps as they are (with a fraction added to whole seconds), a line each
_TIMES = re.compile(
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|\+00:00|\.[0-9]{6}Z)\n)*"
)


def read_lines(
    path: Path, lines: list[bytes], obs: fuentes.Observables, now: str
) -> list[dict[str, Any]]:
    """Every alert of a JSON-lines file (``lines``), or the AlertFileError of the first bad
    line, as :func:`csirt.alertas_fuentes.read_file` says it."""
    out: list[dict[str, Any]] = []
    loads = orjson.loads
    for start in range(0, len(lines), BLOCK):
        part = lines[start : start + BLOCK]
        try:
            objs = list(map(loads, part))
        except orjson.JSONDecodeError:
            alerts = None  # a blank or bad line: the line-by-line path skips it or names it
        else:
            alerts = block(objs, part, obs, now)
        if alerts is None:
            records = fuentes._lines(path, part, start + 1)
            alerts = fuentes.alerts_of(path, "line", records, obs, now)
        out += alerts
    return out


def block(
    objs: list[Any], lines: list[bytes], obs: fuentes.Observables, now: str
) -> list[dict[str, Any]] | None:
    """The alerts :func:`csirt.alertas_fuentes.generic` makes of ``objs`` (each the JSON of
    its line in ``lines``, kept as its ``raw``), or None when any is not the usual case."""
    if not objs or set(map(type, objs)) != {dict}:
        return None
    if any(map(contains, objs, repeat("Event"))) or any(map(contains, objs, repeat("sourceRef"))):
        return None  # MISP or TheHive
    sources, refs, titles = _column(objs, "source"), _column(objs, "source_ref"), _column(
        objs, "title")  # fmt: skip
    descriptions = _column(objs, "description", "")
    if not (
        _plain(sources, 100)
        and _plain(refs, 500)
        and _plain(titles, fuentes.MAX_TITLE)
        and _plain(descriptions, fuentes.MAX_DESCRIPTION, empty=True)
    ):
        return None
    try:
        severities = _mapped(_column(objs, "severity", 2), fuentes.severity, {int, str})
        tlps = _mapped(_column(objs, "tlp", "AMBER"), fuentes.tlp, {str})
        paps = _mapped(_column(objs, "pap", "AMBER"), fuentes.pap, {str})
        times = _times(_column(objs, "seen"), now)
        observables = _observables(_column(objs, "observables"), obs)
    except fuentes.Bad:
        return None
    if severities is None or tlps is None or paps is None or times is None or observables is None:
        return None
    ids = fuentes.new_id.many(len(objs))
    raws = list(map(orjson.Fragment, lines))
    return [
        {"id": i, "source": s, "source_ref": r, "title": t, "description": d, "severity": v,
         "tlp": tl, "pap": pa, "status": "nueva", "count": 1, "first_seen": w, "last_seen": w,
         "incident_id": None, "observables": o, "raw": raw}
        for i, s, r, t, d, v, tl, pa, w, o, raw in zip(
            ids, sources, refs, titles, descriptions, severities, tlps, paps, times,
            observables, raws, strict=True)
    ]  # fmt: skip


def _column(objs: list[dict[str, Any]], name: str, default: Any = None) -> list[Any]:
    return [o.get(name, default) for o in objs]


def _plain(texts: list[Any], limit: int, *, empty: bool = False) -> bool:
    """Every one text that ``_text`` keeps as it is: printable, not empty (unless ``empty``),
    within ``limit``, no space at either end."""
    if set(map(type, texts)) != {str}:
        return False
    if max(map(len, texts)) > limit or (not empty and min(map(len, texts)) == 0):
        return False
    if not "".join(texts).isprintable():
        return False
    lines = "\n".join(texts)  # no text has a newline (it would not be printable)
    return not (lines[:1] == " " or lines[-1:] == " " or " \n" in lines or "\n " in lines)


def _mapped(values: list[Any], parse: Callable[[Any], Any], types: set[type]) -> list[Any] | None:
    """Each value parsed, each distinct one once (a file has a few); Bad as ``parse``."""
    if not set(map(type, values)) <= types:
        return None
    parsed = {v: parse(v) for v in set(values)}
    return list(map(parsed.__getitem__, values))


def _times(values: list[Any], now: str) -> list[str] | None:
    """``seen`` in the stored form: as it is, or with its whole seconds' fraction added."""
    types = set(map(type, values))
    if types == {type(None)}:
        return [now] * len(values)
    if types != {str}:
        return None
    if not _TIMES.fullmatch("\n".join(values) + "\n"):
        return None
    try:  # their digits make real times, as the full path checks them
        list(map(datetime.fromisoformat, values))
    except ValueError:
        return None
    return [v if len(v) == 27 else v[:19] + ".000000Z" for v in values]


def _observables(values: list[Any], obs: fuentes.Observables) -> list[list[dict[str, str]]] | None:
    types = set(map(type, values))
    if not types <= {list, type(None)}:
        return None
    if type(None) in types:
        values = [v or [] for v in values]
    return obs.many(values)
