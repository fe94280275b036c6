"""The Linux audit of the lab's audit hosts against the lab's declared table.

Every check 1-27 on every host must give exactly the status ``lab.auditoria.expected()``
declares: 0 false passes, 0 false fails. Run it holding the audit hosts' lock:

    flock /tmp/pukara-lab-auditoria.lock .venv/bin/pytest tests/integration/test_auditoria_linux.py
"""

from __future__ import annotations

import contextlib
import importlib
import os
import stat
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from auditoria import linux, politica
from auditoria.modelo import Result, Status
from lab import manage
from pukara.config import Settings
from tests.conftest import lab_available, skip_or_fail

pytestmark = pytest.mark.integration
PREFIX = "pka"
DEV_BEFORE: set[tuple[str, int]] = set()
DEV = Path("/dev")


def dev_entries() -> set[tuple[str, int]]:
    """The machine's /dev entries (name, inode) but devices (ptys and loop devices come and go
    with other work on the machine): a socket a host bound there (an rsyslogd's /dev/log in
    a /dev shared with the machine) is new, or replaces an old one with a new inode."""
    found = set()
    for e in os.scandir(DEV):
        with contextlib.suppress(OSError):
            mode = e.stat(follow_symlinks=False).st_mode
            if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
                found.add((e.name, e.inode()))
    return found


def new_dev_entries(before: set[tuple[str, int]]) -> list[str]:
    return sorted(name for name, _ in dev_entries() - before)


def audit_module() -> ModuleType:
    try:
        return importlib.import_module("lab.auditoria")
    except ImportError as e:
        skip_or_fail(f"el laboratorio aún no tiene sus equipos de auditoría (lab.auditoria): {e}")


@pytest.fixture(scope="module")
def audit_lab(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[tuple[ModuleType, manage.Lab]]:
    aud = audit_module()
    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    the_lab = manage.Lab(tmp_path_factory.mktemp(PREFIX) / "estado", prefix=PREFIX)
    before = dev_entries()
    DEV_BEFORE.update(before)
    try:
        aud.up(the_lab)
        profiles = tomllib.loads(the_lab.credentials_file.read_text(encoding="utf-8"))
        assert "auditoria" in profiles, "el laboratorio no escribió el perfil «auditoria»"
        monkeypatch_module.setenv("PUKARA_CREDENTIALS", str(the_lab.credentials_file))
        yield aud, the_lab
    finally:
        aud.down(the_lab)
    left = new_dev_entries(before)
    assert not left, f"los equipos de auditoría dejaron en /dev de la máquina: {left}"


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def audit(
    audit_lab: tuple[ModuleType, manage.Lab], tmp_path_factory: pytest.TempPathFactory
) -> tuple[linux.LinuxRun, dict[str, Any]]:
    aud, _ = audit_lab
    data = tmp_path_factory.mktemp("datos-auditoria")
    data.chmod(0o700)
    settings = Settings(data_dir=data, db=data / "pukara.db")
    targets = []
    by_name = {}
    for host in aud.HOSTS:
        address = aud.address(host)  # the lab's own (AuditHost.v4), never a guess
        targets.append(linux.Target(host.name, address))
        by_name[host.name] = host
    return linux.run(targets, settings, politica.load()), by_name


def test_every_check_on_every_host_matches_the_declared_table(
    audit: tuple[linux.LinuxRun, dict[str, Any]], audit_lab: tuple[ModuleType, manage.Lab]
) -> None:
    done, hosts = audit
    aud, _ = audit_lab
    expected: dict[tuple[str, str], str] = aud.expected()
    got: dict[tuple[str, str], Result] = {}
    for r in done.results:
        host = hosts[r.host]
        got[(host.name, r.check_id)] = r
        got[(host.code, r.check_id)] = r  # the table may name hosts by code or by name
    declared = {k: v for k, v in expected.items() if k[1] in linux.EVALUATORS}
    covered = {(h.code, c) for h in hosts.values() for c in linux.EVALUATORS}
    covered_names = {(h.name, c) for h in hosts.values() for c in linux.EVALUATORS}
    assert set(declared) in (covered, covered_names), "la tabla no declara cada comprobación"
    false_pass, false_fail, other = [], [], []
    for key, status in sorted(declared.items()):
        result = got[key]
        line = f"{key[0]} {key[1]}: declarado {status}, obtenido {result.status.value} " \
               f"({result.message})"  # fmt: skip
        if result.status.value == status:
            continue
        if result.status == Status.PASS:
            false_pass.append(line)
        elif status == Status.PASS.value:
            false_fail.append(line)
        else:
            other.append(line)
    assert not false_pass, "falsos aprobados:\n" + "\n".join(false_pass)
    assert not false_fail, "falsos reprobados:\n" + "\n".join(false_fail)
    assert not other, "estados distintos:\n" + "\n".join(other)


def test_each_result_keeps_its_raw_output_and_the_job_events(
    audit: tuple[linux.LinuxRun, dict[str, Any]],
) -> None:
    done, hosts = audit
    assert len(done.results) == len(hosts) * len(linux.EVALUATORS)
    assert set(done.raw) == set(hosts)
    for name, raw in done.raw.items():
        assert set(raw) == set(linux.KEYS), name
        assert f"@@ hostname rc=0\n{name}" in raw["host_identity"]
    assert all(r.evidence["raw"] for r in done.results if r.status != Status.ERROR)
    assert done.job_id and any(e.get("event") == "playbook_on_stats" for e in done.events)


def test_no_secret_in_results_or_events(
    audit: tuple[linux.LinuxRun, dict[str, Any]], audit_lab: tuple[ModuleType, manage.Lab]
) -> None:
    done, _ = audit
    _, the_lab = audit_lab
    text = Path(the_lab.key).read_text(encoding="utf-8")
    dump = repr([r.to_dict() for r in done.results]) + repr(done.events)
    assert text.strip().splitlines()[1] not in dump
    assert "$y$" not in dump and "$6$" not in dump  # no password hash leaves /etc/shadow
    # the hosts' /etc/snmp/snmpd.conf.d holds the lab's community and USM passphrases
    creds = manage.ensure_credentials(the_lab)
    raw = repr(done.raw)
    assert "<oculto>" in raw
    for secret in (creds.community, creds.v3_auth, creds.v3_priv):
        assert secret not in dump and secret not in raw


def test_the_hosts_log_in_their_own_dev_not_the_machines(
    audit_lab: tuple[ModuleType, manage.Lab],
) -> None:
    """Each host's rsyslogd binds /dev/log in the host's own /dev: the machine's /dev gets no
    new entry while they run (and none after ``down``: see the ``audit_lab`` fixture)."""
    aud, the_lab = audit_lab
    assert DEV_BEFORE
    assert not new_dev_entries(DEV_BEFORE), "un equipo de auditoría escribió en /dev de la máquina"
    for host in aud.HOSTS:
        if host.profile == "debian":
            continue  # the stock host runs no rsyslogd
        argv = [*aud.nsenter_argv(the_lab, host.code), "test", "-S", "/dev/log"]
        assert subprocess.run(argv, check=False).returncode == 0, f"{host.code} sin /dev/log"
