"""The Ansible wrapper runs a shipped playbook over SSH against real lab sites."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from inventario import ansible_facts
from lab import manage
from pukara.ansible import run_playbook
from pukara.config import load_settings
from pukara.errors import AnsibleError, Interrupted, SecretsError
from pukara.secrets import CredentialProfile, Secret, load_profile
from pukara.store import SQLiteStore
from tests.conftest import site

pytestmark = pytest.mark.integration

SECRET = "secreto-de-prueba-456"
ENV_SECRET = "clave-del-entorno-123"


def _inventory(lab: manage.Lab, *codes: str) -> dict[str, object]:
    hosts = {}
    for code in codes:
        s = site(code)
        hosts[code] = {"ansible_host": str(s.v6 if code == "t2" else s.v4)}
    return {
        "all": {
            "hosts": hosts,
            "vars": {
                "ansible_user": "root",
                "ansible_python_interpreter": sys.executable,
                "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.known_hosts} -o ConnectTimeout=3",
            },
        }
    }


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_playbook_over_lab_sites_streams_events_and_leaks_no_secret(
    lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUKARA_CRED_OTRO_PASSWORD", ENV_SECRET)
    settings = load_settings(
        {"data_dir": tmp_path / "datos", "ansible_artifacts_keep": 1}, environ={}
    )
    with SQLiteStore(settings.db) as store:
        run = run_playbook(
            "nucleo/ping.yml",
            _inventory(lab, "t1", "t2", "t4"),
            settings=settings,
            store=store,
            extravars={"pukara_env_probe": True},
            ssh_keys=[lab.key],
            secret_env={"PUKARA_PRUEBA_SECRETO": Secret(SECRET)},
        )
        assert run.failed_hosts == ["t4"]  # the down site; the others still ran
        assert set(run.stats["ok"]) == {"t1", "t2"}
        events = list(
            store.search_events(dataset="ansible.evento", where={"ansible.job_id": run.ident})
        )
    assert len(events) == run.events > 0
    ok_hosts = {e["host"]["name"] for e in events if e["event"]["action"] == "runner_on_ok"}
    assert ok_hosts == {"t1", "t2"}
    assert any(e["event"]["action"] == "runner_on_unreachable" for e in events)
    assert run.artifact_dir is not None and (run.artifact_dir / "job_events").is_dir()
    key_body = lab.key.read_bytes().split(b"\n")[1]
    for needle in (SECRET.encode(), ENV_SECRET.encode(), key_body):
        assert _files_containing(settings.data_dir, needle) == []

    # ansible-runner's own signal handlers are gone: Ctrl-C still interrupts pukara
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    # a second run rotates the artifacts down to the configured one
    run_playbook("nucleo/ping.yml", _inventory(lab, "t1"), settings=settings, ssh_keys=[lab.key])
    assert len(list((settings.data_dir / "ansible" / "artifacts").iterdir())) == 1
    assert [p.name for p in (settings.data_dir / "ansible").iterdir()] == ["artifacts"]


def test_inventory_with_a_password_is_refused(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path}, environ={})
    inventory = {"all": {"hosts": {"x": {"ansible_host": "198.18.0.2", "ansible_password": "no"}}}}
    with pytest.raises(SecretsError, match=r"all\.hosts\.x\.ansible_password"):
        run_playbook("nucleo/ping.yml", inventory, settings=settings)
    assert not (tmp_path / "ansible" / "artifacts").exists() or not any(
        (tmp_path / "ansible" / "artifacts").iterdir()
    )


def test_ctrl_c_during_a_playbook_interrupts_and_keeps_events(
    lab: manage.Lab, tmp_path: Path
) -> None:
    # t4 is down: the SSH connection waits its 3 s timeout, long enough to press Ctrl-C.
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    with SQLiteStore(settings.db) as store:
        timer.start()
        try:
            with pytest.raises(Interrupted, match="interrumpido"):
                run_playbook(
                    "nucleo/ping.yml", _inventory(lab, "t4"), settings=settings, store=store,
                    ssh_keys=[lab.key],
                )  # fmt: skip
        finally:
            timer.join()
        started = list(store.search_events(dataset="ansible.evento"))
    assert any(e["event"]["action"] == "playbook_on_start" for e in started)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _descendants(root: int) -> dict[int, str]:
    """pid -> command line of every live process below ``root``."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parents[int(proc.name)] = int(
                    (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                try:
                    found[pid] = (
                        Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    )
                except OSError:
                    continue
                frontier.append(pid)
    return found


def test_children_and_artifacts_get_no_pukara_credential(
    lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook = "http://127.0.0.1:9/gancho-secreto-789"
    monkeypatch.setenv("PUKARA_CRED_OTRO_PASSWORD", ENV_SECRET)
    monkeypatch.setenv("PUKARA_ALERT_WEBHOOK", webhook)
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    environments: dict[str, bytes] = {}

    def look(_event: object) -> None:  # while the playbook runs, read each child's environ
        for pid, cmdline in _descendants(os.getpid()).items():
            try:
                environments[cmdline] = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue

    run = run_playbook("nucleo/ping.yml", _inventory(lab, "t1"), settings=settings,
                       ssh_keys=[lab.key], on_event=look)  # fmt: skip
    assert run.rc == 0
    assert any("ansible-playbook" in c for c in environments), list(environments)
    assert any("ssh-agent" in c for c in environments), list(environments)
    for cmdline, environ in environments.items():
        for needle in (b"PUKARA_CRED_", ENV_SECRET.encode(), webhook.encode()):
            assert needle not in environ, (cmdline, needle)
    assert run.artifact_dir is not None
    recorded = json.loads((run.artifact_dir / "command").read_text())["env"]
    assert not [k for k in recorded if k.startswith("PUKARA_CRED_") or k == "PUKARA_ALERT_WEBHOOK"]
    for needle in (b"PUKARA_CRED_", ENV_SECRET.encode(), webhook.encode()):
        assert _files_containing(settings.data_dir, needle) == []


def _run_processes(marker: str) -> list[str]:
    """Command lines of live processes naming ``marker`` (a run's folder or SSH masters)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError):
            continue
        if state != "Z" and marker in cmdline:
            found.append(cmdline)
    return found


def test_a_run_leaves_no_ssh_master_behind(lab: manage.Lab, tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    masters: set[str] = set()

    def look(_event: object) -> None:
        masters.update(c for c in _run_processes("pukara-ssh-") if c.endswith("[mux]"))

    run = run_playbook("nucleo/ping.yml", _inventory(lab, "t1"), settings=settings,
                       ssh_keys=[lab.key], on_event=look)  # fmt: skip
    assert run.rc == 0 and masters  # ControlPersist kept a master open between tasks
    left = [c for c in _run_processes("pukara-ssh-") if c in masters]
    assert left == []


def test_the_run_timeout_ends_every_process_of_the_run(lab: manage.Lab, tmp_path: Path) -> None:
    # t4 is down: its ssh waits 10 s to connect; the run's 2 s timeout ends it first
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    inventory = _inventory(lab, "t4")
    inventory["all"]["vars"]["ansible_ssh_common_args"] = (  # type: ignore[index]
        f"-o UserKnownHostsFile={lab.known_hosts} -o ConnectTimeout=30"
    )
    started = time.monotonic()
    run = run_playbook("nucleo/ping.yml", inventory, settings=settings, ssh_keys=[lab.key],
                       timeout_s=2)  # fmt: skip
    assert run.status == "timeout"
    assert time.monotonic() - started < 9
    assert _run_processes(str(settings.data_dir / "ansible")) == []
    assert _descendants(os.getpid()) == {}


def test_a_run_abandoned_by_an_error_ends_its_processes(lab: manage.Lab, tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    inventory = _inventory(lab, "t1", "t4")

    def fail(raw: Mapping[str, object]) -> None:  # the store went away mid-run, say
        if raw.get("event") == "runner_on_ok":
            raise RuntimeError("almacén no disponible")

    with pytest.raises(AnsibleError, match="almacén no disponible"):
        run_playbook("nucleo/ping.yml", inventory, settings=settings, ssh_keys=[lab.key],
                     on_event=fail)  # fmt: skip
    assert _run_processes(str(settings.data_dir / "ansible")) == []
    assert [c for c in _run_processes("pukara-ssh-") if c.endswith("[mux]")] == []


def _facts_targets(
    lab: manage.Lab, tmp_path: Path
) -> tuple[list[ansible_facts.AnsibleTarget], Path]:
    """t1 with the lab's profile, t2 with `malo` (a key sshd does not know), t3 with `roto`
    (a key file that does not exist), t4 (down) with the lab's."""
    wrong = tmp_path / "llave-ajena"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    lab_profile = load_profile("lab", path=lab.credentials_file)
    fields = dict(lab_profile.fields)
    malo = CredentialProfile("malo", {**fields, "key_file": Secret(str(wrong))})
    roto = CredentialProfile("roto", {**fields, "key_file": Secret("/no/existe/llave")})
    chosen = {"t1": lab_profile, "t2": malo, "t3": roto, "t4": lab_profile}
    targets = [
        ansible_facts.AnsibleTarget(f"h-{c}", str(site(c).v6 if c == "t2" else site(c).v4), p)
        for c, p in chosen.items()
    ]
    return targets, wrong


def test_each_host_is_offered_only_its_own_profiles_key(
    lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run: the right key gets in, a key sshd does not know fails that host (the lab's key
    is not tried for it), a missing key file fails its profile's host by name."""
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agente-del-usuario"))  # not passed on
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    targets, wrong = _facts_targets(lab, tmp_path)
    run = ansible_facts.discover(targets, settings=settings, store=None, timeout_s=2)
    by = {r.target: r for r in run.results}
    t1, t2, t3, t4 = (by[t.address] for t in targets)
    assert t1.status == "ok" and t1.data["credential"] == "lab", t1.error
    assert t2.failed and "rechazó las credenciales" in (t2.error or ""), t2.error
    assert (t2.error or "").endswith(f"(perfil «malo», llave {wrong})"), t2.error
    assert t3.failed and t3.error == (
        "Ansible: perfil «roto»: la llave /no/existe/llave no sirve: no existe "
        "(No such file or directory)"
    )
    assert t4.failed and "tiempo" in (t4.error or ""), t4.error
    key_body = wrong.read_bytes().split(b"\n")[1]
    assert _files_containing(settings.data_dir, key_body) == []


def test_a_down_host_costs_the_wait_asked_for(lab: manage.Lab, tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    profile = load_profile("lab", path=lab.credentials_file)
    down = [ansible_facts.AnsibleTarget("h-t4", str(site("t4").v4), profile)]
    started = time.monotonic()
    run = ansible_facts.discover(down, settings=settings, store=None, timeout_s=2)
    took = time.monotonic() - started
    assert run.results[0].failed
    assert took < 7, f"{took:.1f} s: Ansible no respetó la espera de 2 s"
