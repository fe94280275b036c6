"""The syslog parser: RFC 5424 §6.5 examples, RFC 3164 and its variants, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pukara.events import get_field
from registros import syslog
from registros.syslog import MAX_BYTES, decode, original_bytes, parse, resolve_year

NOW = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
BOM = b"\xef\xbb\xbf"


def p(raw: bytes | str, **kw: object) -> syslog.Parsed:
    return parse(raw, received=NOW, **kw)  # type: ignore[arg-type]


# -- RFC 5424 ------------------------------------------------------------------------------
def test_rfc5424_example_1_nil_sd_and_bom() -> None:
    r = p(b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + BOM
          + b"'su root' failed for lonvick on /dev/pts/8")  # fmt: skip
    assert r.failure is None
    assert (r.priority, r.facility, r.severity, r.version) == (34, 4, 2, 1)
    assert r.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, UTC)
    assert (r.hostname, r.appname, r.procid, r.msgid) == (
        "mymachine.example.com",
        "su",
        None,
        "ID47",
    )
    assert r.structured_data is None
    assert r.message == "'su root' failed for lonvick on /dev/pts/8"  # BOM removed


def test_rfc5424_example_2_offset_and_microseconds() -> None:
    r = p(b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
          b"%% It's time to make the do-nothings.")  # fmt: skip
    assert r.timestamp == datetime(2003, 8, 24, 12, 14, 15, 3, UTC)
    assert (r.hostname, r.appname, r.procid, r.msgid) == ("192.0.2.1", "myproc", "8710", None)
    assert r.message == "%% It's time to make the do-nothings."
    f = syslog.fields(r)
    assert get_field(f, "log.syslog.facility.name") == "local4"
    assert get_field(f, "log.syslog.severity.name") == "Notice"
    assert get_field(f, "process.pid") == 8710 and get_field(f, "log.level") == "notice"


def test_rfc5424_examples_3_and_4_structured_data() -> None:
    sd = b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    r = p(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " + sd + b" "
          + BOM + b"An application event log entry...")  # fmt: skip
    assert r.structured_data == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}
    }
    assert r.message == "An application event log entry..."
    r = p(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " + sd
          + b'[examplePriority@32473 class="high"]')  # fmt: skip
    assert r.failure is None and r.message == ""
    assert r.structured_data is not None and r.structured_data["examplePriority@32473"] == {
        "class": "high"
    }


def test_rfc5424_escapes_and_nil_timestamp() -> None:
    r = p(rb'<13>1 - - - - - [x@1 a="q\"uo\\te\]d"] msg')
    assert r.failure is None and r.timestamp is None and r.hostname is None
    assert r.structured_data == {"x@1": {"a": 'q"uo\\te]d'}}


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"<34>1 2003-10-11T22:14:15.003Z mymachine", "incompleta"),
        (b"<34>1 2003-13-11T22:14:15.003Z h a - - - m", "fecha"),
        (b"<34>1 2003-10-11T22:14:15.003 h a - - - m", "fecha"),  # no zone: not RFC 5424
        (b'<34>1 2003-10-11T22:14:15Z h a - - [x@1 a="unterminated', "estructurados"),
        (b"<34>1 2003-10-11T22:14:15Z h a - - nosd", "estructurados"),
        (b"<999>Oct 11 22:14:15 h su: x", "fuera de rango"),
        (b"<034>Oct 11 22:14:15 h su: x", "fuera de rango"),
        (b"<abc>Oct 11 22:14:15 h su: x", "PRI mal formado"),
        (b"", "vacía"),
        (b"\x00\x01\x02\x03binary", "no es texto"),
        (b"just some words", "no se reconoce"),
    ],
)
def test_bad_lines_are_failures_with_their_text(line: bytes, why: str) -> None:
    r = p(line)
    assert r.failure is not None and why in r.failure
    assert "registros_parse_failure" in r.tags
    assert r.message == line.decode("utf-8", "replace").rstrip("\x00")


# -- RFC 3164 and variants -----------------------------------------------------------------
def test_rfc3164_with_pri_host_and_tag() -> None:
    r = p(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert r.failure is None and r.priority == 34 and r.version is None
    assert r.timestamp == datetime(2026, 10, 11, 22, 14, 15, tzinfo=UTC) and r.local_time
    assert (r.hostname, r.appname, r.procid) == ("mymachine", "su", None)
    assert r.message == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc3164_without_pri_as_in_auth_log() -> None:
    r = p(
        b"Dec  1 08:01:02 srv1 sshd[1234]: Failed password for root from 198.51.100.7 port 22 ssh2"
    )
    assert r.failure is None and r.priority is None
    assert r.timestamp == datetime(2026, 12, 1, 8, 1, 2, tzinfo=UTC)
    assert (r.hostname, r.appname, r.procid) == ("srv1", "sshd", "1234")
    assert r.message.startswith("Failed password")


def test_rfc3164_without_hostname() -> None:
    r = p(b"<13>Dec  1 08:01:02 sshd[9]: hello")
    assert r.hostname is None and r.appname == "sshd" and r.message == "hello"


def test_rsyslog_forward_format_and_file_format() -> None:
    r = p(b"<38>2026-12-01T08:01:02.123456-05:00 srv1 sshd[7]: Accepted publickey for a")
    assert r.timestamp == datetime(2026, 12, 1, 13, 1, 2, 123456, UTC) and not r.local_time
    assert (r.hostname, r.appname, r.procid) == ("srv1", "sshd", "7")
    r = p(b"2026-12-01T08:01:02.123456+00:00 srv1 kernel: [1.0] x")
    assert r.priority is None and r.appname == "kernel"


def test_zone_and_year_given() -> None:
    lima = timezone(timedelta(hours=-5))
    r = p(b"<13>Mar  3 08:00:00 h app: x", zone=lima, year=2024)
    assert r.timestamp == datetime(2024, 3, 3, 13, 0, tzinfo=UTC)
    r = p(b"<13>Mar  3 2025 08:00:00 h app: x")
    assert r.timestamp is not None and r.timestamp.year == 2025


def test_year_rule() -> None:
    jan1 = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert resolve_year(12, 31, jan1, UTC) == 2026  # yesterday, last year
    assert resolve_year(1, 3, jan1, UTC) == 2027  # a device clock two days ahead
    assert resolve_year(6, 1, jan1, UTC) == 2026  # months ahead: last year
    assert resolve_year(2, 29, datetime(2027, 3, 1, tzinfo=UTC), UTC) == 2024  # leap day
    assert resolve_year(2, 30, jan1, UTC) is None


def test_cisco_ios_lines() -> None:
    r = p(b"<189>52: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0")
    assert r.failure is None and r.sequence == 52 and r.code == "SYS-5-CONFIG_I"
    assert r.timestamp is not None and r.timestamp.microsecond == 123000
    assert r.message == "Configured from console by vty0"
    r = p(b"<187>1234: rtr1: .Dec  1 12:00:00.5 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed "
          b"state to down")  # fmt: skip
    assert (r.hostname, r.code, r.sequence) == ("rtr1", "LINK-3-UPDOWN", 1234)
    assert r.timestamp == datetime(2026, 12, 1, 12, 0, 0, 500000, UTC) and not r.local_time
    assert syslog.fields(r)["event"] == {"code": "LINK-3-UPDOWN", "sequence": 1234}


def test_fortigate_key_value() -> None:
    r = p(b'<189>date=2026-12-01 time=10:00:00 devname="FGT-lima" devid="FG100E" tz="-0500" '
          b'logid="0000000013" type="traffic" srcip=198.51.100.7 srcport=51234 dstip=198.18.0.5 '
          b'dstport=22 action="deny"')  # fmt: skip
    assert r.failure is None and r.kv is not None and r.kv["action"] == "deny"
    assert r.hostname == "FGT-lima" and r.timestamp == datetime(2026, 12, 1, 15, tzinfo=UTC)


def test_palo_alto_key_value_after_a_3164_header() -> None:
    r = p(b"<14>Dec  1 10:00:00 PA-VM src=198.51.100.9 dst=198.18.0.5 dport=443 proto=tcp "
          b"action=drop rule=deny-all")  # fmt: skip
    assert r.hostname == "PA-VM" and r.kv is not None and r.kv["rule"] == "deny-all"


# -- bytes: encoding, size -----------------------------------------------------------------
def test_not_utf8_is_read_with_replacement_and_kept_exactly() -> None:
    raw = b"<34>Oct 11 22:14:15 host app: caf\xe9 \\x41 ok"
    text, original, tags = decode(raw)
    assert tags == ["registros_no_utf8"] and "caf\ufffd" in text
    assert original == "<34>Oct 11 22:14:15 host app: caf\\xe9 \\\\x41 ok"
    assert original_bytes(original, tags) == raw
    r = p(raw)
    assert r.failure is None and r.appname == "app" and "registros_no_utf8" in r.tags


def test_oversized_is_cut_at_the_bound_and_tagged() -> None:
    raw = b"<34>Oct 11 22:14:15 host app: " + "é".encode() * MAX_BYTES
    text, _, tags = decode(raw)
    assert tags == ["registros_truncado"] and len(text.encode()) <= MAX_BYTES
    assert len(text.encode()) >= MAX_BYTES - 3 and "\ufffd" not in text  # cut between characters
    r = p(raw)
    assert r.failure is None and r.appname == "app" and "registros_truncado" in r.tags


def test_truncated_5424_and_garbage_never_raise() -> None:
    full = (b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
            b'[exampleSDID@32473 iut="3"] message')  # fmt: skip
    for n in range(len(full)):
        r = p(full[:n])
        assert isinstance(r.message, str)
    import random

    rnd = random.Random(12)  # noqa: S311 (reproducible junk)
    for _ in range(2000):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 80)))
        assert isinstance(p(b"<" + junk).message, str)
        assert isinstance(p(junk).message, str)


@pytest.mark.parametrize(
    ("line", "host", "app", "message"),
    [
        (b"<13>Oct 11 22:14:15 test-host this is the message", "test-host", None,
         "this is the message"),
        (b"<123>Sep 01 02:03:04 hostname message", "hostname", None, "message"),
        (b"<13>Oct 11 22:14:15 test-host su[1024]: this is the message", "test-host", "su",
         "this is the message"),
        (b"<13>2003-08-24 05:14:15-07:00 h app: m", "h", "app", "m"),  # a space for the T
        (b"<13>Oct 11 22:14:15 " + b"a" * 256 + b" x", None, None, "a" * 256 + " x"),
    ],
)  # fmt: skip
def test_rfc3164_hosts_and_tags(
    line: bytes, host: str | None, app: str | None, message: str
) -> None:
    r = p(line)
    assert (r.failure, r.hostname, r.appname, r.message) == (None, host, app, message)


def test_pri_without_timestamp_is_kept_as_a_message() -> None:
    """RFC 3164 §4.3.2: a valid PRI without a timestamp is a message (the receive time)."""
    r = p(b"<13> test-host this is the message")
    assert (
        r.failure is None and r.timestamp is None and r.message == "test-host this is the message"
    )
    assert p(b"<-1>Oct 11 22:14:15 h m").failure is not None
    assert p(b"13 Oct 11 22:14:15 test-host this is the message").failure is not None


def test_vendor_structured_data_that_is_not_rfc5424_is_kept_in_the_message() -> None:
    sd = ('[action:"Drop"; ifname:"bond1.3999"; __policy_id_tag:"product=VPN-1 & FireWall-1'
          '[db_tag={F6};mgmt=cp-m\\]"; dst:"198.18.0.9"; proto:"6"; src:"198.51.100.2"]')  # fmt: skip
    r = p(f"<165>1 2003-10-11T22:14:15.003Z fw1 evntslog - ID47 {sd} a test message")
    assert r.failure is None and r.structured_data is None and r.hostname == "fw1"
    assert r.message == f"{sd} a test message" and "registros_sd_no_conforme" in r.tags
    assert p(f"<165>1 2003-10-11T22:14:15.003Z fw1 evntslog - ID47 {sd[:40]}").failure is not None
    escaped = p('<165>1 2003-10-11T22:14:15.003Z h e - ID47 [x@1 k="[value\\] more"] msg')
    assert escaped.structured_data == {"x@1": {"k": "[value] more"}} and escaped.message == "msg"
    assert p("<13>1 - - - - - -").failure is None
