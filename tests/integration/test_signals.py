"""Ctrl-C and SIGTERM stop pukara clean: nothing left running, work kept, exit 130."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inventario import catalog, files
from lab import manage
from pukara.store import SQLiteStore
from tests.conftest import site

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PUKARA = str(Path(sys.executable).parent / "pukara")


def _sigint_default() -> None:
    # a shell starts background jobs with SIGINT ignored; a terminal's Ctrl-C is not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, start time, command line) of every live (non-zombie) process."""
    out: dict[int, tuple[int, str, str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            out[int(proc.name)] = (int(fields[1]), fields[19], cmdline.strip())
    return out


def _below(root: int, procs: dict[int, tuple[int, str, str]]) -> set[int]:
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in procs.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


def _is_mux(cmdline: str) -> bool:
    """An OpenSSH ControlPersist master: it detaches (setsid) and renames itself."""
    return cmdline.startswith("ssh: ") and cmdline.endswith("[mux]")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    return {**env, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT), **extra}


def _lab_inventory(lab: manage.Lab, db: Path, tmp_path: Path, codes: list[str]) -> None:
    sites = ["code,name,kind,timezone,country", "lima,Sede central,sede_central,America/Lima,PE"]
    assets = ["name,kind,site,mgmt_ipv4,device_type,credential_profile"]
    for code in codes:
        s = site(code)
        sites.append(f"{s.code},Sede {s.code},embajada,Europe/Madrid,ES")
        assets.append(f"{s.hostname},router,{s.code},{s.v4},linux,lab")
    with SQLiteStore(db) as store:
        for name, rows in (("s.csv", sites), ("a.csv", assets)):
            (tmp_path / name).write_text("\n".join(rows) + "\n")
            catalog.import_file(store, files.read_file(tmp_path / name), dry_run=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_during_ansible_discovery_leaves_no_ansible_or_ssh_process(
    lab: manage.Lab, tmp_path: Path, sig: signal.Signals
) -> None:
    # t1 answers (its SSH master stays behind as a ControlPersist daemon); t4 is down, so its
    # ssh waits out its connection timeout while ansible-playbook waits for it.
    db = tmp_path / "p.db"
    _lab_inventory(lab, db, tmp_path, ["t1", "t4"])
    env = _env(tmp_path, PUKARA_CREDENTIALS=str(lab.credentials_file),
               PUKARA_DATA_DIR=str(tmp_path / "datos"))  # fmt: skip
    argv = [PUKARA, "--base-datos", str(db), "inventario", "descubrir", "t1", "t4",
            "--metodo", "ansible", "--espera", "20"]  # fmt: skip
    muxes_before = {pid for pid, (_, _, c) in _processes().items() if _is_mux(c)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=_sigint_default)  # fmt: skip
    seen: dict[tuple[int, str], str] = {}  # (pid, start time) -> command line
    t4 = str(site("t4").v4)
    try:
        deadline = time.monotonic() + 90
        ready = False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            procs = _processes()
            ours = _below(proc.pid, procs) | {
                p for p, (_, _, c) in procs.items() if _is_mux(c) and p not in muxes_before
            }
            seen.update({(p, procs[p][1]): procs[p][2] for p in ours})
            cmdlines = [procs[p][2] for p in ours]
            ready = any(_is_mux(c) for c in cmdlines) and any(
                c.startswith("ssh ") and t4 in c for c in cmdlines
            )
            time.sleep(0.05)
        assert ready, (proc.poll(), sorted(seen.values()))
        assert any("ansible-playbook" in c for c in seen.values())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        procs = _processes()
        left = {c for (pid, start), c in seen.items() if pid in procs and procs[pid][1] == start}
    finally:
        proc.kill()
        proc.wait()
        now = _processes()
        for pid, start in seen:
            if pid in now and now[pid][1] == start:
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Interrumpido." in err and "Traceback" not in err, err
    assert left == set(), left
    # what ran before the signal is kept: the playbook's start is in the store
    conn = sqlite3.connect(db)
    try:
        (started,) = conn.execute(
            "SELECT count(*) FROM events WHERE json_extract(doc, '$.event.action') = "
            "'playbook_on_start'"
        ).fetchone()
    finally:
        conn.close()
    assert started == 1


def _rounds_saved(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        (n,) = conn.execute(
            "SELECT count(*) FROM events WHERE json_extract(doc, '$.event.dataset') = "
            "'monitoreo.sondeo'"
        ).fetchone()
    finally:
        conn.close()
    return int(n)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_sigterm_stops_vigilar_as_ctrl_c_does(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "p.db"
    env = _env(tmp_path, PUKARA_DATA_DIR=str(tmp_path / "datos"))
    argv = [PUKARA, "--base-datos", str(db), "monitoreo", "vigilar", "--ronda", "1", "--cuenta", "1",
            "--sin-snmp", "127.0.0.1"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=_sigint_default)  # fmt: skip
    assert proc.stderr is not None
    try:
        seen = ""
        while "Vigilando" not in seen and proc.poll() is None:
            seen += proc.stderr.readline()
        time.sleep(3.5)  # a few rounds, then the signal in the middle of the next one
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    err = seen + rest
    assert proc.returncode == 130, err
    assert "Interrumpido." in err and "Traceback" not in err, err
    found = re.search(r"vigilancia interrumpida; (\d+) rondas completas guardadas", err)
    assert found, err
    rounds = int(found.group(1))
    assert rounds >= 3
    assert _rounds_saved(db) == rounds  # every finished round was handed over to the store
