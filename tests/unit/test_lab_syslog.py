"""The lab's syslog plan: the site table's column, rsyslog's configuration, the destination."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from lab import cli, rsyslog
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


def test_the_emulated_kernel_line_has_nftables_log_fields() -> None:
    site = LabSite(index=5, code="a5")
    line = rsyslog.nft_drop_line(
        site, src="198.18.0.21", dport=22, dst_mac="02:00:00:00:00:02",
        src_mac="02:00:00:00:00:01", spt=40000,
    )  # fmt: skip
    assert line.startswith(
        "nft-drop: IN=wan0 OUT= MAC=02:00:00:00:00:02:02:00:00:00:00:01:08:00 "
        "SRC=198.18.0.21 DST=198.18.0.22 LEN=60 "
    )
    assert " PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 " in line


def test_a_down_site_sends_nothing_out_either() -> None:
    down = nft_rules(LabSite(index=1, code="a1", down=True))
    up = nft_rules(LabSite(index=1, code="a1"))
    assert 'oifname "wan0" drop' in down and "hook output" in down
    assert "oifname" not in up
