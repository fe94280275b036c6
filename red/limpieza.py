"""What a backup keeps of a device's output: no volatile lines, no secrets.

Per platform, two sets of rules (only ``frr`` is shipped; its language is IOS-like, so the
rules also cover the IOS forms FRR accepts or prints):

- volatile lines, dropped whole so that an unchanged device never changes. Every rule matches a
  whole known line, never a word inside a line: in ``show version`` (the header) the uptime
  lines (``... uptime is ...``, ``up N days``), ``... restarted at`` and lines that start with
  a timestamp; in ``show running-config`` only ``Building configuration...`` and ``Current
  configuration...`` before the first statement and the top-level comments ``! Last
  configuration change at``, ``! NVRAM config last updated at`` and ``! Time:``. A
  configuration line (``route-map RM-UPTIME permit 10``, `` description up 3 days``) is never
  dropped. ``frr version`` is kept: an upgrade is a change worth seeing.
- secrets, replaced by ``<secreto:hmac-sha256:XXXXXXXXXXXX>``: the first 12 hex digits of
  HMAC-SHA256 of the value under a key generated once and kept 0600 in the data directory
  (never in the repository). The marker is stable (same secret, same marker: no change in
  the history) and keyed (a guess cannot be checked against it without the key), and a changed
  secret changes the marker, so it still shows as a change without ever being stored. It is
  keyed on the value only, on purpose: the same password on two lines or two devices gives
  the same marker, so reuse is visible in the repository (without revealing the value).
  Forms (an encryption type ``0``/``5``/``7``/``8``/``9``, ``clear`` or ``md5`` before the
  value is kept): ``password X``, ``enable password|secret X``, ``neighbor A password X``,
  ``username U ... secret|password X``, ``snmp-server community X``, the ``auth`` and ``priv``
  values of ``snmp-server user``, ``ip ospf authentication-key X``, ``ip ospf
  message-digest-key N md5 X``, ``ipv6 ospf6 authentication ... key X``, ``ip rip
  authentication string X``, ``key-string X``, ``tacacs-server``/``radius-server ... key X``,
  ``crypto isakmp key X``, ``pre-shared-key X``. Fail-closed guard: on any other line, what
  follows a secret keyword (``password``, ``secret``, ``key``, ``key-string``,
  ``authentication-key``, ``pre-shared-key``, ``md5``, ``string``, ``community``) is marked
  whole, so a new form is masked rather than leaked; only the known non-secret uses of those
  words are exempt (``key chain K``, ``key N``, ``... authentication key-chain``, BGP
  communities, ``send-community``, comments).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pukara.errors import PukaraError, os_reason
from pukara.files import make_private_dirs
from pukara.text import clean

KEY_BYTES = 32
MARKER = re.compile(r"<secreto:hmac-sha256:[0-9a-f]{12}>")


class CleaningError(PukaraError):
    """The key that marks secrets cannot be read or made."""


def load_key(path: Path) -> bytes:
    """The marking key at ``path``, made (random, 0600) the first time."""
    try:
        make_private_dirs(path.parent)
        if not path.exists():
            # written whole under a private name, then linked into place: a crash or a second
            # first run never leaves an empty key behind, and the first link wins
            part = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(KEY_BYTES))
                    fh.flush()
                    os.fsync(fh.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(part, path)
            finally:
                part.unlink(missing_ok=True)
        if path.stat().st_mode & 0o077:
            raise CleaningError(
                f"{path}: la clave que marca los secretos de los respaldos no debe ser legible "
                "por el grupo ni por otros (chmod 600)"
            )
        key = path.read_bytes()
    except OSError as e:
        raise CleaningError(
            f"{path}: no se puede leer la clave de secretos: {os_reason(e)}"
        ) from None
    if len(key) < 16:
        raise CleaningError(f"{path}: la clave que marca los secretos está vacía o truncada")
    return key


def marker(key: bytes, secret: str) -> str:
    digest = hmac.new(key, secret.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
    return f"<secreto:hmac-sha256:{digest[:12]}>"


@dataclass(frozen=True, slots=True)
class Rules:
    # whole lines dropped from ``show version`` (the header): uptimes and timestamps
    header_volatile: tuple[re.Pattern[str], ...]
    # whole lines dropped from ``show running-config``: the top-level lines before the first
    # configuration statement, and top-level ``!`` comments (never a configuration line)
    preamble_volatile: tuple[re.Pattern[str], ...]
    # each: the text before the secret (group "pre"), the secret (group "secret"), the rest
    secrets: tuple[re.Pattern[str], ...]
    # (line selector, value pattern): lines holding several secrets, each value marked
    multi: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]
    # fail-closed: any value after a secret keyword no rule above handled
    guard: re.Pattern[str]
    # lines the guard leaves alone (a keyword that names no secret there)
    not_secret: re.Pattern[str]


# an encryption or hash type before the value (0, 7, 8, clear, md5...), kept as it is
_TYPE = r"(?:(?:[0-9]|clear|md5|hmac-md5|text)\s+(?=\S))?"
_I = re.IGNORECASE
FRR = Rules(
    header_volatile=tuple(
        re.compile(p, _I)
        for p in (
            r"^.*\buptime\s+is\b.*$",  # "bgpd uptime is 1d02h03m", "router uptime is ..."
            r"^\s*up\s+\d+\s+(years?|weeks?|days?|hours?|minutes?)\b.*$",
            r"^\s*(system|router) restarted at\b.*$",
            r"^\s*\d{4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}\b.*$",
        )
    ),
    preamble_volatile=tuple(
        re.compile(p, _I)
        for p in (
            r"^building configuration\.*\s*$",
            r"^current configuration\s*(:.*)?$",  # "Current configuration:" / ": 1234 bytes"
            r"^!\s*last configuration change at\b.*$",
            r"^!\s*nvram config last updated at\b.*$",
            r"^!\s*time:.*$",
        )
    ),
    secrets=tuple(
        re.compile(p, _I)
        for p in (
            rf"^(?P<pre>\s*neighbor\s+\S+\s+password\s+{_TYPE})(?P<secret>.+?)\s*$",
            rf"^(?P<pre>\s*enable\s+(?:password|secret)\s+(?:level\s+\d+\s+)?{_TYPE})"
            r"(?P<secret>.+?)\s*$",
            r"^(?P<pre>\s*snmp-server\s+community\s+)(?P<secret>\S+)",
            rf"^(?P<pre>\s*(?:ip|ipv6)\s+ospf\s+authentication-key\s+{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>\s*(?:ip|ipv6)\s+ospf\s+message-digest-key\s+\d+\s+md5\s+{_TYPE})"
            r"(?P<secret>\S+)",
            rf"^(?P<pre>\s*ipv6\s+ospf6\s+authentication\s.*?\bkey\s+{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>\s*ip\s+rip\s+authentication\s+string\s+{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>\s*key-string\s+{_TYPE})(?P<secret>.+?)\s*$",
            rf"^(?P<pre>\s*crypto\s+isakmp\s+key\s+{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>.*?\bpre-shared-key\s+(?:(?:local|remote)\s+)?{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>\s*(?:tacacs|radius)-server\s.*?\bkey\s+{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>\s*username\s.*?\b(?:secret|password)\s+{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>.*?\bpassword\s+{_TYPE})(?P<secret>.+?)\s*$",  # any other ... password X
        )
    ),
    multi=(
        (
            re.compile(r"^\s*snmp-server\s+user\s", _I),
            re.compile(
                r"(?P<pre>\s(?:auth\s+\S+|priv\s+\S+(?:\s+\d{3}(?=\s))?)\s+)(?P<secret>\S+)", _I
            ),
        ),
    ),
    guard=re.compile(
        r"^(?P<pre>.*?(?:\b|-)(?:password|secret|key|key-string|authentication-key|"
        rf"pre-shared-key|md5|string|community)\s+{_TYPE})(?P<secret>\S.*?)\s*$",
        _I,
    ),
    not_secret=re.compile(
        r"^\s*(?:!|key\s+chain\s|key\s+\d+\s*$|"  # comments, key chain K, key 1
        r"(?:set|match)\s+(?:extcommunity|large-community|community)\b|"  # route-map values
        r"(?:bgp\s+)?(?:community|large-community|extcommunity)-list\s|"
        r".*\bsend-community\b|.*\bauthentication\s+key-chain\s|"
        r".*\bauthentication\s+keychain\s|ip\s+rip\s+authentication\s+mode\s)",
        _I,
    ),
)
RULES: dict[str, Rules] = {"frr": FRR}


def rules_for(platform: str) -> Rules:
    try:
        return RULES[platform]
    except KeyError:
        raise CleaningError(f"plataforma «{platform}» sin reglas de limpieza") from None


def _strip_secret(line: str, rules: Rules, mark: Callable[[str], str]) -> str:
    for select, value in rules.multi:
        if select.search(line):
            return value.sub(
                lambda m: (
                    m.group(0)
                    if MARKER.fullmatch(m.group("secret"))
                    else m.group("pre") + mark(m.group("secret"))
                ),
                line,
            )
    for pattern in rules.secrets:
        m = pattern.search(line)
        if m:
            if MARKER.match(m.group("secret")):
                return line
            return line[: m.start("secret")] + mark(m.group("secret")) + line[m.end("secret") :]
    if rules.not_secret.search(line):
        return line
    m = rules.guard.search(line)
    if m and not MARKER.match(m.group("secret")):
        return line[: m.start("secret")] + mark(m.group("secret"))
    return line


def clean_lines(text: str, platform: str, key: bytes, *, header: bool = False) -> list[str]:
    """``text``'s lines without control characters, volatile lines and secrets.

    ``header``: ``text`` is ``show version`` (its uptime and timestamp lines are dropped);
    otherwise it is a configuration, and only the known volatile lines of its preamble (the
    top-level lines before the first configuration statement) are dropped: a configuration
    line is never dropped, whatever words it holds.
    """
    rules = rules_for(platform)
    out: list[str] = []
    preamble = not header
    for raw in clean(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n"):
        line = raw.rstrip()
        if header:
            if any(p.fullmatch(line) for p in rules.header_volatile):
                continue
        elif preamble or line.startswith("!"):  # the preamble, or a top-level comment
            if any(p.fullmatch(line) for p in rules.preamble_volatile):
                continue
            if line.strip() and not line.startswith("!"):
                preamble = False
        out.append(_strip_secret(line, rules, lambda s: marker(key, s)))
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def mask_secrets(text: str, platform: str, key: bytes) -> str:
    """``text`` with control characters out and every secret marked, line for line (no line
    dropped, so a line number still points at the same line of the original)."""
    rules = rules_for(platform)
    lines = clean(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    return "\n".join(
        _strip_secret(line.rstrip(), rules, lambda s: marker(key, s)) for line in lines
    )


def stored_text(name: str, platform: str, version: str, running: str, key: bytes) -> str:
    """The file a backup stores: ``show version`` as ``!`` comments, then the configuration."""
    header = [f"! {name} ({platform}): show version"]
    header += [
        f"! {line}" if line else "!" for line in clean_lines(version, platform, key, header=True)
    ]
    body = clean_lines(running, platform, key)
    if not body or body[0] != "!":
        header.append("!")
    return "\n".join([*header, *body]) + "\n"
