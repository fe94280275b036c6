"""History, diff and search over the backup repository (cleaned texts only: no secret is there)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from pukara.errors import UsageError
from red.equipos import NetDevice
from red.repositorio import ConfigRepo, Revision


def history(repo: ConfigRepo, device: NetDevice) -> list[Revision]:
    """The commits that changed the device's file, newest first."""
    return repo.log(device.path)


def _since(repo: ConfigRepo, device: NetDevice, since: str | datetime | None) -> str | None:
    """The commit a diff starts from: a revision, the backup in force at a moment (None when
    the device had none yet: the diff starts from empty), or the one before the latest change
    of the device (None: the device had no earlier backup)."""
    if isinstance(since, datetime):
        # in force at ``since``: the last commit strictly before it (git's --before is <=)
        found = [r for r in repo.log(device.path, before=since) if r.when < since]
        return found[0].commit if found else None
    if since is not None:
        commit = repo.resolve(since)
        if commit is None:
            raise UsageError(f"--desde: revisión «{since}» desconocida en el repositorio")
        return commit
    revisions = repo.log(device.path)
    return revisions[1].commit if len(revisions) > 1 else None


def diff(repo: ConfigRepo, device: NetDevice, since: str | datetime | None = None) -> str:
    """Unified diff of the device's configuration from ``since`` to the latest backup."""
    if not repo.log(device.path):
        raise UsageError(f"«{device.name}» aún no tiene respaldos: ejecute «pukara red respaldar»")
    base = _since(repo, device, since)
    old = (repo.read(device.path, base) or b"") if base else b""
    new = repo.read(device.path) or b""
    label = (base or "vacío")[:12]
    return "".join(
        difflib.unified_diff(
            old.decode("utf-8", "replace").splitlines(keepends=True),
            new.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=f"{device.path} ({label})",
            tofile=f"{device.path} (último)",
        )
    )


@dataclass(frozen=True, slots=True)
class Match:
    path: str
    line: int  # 1-based
    text: str
    context: bool = False  # a line around a match, not a match itself


def compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise UsageError(f"expresión regular inválida «{pattern}»: {e}") from None


def search(repo: ConfigRepo, pattern: str, *, context: int = 0) -> list[Match]:
    """Lines of the latest configurations that match ``pattern``, with ``context`` around."""
    regex = compile_regex(pattern)
    found: list[Match] = []
    for path, data in sorted(repo.latest().items()):
        lines = data.decode("utf-8", "replace").splitlines()
        hits = [i for i, line in enumerate(lines) if regex.search(line)]
        shown: set[int] = set()
        for i in hits:
            shown.update(range(max(0, i - context), min(len(lines), i + context + 1)))
        hit_set = set(hits)
        found += [Match(path, i + 1, lines[i], i not in hit_set) for i in sorted(shown)]
    return found
