"""The lab's audit hosts, real: namespaces, overlay, sshd, the audit account, nothing left.

Needs root: ``flock /tmp/pukara-lab-auditoria.lock pytest tests/integration/test_lab_auditoria.py``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import auditoria, manage, netns
from tests.conftest import lab_available, skip_or_fail

PREFIX = "pka"


def _etc_digest() -> dict[str, str]:
    """Every regular file of the machine's /etc: its mode and contents' SHA-256."""
    out = {}
    for top, _dirs, files in os.walk("/etc"):
        for name in files:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
                if not os.path.isfile(path) or os.path.islink(path):
                    continue
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            except OSError:
                continue
            out[path] = f"{st.st_mode:o} {digest}"
    return out


@pytest.fixture(scope="module")
def hosts_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[manage.Lab, float]]:
    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    the_lab = manage.Lab(tmp_path_factory.mktemp("aud") / "estado", prefix=PREFIX)
    before = _etc_digest()
    start = time.monotonic()
    try:
        auditoria.up(the_lab)
        took = time.monotonic() - start
        sys.stderr.write(f"\nauditoria.up: {took:.1f} s para {len(auditoria.HOSTS)} equipos\n")
        yield the_lab, took
    finally:
        auditoria.down(the_lab)
    after = _etc_digest()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"el /etc de la máquina cambió: {changed[:10]}"


def _ssh(lab: manage.Lab, host: auditoria.AuditHost, command: str) -> str:
    done = subprocess.run(
        ["ssh", "-i", str(lab.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
         "-o", f"UserKnownHostsFile={auditoria.known_hosts_file(lab)}", "-o", "ConnectTimeout=5",
         f"{auditoria.SERVICE_ACCOUNT}@{host.v4}", command],
        capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, f"{host.code}: {done.stderr}"
    return done.stdout


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is no zombie (the machine's init reaps those)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _banner(address: str) -> bytes:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect((address, 22))
        return sock.recv(4)


def test_every_host_answers_ssh_on_both_families(hosts_lab: tuple[manage.Lab, float]) -> None:
    lab, took = hosts_lab
    assert took < 120
    rows = {r["code"]: r for r in auditoria.hosts_state(lab)}
    assert len(rows) >= 6
    for host in auditoria.HOSTS:
        assert rows[host.code]["running"] and rows[host.code]["sshd"], host.code
        assert _banner(str(host.v4)) == b"SSH-"
        if host.ipv6 and not host.v4_only_listener:
            assert _banner(str(host.v6)) == b"SSH-", host.code


def test_each_host_sees_its_own_etc(hosts_lab: tuple[manage.Lab, float]) -> None:
    lab, _ = hosts_lab
    machine = hashlib.sha256(Path("/etc/ssh/sshd_config").read_bytes()).hexdigest()
    seen = {}
    for host in auditoria.HOSTS:
        out = _ssh(lab, host, "hostname; sha256sum /etc/ssh/sshd_config; sudo -n id -u")
        name, digest, uid = out.split("\n")[0], out.split("\n")[1].split()[0], out.split()[-1]
        assert name == host.name
        assert uid == "0"  # the account's sudo drop-in, without a password
        seen[host.code] = digest
    assert seen["aud2"] == machine  # the stock host: the machine's own file
    assert seen["aud1"] != machine and seen["aud3"] != seen["aud1"]
    effective = _ssh(lab, auditoria.by_code("aud3"), "sudo -n /usr/sbin/sshd -T")
    assert "permitrootlogin yes" in effective and "passwordauthentication yes" in effective
    assert "permitrootlogin no" in _ssh(lab, auditoria.by_code("aud1"), "sudo -n /usr/sbin/sshd -T")


def test_profiles_are_what_the_expected_file_says(hosts_lab: tuple[manage.Lab, float]) -> None:
    lab, _ = hosts_lab

    def inside(code: str, *argv: str) -> str:
        done = subprocess.run([*auditoria.nsenter_argv(lab, code), *argv],
                              capture_output=True, text=True, check=False, timeout=30)  # fmt: skip
        return done.stdout

    assert "(198.19.0.1)" in inside("aud1", "chronyc", "-n", "tracking")
    assert "table ip filtro" in inside("aud4", "nft", "list", "ruleset")
    assert "table inet filtro" in inside("aud1", "nft", "list", "ruleset")
    assert inside("aud2", "nft", "list", "ruleset").strip() == ""
    upgrade = inside("aud5", "apt-get", "-s", "upgrade")
    assert f"Inst {auditoria.perfiles.DUMMY_PACKAGE} [1.0] (1.1" in upgrade
    assert "bookworm-security" in upgrade
    assert "Inst " not in inside("aud1", "apt-get", "-s", "upgrade")
    assert ":8080" in inside("aud5", "ss", "-ltnH")
    assert "toor:x:0:0" in inside("aud3", "cat", "/etc/passwd")
    dormant = inside("aud3", "lastlog", "-u", "antiguo")
    assert "antiguo" in dormant and "Never" not in dormant and "198.18.0.1" in dormant
    assert "antiguo" not in inside("aud3", "lastlog", "-t", "90")  # not within 90 days
    assert inside("aud6", "cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6").strip() == "1"
    assert inside("aud1", "cat", "/proc/1/cmdline").startswith("sleep")  # its own PID 1
    setuid = inside("aud4", "find", "/usr", "-xdev", "-type", "f", "-perm", "/6000").split()
    assert sorted(setuid) == sorted([*auditoria.SETUID_BASELINE, "/usr/local/bin/pukara-ayuda"])
    assert inside("aud1", "find", "/var/log", "-type", "f", "-perm", "/o+rw") == ""
    assert "/var/log/pukara-app.log" in inside("aud4", "find", "/var/log", "-perm", "/o+r")
    assert inside("aud4", "find", "/etc", "-xdev", "-type", "f", "-perm", "-0002").split() == [
        "/etc/pukara-compartido.conf"
    ]
    assert inside("aud1", "ls", "-A", "/work", "/root").split() == ["/root:", "/work:"]
    expected = auditoria.expected()
    assert expected[("srv-aud1", "ntp_sync")] == "pass"
    assert expected[("srv-aud4", "ntp_sync")] == "fail"


def test_down_leaves_nothing(hosts_lab: tuple[manage.Lab, float]) -> None:
    lab, _ = hosts_lab  # the last test of the module: the hosts go here
    hosts = auditoria.HOSTS
    pids = [auditoria.init_pid(lab, h) for h in hosts]
    assert all(pids)
    assert auditoria.down(lab) == len(hosts)
    assert not any(auditoria.ns(lab, h) in netns.existing() for h in hosts)
    assert not any(Path(f"/sys/class/net/{auditoria.machine_if(lab, h)}").exists() for h in hosts)
    assert not any(_running(p) for p in pids if p)
    assert not lab.audit_dir.exists()
    addresses = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert f" {auditoria.NTP_SERVER}/32 " not in addresses
    for mounts in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            text = mounts.read_text()
        except OSError:
            continue
        assert " pk-audhost " not in text and str(lab.audit_dir) not in text, mounts


def test_a_failed_up_leaves_nothing(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """up() that fails after building (here: the hosts never answer) takes it all down."""
    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    the_lab = manage.Lab(tmp_path_factory.mktemp("aud-falla") / "estado", prefix=PREFIX)
    seen: dict[str, object] = {}

    def never_ready(lab: manage.Lab, hosts: object, timeout_s: float) -> None:
        pid_file = auditoria._ntp_dir(lab) / "chronyd.pid"
        seen["chronyd"] = int(pid_file.read_text().split()[0])
        seen["chronyd_ran"] = _running(int(str(seen["chronyd"])))
        seen["namespaces"] = [auditoria.ns(lab, h) for h in auditoria.HOSTS
                              if auditoria.ns(lab, h) in netns.existing()]  # fmt: skip
        raise auditoria.LabError("los equipos no respondieron (prueba)")

    monkeypatch.setattr(auditoria, "_wait", never_ready)
    try:
        with pytest.raises(auditoria.LabError, match="prueba"):
            auditoria.up(the_lab)
        assert seen["namespaces"] and seen["chronyd_ran"]  # it had been built
        assert not any(auditoria.ns(the_lab, h) in netns.existing() for h in auditoria.HOSTS)
        assert not _running(int(str(seen["chronyd"])))
        addresses = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"],
                                   capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert f" {auditoria.NTP_SERVER}/32 " not in addresses
        assert not the_lab.audit_dir.exists()
    finally:
        auditoria.down(the_lab)
