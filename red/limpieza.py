"""What a backup keeps of a device's output: no volatile lines, no secrets.

Per platform, two sets of rules (only ``frr`` is shipped; its language is IOS-like, so the
rules also cover the IOS forms FRR accepts or prints):

- volatile lines, dropped so that an unchanged device never changes: uptime and timestamps
  in ``show version``, ``Building configuration...``, ``Current configuration:``,
  ``Last configuration change``/``NVRAM config last updated``/``Time:`` comments. ``frr
  version`` is kept: an upgrade is a change worth seeing.
- secrets, replaced by ``<secreto:hmac-sha256:XXXXXXXXXXXX>``: the first 12 hex digits of
  HMAC-SHA256 of the value under a key generated once and kept 0600 in the data directory
  (never in the repository). The marker is stable (same secret, same marker: no change in
  the history) and keyed (a guess cannot be checked against it without the key), and a changed
  secret changes the marker, so it still shows as a change without ever being stored.
  Forms: ``password X``, ``enable password X``, ``enable secret X``, ``neighbor A password
  X``, any ``... password 8 X`` (the encryption type is kept), ``snmp-server community X``,
  ``ip ospf authentication-key X``, ``ip ospf message-digest-key N md5 X``, ``key-string X``.
"""

from __future__ import annotations

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
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
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
    volatile: tuple[re.Pattern[str], ...]
    # each: the text before the secret (group "pre"), the secret (group "secret"), the rest
    secrets: tuple[re.Pattern[str], ...]


_TYPE = r"(?:[0-9]\s+)?"  # an encryption type before the value (0, 7, 8...), kept as it is
FRR = Rules(
    volatile=tuple(
        re.compile(p, re.IGNORECASE)
        for p in (
            r"^\s*building configuration",
            r"^\s*current configuration\b",
            r"^\s*!\s*(last configuration change|nvram config last updated|time:)",
            r"\buptime\b|\bup\s+\d+\s+(years?|weeks?|days?|hours?|minutes?)",
            r"^\s*(system|router) restarted at\b",
            r"^\s*\d{4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}",  # a line starting with a time
        )
    ),
    secrets=tuple(
        re.compile(p, re.IGNORECASE)
        for p in (
            rf"^(?P<pre>\s*neighbor\s+\S+\s+password\s+{_TYPE})(?P<secret>.+?)\s*$",
            rf"^(?P<pre>\s*enable\s+(?:password|secret)\s+{_TYPE})(?P<secret>.+?)\s*$",
            r"^(?P<pre>\s*snmp-server\s+community\s+)(?P<secret>\S+)",
            rf"^(?P<pre>\s*(?:ip|ipv6)\s+ospf\s+authentication-key\s+{_TYPE})(?P<secret>\S+)",
            rf"^(?P<pre>\s*(?:ip|ipv6)\s+ospf\s+message-digest-key\s+\d+\s+md5\s+{_TYPE})"
            r"(?P<secret>\S+)",
            rf"^(?P<pre>\s*key-string\s+{_TYPE})(?P<secret>.+?)\s*$",
            rf"^(?P<pre>.*?\bpassword\s+{_TYPE})(?P<secret>.+?)\s*$",  # any other ... password X
        )
    ),
)
RULES: dict[str, Rules] = {"frr": FRR}


def rules_for(platform: str) -> Rules:
    try:
        return RULES[platform]
    except KeyError:
        raise CleaningError(f"plataforma «{platform}» sin reglas de limpieza") from None


def _strip_secret(line: str, rules: Rules, mark: Callable[[str], str]) -> str:
    for pattern in rules.secrets:
        m = pattern.search(line)
        if m and not MARKER.fullmatch(m.group("secret")):
            return line[: m.start("secret")] + mark(m.group("secret")) + line[m.end("secret") :]
    return line


def clean_lines(text: str, platform: str, key: bytes) -> list[str]:
    """``text``'s lines without control characters, volatile lines and secrets."""
    rules = rules_for(platform)
    out: list[str] = []
    for raw in clean(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n"):
        line = raw.rstrip()
        if any(p.search(line) for p in rules.volatile):
            continue
        out.append(_strip_secret(line, rules, lambda s: marker(key, s)))
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def stored_text(name: str, platform: str, version: str, running: str, key: bytes) -> str:
    """The file a backup stores: ``show version`` as ``!`` comments, then the configuration."""
    header = [f"! {name} ({platform}): show version"]
    header += [f"! {line}" if line else "!" for line in clean_lines(version, platform, key)]
    body = clean_lines(running, platform, key)
    if not body or body[0] != "!":
        header.append("!")
    return "\n".join([*header, *body]) + "\n"
