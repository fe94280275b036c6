"""The Linux evaluators on raw outputs captured from real commands (tests/data/auditoria_linux)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditoria import linux, politica
from auditoria.modelo import Status

DATA = Path(__file__).parents[1] / "data" / "auditoria_linux"
OBSERVED = "2026-12-01T23:00:00Z"
P, F, NA = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE

EXPECTED = {
    # everything configured as the policy asks (the NTP server on the other side of a veth)
    "endurecido": dict.fromkeys(linux.EVALUATORS, P),
    # the development machine: a nearly stock Debian 12 without chronyd and without sudo
    "maquina": {
        **dict.fromkeys(linux.EVALUATORS, F),
        "unique_ids": P, "uid0_only_root": P, "sudo_nopasswd": NA, "dormant_accounts": P,
        "setuid_baseline": P, "world_writable_etc": P, "apt_signed_sources": P,
        "insecure_services": P, "disk_capacity": P,
    },
    # root login and passwords, a second UID 0, NOPASSWD for a person, an extra listener...
    "debil": {
        **dict.fromkeys(linux.EVALUATORS, F),
        "dormant_accounts": P, "setuid_baseline": P, "insecure_services": P,
        "disk_capacity": P,
    },
}  # fmt: skip


def raw_of(variant: str) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in (DATA / variant).glob("*.txt")}


@pytest.fixture(scope="module")
def policy() -> politica.Policy:
    return politica.load()


def evaluate(raw: dict[str, str], policy: politica.Policy, name: str = "srv") -> dict[str, Status]:
    results = linux.evaluate_host(linux.Target(name, "198.19.0.2"), raw, policy,
                                  observed_at=OBSERVED)  # fmt: skip
    return {r.check_id: r.status for r in results}


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_each_check_matches_the_captured_host(variant: str, policy: politica.Policy) -> None:
    assert evaluate(raw_of(variant), policy) == EXPECTED[variant]


def test_results_carry_evidence_messages_and_validity(policy: politica.Policy) -> None:
    results = linux.evaluate_host(linux.Target("srv-aud2", "198.19.0.6"), raw_of("debil"),
                                  policy, observed_at=OBSERVED)  # fmt: skip
    assert [r.check_id for r in results] == list(linux.EVALUATORS)
    by_id = {r.check_id: r for r in results}
    root = by_id["ssh_root_login"]
    assert root.host == "srv-aud2" and root.message == "PermitRootLogin es «yes», no «no»"
    assert "permitrootlogin yes" in root.evidence["raw"]["sshd"]
    assert len(root.evidence["sha256"]["sshd"]) == 64
    assert root.valid_until == "2026-12-31T23:00:00Z"  # 30 days
    assert by_id["security_updates"].valid_until == "2026-12-08T23:00:00Z"  # 7 days
    assert "toor" in by_id["uid0_only_root"].message
    assert "operador" in by_id["sudo_nopasswd"].message
    assert "viejo.bak" not in by_id["sudo_nopasswd"].message  # sudo skips names with a dot
    assert "tcp/8080 (python3)" in by_id["listening_services"].message
    assert "/etc/pukara-debil.conf" in by_id["world_writable_etc"].message


def test_long_raw_output_is_cut_in_the_evidence_and_hashed_whole(policy: politica.Policy) -> None:
    raw = raw_of("endurecido")
    raw["packages"] += "\n".join(f"relleno{i} ii " for i in range(3000))
    by_id = {r.check_id: r for r in linux.evaluate_host(
        linux.Target("srv", "198.19.0.2"), raw, policy, observed_at=OBSERVED)}  # fmt: skip
    evidence = by_id["insecure_services"].evidence
    assert evidence["truncated"] == ["packages"]
    assert len(evidence["raw"]["packages"]) < linux.EVIDENCE_CHARS + 100
    assert "caracteres más" in evidence["raw"]["packages"]


def test_escape_sequences_never_reach_the_evidence(policy: politica.Policy) -> None:
    raw = raw_of("endurecido")
    raw["sshd"] = raw["sshd"].replace("port 22", "port 22\x1b[31m")
    results = linux.evaluate_host(linux.Target("srv", "198.19.0.2"), raw, policy,
                                  observed_at=OBSERVED)  # fmt: skip
    # run() cleans what Ansible gives; evaluate_host keeps what it is given but messages are clean
    assert all("\x1b" not in r.message for r in results)


def _edit(variant: str, key: str, old: str, new: str) -> dict[str, str]:
    raw = raw_of(variant)
    assert old in raw[key]
    raw[key] = raw[key].replace(old, new)
    return raw


@pytest.mark.parametrize(("key", "old", "new", "check"), [
    ("sshd", "permitrootlogin no", "permitrootlogin without-password", "ssh_root_login"),
    ("sshd", "permitemptypasswords no", "permitemptypasswords yes", "ssh_password_auth"),
    ("sshd", "clientalivecountmax 3", "clientalivecountmax 0", "ssh_idle_timeout"),
    ("sshd", "clientaliveinterval 300", "clientaliveinterval 1800", "ssh_idle_timeout"),
    ("sshd", "macs hmac-sha2-512-etm@openssh.com", "macs hmac-md5,hmac-sha2-512-etm@openssh.com",
     "ssh_crypto"),
    ("time_sync", "^* 198.19.0.1", "^+ 198.19.0.1", "ntp_sync"),
    ("time_sync", "Leap status     : Normal", "Leap status     : Not synchronised", "ntp_sync"),
    ("time_sync", "^* 198.19.0.1", "^* 203.0.113.9", "ntp_sync"),
    ("syslog", "*.* @@198.19.0.1:514", "*.* @@203.0.113.9:514", "syslog_remote"),
    ("syslog", "*.* @@198.19.0.1:514", "# *.* @@198.19.0.1:514", "syslog_remote"),
    ("pam_password", "minlen=14", "minlen=8", "password_quality"),
    ("pam_password", "remember=5", "remember=2", "password_quality"),
    ("pam_auth", "deny = 5", "deny = 0", "account_lockout"),
    ("login_defs", "PASS_MAX_DAYS\t365", "PASS_MAX_DAYS\t400", "password_hashing"),
    ("login_defs", "ENCRYPT_METHOD SHA512", "ENCRYPT_METHOD MD5", "password_hashing"),
    ("shell_profile", "readonly TMOUT", "# readonly TMOUT", "shell_timeout"),
    ("audit_rules", "-w /etc/shadow -p wa", "-w /etc/shadowx -p wa", "auditd_rules"),
    ("audit_rules", "perm=x", "perm=w", "auditd_rules"),
    ("snmpd", "rouser authPrivUser", "rocommunity public default\nrouser authPrivUser",
     "monitoring_agent"),
    ("snmpd", "agentaddress udp:198.19.0.2:161", "agentaddress udp:127.0.0.1:161",
     "monitoring_agent"),
    ("firewall", '"policy": "drop"', '"policy": "accept"', "firewall_default_deny"),
    ("accounts", "nobody:LOCKED", "nobody:EMPTY", "unique_ids"),
    ("sudoers", "auditoria ALL=(ALL) NOPASSWD: ALL", "%sudo ALL=(ALL:ALL) NOPASSWD: ALL",
     "sudo_nopasswd"),
    ("setuid", "@@ setuid_files rc=0\n", "@@ setuid_files rc=0\n4755 root root /tmp/x\n",
     "setuid_baseline"),
    ("log_files", "@@ world_access rc=0\n", "@@ world_access rc=0\n666 root root /var/log/x\n",
     "log_permissions"),
    ("listening", "tcp LISTEN 0      128       0.0.0.0:22 ",
     "tcp LISTEN 0      128       0.0.0.0:23 ", "insecure_services"),
    ("packages", "snmpd ii ", "snmpd ii \ntelnetd ii ", "insecure_services"),
    ("capacity", "MemAvailable:", "MemAvailable:          1 kB\nX:", "disk_capacity"),
])  # fmt: skip
def test_one_change_turns_a_pass_into_a_fail(
    key: str, old: str, new: str, check: str, policy: politica.Policy
) -> None:
    assert evaluate(raw_of("endurecido"), policy)[check] == P
    assert evaluate(_edit("endurecido", key, old, new), policy)[check] == F


def test_an_old_account_that_never_logged_in_is_dormant(policy: politica.Policy) -> None:
    # cloudsdk has a login shell and never logged in; with a password it can log in
    raw = _edit("endurecido", "accounts", "cloudsdk:LOCKED:20263", "cloudsdk:HASH:20263")
    by_id = {r.check_id: r for r in linux.evaluate_host(
        linux.Target("srv", "198.19.0.2"), raw, policy, observed_at=OBSERVED)}  # fmt: skip
    assert by_id["dormant_accounts"].status == F
    assert "cloudsdk" in by_id["dormant_accounts"].message
    # the same account created 10 days ago (shadow's last change) is not dormant yet
    raw["accounts"] = raw["accounts"].replace("cloudsdk:HASH:20263", "cloudsdk:HASH:20778")
    assert evaluate(raw, policy)["dormant_accounts"] == P
    # a key is a way in too
    raw = _edit(
        "endurecido", "accounts", "@@ authorized_keys rc=0\n", "@@ authorized_keys rc=0\ncloudsdk\n"
    )
    assert evaluate(raw, policy)["dormant_accounts"] == F


def test_usb_storage_needs_one_active_rule(policy: politica.Policy) -> None:
    raw = _edit("endurecido", "modprobe", ":1:install", ":1:# install")
    assert evaluate(raw, policy)["usb_storage"] == P  # the blacklist line is enough
    raw["modprobe"] = raw["modprobe"].replace(":2:blacklist", ":2:# blacklist")
    assert evaluate(raw, policy)["usb_storage"] == F


def test_a_v4_only_firewall_passes_where_ipv6_is_disabled(policy: politica.Policy) -> None:
    raw = raw_of("debil")
    assert evaluate(raw, policy)["firewall_default_deny"] == F
    raw["firewall"] = raw["firewall"].replace("disable_ipv6 rc=0\n0", "disable_ipv6 rc=0\n1")
    assert evaluate(raw, policy)["firewall_default_deny"] == P


def test_a_host_role_approves_more_ports(tmp_path: Path) -> None:
    text = politica.default_path().read_text(encoding="utf-8")
    text = text.replace("# [listening.hosts]", '[listening.roles.web]\ntcp = [22, 8080]\n'
                        'udp = [161]\n\n[listening.hosts]\n"srv-web*" = "web"\n#')  # fmt: skip
    custom = politica.parse(text, "politica.toml")
    assert evaluate(raw_of("debil"), custom, "srv-db1")["listening_services"] == F
    assert evaluate(raw_of("debil"), custom, "srv-web1")["listening_services"] == P


def test_the_host_identity_for_the_manifest() -> None:
    got = linux.identity(raw_of("endurecido"))
    assert got["hostname"] and len(got["machine_id"] or "") == 32
    assert got["os_release"]["ID"] == "debian" and got["os_release"]["VERSION_ID"] == "12"
    assert linux.identity({}) == {"hostname": None, "machine_id": None, "os_release": {}}
