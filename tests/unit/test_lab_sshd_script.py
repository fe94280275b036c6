"""The lab's sshd script: /dev's submounts reach ``mount`` one argument each (stub commands
record what they get; nothing of the machine is mounted or written)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab import services
from lab.sites import LabSite

COMMANDS = ("umount", "mount", "mkdir", "cp", "ln", "cat", "install", "sed", "hostname", "sshd")


def test_each_dev_submount_is_one_argument_even_with_a_space(tmp_path: Path) -> None:
    stubs = tmp_path / "bin"
    stubs.mkdir()
    log = tmp_path / "calls"
    for name in COMMANDS:  # each call: its name and arguments, NUL-separated, one per line
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\nprintf \'%s\\0\' "${{0##*/}}" "$@" >> {log}\necho >> {log}\n')
        stub.chmod(0o755)
    site = LabSite(index=3690, code="s1")
    paths = {k: tmp_path / k for k in ("top", "etc", "adds")}
    for p in paths.values():
        p.mkdir()
    argv = services.sshd_argv(site, tmp_path, tmp_path / "conf", tmp_path / "log",
                              paths["top"], paths["etc"], paths["adds"], ["pts", "a b"])  # fmt: skip
    assert argv[-2:] == ["pts", "a b"]
    script = argv[argv.index("-c") + 1]
    # what the real script appends to the site's /etc goes to a folder of this test instead
    script = script.replace('>> "/etc/$f"', f'>> "{tmp_path}/$f"').replace(
        'exec "$sshd"', f'exec "{stubs}/sshd"')  # fmt: skip
    done = subprocess.run(["/bin/sh", "-c", script, *argv[argv.index("-c") + 2:]],
                          env={"PATH": str(stubs)}, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    calls = [line.split("\0")[:-1] for line in log.read_text().splitlines() if line]
    assert ["mkdir", "upper", "work", "pts", "a b"] in calls
    assert ["mount", "--rbind", "/dev/a b", "a b"] in calls
    assert ["mount", "--move", "a b", "/dev/a b"] in calls
    assert ["hostname", site.hostname] in calls and calls[-1][0] == "sshd"
    keys = ["install", "-m", "0644", f"{paths['adds']}/authorized_keys", services.ACCOUNT_KEYS]
    assert keys in calls
    assert not [c for c in calls if c[0] == "sed"]  # no vty group to join: /etc as it is
    # the site's rsyslog socket replaces a /dev/log the machine already has (in this view)
    assert [c for c in calls if c[0] == "ln" and c[-1] == "/dev/log"] == [
        ["ln", "-sf", str(tmp_path / services.LOG_SOCKET), "/dev/log"]
    ]
