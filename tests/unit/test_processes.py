"""Ending a command's child processes: SIGTERM, a grace period, then SIGKILL."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time

from pukara import processes


def test_a_tree_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    # a shell in a session of its own, with a child that ignores SIGTERM too
    proc = subprocess.Popen(
        ["sh", "-c", "trap '' TERM; sleep 30 & trap '' TERM; wait"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 5
        mine: list[processes.Proc] = []
        while len(mine) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
            mine = [p for p in processes.descendants(os.getpid()) if proc.pid in (p.pid, p.ppid)]
        assert len(mine) == 2
        started = time.monotonic()
        killed = processes.end(mine, grace_s=0.3)
        assert 0.3 <= time.monotonic() - started < 3
        assert {p.pid for p in killed} == {p.pid for p in mine}
        proc.wait(timeout=5)
        deadline = time.monotonic() + 5  # SIGKILL is delivered, not awaited
        while any(processes.alive(p) for p in mine) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(processes.alive(p) for p in mine)
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_ends_on_sigterm_is_not_waited_for() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        (me,) = [p for p in processes.descendants(os.getpid()) if p.pid == proc.pid]
        started = time.monotonic()
        assert processes.end([me], grace_s=5) == []  # gone on SIGTERM (a zombie counts as gone)
        assert time.monotonic() - started < 4
        assert proc.wait(timeout=5) == -15
    finally:
        proc.kill()
        proc.wait()


def test_a_reused_pid_is_never_signalled() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        (me,) = [p for p in processes.descendants(os.getpid()) if p.pid == proc.pid]
        other = dataclasses.replace(me, started=me.started - 1)  # "the same pid, earlier"
        assert not processes.alive(other)
        processes.end([other], grace_s=0)
        assert proc.poll() is None  # still running: it was not that process
    finally:
        proc.kill()
        proc.wait()
