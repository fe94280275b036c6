"""ECS classification of syslog lines (research logs.md §6.2-6.3) and the event document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pukara.events import get_field
from registros import ecs
from registros.hosts import Directory

NOW = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def ev(line: str | bytes, **kw: Any) -> dict[str, Any]:
    raw = line.encode() if isinstance(line, str) else line
    return ecs.event(raw, received=NOW, **kw)


def f(doc: dict[str, Any], dotted: str) -> Any:
    return get_field(doc, dotted)


SSHD = "<38>Dec  1 08:01:02 srv1 sshd[1234]: "


@pytest.mark.parametrize(
    ("message", "outcome", "user", "ip", "port", "category"),
    [
        ("Accepted publickey for alice from 2001:db8::7 port 50022 ssh2: ED25519 SHA256:x",
         "success", "alice", "2001:db8::7", 50022, ["authentication", "session"]),
        ("Accepted password for bob from 198.51.100.8 port 2222 ssh2",
         "success", "bob", "198.51.100.8", 2222, ["authentication", "session"]),
        ("Failed password for root from 198.51.100.7 port 51234 ssh2",
         "failure", "root", "198.51.100.7", 51234, ["authentication"]),
        ("Failed password for invalid user admin from 198.51.100.7 port 51234 ssh2",
         "failure", "admin", "198.51.100.7", 51234, ["authentication"]),
        ("Invalid user oracle from 198.51.100.9 port 40000",
         "failure", "oracle", "198.51.100.9", 40000, ["authentication"]),
        ("error: maximum authentication attempts exceeded for root from 198.51.100.7 port 22 ssh2"
         " [preauth]", "failure", "root", "198.51.100.7", 22, ["authentication"]),
        ("Connection closed by authenticating user root 198.51.100.7 port 22 [preauth]",
         "failure", "root", "198.51.100.7", 22, ["authentication"]),
    ],
)  # fmt: skip
def test_sshd(
    message: str, outcome: str, user: str, ip: str, port: int, category: list[str]
) -> None:
    d = ev(SSHD + message, sender=("198.18.1.2", 514))
    assert f(d, "event.action") == "ssh_login" and f(d, "event.outcome") == outcome
    assert f(d, "event.category") == category and f(d, "event.type") == ["info"]
    assert f(d, "user.name") == user and f(d, "source.ip") == ip and f(d, "source.port") == port
    assert f(d, "related.user") == [user] and f(d, "related.ip") == [ip]
    assert f(d, "log.source.address") == "198.18.1.2"  # the sender is not the remote party
    assert f(d, "event.kind") == "event" and f(d, "event.module") == "registros"
    assert f(d, "event.dataset") == "registros.syslog"


def test_source_ip_is_parsed_not_pasted() -> None:
    d = ev(SSHD + "Failed password for root from attacker.example port 22 ssh2")
    assert f(d, "source.ip") is None and f(d, "source.domain") == "attacker.example"
    d = ev(SSHD + "Failed password for root from 999.1.1.1 port 22 ssh2")
    assert f(d, "source.ip") is None
    d = ev(SSHD + "Accepted password for a from ::ffff:198.51.100.4 port 22 ssh2")
    assert f(d, "source.ip") == "198.51.100.4"


SUDO = "<85>Dec  1 08:00:00 srv1 sudo: "


def test_sudo_command_and_failures() -> None:
    d = ev(SUDO + "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u")
    assert (f(d, "event.action"), f(d, "event.outcome")) == ("sudo", "success")
    assert f(d, "user.name") == "alice" and f(d, "user.effective.name") == "root"
    assert f(d, "process.command_line") == "/usr/bin/id -u"
    assert f(d, "related.user") == ["alice", "root"]
    d = ev(SUDO + "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; "
           "USER=root ; COMMAND=/bin/ls")  # fmt: skip
    assert f(d, "event.outcome") == "failure" and "authentication" in f(d, "event.category")
    d = ev(
        SUDO + "mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh"
    )
    assert f(d, "event.outcome") == "failure" and f(d, "user.name") == "mallory"
    d = ev(SUDO + "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 "
           "tty=/dev/pts/0 ruser=alice rhost=  user=alice")  # fmt: skip
    assert (f(d, "event.action"), f(d, "event.outcome")) == ("sudo_auth", "failure")
    assert f(d, "user.name") == "alice"


def test_su() -> None:
    d = ev("<86>Dec  1 08:00:00 srv1 su[77]: (to root) alice on pts/0")
    assert (f(d, "event.action"), f(d, "event.outcome")) == ("su", "success")
    assert f(d, "user.effective.name") == "root"
    d = ev("<86>Dec  1 08:00:00 srv1 su[77]: FAILED SU (to root) alice on pts/0")
    assert f(d, "event.outcome") == "failure"
    d = ev("<86>Dec  1 08:00:00 srv1 su[77]: pam_unix(su:session): session opened for user "
           "root(uid=0) by alice(uid=1000)")  # fmt: skip
    assert f(d, "event.type") == ["start"] and f(d, "user.name") == "root"


def test_useradd_uid_0_and_usermod() -> None:
    d = ev("<86>Dec  1 08:00:00 srv1 useradd[99]: new user: name=mallory, UID=0, GID=0, "
           "home=/root, shell=/bin/bash, from=/dev/pts/0")  # fmt: skip
    assert f(d, "event.category") == ["iam"] and f(d, "event.type") == ["user", "creation"]
    assert f(d, "user.name") == "mallory" and f(d, "user.id") == "0"
    assert "registros_uid_0" in d["tags"]
    d = ev("<86>Dec  1 08:00:00 srv1 useradd[99]: new user: name=bob, UID=1001, GID=1001, "
           "home=/home/bob, shell=/bin/bash, from=none")  # fmt: skip
    assert "tags" not in d
    d = ev("<86>Dec  1 08:00:00 srv1 usermod[5]: change user 'bob' UID from '1001' to '0'")
    assert f(d, "event.type") == ["user", "change"] and "registros_uid_0" in d["tags"]
    d = ev("<86>Dec  1 08:00:00 srv1 usermod[5]: add 'bob' to group 'sudo'")
    assert f(d, "group.name") == "sudo" and f(d, "event.action") == "user_added_to_group"
    d = ev("<86>Dec  1 08:00:00 srv1 userdel[5]: delete user 'bob'")
    assert f(d, "event.type") == ["user", "deletion"]


def test_cron() -> None:
    d = ev("<78>Dec  1 08:00:00 srv1 CRON[99]: (root) CMD (run-parts /etc/cron.hourly)")
    assert f(d, "event.action") == "cron_command" and f(d, "user.name") == "root"
    assert f(d, "process.command_line") == "run-parts /etc/cron.hourly"


def test_nftables_drop_and_accept() -> None:
    d = ev("<4>Dec  1 08:00:00 fw1 kernel: [12345.678] pukara-drop: IN=eth0 OUT= MAC=00:11 "
           "SRC=198.51.100.7 DST=198.18.0.5 LEN=60 TOS=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=51234 "
           "DPT=22 WINDOW=64240 SYN URGP=0")  # fmt: skip
    assert f(d, "event.category") == ["network"] and f(d, "event.type") == ["connection", "denied"]
    assert f(d, "source.ip") == "198.51.100.7" and f(d, "destination.port") == 22
    assert f(d, "network.transport") == "tcp" and f(d, "observer.ingress.interface.name") == "eth0"
    assert f(d, "rule.name") == "pukara-drop" and f(d, "observer.type") == "firewall"
    d = ev("<4>Dec  1 08:00:00 fw1 kernel: ACCEPT-SSH IN=eth1 OUT=eth0 SRC=2001:db8::1 "
           "DST=2001:db8::2 LEN=80 PROTO=UDP SPT=5353 DPT=53")  # fmt: skip
    assert f(d, "event.type") == ["connection", "allowed"] and f(d, "network.type") == "ipv6"
    d = ev("<6>Dec  1 08:00:00 fw1 kernel: [ 1.0] eth0: link up")
    assert f(d, "event.category") == ["host"]


def test_fortigate_deny() -> None:
    d = ev('<189>date=2026-12-01 time=10:00:00 devname="FGT1" srcip=198.51.100.7 srcport=5 '
           'dstip=198.18.0.5 dstport=22 action="deny" policyid=7 proto=6')  # fmt: skip
    assert f(d, "event.type") == ["connection", "denied"] and f(d, "destination.port") == 22
    assert f(d, "rule.id") == "7" and f(d, "host.name") == "FGT1"


def test_document_fields_and_timestamps() -> None:
    raw = b"<13>1 2026-11-30T10:00:00Z host app - - - hello"
    d = ev(raw, sender=("127.0.0.1", 40000))
    assert d["event"]["original"] == raw.decode()
    assert d["@timestamp"] == "2026-11-30T10:00:00.000000Z"
    assert d["event"]["created"] == "2026-12-01T13:00:00.000000Z"
    assert f(d, "source.ip") == "127.0.0.1" and f(d, "source.port") == 40000
    assert len(d["event"]["id"]) == 36 and d["event"]["id"] != ev(raw)["event"]["id"]
    d = ev(b"no header at all")
    assert d["@timestamp"] == d["event"]["created"] and "registros_parse_failure" in d["tags"]
    assert d["error"]["message"] and d["event"]["original"] == "no header at all"


def test_host_resolved_to_asset_site_and_zone() -> None:
    directory = Directory.from_rows(
        [{"name": "lima-fw1", "site": "lim", "mgmt_ipv4": "198.18.1.1"},
         {"name": "bog-sw1", "site": "bog", "mgmt_ipv6": "fd70:756b:6172:2::1"},
         {"name": "old", "site": "lim", "mgmt_ipv4": "198.18.1.9", "status": "dado_de_baja"}],
        [{"code": "lim", "timezone": "America/Lima"}, {"code": "bog", "timezone": "Bad/Zone"}],
    )  # fmt: skip
    line = b"<13>Dec  1 08:00:00 LIMA-FW1.cancilleria.test app: x"
    d = ev(line, resolve=directory.resolve)
    assert f(d, "host.name") == "lima-fw1" and f(d, "labels.site") == "lim"
    assert d["@timestamp"] == "2026-12-01T13:00:00.000000Z"  # 08:00 in Lima
    d = ev(b"<13>Dec  1 08:00:00 unknown app: x", sender=("fd70:756b:6172:2::1", 514),
           resolve=directory.resolve)  # fmt: skip
    assert f(d, "host.name") == "bog-sw1" and d["@timestamp"] == "2026-12-01T08:00:00.000000Z"
    d = ev(b"<13>Dec  1 08:00:00 old app: x", sender=("198.18.1.9", 514), resolve=directory.resolve)
    assert f(d, "host.name") == "old" and "labels" not in d  # retired: not resolved
    d = ev(b"<13>Dec  1 08:00:00 x app: y", site="lim")
    assert f(d, "labels.site") == "lim"
    by_hostname_address = directory.resolve("198.18.1.1", None)
    assert by_hostname_address is not None and by_hostname_address[:2] == ("lima-fw1", "lim")


@pytest.mark.parametrize("app", ["sshd", "sudo", "su", "kernel", "useradd", "CRON", "app"])
@pytest.mark.parametrize("fill", ["x", " ", "= ", "a=1 ", "SRC=1 IN= ", "pam_unix(a:auth): "])
def test_oversized_lines_are_read_in_linear_time(app: str, fill: str) -> None:
    import time

    line = f"<13>Dec  1 08:00:00 h {app}[1]: ".encode() + fill.encode() * (70000 // len(fill))
    start = time.process_time()  # CPU time: a busy shared machine does not make it fail
    d = ev(line)
    assert time.process_time() - start < 2.0  # quadratic work on 70 kB takes minutes
    assert "registros_truncado" in d["tags"]


@pytest.mark.parametrize(
    "line",
    [
        "<34>1 0001-01-01T00:00:00+05:00 h app - - - hola",  # UTC before year 1: OverflowError
        "<34>1 9999-12-31T23:59:59-05:00 h app - - - hola",  # UTC after 9999
        "<34>1 1969-12-31T23:00:00Z h app - - - hola",  # before 1970 (date_nanos)
        "<34>1 2262-04-12T00:00:00Z h app - - - hola",  # after 2262
        "<34>0001-01-01T00:00:00+05:00 h app: hola",  # RFC 3164 with an ISO date
        "<13>date=1969-12-31 time=23:59:59 devname=fw1 tz=+99:99 action=deny",
    ],
)
def test_a_date_out_of_range_takes_the_receive_time_and_keeps_the_original(line: str) -> None:
    doc = ev(line)
    assert doc["@timestamp"] == "2026-12-01T13:00:00.000000Z"
    assert "registros_fecha_invalida" in doc["tags"]
    assert doc["event"]["original"] == line


def test_extreme_dates_are_tagged_and_the_message_still_read() -> None:
    doc = ev("<34>1 9999-12-31T23:59:59-05:00 h app - - - hola")
    assert "registros_fecha_invalida" in doc["tags"]
    assert doc["message"] == "hola" and doc["host"]["name"] == "h"
    ok = ev("<34>1 1970-01-01T00:00:00Z h app - - - hola")
    assert ok["@timestamp"] == "1970-01-01T00:00:00.000000Z" and "tags" not in ok


def test_a_defect_while_reading_a_line_is_a_parse_failure_not_an_exception() -> None:
    def resolve(hostname: str | None, ip: str | None) -> Any:
        raise KeyError(hostname)  # an inventory lookup with a defect

    doc = ev("<38>Dec  1 08:01:02 srv1 sshd[1]: hola", resolve=resolve, sender=("192.0.2.1", 9))
    assert ecs.PARSE_FAILURE in doc["tags"] and doc["error"]["message"]
    assert doc["event"]["original"] == "<38>Dec  1 08:01:02 srv1 sshd[1]: hola"
    assert doc["@timestamp"] == "2026-12-01T13:00:00.000000Z"


def test_a_64_kib_line_built_against_the_patterns_costs_what_a_short_one_does() -> None:
    """Lines made to make the content patterns backtrack (a PAM failure and a sudo line
    padded to 64 KiB): classification reads the first 4 KiB, so each stays cheap."""
    import time

    from registros import ecs

    lines = [
        b"<38>Dec  1 08:00:00 srv1 sshd[1]: pam_unix(sshd:auth): authentication failure;"
        + b" " * 65000
        + b"x",
        b"<86>Dec  1 08:00:00 srv1 sudo: root : TTY=a ; PWD=" + b" ; USER=x ;" * 5900,
    ]
    for raw in lines:
        started = time.process_time()
        doc = ecs.event(raw, received=datetime(2026, 12, 1, tzinfo=UTC))
        assert time.process_time() - started < 2.0, raw[:60]
        assert doc["event"]["original"]
