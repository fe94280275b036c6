"""A syslog line in, its parts out: RFC 5424 by its ABNF, RFC 3164 and the usual variants.

Written for pukara (no maintained library reads both RFCs and the vendors' variants); the
behaviour was checked against the vectors of RFC 5424 §6.5 and recorded device lines.

What is read, first match wins:

- RFC 5424 (``<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD
  [SP MSG]``): NILVALUE ``-`` in any header field, structured data with ``\\"``, ``\\\\`` and
  ``\\]`` escapes, a UTF-8 BOM before the message.
- RFC 3164 (``<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG``), also without PRI (a file), with an
  ISO 8601 timestamp (rsyslog's ``RSYSLOG_ForwardFormat`` and Debian's file format), with a
  year (``Mmm dd yyyy hh:mm:ss``) and without hostname.
- Cisco IOS: ``<PRI>seq: [host:] [*.]Mmm dd [yyyy] hh:mm:ss[.mmm] [ZONE]: %FAC-SEV-MNEMONIC: text``.
- A body of ``key=value`` pairs (FortiGate, Palo Alto custom formats): the pairs in ``kv``.

Timestamps without a zone are in the zone given by the caller (the sender's site, else UTC).
A timestamp without a year takes the reference's year (the receive time; for a file,
``--anio`` or the file's modification time), or the year before when that would put it more
than 7 days after the reference: a line from Dec 31 read on Jan 1 is from the year before,
one from a device whose clock runs a few minutes (or days) ahead stays this year.

Bad input is never an exception: :func:`parse` always returns a :class:`Parsed`; what could
not be read is named in ``failure`` (Spanish) and the text is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

MAX_BYTES = 64 * 1024  # a message longer than this is cut here (tag registros_truncado)
BOM = "\ufeff"

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = (
    "Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug",
)  # fmt: skip

_PRI = re.compile(rb"<(\d{1,3})>")
_BINARY = re.compile(r"[\x00-\x08\x0a-\x1f\ufffd]")
_VERSION = re.compile(r"([1-9]\d{0,2}) ")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}  # fmt: skip
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?(?= |$)",
    re.IGNORECASE,
)
# Mmm dd [yyyy] hh:mm:ss[.frac] [ZONE]; day may be space-padded
_BSD = re.compile(
    r"([A-Za-z]{3}) +(\d{1,2}) +(?:(\d{4}) +)?(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    r"(?: +([A-Z]{3,4}|[+-]\d\d:?\d\d))?(?= |:|$)"
)
_ZONES = {"UTC": 0, "GMT": 0, "Z": 0, "PET": -5, "EST": -5, "EDT": -4, "CET": 1, "CEST": 2}
_TAG = re.compile(r"([^\s:\[\]]{1,48})(?:\[([^\]\s]{1,128})\])?:(?: |$)")
_HOST = re.compile(r"[A-Za-z0-9_.:%\-]{1,255}")
_CISCO_SEQ = re.compile(r"(\d{1,10}): ")
_CISCO_CODE = re.compile(r"%([A-Z0-9_]+-(?:\w+-)?[0-7]-[A-Z0-9_]+): ?")
_KV = re.compile(r'([A-Za-z_][\w.\-]{0,63})=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_SD_NAME = re.compile(r"[!#-<>-\\^-~]{1,32}")  # PRINTUSASCII but '=', ' ', ']' and '"'


@dataclass(slots=True)
class Parsed:
    """The parts of one line; None where the line did not say."""

    message: str = ""
    priority: int | None = None
    version: int | None = None
    timestamp: datetime | None = None
    hostname: str | None = None
    appname: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: dict[str, dict[str, str]] | None = None
    sequence: int | None = None  # Cisco's sequence number
    code: str | None = None  # Cisco's %FAC-SEV-MNEMONIC
    kv: dict[str, str] | None = None
    local_time: bool = False  # the timestamp named no zone: read in the caller's
    failure: str | None = None  # why it could not be read (Spanish); the message is the text
    tags: list[str] = field(default_factory=list)

    @property
    def facility(self) -> int | None:
        return None if self.priority is None else self.priority >> 3

    @property
    def severity(self) -> int | None:
        return None if self.priority is None else self.priority & 7


def decode(raw: bytes) -> tuple[str, str, list[str]]:
    """The text of a line, the text kept as ``event.original``, and tags.

    Over :data:`MAX_BYTES` the line is cut there (tag ``registros_truncado``), at a character
    boundary. Bytes that are not UTF-8 are read as U+FFFD in the text (tag ``registros_no_utf8``);
    the original then has every byte that is not UTF-8 as ``\\xNN`` and every backslash doubled,
    so :func:`original_bytes` gives back exactly the bytes received.
    """
    tags = []
    if len(raw) > MAX_BYTES:
        raw = raw[:MAX_BYTES]
        tags.append("registros_truncado")
    try:
        text = raw.decode("utf-8")
        return text, text, tags
    except UnicodeDecodeError as e:
        if (
            "registros_truncado" in tags
            and e.start >= len(raw) - 3
            and e.reason.startswith("unexpected end")
        ):  # the cut fell inside a character
            text = raw[: e.start].decode("utf-8", "replace")
            if "\ufffd" not in text:
                return text, text, tags
    tags.append("registros_no_utf8")
    text = raw.decode("utf-8", "replace")
    original = raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")
    return text, original, tags


def original_bytes(original: str, tags: list[str]) -> bytes:
    """The bytes received, from ``event.original`` and the event's tags (see :func:`decode`)."""
    import codecs

    if "registros_no_utf8" not in tags:
        return original.encode("utf-8")
    return bytes(codecs.escape_decode(original.encode("utf-8"))[0])


DATE_LOW = datetime(1970, 1, 1, tzinfo=UTC)  # the range both stores keep (date_nanos)
DATE_HIGH = datetime(2262, 1, 1, tzinfo=UTC)
BAD_DATE = "registros_fecha_invalida"
_OUT_OF_RANGE = datetime(1, 1, 1, tzinfo=UTC)  # a date whose UTC does not fit a datetime


def parse(
    raw: bytes | str,
    *,
    received: datetime,
    zone: tzinfo = UTC,
    year: int | None = None,
) -> Parsed:
    """Read one syslog line (without its trailing newline).

    Args:
        received: when it arrived (UTC), the reference for a timestamp without a year.
        zone: the zone of a timestamp that names none.
        year: the year of a timestamp that names none (instead of one taken from ``received``).

    A timestamp outside [1970, 2262) (or whose UTC does not fit) is dropped: the caller uses
    the receive time, and the line is tagged :data:`BAD_DATE`.
    """
    p = _parse(raw, received=received, zone=zone, year=year)
    if p.timestamp is not None and not DATE_LOW <= p.timestamp < DATE_HIGH:
        p.timestamp, p.local_time = None, False
        p.tags.append(BAD_DATE)
    return p


def _parse(raw: bytes | str, *, received: datetime, zone: tzinfo, year: int | None) -> Parsed:
    if isinstance(raw, bytes):
        text, _, tags = decode(raw)
    else:
        text, tags = raw, []
    text = text.rstrip("\r\n\x00")
    p = Parsed(message=text, tags=tags)
    if not text.strip():
        return _failed(p, "línea vacía")
    if "\x00" in text or _mostly_binary(text):
        return _failed(p, "no es texto (bytes de control)")
    rest = text
    if rest.startswith("<"):
        m = _PRI.match(rest.encode("ascii", "replace")[:5])
        if m is None:
            return _failed(p, "PRI mal formado (se esperaba <0-191>)")
        value = int(m.group(1))
        if value > 191 or (len(m.group(1)) > 1 and m.group(1).startswith(b"0")):
            return _failed(p, f"PRI fuera de rango: <{m.group(1).decode()}>")
        p.priority = value
        rest = rest[m.end() :]
        version = _VERSION.match(rest)
        if version is not None:
            return _rfc5424(p, int(version.group(1)), rest[version.end() :])
    return _rfc3164(p, rest, received, zone, year)


def _failed(p: Parsed, why: str) -> Parsed:
    p.failure = why
    p.tags.append("registros_parse_failure")
    return p


def _mostly_binary(text: str) -> bool:
    head = text[:256]
    if _BINARY.search(head) is None:  # the usual case: no control byte at all
        return False
    return len(_BINARY.findall(head)) * 4 > len(head)


# -- RFC 5424 ------------------------------------------------------------------------------
def _rfc5424(p: Parsed, version: int, rest: str) -> Parsed:
    p.version = version
    parts = rest.split(" ", 5)
    if len(parts) < 6 and not (len(parts) == 5 and parts[4]):
        return _failed(p, "cabecera RFC 5424 incompleta (línea cortada)")
    stamp, host, app, proc, msgid = parts[:5]
    body = parts[5] if len(parts) == 6 else ""
    limits = ((host, 255, "HOSTNAME"), (app, 48, "APP-NAME"), (proc, 128, "PROCID"),
              (msgid, 32, "MSGID"))  # fmt: skip
    for value, most, name in limits:
        if not value or len(value) > most or not value.isascii() or not value.isprintable():
            return _failed(p, f"{name} no válido en la cabecera RFC 5424")
    if stamp != "-":
        ts = _iso(stamp, UTC, strict=True)
        if ts is None:
            return _failed(p, f"fecha RFC 5424 no válida: {stamp[:40]}")
        p.timestamp = ts
    p.hostname, p.appname, p.procid, p.msgid = (None if v == "-" else v for v in parts[1:5])
    if body.startswith("-"):
        sd_end = 1
        if body[1:2] not in ("", " "):
            return _failed(p, "datos estructurados mal formados")
    elif body.startswith("["):
        parsed = _structured(body)
        if parsed is None:
            if _bracketed_end(body) is None:
                return _failed(p, "datos estructurados mal formados (o cortados)")
            p.message = body  # a vendor's own [...] (Check Point): kept in the message
            p.tags.append("registros_sd_no_conforme")
            return p
        p.structured_data, sd_end = parsed
    else:
        return _failed(p, "faltan los datos estructurados (o «-»)")
    msg = body[sd_end:]
    if msg and not msg.startswith(" "):
        return _failed(p, "falta el espacio tras los datos estructurados")
    p.message = msg[1:].removeprefix(BOM)
    return p


def _structured(text: str) -> tuple[dict[str, dict[str, str]], int] | None:
    """The SD-ELEMENTs at the start of ``text`` and where they end; None when malformed."""
    out: dict[str, dict[str, str]] = {}
    i, n = 0, len(text)
    while i < n and text[i] == "[":
        m = _SD_NAME.match(text, i + 1)
        if m is None:
            return None
        params: dict[str, str] = {}
        i = m.end()
        while i < n and text[i] == " ":
            name = _SD_NAME.match(text, i + 1)
            if name is None or text[name.end() : name.end() + 2] != '="':
                return None
            j, value = name.end() + 2, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\]':
                    j += 1
                value.append(text[j])
                j += 1
            if j >= n:
                return None
            params[name.group()] = "".join(value)
            i = j + 1
        if i >= n or text[i] != "]":
            return None
        out[m.group()] = params
        i += 1
    return out, i


def _bracketed_end(text: str) -> int | None:
    """Where the ``[...]`` groups at the start of ``text`` end (quotes and ``\\]`` respected),
    or None when they never close: the line was cut."""
    i, n, quoted = 0, len(text), False
    while i < n and text[i] == "[":
        i += 1
        while i < n and (quoted or text[i] != "]"):
            if text[i] == "\\":
                i += 1
            elif text[i] == '"':
                quoted = not quoted
            i += 1
        if i >= n:
            return None
        i += 1
    return i


# -- timestamps ----------------------------------------------------------------------------
def _offset(text: str) -> tzinfo:
    from datetime import timezone

    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _iso(
    text: str, zone: tzinfo, *, strict: bool = False, local: list[bool] | None = None
) -> datetime | None:
    m = _ISO.fullmatch(text) if strict else _ISO.match(text)
    if m is None or (strict and m.group(8) is None):
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off is None and local is not None:
        local[0] = True
    try:
        ts = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                      int((frac or "0")[:6].ljust(6, "0")), _offset(off) if off else zone)  # fmt: skip
    except ValueError:
        return None
    return _utc(ts)


def _utc(ts: datetime) -> datetime:
    try:
        return ts.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01+05:00, 9999-12-31-05:00
        return _OUT_OF_RANGE


YEAR_AHEAD = timedelta(days=7)  # a device clock this far ahead of ours is still this year


@lru_cache(maxsize=4096)  # the lines of one read share their receive time
def resolve_year(month: int, day: int, received: datetime, zone: tzinfo) -> int | None:
    """The year of a date that names none: the reference's year, or the year before when that
    puts the date more than :data:`YEAR_AHEAD` after the reference (None: no such date)."""
    for y in range(received.year + 1, received.year - 8, -1):
        try:
            moment = datetime(y, month, day, tzinfo=zone)
        except ValueError:  # 29 Feb outside a leap year: the leap year before
            continue
        if moment <= received + YEAR_AHEAD:
            return y
    return None


def _bsd(
    m: re.Match[str], received: datetime, zone: tzinfo, year: int | None, local: list[bool]
) -> datetime | None:
    mon, day, yy, h, mi, s, frac, tz = m.groups()
    local[0] = not tz
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    if tz:
        if tz[0] in "+-":
            try:
                zone = _offset(tz)
            except ValueError:  # +99:99
                return None
        elif tz in _ZONES:
            from datetime import timezone

            zone = timezone(timedelta(hours=_ZONES[tz]))
    y = int(yy) if yy else year or resolve_year(month, int(day), received, zone)
    if y is None:
        return None
    try:
        ts = datetime(y, month, int(day), int(h), int(mi), int(s),
                      int((frac or "0").ljust(6, "0")), zone)  # fmt: skip
    except ValueError:
        return None
    return _utc(ts)


# -- RFC 3164 and variants -----------------------------------------------------------------
def _rfc3164(p: Parsed, rest: str, received: datetime, zone: tzinfo, year: int | None) -> Parsed:
    cisco = _CISCO_SEQ.match(rest)
    if cisco is not None:
        p.sequence = int(cisco.group(1))
        rest = rest[cisco.end() :]
    rest = rest.lstrip(" ")
    ts: datetime | None = None
    local = [False]
    m = _ISO.match(rest)
    if m is not None:
        ts = _iso(m.group(), zone, local=local)
        rest = rest[m.end() :].lstrip(" ")
    else:
        head = rest.lstrip("*.")  # Cisco: * clock not set, . not in sync
        bsd = _BSD.match(head)
        if bsd is None and p.sequence is not None:  # Cisco with origin-id: "seq: host: *Mar ..."
            host, sep, after = head.partition(": ")
            bsd = _BSD.match(after.lstrip("*.")) if sep and _HOST.fullmatch(host) else None
            if bsd is not None:
                p.hostname, head = host, after.lstrip("*.")
        if bsd is not None:
            ts = _bsd(bsd, received, zone, year, local)
            rest = head[bsd.end() :].removeprefix(":").lstrip(" ")
    p.timestamp, p.local_time = ts, ts is not None and local[0]
    code = _CISCO_CODE.match(rest)
    if code is None and ts is not None and p.sequence is None:
        host = rest.split(" ", 1)[0]
        if _HOST.fullmatch(host) and not _TAG.fullmatch(host + " ") and "=" not in host:
            p.hostname = host
            rest = rest[len(host) :].lstrip(" ")
        code = _CISCO_CODE.match(rest)
    if code is not None:
        p.code = code.group(1)
        p.appname = code.group(1).split("-", 1)[0]
        p.message = rest[code.end() :]
        return p
    tag = _TAG.match(rest)
    if tag is not None:
        p.appname, p.procid = tag.group(1), tag.group(2)
        rest = rest[tag.end() :]
    p.message = rest
    pairs = _KV.findall(rest) if rest.count("=") >= 3 else []
    if len(pairs) >= 3 and sum(map(len, map("=".join, pairs))) >= 0.6 * len(rest.strip()):
        p.kv = {k: _unquote(v) if v[:1] == '"' else v for k, v in pairs}
        _kv_header(p, p.kv, zone)
    if ts is None and p.priority is None and p.appname is None and p.kv is None:
        return _failed(p, "no se reconoce como syslog (sin PRI, fecha ni etiqueta)")
    return p


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def _kv_header(p: Parsed, kv: dict[str, str], zone: tzinfo) -> None:
    """FortiGate and others put the header in pairs: date=, time=, devname=, tz=."""
    if p.hostname is None:
        p.hostname = kv.get("devname") or kv.get("device_name") or kv.get("host") or None
    if p.timestamp is None and "date" in kv and "time" in kv:
        tz = kv.get("tz", "")
        try:
            z = _offset(tz) if re.fullmatch(r"[+-]\d\d:?\d\d", tz) else zone
        except ValueError:  # tz=+99:99
            z = zone
        local = [False]
        p.timestamp = _iso(f"{kv['date'].replace('/', '-')}T{kv['time']}", z, local=local)
        p.local_time = local[0] and z is zone


def _header(p: Parsed, sl: dict[str, Any]) -> None:
    for name, value in (("hostname", p.hostname), ("appname", p.appname),
                        ("procid", p.procid), ("msgid", p.msgid)):  # fmt: skip
        if value is not None:
            sl[name] = value
    if p.version is not None:
        sl["version"] = str(p.version)
    if p.structured_data:
        sl["structured_data"] = p.structured_data


def fields(p: Parsed) -> dict[str, Any]:
    """The ECS ``log.syslog.*``, ``log.level``, ``process.*`` and ``event.code``/``sequence``
    fields of a parsed line, as nested objects (``{"log": {"syslog": {...}}}``)."""
    sl: dict[str, Any] = {}
    log: dict[str, Any] = {"syslog": sl}
    out: dict[str, Any] = {"log": log}
    if p.priority is not None:
        fac, sev = p.priority >> 3, p.priority & 7
        sl["priority"] = p.priority
        sl["facility"] = {"code": fac, "name": FACILITIES[fac]}
        sl["severity"] = {"code": sev, "name": SEVERITIES[sev]}
        log["level"] = SEVERITIES[sev].lower()
    _header(p, sl)
    if p.appname is not None:
        out["process"] = {"name": p.appname}
    if p.procid is not None and p.procid.isdigit():
        out.setdefault("process", {})["pid"] = int(p.procid)
    if p.sequence is not None or p.code is not None:
        event = out["event"] = {}
        if p.sequence is not None:
            event["sequence"] = p.sequence
        if p.code is not None:
            event["code"] = p.code
    if not sl:
        del log["syslog"]
        if not log:
            del out["log"]
    return out
