"""Masking the secrets a Linux host's files hold before anything is stored.

The playbook's outputs go into results, raw/<host>.json and Ansible's events: snmpd's
communities and USM passphrases and apt's proxy passwords never reach any of them. Each line
keeps its directive and the words the checks read (sources, addresses); only the secret words
become ``<oculto>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

HIDDEN = "<oculto>"

_COMMUNITY = re.compile(
    r"^(?P<lead>\s*(?:r[ow]community6?|rwcommunity6?|trapcommunity|authcommunity\s+\S+)\s+)"
    r"(?P<secret>\S+)",
    re.IGNORECASE,
)
_COM2SEC = re.compile(
    r"^(?P<lead>\s*com2sec6?\s+(?:-Cn\s+\S+\s+)?\S+\s+\S+\s+)(?P<secret>\S+)", re.IGNORECASE
)
_SINK = re.compile(
    r"^(?P<lead>\s*(?:trapsink|trap2sink|informsink)\s+\S+\s+)(?P<secret>[^\s#]+)",
    re.IGNORECASE,
)
_CREATE_USER = re.compile(
    r"^(?P<lead>\s*createUser\s+(?:-e\s+\S+\s+)?\S+\s+\S+\s+)(?P<auth>\"[^\"]*\"|\S+)"
    r"(?:(?P<mid>\s+\S+\s+)(?P<priv>\"[^\"]*\"|\S+))?",
    re.IGNORECASE,
)
_USM_OPTION = re.compile(r"(?P<lead>\s-[AaXx]\s+)(?P<secret>\"[^\"]*\"|\S+)")
_URL_PASSWORD = re.compile(r"(?P<lead>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"']*:)[^\s@\"']*@")


def _line(line: str) -> str:
    created = _CREATE_USER.match(line)
    if created:
        priv = f"{created['mid']}{HIDDEN}" if created["priv"] is not None else ""
        line = f"{created['lead']}{HIDDEN}{priv}{line[created.end() :]}"
    for pattern in (_COMMUNITY, _COM2SEC, _SINK):
        line = pattern.sub(lambda m: f"{m['lead']}{HIDDEN}", line, count=1)
    if re.match(r"^\s*trapsess\b", line, re.IGNORECASE):
        line = _USM_OPTION.sub(lambda m: f"{m['lead']}{HIDDEN}", line)
    return _URL_PASSWORD.sub(lambda m: f"{m['lead']}{HIDDEN}@", line)


def mask(text: str) -> str:
    """``text`` with every secret word of snmpd/apt lines masked, line for line."""
    if not text:
        return text
    return "\n".join(_line(line) for line in text.split("\n"))


def mask_all(value: Any, masker: Callable[[str], str] = mask) -> Any:
    """A copy of a JSON-like value with :func:`mask` applied to each string in it."""
    if isinstance(value, str):
        return masker(value)
    if isinstance(value, dict):
        return {k: mask_all(v, masker) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_all(v, masker) for v in value]
    return value
