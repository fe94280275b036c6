"""red.limpieza: volatile lines and secrets out of a backup, keyed markers in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from red.limpieza import MARKER, CleaningError, clean_lines, load_key, marker, stored_text

KEY = b"k" * 32
RUNNING = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname gw-emb-ar
log syslog informational
password vtyS3creto
enable password en4ble secreto
enable secret 5 $1$abc$xyz
!
! Last configuration change at 10:01:02 UTC Tue Dec 1 2026
! NVRAM config last updated at 10:01:02 UTC Tue Dec 1 2026
interface eth0
 description enlace a sede central
 ip ospf authentication-key 0spfK3y
 ip ospf message-digest-key 1 md5 md5K3y
exit
!
key chain K
 key 1
  key-string cadena secreta
!
snmp-server community c0mun1dad RO
!
router bgp 4200000001
 neighbor 198.18.0.5 remote-as 65000
 neighbor 198.18.0.5 password bgpS3creto
 neighbor PEERS password 8 ENCRYPTED8
 neighbor 198.18.0.5 description sede-central
exit
!
line vty
 password 7 0822455D0A16
!
end
"""
SECRETS = ["vtyS3creto", "en4ble secreto", "$1$abc$xyz", "0spfK3y", "md5K3y",
           "cadena secreta", "c0mun1dad", "bgpS3creto", "ENCRYPTED8", "0822455D0A16"]  # fmt: skip


def test_every_secret_form_is_marked() -> None:
    text = "\n".join(clean_lines(RUNNING, "frr", KEY))
    for secret in SECRETS:
        assert secret not in text, secret
    assert f"password {marker(KEY, 'vtyS3creto')}" in text
    assert f"enable password {marker(KEY, 'en4ble secreto')}" in text
    assert f"enable secret 5 {marker(KEY, '$1$abc$xyz')}" in text
    assert f" neighbor 198.18.0.5 password {marker(KEY, 'bgpS3creto')}" in text
    assert f" neighbor PEERS password 8 {marker(KEY, 'ENCRYPTED8')}" in text  # type kept
    assert f" password 7 {marker(KEY, '0822455D0A16')}" in text
    assert f"snmp-server community {marker(KEY, 'c0mun1dad')} RO" in text
    assert f" ip ospf message-digest-key 1 md5 {marker(KEY, 'md5K3y')}" in text
    assert f"  key-string {marker(KEY, 'cadena secreta')}" in text
    assert len(MARKER.findall(text)) == len(SECRETS)
    assert " description enlace a sede central" in text and "hostname gw-emb-ar" in text


def test_volatile_lines_dropped_version_kept() -> None:
    lines = clean_lines(RUNNING, "frr", KEY)
    text = "\n".join(lines)
    assert "Building configuration" not in text and "Current configuration" not in text
    assert "Last configuration change" not in text and "NVRAM" not in text
    assert lines[0] == "!" and lines[1] == "frr version 8.4.4" and lines[-1] == "end"
    version = "FRRouting 8.4.4 (gw) on Linux(6.1).\r\nbgpd uptime is 1d02h03m\r\nup 3 days, 4 hours"
    header = clean_lines(version, "frr", KEY)
    assert header == ["FRRouting 8.4.4 (gw) on Linux(6.1)."]


def test_marker_stable_keyed_and_changes_with_secret() -> None:
    assert marker(KEY, "a") == marker(KEY, "a")
    assert marker(KEY, "a") != marker(KEY, "b")
    assert marker(KEY, "a") != marker(b"j" * 32, "a")
    assert MARKER.fullmatch(marker(KEY, "a"))
    once = clean_lines(RUNNING, "frr", KEY)
    assert clean_lines("\n".join(once), "frr", KEY) == once  # a marker is not re-marked


def test_stored_text_is_identical_between_runs_and_escapes_removed() -> None:
    v1 = "FRRouting 8.4.4 (gw).\nzebra uptime is 00:00:05"
    v2 = "FRRouting 8.4.4 (gw).\nzebra uptime is 03:10:05"
    a = stored_text("gw", "frr", v1, RUNNING, KEY)
    assert a == stored_text("gw", "frr", v2, RUNNING.replace("\n", "\r\n"), KEY)
    assert a.startswith("! gw (frr): show version\n! FRRouting 8.4.4 (gw).\n!\nfrr version")
    assert "\x1b" not in stored_text("gw", "frr", v1, "\x1b[31mhostname x\x1b[0m\nend", KEY)


def test_key_made_once_private(tmp_path: Path) -> None:
    path = tmp_path / "red" / "clave"
    key = load_key(path)
    assert len(key) == 32 and load_key(path) == key
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    os.chmod(path, 0o644)
    with pytest.raises(CleaningError, match="chmod 600"):
        load_key(path)


def test_end_of_output_is_the_prompt_alone_not_the_hostname() -> None:
    import re

    from red.respaldo import complete, prompt_pattern

    pattern = prompt_pattern("gw-cg-mad")
    partial = "show running-config\nBuilding configuration...\n!\nhostname gw-cg-mad"
    assert not re.search(pattern, partial)  # a read stopping here would truncate the config
    assert not re.search(pattern, partial + "\nlog syslog\ngw-cg-mad# show version")
    assert re.search(pattern, partial + "\n!\nend\ngw-cg-mad# ")
    assert re.search(pattern, "x\ngw-cg-mad>")
    # netmiko's cisco_ios keeps 16 characters of the prompt; vtysh shows the whole name
    long = prompt_pattern("gw-od-madre-de-d")
    assert re.search(long, "!\nend\ngw-od-madre-de-dios# ")
    assert not re.search(long, "hostname gw-od-madre-de-dios\n")
    assert complete("!\nend\n") and complete("hostname x\r\nend\r\n\r\n")
    assert not complete("hostname gw-cg-mad") and not complete("") and not complete("endpoint")
