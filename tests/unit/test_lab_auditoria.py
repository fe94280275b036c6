"""The audit hosts' plan: addresses, declared results, start scripts, credentials profile."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

from lab import auditoria, manage
from lab import auditoria_perfiles as perfiles
from pukara.secrets import read_credentials_file

ROOT = Path(__file__).resolve().parents[2]


def test_at_least_six_hosts_each_with_its_own_addresses() -> None:
    hosts = auditoria.HOSTS
    assert len(hosts) >= 6
    assert len({h.code for h in hosts}) == len({h.name for h in hosts}) == len(hosts)
    nets = set()
    for h in hosts:
        assert h.v4 in auditoria.NET_V4 and h.v4_machine in auditoria.NET_V4
        assert int(h.v4) == int(h.v4_machine) + 1 and int(h.v4_machine) % 4 == 1
        assert str(h.v6_net) == f"fd70:756b:6172:a0{h.index:02d}::/64"
        nets.add(int(h.v4) // 4)
    assert len(nets) == len(hosts)
    assert auditoria.NTP_SERVER not in {str(h.v4) for h in hosts}
    profiles = {h.profile for h in hosts}
    assert {"endurecido", "debian"} <= profiles
    assert {h.firewall for h in hosts} == {"inet", "ip-only", "none"}
    assert any(not h.ipv6 for h in hosts) and any(h.v4_only_listener for h in hosts)


def test_expected_covers_every_linux_check_on_every_host() -> None:
    expected = auditoria.expected()
    assert len(auditoria.LINUX_CHECKS) == 27
    for h in auditoria.HOSTS:
        for check in auditoria.LINUX_CHECKS:
            assert expected[(h.name, check)] in {"pass", "fail", "not-applicable"}, (h, check)
    assert len(expected) == len(auditoria.HOSTS) * 27
    with auditoria.EXPECTED_CSV.open(newline="") as fh:
        assert all(row["why"].strip() for row in csv.DictReader(fh))
    # the hardened host passes everything; each declared weakness fails its check
    assert all(expected[("srv-aud1", c)] == "pass" for c in auditoria.LINUX_CHECKS)
    for h in auditoria.HOSTS:
        firewall = expected[(h.name, "firewall_default_deny")]
        assert firewall == ("pass" if h.firewall == "inet" else "fail"), h.code
    assert expected[("srv-aud3", "uid0_only_root")] == "fail"
    assert expected[("srv-aud5", "security_updates")] == "fail"
    assert expected[("srv-aud4", "ntp_sync")] == "fail"


def test_example_inventory_lists_the_hosts_in_lima_with_an_owner() -> None:
    with (ROOT / "inventario" / "ejemplo" / "activos.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_name = {r["name"]: r for r in rows}
    for h in auditoria.HOSTS:
        row = by_name[h.name]
        assert row["site"] == "lima" and row["custodian"] and row["mgmt_ipv4"] == str(h.v4)
        assert row["credential_profile"] == "auditoria"
    ours = {str(h.v4) for h in auditoria.HOSTS}
    others = [r["name"] for r in rows if r["mgmt_ipv4"] in ours and r["name"] not in by_name]
    assert not others
    assert sum(r["mgmt_ipv4"] in ours for r in rows) == len(ours)


def test_start_scripts_are_valid_shell_and_apply_the_profile() -> None:
    for h in auditoria.HOSTS:
        script = perfiles.start_script(
            h.code, h.name, h.profile, ipv6=h.ipv6, v4_only_listener=h.v4_only_listener,
            collector=auditoria.SYSLOG_COLLECTOR, ntp_server=auditoria.NTP_SERVER,
            snmp_user_line='createUser u SHA "a" AES "p"',
        )  # fmt: skip
        done = subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True)
        assert done.returncode == 0, (h.code, done.stderr)
        assert script.rstrip().endswith("exec sleep infinity")
        assert perfiles.SUDOERS_DROPIN in script and "/usr/sbin/sshd" in script
        assert ("PermitRootLogin no" in script) == (h.profile != "debian")
    init = subprocess.run(["sh", "-n", "-c", auditoria.INIT_SCRIPT], capture_output=True)
    assert init.returncode == 0


def test_nft_rules_per_firewall_kind() -> None:
    by = {h.firewall: h for h in auditoria.HOSTS}
    assert "table inet filtro" in auditoria.nft_rules(by["inet"])
    assert "policy drop" in auditoria.nft_rules(by["inet"])
    assert "table ip filtro" in auditoria.nft_rules(by["ip-only"])
    assert auditoria.nft_rules(by["none"]) == ""


def test_credentials_file_has_the_auditoria_profile(tmp_path: Path) -> None:
    lab = manage.Lab(tmp_path / "estado")
    lab.state_dir.mkdir()
    manage.ensure_credentials(lab)
    profiles = read_credentials_file(lab.credentials_file)
    prof = profiles["auditoria"]
    assert prof["username"] == auditoria.SERVICE_ACCOUNT
    assert prof["key_file"] == str(lab.key)
    assert prof["known_hosts"] == str(auditoria.known_hosts_file(lab))
    assert "lab" in profiles and "red" in profiles
