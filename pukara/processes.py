"""Child processes that must not outlive the command that started them.

Read from ``/proc`` (Linux): each process's parent, start time and command line. A process is
named by its pid *and* its start time, so a pid the kernel hands to a new process later is
never signalled by mistake.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    started: int  # clock ticks after boot (field 22 of /proc/<pid>/stat)
    cmdline: str


def _read(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if not fields or fields[0] in {"Z", "X"}:  # a zombie only waits for its reaper
        return None
    cmdline = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return Proc(pid, int(fields[1]), int(fields[2]), int(fields[19]), cmdline)


def snapshot() -> dict[int, Proc]:
    """Every live process, by pid."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (p := _read(int(entry.name))):
            out[p.pid] = p
    return out


def descendants(root: int, procs: dict[int, Proc] | None = None) -> list[Proc]:
    """Every live process below ``root`` (children, their children...)."""
    procs = snapshot() if procs is None else procs
    children: dict[int, list[Proc]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p)
    found: list[Proc] = []
    frontier = [root]
    while frontier:
        for child in children.pop(frontier.pop(), []):
            found.append(child)
            frontier.append(child.pid)
    return found


def alive(proc: Proc) -> bool:
    """True while that very process (same pid, same start time) runs."""
    now = _read(proc.pid)
    return now is not None and now.started == proc.started


def _send(proc: Proc, sig: signal.Signals) -> None:
    if alive(proc):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, sig)


def terminate(procs: Iterable[Proc]) -> None:
    """SIGTERM each process (and its process group, when it leads one)."""
    for p in procs:
        if p.pgid == p.pid and alive(p):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pgid, signal.SIGTERM)
        _send(p, signal.SIGTERM)


def end(procs: Iterable[Proc], *, grace_s: float) -> list[Proc]:
    """SIGTERM, wait up to ``grace_s``, SIGKILL whatever still runs. Returns those killed."""
    wanted = [p for p in procs if alive(p)]
    terminate(wanted)
    deadline = time.monotonic() + grace_s
    while (left := [p for p in wanted if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    for p in left:
        _send(p, signal.SIGKILL)
    deadline = time.monotonic() + 1.0  # SIGKILL is delivered at once, but not acted on at once
    while any(alive(p) for p in left) and time.monotonic() < deadline:
        time.sleep(0.01)
    return left
