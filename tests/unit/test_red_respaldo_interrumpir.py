"""Ctrl-C in the middle of a backup run: nothing committed, HEAD intact, git fsck clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from red.repositorio import ConfigRepo

CHILD = """
import sys, time
from pathlib import Path
from pukara.config import load_settings
from pukara.errors import Interrupted
from pukara.store import SQLiteStore
from red.equipos import NetDevice
from red.respaldo import run_backup
settings = load_settings({"data_dir": Path(sys.argv[1])}, environ={})
devices = [NetDevice(f"gw-{i}", f"s{i}", "embajada", "router", "127.0.0.2", "frr", "p", {})
           for i in range(40)]
class P:
    name = "p"
import red.respaldo as r
r._Profiles.get = lambda self, name: P()
def slow(device, profile, **kw):
    if device.name == "gw-0":
        print("ready", flush=True)
    time.sleep(0.3)
    return f"hostname {device.name} nuevo\\nend\\n"
with SQLiteStore(settings.db) as store:
    try:
        run_backup(store, settings, devices, fetcher=slow, workers=4)
    except Interrupted as e:
        print("interrumpido:", e.message, flush=True)
        sys.exit(130)
print("terminó", flush=True)
"""


def test_ctrl_c_mid_run_commits_nothing(tmp_path: Path) -> None:
    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    repo = ConfigRepo(data / "red" / "respaldos")
    head = repo.commit({"s0/gw-0.cfg": b"hostname gw-0\nend\n"}, "m", author="a",
                       when=datetime.now(UTC))  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).parents[2], env={**os.environ, "PYTHONPATH": "."},
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGINT)
    rest = child.stdout.read()
    child.stdout.close()
    assert child.wait(timeout=30) == 130, rest
    assert "interrumpido: respaldo interrumpido" in rest
    assert repo.head() == head and len(repo.log()) == 1
    fsck = subprocess.run(["git", "-C", str(repo.path), "fsck", "--strict"], capture_output=True)
    assert fsck.returncode == 0
