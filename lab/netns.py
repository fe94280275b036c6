"""Linux network namespace helpers: enter one from this thread, run ``ip`` in batches."""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pukara.errors import LabError

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError(f"setns falló: {os.strerror(err)}")


@contextmanager
def inside(name: str) -> Iterator[None]:
    """Move the calling thread into namespace ``name``; processes started here live there."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / name, os.O_RDONLY)
    except OSError as e:
        os.close(own)
        raise LabError(f"no existe el espacio de nombres de red {name}") from e
    try:
        _setns(target)
        yield
    finally:
        _setns(own)
        os.close(target)
        os.close(own)


def existing() -> set[str]:
    try:
        return {p.name for p in NETNS_DIR.iterdir()}
    except FileNotFoundError:
        return set()


def ip_batch(commands: Sequence[str], *, netns: str | None = None) -> None:
    """Run ``ip -batch`` (forced, so one bad line does not hide the rest) and fail loudly."""
    if not commands:
        return
    argv = ["ip", "-force", "-batch", "-"]
    if netns:
        argv[1:1] = ["-n", netns]
    done = subprocess.run(
        argv, input="\n".join(commands) + "\n", capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        where = f" en {netns}" if netns else ""
        raise LabError(f"ip{where} falló: {done.stderr.strip()[:500]}")


def write_sysctl(key: str, value: str) -> None:
    """Write a sysctl of the current thread's namespace (call inside :func:`inside`)."""
    path = Path("/proc/sys") / key.replace(".", "/")
    try:
        path.write_text(value)
    except OSError as e:
        raise LabError(f"no se pudo fijar {key}={value}: {e.strerror}") from e


def pids_in(name: str) -> list[int]:
    done = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
    )
    return [int(p) for p in done.stdout.split() if p.isdigit()]
