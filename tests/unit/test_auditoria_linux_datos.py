"""The Linux checks' metadata and the playbook's shape (read-only, one task per raw key)."""

from __future__ import annotations

import re

import yaml

from auditoria import linux
from auditoria.modelo import Kind, Relation
from pukara.ansible import playbook_file

# the agreed ids and controls (briefs/auditoria-layout.md): id -> (2013 ; 2022)
AGREED = {
    "ntp_sync": ({"A.12.4.4"}, {"A.8.17"}),
    "syslog_remote": ({"A.12.4.1"}, {"A.8.15"}),
    "log_permissions": ({"A.12.4.2"}, {"A.8.15"}),
    "auditd_rules": ({"A.12.4.3"}, {"A.8.15"}),
    "password_quality": ({"A.9.4.3"}, {"A.5.17"}),
    "password_hashing": ({"A.9.4.3"}, {"A.5.17"}),
    "account_lockout": ({"A.9.4.2"}, {"A.8.5"}),
    "ssh_root_login": ({"A.9.4.2", "A.9.2.3"}, {"A.8.5", "A.8.2"}),
    "ssh_password_auth": ({"A.9.4.2"}, {"A.8.5"}),
    "ssh_crypto": ({"A.10.1.1"}, {"A.8.24"}),
    "ssh_idle_timeout": ({"A.11.2.8", "A.9.4.2"}, {"A.8.1", "A.8.5"}),
    "shell_timeout": ({"A.11.2.8"}, {"A.8.1"}),
    "login_banner": ({"A.9.4.2"}, {"A.8.5"}),
    "unique_ids": ({"A.9.2.1"}, {"A.5.16"}),
    "uid0_only_root": ({"A.9.2.3"}, {"A.8.2"}),
    "sudo_nopasswd": ({"A.9.2.3"}, {"A.8.2"}),
    "dormant_accounts": ({"A.9.2.5", "A.9.2.6"}, {"A.5.18"}),
    "setuid_baseline": ({"A.9.4.4"}, {"A.8.18"}),
    "world_writable_etc": ({"A.9.4.1"}, {"A.8.3"}),
    "security_updates": ({"A.12.6.1"}, {"A.8.8"}),
    "apt_signed_sources": ({"A.12.5.1", "A.12.6.2"}, {"A.8.19"}),
    "firewall_default_deny": ({"A.13.1.1"}, {"A.8.20"}),
    "listening_services": ({"A.13.1.2"}, {"A.8.21"}),
    "insecure_services": ({"A.13.1.2"}, {"A.8.21"}),
    "usb_storage": ({"A.8.3.1"}, {"A.7.10"}),
    "monitoring_agent": ({"A.12.4.1"}, {"A.8.16"}),
    "disk_capacity": ({"A.12.1.3"}, {"A.8.6"}),
}


def test_every_agreed_check_has_its_controls_in_both_editions() -> None:
    checks = linux.load_checks()
    assert list(checks) == list(AGREED) == list(linux.EVALUATORS)
    for check_id, (c2013, c2022) in AGREED.items():
        check = checks[check_id]
        assert check.kind == Kind.LINUX and check.title and check.valid_days > 0
        assert set(check.controls("2013")) == c2013, check_id
        assert set(check.controls("2022")) == c2022, check_id
        for edition in ("2013", "2022"):
            assert len(check.controls(edition)) <= 3
        assert all(link.rationale and "\n" not in link.rationale for link in check.links)
    banner = checks["login_banner"].links
    assert {link.relation for link in banner} == {Relation.PARTIALLY_SUPPORTS}
    agent = [x for x in checks["monitoring_agent"].links if x.edition == "2013"]
    assert [x.relation for x in agent] == [Relation.PARTIALLY_SUPPORTS]


def playbook() -> list[dict[str, object]]:
    plays = yaml.safe_load(playbook_file(linux.PLAYBOOK).read_text(encoding="utf-8"))
    assert len(plays) == 1
    play = plays[0]
    assert play["become"] is True and play["gather_facts"] is False
    return list(play["tasks"])


def test_one_task_per_raw_key_each_read_only_and_never_stopping_the_host() -> None:
    tasks = playbook()
    assert sorted(str(t["name"]) for t in tasks) == sorted(linux.KEYS)
    for task in tasks:
        assert task["changed_when"] is False and task["failed_when"] is False, task["name"]
        assert task["check_mode"] is False
        script = str(task["ansible.builtin.shell"])
        # nothing from the inventory is pasted into a shell line: only the prelude and ints
        for expression in re.findall(r"{{(.*?)}}", script):
            assert expression.strip() in ("pk", "pukara_dormant_days | default(90) | int")


def test_the_commands_change_nothing() -> None:
    text = playbook_file(linux.PLAYBOOK).read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for word in (" rm ", " mv ", " cp ", "chmod", "chown", "sed -i", "tee ", " > /", ">> ",
                 "apt-get install", "systemctl", "modprobe ", "nft add",
                 "nft flush", "useradd", "usermod", "chpasswd"):  # fmt: skip
        assert word not in code, word
    assert "apt-get -s" in code and "Debug::NoLocking=true" in code
    # «update» only to print what it would fetch (each source's Release file), unlocked
    updates = re.findall(r"apt-get update[^\n]*", code)
    assert updates and all(u.startswith("apt-get update --print-uris") for u in updates)
    assert all("Debug::NoLocking=true" in u for u in updates)
    assert "Dir::Cache::pkgcache=" in code  # apt's binary caches are not rewritten
