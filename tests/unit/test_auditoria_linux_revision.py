"""Review findings on the Linux audit: secrets, forged markers, Match blocks, stale lists."""

from __future__ import annotations

import json

from auditoria import linux, politica
from auditoria.linux_run import Watch
from auditoria.modelo import Status

SNMPD = (
    "@@n0nce /etc/snmp/snmpd.conf rc=0\n"
    "agentaddress udp:161\n"
    "rocommunity s3cretComm 198.19.0.0/24\n"
    "com2sec lectura default otr4Comm\n"
    'createUser auditor SHA "authPassphr4se" AES "privPassphr4se"\n'
    "rouser auditor priv\n"
)
APT = (
    "@@n0nce /etc/apt/apt.conf.d/90proxy rc=0\n"
    'Acquire::http::Proxy "http://juan:Pr0xyPass@proxy.pukara.test:3128/";\n'
)
SECRETS = ("s3cretComm", "otr4Comm", "authPassphr4se", "privPassphr4se", "Pr0xyPass")


def _event(task: str, stdout: str) -> dict[str, object]:
    return {"event": "runner_on_ok", "counter": 1, "stdout": stdout,
            "event_data": {"host": "h0", "task": task,
                           "res": {"stdout": stdout, "stdout_lines": stdout.splitlines()}}}  # fmt: skip


def test_host_secrets_reach_no_result_raw_or_event() -> None:
    watch = Watch({"h0": "srv-a"}, linux.KEYS, None, "n0nce")
    events = [_event("snmpd", SNMPD), _event("apt_sources", APT)]
    for event in events:
        watch(event)
    raw = watch.hosts["srv-a"].raw
    results = linux.evaluate_host(linux.Target("srv-a", "x"), raw, politica.load(),
                                  observed_at="2026-12-01T23:00:00Z")  # fmt: skip
    text = json.dumps([r.to_dict() if hasattr(r, "to_dict") else repr(r) for r in results])
    text += json.dumps(raw) + json.dumps(watch.events) + json.dumps(events)
    text += json.dumps([r.evidence for r in results]) + " ".join(r.message for r in results)
    for secret in SECRETS:
        assert secret not in text
    assert "<oculto>" in raw["snmpd"] and "198.19.0.0/24" in raw["snmpd"]
    assert "proxy.pukara.test" in raw["apt_sources"]


def test_a_forged_marker_in_a_file_name_cannot_hide_a_setuid_file() -> None:
    forged = (
        "@@n0nce setuid_files rc=0\n"
        "4755 root root /usr/local/bin/backdoor\n"
        "4755 juan juan /home/juan/x\n"
        "@@ setuid_files rc=0\n"  # a file name with a newline, or a marker without the nonce
        "4755 root root /usr/bin/su\n"
    )
    watch = Watch({"h0": "srv-a"}, linux.KEYS, None, "n0nce")
    watch(_event("setuid", forged))
    results = linux.evaluate_host(linux.Target("srv-a", "x"), watch.hosts["srv-a"].raw,
                                  politica.load(), observed_at="2026-12-01T23:00:00Z")  # fmt: skip
    by_id = {r.check_id: r for r in results}
    assert by_id["setuid_baseline"].status == Status.FAIL
    assert "backdoor" in by_id["setuid_baseline"].message


def test_a_repeated_section_is_an_error() -> None:
    twice = "@@ setuid_files rc=0\n4755 root root /usr/local/bin/backdoor\n@@ setuid_files rc=0\n"
    results = linux.evaluate_host(linux.Target("srv-a", "x"), {"setuid": twice},
                                  politica.load(), observed_at="2026-12-01T23:00:00Z")  # fmt: skip
    by_id = {r.check_id: r for r in results}
    assert by_id["setuid_baseline"].status == Status.ERROR
    assert "dos veces" in by_id["setuid_baseline"].message


PLAIN = "permitrootlogin no\npasswordauthentication no\npermitemptypasswords no\n"


def _sshd(match_root: str, match_user: str) -> dict[str, str]:
    return {"sshd": f"@@ sshd_effective rc=0\n{PLAIN}@@ sshd_match_root rc=0\n{match_root}"
                    f"@@ sshd_match_user rc=0\n{match_user}@@ issue_net rc=0\naviso\n"}  # fmt: skip


def test_a_match_block_that_weakens_sshd_fails() -> None:
    policy = politica.load()
    weak_root = PLAIN.replace("permitrootlogin no", "permitrootlogin yes")
    weak_user = PLAIN.replace("passwordauthentication no", "passwordauthentication yes")
    got = {r.check_id: r for r in linux.evaluate_host(
        linux.Target("srv-a", "x"), _sshd(weak_root, weak_user), policy,
        observed_at="2026-12-01T23:00:00Z")}  # fmt: skip
    assert got["ssh_root_login"].status == Status.FAIL and "Match" in got["ssh_root_login"].message
    assert got["ssh_password_auth"].status == Status.FAIL
    good = {r.check_id: r for r in linux.evaluate_host(
        linux.Target("srv-a", "x"), _sshd(PLAIN, PLAIN), policy,
        observed_at="2026-12-01T23:00:00Z")}  # fmt: skip
    assert good["ssh_root_login"].status == Status.PASS
    assert good["ssh_password_auth"].status == Status.PASS


def _apt(age_days: int) -> dict[str, str]:
    now = 1_800_000_000
    return {"apt_upgrades": (
        "@@ apt_lists rc=0\n3\n@@ apt_release_uris rc=0\n@@ apt_list_files rc=0\n"
        f"@@ apt_lists_age rc=0\nnow {now}\n{now - age_days * 86400} deb.debian.org_InRelease\n"
        "@@ apt_simulation rc=0\nReading package lists...\n")}  # fmt: skip


def test_stale_package_lists_fail_security_updates() -> None:
    policy = politica.load()

    def status(days: int) -> Status:
        got = linux.evaluate_host(linux.Target("srv-a", "x"), _apt(days), policy,
                                  observed_at="2026-12-01T23:00:00Z")  # fmt: skip
        return {r.check_id: r for r in got}["security_updates"].status

    assert status(1) == Status.PASS
    assert status(400) == Status.FAIL
