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
    header = clean_lines(version, "frr", KEY, header=True)
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


def test_configuration_lines_with_volatile_words_are_kept() -> None:
    running = (
        "Building configuration...\nCurrent configuration : 1234 bytes\n!\n"
        "! Last configuration change at 10:01:02 UTC Tue Dec 1 2026\n"
        "interface wan0\n description enlace uptime-critico\n"
        " description up 3 days sin cortes\nexit\n!\n"
        "route-map RM-UPTIME permit 10\n match ip address prefix-list PL-X\nexit\n"
        "2026-12-01 10:00:00 no es una orden, pero no se borra\n"
        "hostname Building configuration\n"
        "! Time: 10:00\n"
        "end"
    )
    lines = clean_lines(running, "frr", KEY)
    assert lines == [
        "!",
        "interface wan0",
        " description enlace uptime-critico",
        " description up 3 days sin cortes",
        "exit",
        "!",
        "route-map RM-UPTIME permit 10",
        " match ip address prefix-list PL-X",
        "exit",
        "2026-12-01 10:00:00 no es una orden, pero no se borra",
        "hostname Building configuration",
        "end",
    ]
    # the header keeps what is not an uptime or a timestamp
    version = "FRRouting 8.4.4 (gw-uptime-1).\nrouter uptime is 3 days\n2026-12-01 10:00:00 x"
    assert clean_lines(version, "frr", KEY, header=True) == ["FRRouting 8.4.4 (gw-uptime-1)."]


# (line, the secrets it holds, what must remain around the marker(s))
SECRET_FORMS = [
    ("ipv6 ospf6 authentication key-id 1 hash-algo hmac-sha-256 key S3CR3T", ["S3CR3T"],
     "ipv6 ospf6 authentication key-id 1 hash-algo hmac-sha-256 key {0}"),
    (" ip rip authentication string RIPSECRET", ["RIPSECRET"], " ip rip authentication string {0}"),
    (" ip ospf authentication-key 0spfK3y", ["0spfK3y"], " ip ospf authentication-key {0}"),
    (" ip ospf message-digest-key 1 md5 md5K3y", ["md5K3y"],
     " ip ospf message-digest-key 1 md5 {0}"),
    ("  key-string cadena secreta", ["cadena secreta"], "  key-string {0}"),
    (" neighbor 198.18.0.5 password bgpS3c", ["bgpS3c"], " neighbor 198.18.0.5 password {0}"),
    (" neighbor G password 7 0822455D", ["0822455D"], " neighbor G password 7 {0}"),
    (" neighbor G password 8 ENC8", ["ENC8"], " neighbor G password 8 {0}"),
    ("username ana secret 5 $1$mERr$hx5", ["$1$mERr$hx5"], "username ana secret 5 {0}"),
    ("username ana privilege 15 secret 9 $9$nhEm", ["$9$nhEm"],
     "username ana privilege 15 secret 9 {0}"),
    ("username ana password 0 Claro1", ["Claro1"], "username ana password 0 {0}"),
    ("username ana password Claro2", ["Claro2"], "username ana password {0}"),
    ("tacacs-server key 7 TacK3y", ["TacK3y"], "tacacs-server key 7 {0}"),
    ("tacacs-server host 198.18.0.9 key TacK4y", ["TacK4y"], "tacacs-server host 198.18.0.9 key {0}"),
    ("radius-server host 198.18.0.9 auth-port 1812 key 0 RadK3y", ["RadK3y"],
     "radius-server host 198.18.0.9 auth-port 1812 key 0 {0}"),
    ("radius-server key RadK4y", ["RadK4y"], "radius-server key {0}"),
    ("crypto isakmp key IsaK3y address 198.18.0.9", ["IsaK3y"],
     "crypto isakmp key {0} address 198.18.0.9"),
    (" pre-shared-key local PskL0cal", ["PskL0cal"], " pre-shared-key local {0}"),
    (" pre-shared-key PskR3mote", ["PskR3mote"], " pre-shared-key {0}"),
    ("snmp-server community c0mun1dad RO", ["c0mun1dad"], "snmp-server community {0} RO"),
    ("snmp-server user ana G v3 auth sha AuthS3c priv aes 128 PrivS3c", ["AuthS3c", "PrivS3c"],
     "snmp-server user ana G v3 auth sha {0} priv aes 128 {1}"),
    ("snmp-server user ana G v3 auth md5 AuthM5", ["AuthM5"], "snmp-server user ana G v3 auth md5 {0}"),
    ("enable secret level 15 5 $1$lvl", ["$1$lvl"], "enable secret level 15 5 {0}"),
    # forms no specific rule knows: the fail-closed guard masks what follows the keyword
    (" isis password clear IsisS3c", ["IsisS3c"], " isis password clear {0}"),
    (" area-password md5 AreaS3c", ["AreaS3c"], " area-password md5 {0}"),
    ("ntp authentication-key 1 md5 NtpS3c", ["md5 NtpS3c"], "ntp authentication-key 1 {0}"),
    ("some-new-feature secret N3w", ["N3w"], "some-new-feature secret {0}"),
    ("ldap server x bind key L4p", ["L4p"], "ldap server x bind key {0}"),
]  # fmt: skip
NOT_SECRETS = [
    "key chain K",
    " key 1",
    " ip rip authentication key-chain K",
    " ip rip authentication mode md5",
    " set community 65000:1 additive",
    " match community CL-1",
    "bgp community-list standard CL-1 permit 65000:1",
    " neighbor 198.18.0.5 send-community",
    "no service password-encryption",
    " description enlace a sede central",
]


@pytest.mark.parametrize(("line", "values", "shape"), SECRET_FORMS)
def test_secret_form_table(line: str, values: list[str], shape: str) -> None:
    (out,) = clean_lines(line, "frr", KEY)
    for value in values:
        assert value not in out, out
    assert out == shape.format(*(marker(KEY, v) for v in values))
    assert clean_lines(out, "frr", KEY) == [out]  # idempotent: a marker is not re-marked


@pytest.mark.parametrize("line", NOT_SECRETS)
def test_keywords_that_name_no_secret_are_kept(line: str) -> None:
    assert clean_lines(f"x\n{line}", "frr", KEY) == ["x", line]


def test_marker_is_keyed_on_the_value_only() -> None:
    # the same password on two devices or lines gives the same marker: reuse stays visible
    a = clean_lines("password Igual1\n neighbor A password Igual1", "frr", KEY)
    assert a == [
        f"password {marker(KEY, 'Igual1')}",
        f" neighbor A password {marker(KEY, 'Igual1')}",
    ]


def test_mask_secrets_keeps_every_line_in_place() -> None:
    from red.limpieza import mask_secrets

    masked = mask_secrets(RUNNING, "frr", KEY).split("\n")
    assert len(masked) == len(RUNNING.split("\n"))
    assert masked[0] == "Building configuration..."  # nothing dropped: line numbers hold
    for secret in SECRETS:
        assert secret not in "\n".join(masked), secret


def test_a_key_being_made_is_never_seen_empty(tmp_path: Path) -> None:
    """Two first runs racing, or one that dies mid-write, never leave an empty key."""
    import threading

    from red.limpieza import KEY_BYTES, load_key

    path = tmp_path / "red" / "clave-secretos"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_key(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == KEY_BYTES
    assert [p.name for p in path.parent.iterdir()] == ["clave-secretos"]
    assert path.stat().st_mode & 0o777 == 0o600
