"""Where alerts come from: JSON files (generic, TheHive, MISP), registros and monitoreo.

Every source is turned into the same intake shape, a new :data:`csirt.records.ALERT` document
(``count`` 1, ``first_seen`` = ``last_seen`` = when it was seen), which
:func:`csirt.alertas.ingest` then deduplicates on (source, source_ref).

A file is read whole first: one bad alert in it (an observable that does not parse, an unknown
severity or TLP, a missing reference) refuses the whole file, naming the line (JSON lines) or
the alert's place (an array), and nothing is written.

A MISP event's TLP (and PAP) is the most restrictive of its tags; an attribute tagged more
restrictively than its event gives its observable that ``tlp`` (kept when the alert is
promoted or merged into a case).
"""

from __future__ import annotations

import hashlib
import os
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pukara.errors import PukaraError, UsageError
from pukara.events import format_timestamp, get_field
from pukara.text import clean, clean_line

MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
SEVERITY_WORDS = {"baja": 1, "media": 2, "alta": 3, "critica": 4, "low": 1, "medium": 2,
                  "high": 3, "critical": 4}  # fmt: skip
# TheHive's numbers (TLP 1.0 with TheHive 5's 4 = AMBER+STRICT; PAP as TheHive's)
THEHIVE_TLP = {0: "CLEAR", 1: "GREEN", 2: "AMBER", 3: "RED", 4: "AMBER+STRICT"}
THEHIVE_PAP = {0: "CLEAR", 1: "GREEN", 2: "AMBER", 3: "RED"}
# TheHive dataType -> pukara observable type ("ip" and "hash": by the value's form)
THEHIVE_TYPES = {
    "ip": "ip", "domain": "domain", "fqdn": "hostname", "hostname": "hostname", "url": "url",
    "mail": "email", "email": "email", "hash": "hash", "filename": "filename", "user": "user",
    "username": "user", "mac": "mac", "cve": "cve", "cidr": "cidr",
}  # fmt: skip
# MISP attribute type -> pukara observable type; "a|b" types give two observables
MISP_TYPES = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "hostname", "url": "url",
    "link": "url", "uri": "url", "email": "email", "email-src": "email", "email-dst": "email",
    "md5": "md5", "sha1": "sha1", "sha256": "sha256", "filename": "filename",
    "mac-address": "mac", "vulnerability": "cve", "target-user": "user", "github-username": "user",
    "ip-src|port": "ip|port", "ip-dst|port": "ip|port", "domain|ip": "domain|ip",
    "hostname|port": "hostname|port", "filename|md5": "filename|md5",
    "filename|sha1": "filename|sha1", "filename|sha256": "filename|sha256",
}  # fmt: skip
# MISP threat_level_id: 1 high, 2 medium, 3 low, 4 undefined
MISP_SEVERITY = {1: 3, 2: 2, 3: 1, 4: 2}
# ECS event.severity of registros' alerts (risk score of the Sigma level) -> 1-4
REGISTROS_SEVERITY = ((90, 4), (70, 3), (40, 2), (0, 1))
MONITOREO_ACTIONS = {"alert", "flapping", "isolated"}  # notices that are alerts
MONITOREO_SEVERITY = {"down": 3, "unreachable": 3, "refused": 3, "degraded": 2}

Normalizer = Callable[[str, str], str]
_LABELS: dict[tuple[str, str], str] = {}  # (TLP|PAP, text) -> label: files repeat a few
_ZERO = timedelta(0)
_KNOWN_LISTS = 100_000  # lists of observables remembered per import (a file repeats them)


class AlertFileError(PukaraError):
    """A file of alerts refused whole: where, and why (Spanish)."""


class Bad(Exception):
    """Why one alert cannot be taken (Spanish); the caller adds where it is."""


# -- values --------------------------------------------------------------------------------
def severity(value: Any) -> int:
    if type(value) is int and 1 <= value <= 4:
        return value
    if isinstance(value, bool):
        raise Bad(f"severidad desconocida: {value!r} (1-4 o baja, media, alta, crítica)")
    if isinstance(value, int) and 1 <= value <= 4:
        return value
    if isinstance(value, str):
        text = _fold(value)
        if text.isdigit() and 1 <= int(text) <= 4:
            return int(text)
        if text in SEVERITY_WORDS:
            return SEVERITY_WORDS[text]
    shown = clean_line(str(value))[:40]
    raise Bad(f"severidad desconocida: «{shown}» (1-4 o baja, media, alta, crítica)")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tlp(value: Any, numbers: Mapping[int, str] | None = None) -> str:
    label = _LABELS.get(("TLP", value)) if type(value) is str else None
    if label is not None:
        return label
    from csirt.taxonomia import parse_tlp

    if numbers is not None and type(value) is int:
        if value in numbers:
            return numbers[value]
        raise Bad(f"TLP desconocido: {value} (0-4)")
    return _taxo(parse_tlp, value, "TLP")


def pap(value: Any, numbers: Mapping[int, str] | None = None) -> str:
    label = _LABELS.get(("PAP", value)) if type(value) is str else None
    if label is not None:
        return label
    from csirt.taxonomia import parse_pap

    if numbers is not None and type(value) is int:
        if value in numbers:
            return numbers[value]
        raise Bad(f"PAP desconocido: {value} (0-3)")
    return _taxo(parse_pap, value, "PAP")


def _taxo(parse: Callable[[str], str], value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Bad(f"{what} desconocido: {clean_line(str(value))[:40]}")
    label = _LABELS.get((what, value))
    if label is not None:
        return label
    try:
        label = parse(value)
    except UsageError as e:
        raise Bad(e.message) from None
    if len(_LABELS) < 1000:
        _LABELS[(what, value)] = label
    return label


def _text(value: Any, what: str, limit: int, *, required: bool = False, line: bool = True) -> str:
    if (
        type(value) is str
        and value.isprintable()
        and 0 < len(value) <= limit
        and value[0] != " " != value[-1]
    ):
        return value  # the usual case: nothing to clean, trim or cut
    if value is None or value == "":
        if required:
            raise Bad(f"falta {what}")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Bad(f"{what}: debe ser texto")
    text = str(value)
    if not text.isprintable():  # printable text has no control character to take away
        text = (clean_line if line else clean)(text)
    text = text.strip()
    if required and not text:
        raise Bad(f"falta {what}")
    return text[:limit]


def moment(value: Any, what: str = "fecha") -> str:
    """UTC text of an ISO 8601 time (with zone), or of Unix seconds or milliseconds."""
    try:
        if type(value) is str and _whole_seconds_utc(value):  # the usual: no strip, no parse
            datetime.fromisoformat(value)  # its digits make a real time
            return value[:19] + ".000000Z"
        if type(value) is int or type(value) is float:
            secs = value / 1000 if value > 10**11 else value  # TheHive's dates are in ms
            return format_timestamp(datetime.fromtimestamp(secs, UTC))
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return moment(int(text), what)
            ts = datetime.fromisoformat(text)
            if ts.tzinfo is not None:
                return _utc_text(text, ts)
    except (ValueError, OverflowError, OSError):
        pass
    raise Bad(f"{what} no válida: «{clean_line(str(value))[:40]}» (ISO 8601 con zona, o Unix)")


def _whole_seconds_utc(text: str) -> bool:
    """``2026-11-30T10:00:00Z`` or ``2026-11-30T10:00:00+00:00`` in shape (digits unchecked)."""
    n = len(text)
    return (
        ((n == 20 and text[19] == "Z") or (n == 25 and text[19:] == "+00:00"))
        and text[4] == text[7] == "-"
        and text[10] == "T"
        and text[13] == text[16] == ":"
    )


def _utc_text(text: str, ts: datetime) -> str:
    """format_timestamp(ts), without strftime when the text is UTC with its seconds."""
    if _whole_seconds_utc(text):
        return text[:19] + ".000000Z"  # fromisoformat checked the digits
    if (
        ts.utcoffset() == _ZERO
        and len(text) >= 20
        and text[4] == text[7] == "-"
        and text[10] in "Tt "
        and text[13] == text[16] == ":"
    ):
        return f"{text[:10]}T{text[11:19]}.{ts.microsecond:06d}Z"
    return format_timestamp(ts)


class Observables:
    """Normalises observables with taxo's ``normalize``, remembering what it has seen."""

    def __init__(self) -> None:
        from csirt.observables import guess_type, normalize

        self._normalize: Normalizer = normalize
        self._guess = guess_type
        self._done: dict[tuple[str, str], tuple[str, str]] = {}
        self._specs: dict[str, tuple[str, str]] = {}
        self._docs: dict[tuple[str, str], dict[str, str]] = {}
        self._lists: dict[tuple[str, ...], list[dict[str, str]]] = {}
        from csirt.observables import OBSERVABLE_TYPES

        self._types = {*OBSERVABLE_TYPES, "ip", "hash"}

    def one(self, kind: str, value: Any) -> tuple[str, str]:
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise Bad(f"observable {kind}: el valor debe ser texto")
        text = str(value).strip()
        seen = self._done.get((kind, text))
        if seen is not None:
            return seen
        real = kind
        if kind == "ip":
            real = "ipv6" if ":" in text else "ipv4"
        elif kind == "hash":
            real = {32: "md5", 40: "sha1"}.get(len(text), "sha256")
        elif not kind:
            guessed = self._guess(text)
            if guessed is None:
                raise Bad(f"observable «{clean_line(text)[:120]}»: no se reconoce su tipo "
                          "(indíquelo: TIPO:VALOR)")  # fmt: skip
            real = guessed
        try:
            normal = (real, self._normalize(real, text))
        except UsageError as e:
            raise Bad(e.message) from None
        self._done[(kind, text)] = normal
        return normal

    def docs(self, found: list[tuple[str, str]]) -> list[dict[str, str]]:
        """The stored form of an alert's observables, each once. The same value is the same
        (read-only) dict in every alert of an import: a file repeats its indicators."""
        if len(found) > 1 and len(set(found)) != len(found):
            found = list(dict.fromkeys(found))
        out = []
        for item in found:
            doc = self._docs.get(item)
            if doc is None:
                doc = self._docs[item] = {"type": item[0], "value": item[1]}
            out.append(doc)
        return out

    def read(self, items: list[Any]) -> list[dict[str, str]]:
        """The stored form of an alert's ``observables`` (``TYPE:VALUE`` texts, or objects
        with type and value); a list of texts read before is remembered whole."""
        found = [self.one(str(i.get("type") or ""), i.get("value")) if isinstance(i, dict)
                 else self.spec(i) for i in items]  # fmt: skip
        docs = self.docs(found)
        if len(self._lists) < _KNOWN_LISTS and all(type(i) is str for i in items):
            self._lists[tuple(items)] = list(docs)
        return docs

    def many(self, lists: list[list[Any]]) -> list[list[dict[str, str]]]:
        """:meth:`read` of the observables of many alerts, those read before looked up all at
        once: alerts with the same observables share one list (read-only, as its dicts)."""
        try:
            hits = list(map(self._lists.get, map(tuple, lists)))
        except TypeError:  # an object (type and value) among them
            hits = [None] * len(lists)
        if None in hits:
            for n, hit in enumerate(hits):
                if hit is None:
                    hits[n] = self.read(lists[n])
        return hits  # type: ignore[return-value]

    def spec(self, text: Any) -> tuple[str, str]:
        """``TYPE:VALUE`` (``ip:198.51.100.7``, ``sha256:...``) or a bare value (guessed)."""
        seen = self._specs.get(text) if type(text) is str else None
        if seen is not None:
            return seen
        if not isinstance(text, str):
            raise Bad("observable: debe ser texto TIPO:VALOR")
        if seen is None:
            head, sep, rest = text.partition(":")
            typed = sep and head in self._types and rest
            seen = self.one(head, rest) if typed else self.one("", text)
            self._specs[text] = seen
        return seen


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> 2 characters
# a random byte -> the Crockford character of its low 5 bits (256 = 8 x 32: uniform)
_LOW5 = bytes(_CROCKFORD.encode()[b & 31] for b in range(256))
_TAILS = 4096  # random parts drawn at a time


class _Ulids:
    """ULIDs (48 bits of Unix milliseconds, 80 random bits, Crockford base 32) for many
    alerts at once: the time part (the first 10 characters) made once per millisecond, the
    random parts (16 characters of 5 random bits each) drawn 4,096 at a time, one random
    byte per character mapped by one ``bytes.translate``. The random part is drawn for every
    id (not increased by one as :func:`csirt.records.new_ulid` does), so alerts taken in
    together differ early and a short prefix names one."""

    def __init__(self) -> None:
        self._ms = -1
        self._head = ""
        self._tails = ""
        self._at = 0

    def __call__(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            self._ms = ms
            p = _PAIRS
            self._head = "".join(p[(ms >> s) & 1023] for s in (40, 30, 20, 10, 0))
        at = self._at
        if at >= len(self._tails):
            self._tails, at = os.urandom(16 * _TAILS).translate(_LOW5).decode(), 0
        self._at = at + 16
        return self._head + self._tails[at : at + 16]

    def many(self, n: int) -> list[str]:
        """``n`` ids of this millisecond, each with its own random part."""
        head = self()[:10]
        tails = os.urandom(16 * n).translate(_LOW5).decode()
        return [head + tails[at : at + 16] for at in range(0, 16 * n, 16)]


new_id = _Ulids()


def _doc(source: str, ref: str, title: str, seen: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": new_id(), "source": source, "source_ref": ref, "title": title,
        "description": fields.get("description", ""), "severity": fields.get("severity", 2),
        "tlp": fields.get("tlp", "AMBER"), "pap": fields.get("pap", "AMBER"),
        "status": "nueva", "count": 1, "first_seen": seen, "last_seen": seen,
        "incident_id": None, "observables": fields.get("observables", []),
        "raw": fields.get("raw"),
    }  # fmt: skip


# -- the three file shapes -----------------------------------------------------------------
def generic(obj: Mapping[str, Any], obs: Observables, now: str) -> dict[str, Any]:
    items = obj.get("observables") or []
    if not isinstance(items, list):
        raise Bad("observables: debe ser una lista")
    observables = obs.read(items)
    seen = obj.get("seen")
    when = now if seen is None else moment(seen, "seen")
    return {
        "id": new_id(),
        "source": _text(obj.get("source"), "source (la fuente)", 100, required=True),
        "source_ref": _text(obj.get("source_ref"), "source_ref (la referencia en la fuente)",
                            500, required=True),
        "title": _text(obj.get("title"), "title (el título)", MAX_TITLE, required=True),
        "description": _text(obj.get("description"), "description", MAX_DESCRIPTION,
                             line=False),
        "severity": severity(obj.get("severity", 2)), "tlp": tlp(obj.get("tlp", "AMBER")),
        "pap": pap(obj.get("pap", "AMBER")), "status": "nueva", "count": 1,
        "first_seen": when, "last_seen": when, "incident_id": None,
        "observables": observables, "raw": obj,
    }  # fmt: skip


def thehive(obj: Mapping[str, Any], obs: Observables, now: str) -> dict[str, Any]:
    items = obj.get("artifacts") or obj.get("observables") or []
    if not isinstance(items, list):
        raise Bad("artifacts: debe ser una lista")
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise Bad("artifacts: cada elemento debe ser un objeto con dataType y data")
        kind = THEHIVE_TYPES.get(str(item.get("dataType", "")).lower())
        if kind is not None:  # user-agent, registry, other...: kept in raw only
            found.append(obs.one(kind, item.get("data")))
    source = _text(obj.get("source"), "source (la fuente)", 100, required=True)
    kind = _text(obj.get("type"), "type", 100)
    return _doc(
        f"{kind}:{source}" if kind else source,
        _text(obj.get("sourceRef"), "sourceRef", 500, required=True),
        _text(obj.get("title"), "title (el título)", MAX_TITLE, required=True),
        moment(obj["date"], "date") if obj.get("date") is not None else now,
        description=_text(obj.get("description"), "description", MAX_DESCRIPTION, line=False),
        severity=severity(obj.get("severity", 2)), tlp=tlp(obj.get("tlp", 2), THEHIVE_TLP),
        pap=pap(obj.get("pap", 2), THEHIVE_PAP), observables=obs.docs(found), raw=dict(obj),
    )  # fmt: skip


def misp(obj: Mapping[str, Any], obs: Observables, now: str) -> dict[str, Any]:
    event = obj.get("Event")
    if not isinstance(event, dict):
        raise Bad("Event: debe ser un objeto")
    attributes = list(_list(event, "Attribute"))
    for o in _list(event, "Object"):
        attributes += _list(o, "Attribute")
    labels = _misp_labels(event)
    marked: dict[tuple[str, str], str] = {}
    found = []
    for a in attributes:
        own = _misp_labels(a, labels["tlp"])["tlp"]  # an attribute is never below its event
        for item in _misp_attribute(a, obs):
            found.append(item)
            marked[item] = _strictest(own, marked.get(item, own))
    level = event.get("threat_level_id", 4)
    try:
        sev = MISP_SEVERITY[int(level)]
    except (KeyError, ValueError, TypeError):
        raise Bad(f"threat_level_id desconocido: «{clean_line(str(level))}» (1-4)") from None
    when = event.get("timestamp") or event.get("date")
    seen = now
    if when is not None:
        seen = moment(f"{when}T00:00:00+00:00" if len(str(when)) == 10 and "-" in str(when)
                      else when, "timestamp")  # fmt: skip
    return _doc(
        "misp", _text(event.get("uuid"), "Event.uuid", 100, required=True),
        _text(event.get("info"), "Event.info (el título)", MAX_TITLE, required=True), seen,
        description=_text(event.get("info"), "info", MAX_DESCRIPTION, line=False),
        severity=sev, tlp=labels["tlp"], pap=labels["pap"],
        observables=_with_tlp(obs.docs(found), marked, labels["tlp"]), raw=dict(obj),
    )  # fmt: skip


def _strictest(a: str, b: str) -> str:
    from csirt.taxonomia import tlp_rank

    return a if tlp_rank(a) >= tlp_rank(b) else b


def _misp_labels(obj: Mapping[str, Any], floor: str | None = None) -> dict[str, str]:
    """The most restrictive ``tlp:`` and ``PAP:`` tags of a MISP event or attribute (a file
    may carry several: ``tlp:red`` and ``tlp:green`` is RED), never below ``floor``; AMBER
    when an event has none."""
    from csirt.taxonomia import pap_rank

    tlps, paps = [], []
    for tag in _list(obj, "Tag"):
        name = str(tag.get("name", ""))
        low = name.lower()
        if low.startswith("tlp:"):
            tlps.append(tlp(name))
        elif low.startswith("pap:"):
            paps.append(pap(name))
    label = floor or ("CLEAR" if tlps else "AMBER")
    for t in tlps:
        label = _strictest(t, label)
    return {"tlp": label, "pap": max(paps, key=pap_rank) if paps else "AMBER"}


def _with_tlp(
    docs: list[dict[str, str]], marked: Mapping[tuple[str, str], str], event_tlp: str
) -> list[dict[str, str]]:
    """The observables, each one whose attribute is more restrictive than the event with
    its own ``tlp`` (promoting or merging the alert keeps it)."""
    out = []
    for doc in docs:
        own = marked.get((doc["type"], doc["value"]), event_tlp)
        out.append(doc if own == event_tlp else {**doc, "tlp": own})
    return out


def _misp_attribute(a: Mapping[str, Any], obs: Observables) -> list[tuple[str, str]]:
    mapped = MISP_TYPES.get(str(a.get("type", "")))
    if mapped is None:
        return []  # other MISP types stay in raw
    value = a.get("value")
    if "|" not in mapped:
        return [obs.one(mapped, value)]
    parts = str(value).split("|", 1) if isinstance(value, str) else []
    if len(parts) != 2:
        raise Bad(f"atributo {a.get('type')}: se esperaba «a|b»: «{clean_line(str(value))}»")
    pairs = zip(mapped.split("|"), parts, strict=True)
    return [obs.one(kind, part) for kind, part in pairs if kind != "port"]


def _list(obj: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = obj.get(name) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Bad(f"{name}: debe ser una lista de objetos")
    return items


def shape(obj: Any) -> Callable[[Mapping[str, Any], Observables, str], dict[str, Any]]:
    if not isinstance(obj, dict):
        raise Bad("cada alerta debe ser un objeto JSON")
    if "Event" in obj:
        return misp
    if "sourceRef" in obj:
        return thehive
    return generic


# -- files ---------------------------------------------------------------------------------
# (number, object, the object's own JSON text when the file gives it alone on its line)
Record = tuple[int, Any, bytes | None]


def _records(whole: Any) -> tuple[str, Iterator[Record]]:
    """How the alerts of a file that is one JSON value are numbered ("item" or "whole") and
    its records."""
    if isinstance(whole, list):
        return "item", ((n, obj, None) for n, obj in enumerate(whole, start=1))
    return "whole", iter([(1, whole, None)])


def _lines(path: Path, lines: list[bytes], start: int = 1) -> Iterator[Record]:
    """Each line on its own: its text is the alert's ``raw`` as it came (one JSON value,
    checked by the parse), so a stored alert keeps the original and nothing re-serialises it;
    each object is dropped once its alert is made, so reading holds no parsed file."""
    loads = orjson.loads
    for number, line in enumerate(lines, start=start):
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as e:
            if not line.strip():
                continue
            raise AlertFileError(
                f"{path}:{number}: JSON mal formado ({json_reason(e)}); no se importó nada del "
                "archivo"
            ) from None
        yield number, obj, line


# what orjson says (English), as a person reads it; the position goes after it
_JSON_REASONS = (
    ("end of data", "termina antes de cerrar lo abierto"),
    ("expected a string key", "se esperaba una clave entre comillas"),
    ("expected ':'", "falta «:» después de la clave"),
    ("after document", "sobra texto después del valor"),
    ("trailing comma", "sobra una coma antes del cierre"),
    ("control character", "carácter de control dentro de un texto"),
    ("escaped sequence", "secuencia de escape no válida dentro de un texto"),
    ("invalid literal", "palabra no válida (use true, false o null)"),
    ("expected value", "se esperaba un valor"),
    ("empty document", "vacío"),
)


def json_reason(e: orjson.JSONDecodeError) -> str:
    """``unexpected character, expected a string key: line 1 column 17 (char 16)`` as
    ``se esperaba una clave entre comillas, en la columna 17``."""
    msg = str(e.msg).lower()
    what = next((es for en, es in _JSON_REASONS if en in msg), "carácter inesperado")
    return f"{what}, en la columna {e.colno}"


def read_file(path: Path, obs: Observables, now: str) -> list[dict[str, Any]]:
    """Every alert of one file, or :class:`AlertFileError` for the first bad one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AlertFileError(f"{path}: no existe") from None
    except IsADirectoryError:
        raise AlertFileError(f"{path}: es una carpeta, no un archivo") from None
    except OSError as e:
        from pukara.errors import os_reason

        raise AlertFileError(f"{path}: no se puede leer: {os_reason(e)}") from e
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:  # JSON lines (or bad JSON: the line that is says so)
        from csirt.alertas_columnas import read_lines

        return read_lines(path, data.splitlines(), obs, now)
    return alerts_of(path, *_records(whole), obs, now)


def alerts_of(
    path: Path, numbering: str, records: Iterator[Record], obs: Observables, now: str
) -> list[dict[str, Any]]:
    """The alert of each record, or :class:`AlertFileError` naming the first bad one."""
    out = []
    number = 0
    fragment = orjson.Fragment
    try:
        for number, obj, text in records:  # noqa: B007 - named in the error below
            alert = shape(obj)(obj, obs, now)
            if text is not None:
                alert["raw"] = fragment(text)
            out.append(alert)
    except Bad as e:
        where = {"line": f"{path}:{number}", "item": f"{path}: alerta n.º {number}"}
        raise AlertFileError(
            f"{where.get(numbering, str(path))}: {str(e).rstrip('.')}; no se importó nada del "
            "archivo"
        ) from None
    return out


# -- pukara's own events -------------------------------------------------------------------
def from_registros(doc: Mapping[str, Any], obs: Observables) -> dict[str, Any] | None:
    """A ``registros.alerta`` event as an alert.

    A correlation grouped by fields (brute force by ``source.ip``...) folds into one alert per
    rule and group: the same attacker in a later window is a repeat of it (its count rises), and
    a rerun over the same window is the same sighting (nothing changes). Any other hit is its
    own alert, keyed by its dedup key (sha256 of the rule and what it matched), the same on
    every rerun of the rule over the same events."""
    group = get_field(doc, "pukara.alert.group")
    rule_id = get_field(doc, "rule.id")
    if group and rule_id:
        text = orjson.dumps([str(rule_id), group], option=orjson.OPT_SORT_KEYS).decode()
        ref: Any = hashlib.sha256(text.encode()).hexdigest()
    else:
        ref = get_field(doc, "pukara.alert.dedup_key") or get_field(doc, "event.id")
    if not ref:
        return None
    risk = get_field(doc, "event.severity")
    sev = next(s for floor, s in REGISTROS_SEVERITY if int(risk or 47) >= floor)
    found = []
    kinds = {"ip": "ip", "user": "user", "hosts": "hostname"}
    for name, kind in kinds.items():
        for value in get_field(doc, f"related.{name}") or []:
            try:
                found.append(obs.one(kind, value))
            except Bad:
                continue  # a value pukara logged that is no observable stays in raw
    return _doc(
        "registros", str(ref),
        clean_line(str(get_field(doc, "message") or get_field(doc, "rule.name") or ref))[
            :MAX_TITLE],
        moment(doc["@timestamp"]),
        description=clean(str(get_field(doc, "rule.description") or ""))[:MAX_DESCRIPTION],
        severity=sev, observables=obs.docs(found), raw=dict(doc),
    )  # fmt: skip


def from_monitoreo(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ``monitoreo.estado`` notice that a site went down (or degraded, flaps, or the
    monitor is isolated) as an alert; one alert per entity and state, so an outage that
    comes back raises the count. Recoveries and muted notices are not alerts."""
    action = get_field(doc, "event.action")
    if action not in MONITOREO_ACTIONS or get_field(doc, "monitoreo.muted"):
        return None
    entity = get_field(doc, "monitoreo.entity") or get_field(doc, "host.name")
    state = str(get_field(doc, "monitoreo.state.current") or "")
    if not entity:
        return None
    ref = f"{entity}:{action}:{state}" if action == "alert" else f"{entity}:{action}"
    sev = 3 if action == "isolated" else MONITOREO_SEVERITY.get(state, 2)
    return _doc(
        "monitoreo", ref, clean_line(str(get_field(doc, "message") or ref))[:MAX_TITLE],
        moment(doc["@timestamp"]), severity=sev, tlp="AMBER", raw=dict(doc),
    )  # fmt: skip
