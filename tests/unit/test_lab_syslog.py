"""The lab's syslog plan: the site table's column, rsyslog's configuration, the destination."""

from __future__ import annotations

import inspect
import socket
import struct
from pathlib import Path

import pytest

from lab import cli, nflog, rsyslog
from lab.manage import nft_rules
from lab.services import sshd_conf
from lab.sites import LabSite, default_sites, read_site_table
from pukara.errors import LabError


def test_the_site_table_says_which_site_sends_udp_and_which_tcp(tmp_path: Path) -> None:
    table = tmp_path / "sedes.csv"
    table.write_text(
        "codigo,retardo_ms,variacion_ms,perdida_pct,caida,syslog\n"
        "a1,20,1,0,no,\na2,20,1,0,no,tcp\na3,20,1,0,no,UDP\n"
    )
    assert [s.syslog for s in read_site_table(table)] == ["udp", "tcp", "udp"]
    table.write_text("codigo,retardo_ms,variacion_ms,perdida_pct,caida,syslog\na1,20,1,0,no,tls\n")
    with pytest.raises(LabError, match=r"línea 2: «syslog» debe ser udp o tcp"):
        read_site_table(table)
    with pytest.raises(LabError, match="syslog debe ser udp o tcp"):
        LabSite(index=1, code="x", syslog="relp")


def test_generated_sites_exercise_both_transports() -> None:
    sites = default_sites(6)
    assert [s.syslog for s in sites] == ["udp", "tcp", "udp", "udp", "tcp", "udp"]


def test_udp_forwards_rfc3164_and_tcp_octet_counted_rfc5424(tmp_path: Path) -> None:
    dest = rsyslog.Destination(rsyslog.HQ_LOG_V4, 6000)
    udp = rsyslog.conf(LabSite(index=1, code="a1"), tmp_path, dest)
    tcp = rsyslog.conf(LabSite(index=2, code="a2", syslog="tcp"), tmp_path, dest)
    assert 'target="198.18.0.1" port="6000" protocol="udp"' in udp
    assert "RSYSLOG_TraditionalForwardFormat" in udp and "TCP_Framing" not in udp
    assert 'protocol="tcp" TCP_Framing="octet-counted"' in tcp
    assert "RSYSLOG_SyslogProtocol23Format" in tcp
    for text in (udp, tcp):
        # its own socket, never the machine's /dev/log; only auth, authpriv and kern go out
        assert 'SysSock.Use="off"' in text and f'Socket="{tmp_path / "log.sock"}"' in text
        assert "auth,authpriv.*;kern.* action(" in text
        assert "/dev/log" not in text and "/etc/" not in text
        assert f'workDirectory="{tmp_path / "rsyslog"}"' in text
    assert 'localHostname="gw-a1"' in udp


def test_a_socket_path_too_long_for_sun_path_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    with pytest.raises(LabError, match="demasiado larga"):
        rsyslog.conf(LabSite(index=1, code="a1"), deep, rsyslog.DEFAULT_DESTINATION)


def test_sshd_logs_to_syslog_at_verbose_not_to_a_file(tmp_path: Path) -> None:
    text = sshd_conf(LabSite(index=1, code="a1"), tmp_path, tmp_path / "authorized_keys")
    assert "SyslogFacility AUTH" in text and "LogLevel VERBOSE" in text
    assert str(tmp_path / "log.sock") in text  # a change of socket restarts sshd


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.18.0.1:5514", "198.18.0.1:5514"),
        ("198.18.0.1", "198.18.0.1:5514"),
        ("198.18.46.229:6514", "198.18.46.229:6514"),
        ("[fd70:756b:6172::1]:514", "[fd70:756b:6172::1]:514"),
        ("fd70:756b:6172::1", "[fd70:756b:6172::1]:5514"),
    ],
)
def test_destination_parses_host_and_port(text: str, expected: str) -> None:
    assert str(rsyslog.parse_destination(text)) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("8.8.8.8:514", "fuera del laboratorio"),
        ("127.0.0.1:514", "fuera del laboratorio"),
        ("[2001:db8::1]:514", "fuera del laboratorio"),
        ("198.18.0.1:0", "puerto"),
        ("198.18.0.1:70000", "puerto"),
        ("colector.test:514", "dirección IP"),
        ("[fd70:756b:6172::1]x", "HOST:PUERTO"),
    ],
)
def test_destination_outside_the_lab_or_malformed_is_refused(text: str, why: str) -> None:
    with pytest.raises(LabError, match=why):
        rsyslog.parse_destination(text)


def test_the_cli_default_is_the_headquarters_collector() -> None:
    default = inspect.signature(cli.arriba).parameters["syslog"].default
    assert default == str(rsyslog.DEFAULT_DESTINATION) == "198.18.0.1:5514"


def _ipv4_tcp_syn(src: str, dst: str, spt: int, dpt: int) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 60, 4321, 0x4000, 63, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    tcp = struct.pack("!HHIIBBHHH", spt, dpt, 1, 0, 0xA0, 0x02, 64240, 0, 0)
    return ip + tcp + b"\0" * 20


def test_the_kernel_line_is_nftables_log_format_for_a_real_packet() -> None:
    mac = bytes.fromhex("0200000000020200000000010800")
    line = nflog.kernel_line(
        "nft-drop: ", "wan0", "", mac, _ipv4_tcp_syn("198.18.0.21", "198.18.0.22", 40000, 23)
    )
    assert line == (
        "nft-drop: IN=wan0 OUT= MAC=02:00:00:00:00:02:02:00:00:00:00:01:08:00 "
        "SRC=198.18.0.21 DST=198.18.0.22 LEN=60 TOS=0x10 PREC=0x00 TTL=63 ID=4321 DF "
        "PROTO=TCP SPT=40000 DPT=23 WINDOW=64240 RES=0x00 SYN URGP=0 "
    )


def test_the_kernel_line_for_ipv6_udp() -> None:
    src, dst = "fd70:756b:6172:1::1", "fd70:756b:6172:1::2"
    header = struct.pack("!IHBB16s16s", 6 << 28, 8, 17, 64,
                         socket.inet_pton(socket.AF_INET6, src),
                         socket.inet_pton(socket.AF_INET6, dst))  # fmt: skip
    line = nflog.kernel_line("x: ", "wan0", "", b"", header + struct.pack("!HHHH", 5000, 53, 8, 0))
    assert line == (
        f"x: IN=wan0 OUT= SRC={src} DST={dst} LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=0 "
        "PROTO=UDP SPT=5000 DPT=53 LEN=8 "
    )


def test_netlink_packet_attributes_are_read_back() -> None:
    attrs = nflog._attr(10, b"nft-drop: \0") + nflog._attr(4, struct.pack("!I", 2))
    body = struct.pack("=BBH", 2, 0, socket.htons(1)) + attrs
    msg = struct.pack("=IHHII", 16 + len(body), 4 << 8, 0, 0, 0) + body
    [got] = list(nflog.packets(msg + msg[:10]))  # a truncated tail is left alone
    assert got[10] == b"nft-drop: \0" and got[4] == struct.pack("!I", 2)


def test_every_site_drops_and_logs_telnet_to_nflog() -> None:
    rules = nft_rules(LabSite(index=1, code="a1"))
    assert 'iifname "wan0" tcp dport 23 log group 1 prefix "nft-drop: " drop' in rules
    forward = rules.split("chain forward")[1].split("chain output")[0]
    assert "dport 23" not in forward  # a hub does not judge its children's traffic


def test_a_down_site_sends_nothing_out_either() -> None:
    down = nft_rules(LabSite(index=1, code="a1", down=True))
    up = nft_rules(LabSite(index=1, code="a1"))
    assert 'oifname "wan0" drop' in down and "hook output" in down
    assert "oifname" not in up
