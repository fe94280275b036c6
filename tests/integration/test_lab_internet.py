"""The internet lab against real clients: dig and kdig, HTTP and TLS, SMTP, ip.

Run under its lock (and the site lab's for the last test, which goes through lab.manage):
    flock /tmp/pukara-lab.lock flock /tmp/pukara-lab-internet.lock \
        .venv/bin/pytest tests/integration/test_lab_internet.py -q
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import internet, manage, netns
from lab import internet_zonas as z
from lab.sites import LabSite
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.integration

WATCHED = ("/etc/knot", "/etc/unbound", "/etc/nginx", "/etc/postfix", "/var/spool/postfix",
           "/var/lib/knot", "/var/lib/unbound", "/var/log/nginx", "/var/lib/nginx")  # fmt: skip


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "el laboratorio necesita root"
    for tool in ("dig", "kdig", "/usr/sbin/keymgr", internet.internet_dns.KNOTD,
                 internet.internet_dns.UNBOUND, internet.internet_web.NGINX,
                 internet.internet_mail.POSTFIX, "fping"):  # fmt: skip
        if not shutil.which(tool):
            return f"falta {tool}"
    return None


def _snapshot() -> dict[str, str]:
    """Every file under the watched system folders, with its content's hash."""
    out: dict[str, str] = {}
    for top in WATCHED:
        for root, dirs, files in os.walk(top):
            out[root] = "dir " + " ".join(sorted(dirs + files))
            for f in files:
                p = Path(root, f)
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
    return out


@pytest.fixture(scope="class")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    why = _why_not()
    if why:
        skip_or_fail(why)
    lab = manage.Lab(tmp_path_factory.mktemp("internet") / "lab", prefix="pkn")
    before = _snapshot()
    internet.up(lab)
    try:
        yield lab
    finally:
        internet.down(lab)
    assert _snapshot() == before, "el laboratorio de internet escribió en /etc o /var"


def dig(*args: str, server: str = internet.RESOLVER_V4, where: str | None = None) -> str:
    argv = ["dig", "+time=2", "+tries=1", f"@{server}", *args]
    if where:
        argv = ["ip", "netns", "exec", where, *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout


def _flags(out: str) -> tuple[str, set[str]]:
    status = out.split("status: ", 1)[1].split(",", 1)[0]
    flags = set(out.split("flags: ", 1)[1].split(";", 1)[0].split())
    return status, flags


def _get(address: str, port: int = 80, tls: bool = False) -> tuple[int, str, bytes]:
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            address, port, timeout=4, context=ctx
        )
    else:
        conn = http.client.HTTPConnection(address, port, timeout=4)
    try:
        conn.request("GET", "/", headers={"Host": "rree.test"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location") or "", resp.read()
    finally:
        conn.close()


def _refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=2).close()
    except OSError:
        return True
    return False


def _cert(address: str) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((address, 443), timeout=4) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der
    return der


class TestInternetLab:
    def test_the_resolver_validates_signed_zones_and_not_insecure_ones(
        self, net: manage.Lab
    ) -> None:
        v4, v6 = internet.resolver(net)
        for p in z.BASE:
            for server in (v4, v6):
                status, flags = _flags(dig("+dnssec", p.name, "SOA", server=server))
                if p.dnssec == "signed":
                    assert (status, "ad" in flags) == ("NOERROR", True), p.name
                elif p.dnssec == "unsigned":
                    assert (status, "ad" in flags) == ("NOERROR", False), p.name

    def test_the_bogus_zone_servfails_but_is_there_without_validation(
        self, net: manage.Lab
    ) -> None:
        bogus = next(p.name for p in z.BASE if p.dnssec == "bogus")
        assert _flags(dig("+dnssec", bogus, "SOA"))[0] == "SERVFAIL"
        assert _flags(dig("+cd", bogus, "SOA"))[0] == "NOERROR"

    def test_the_ds_in_the_parent_is_keymgrs(self, net: manage.Lab) -> None:
        conf = internet.folder(net) / "dns" / "knot.conf"
        for zone in ("rree.test", "embperu-br.test"):
            done = subprocess.run(["keymgr", "-c", str(conf), f"{zone}.", "ds"],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            sha256 = next(
                line.split(" DS ", 1)[1] for line in done.stdout.splitlines() if " 13 2 " in line
            )
            served = dig("+short", zone, "DS").split()  # dig splits the digest in two
            assert " ".join([*served[:3], "".join(served[3:])]).lower() == sha256.lower()

    def test_one_zone_names_a_second_ns_without_aaaa(self, net: manage.Lab) -> None:
        assert sorted(dig("+short", "embperu-mx.test", "NS").split()) == [
            "ns1.rree.test.", "ns3.rree.test.",
        ]  # fmt: skip
        assert dig("+short", "ns3.rree.test", "AAAA").strip() == ""
        assert dig("+short", "ns1.rree.test", "AAAA").strip() == z.NS["ns1"].v6
        assert dig("+short", "ns5.rree.test", "A").strip() == ""  # IPv6-only
        assert "status: NOERROR" in dig("+dnssec", "embperu-de.test", "SOA")

    def test_kdig_reaches_the_name_servers_over_v6_udp_and_tcp_but_not_ns4(
        self, net: manage.Lab
    ) -> None:
        def kdig(server: str, *flags: str) -> str:
            argv = ["kdig", "+time=1", "+retry=0", *flags, f"@{server}", "rree.test", "SOA"]
            return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout

        for name in ("ns1", "ns2", "ns5"):
            for flags in ((), ("+tcp",)):
                out = kdig(z.NS[name].v6, *flags)
                assert "status: NOERROR" in out and " aa" in out, (name, flags)
        assert "status: NOERROR" not in kdig(z.NS["ns4"].v6)
        assert "status: NOERROR" in kdig(z.NS["ns4"].v4)

    def test_the_web_answers_on_each_family_as_declared(self, net: manage.Lab) -> None:
        w = z.WEB
        assert dig("+short", "embperu-ar.test", "AAAA").strip() == ""
        assert dig("+short", "www.embperu-fr.test", "AAAA").strip() == ""
        assert dig("+short", "embperu-br.test", "AAAA").strip() == w["muerto6"].v6
        s4, _, b4 = _get(w["dual"].v4)
        s6, _, b6 = _get(w["dual"].v6)
        assert (s4, s6) == (200, 200) and b4 == b6 and len(b6) > 1280
        assert _get(w["dual"].v6, 443, tls=True)[0] == 200
        assert _cert(w["dual"].v4) == _cert(w["dual"].v6)
        assert _get(w["muerto6"].v4)[0] == 200 and _refused(w["muerto6"].v6, 80)
        assert _get(w["443v4"].v4, 443, tls=True)[0] == 200
        assert _get(w["443v4"].v6)[0] == 200 and _refused(w["443v4"].v6, 443)
        d4, d6 = _get(w["distinto"].v4)[2], _get(w["distinto"].v6)[2]
        assert d4 != d6 and _cert(w["distinto"].v4) != _cert(w["distinto"].v6)
        for address in (w["redir4"].v4, w["redir4"].v6):
            assert _get(address)[:2] == (301, f"http://{w['dual'].v4}/")
        n4, n6 = _get(w["404"].v4), _get(w["404"].v6)
        assert n4[0] == n6[0] == 404 and n4[2] == n6[2] and len(n6[2]) > 1280

    def test_postfix_greets_over_v6_and_the_dns_says_who_has_aaaa(self, net: manage.Lab) -> None:
        for port in (25, 587):
            with socket.create_connection((z.MX["mx1"].v6, port), timeout=5) as s:
                f = s.makefile("rwb")
                assert f.readline().startswith(b"220 ")
                f.write(b"EHLO comprobador.test\r\n")
                f.flush()
                lines = [f.readline()]
                while lines[-1][:4] != b"250 ":
                    lines.append(f.readline())
                    assert lines[-1], lines
        assert _refused(z.MX["mx3"].v6, 587) and not _refused(z.MX["mx3"].v4, 587)
        assert not _refused(z.MX["mx3"].v6, 25)
        assert dig("+short", "embperu-ec.test", "MX").strip() == "0 ."
        assert dig("+short", "mx4.rree.test", "AAAA").strip() == ""
        assert dig("+short", "-x", z.MX["mx1"].v6).strip() == "mx1.rree.test."
        assert dig("+short", "-x", z.MX["mx2"].v6).strip() == ""
        assert "ip6:" not in dig("+short", "embperu-co.test", "TXT")

    def test_postfix_offers_starttls_but_on_mx5_over_ipv6(self, net: manage.Lab) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        for address, offered in ((z.MX["mx1"].v4, True), (z.MX["mx1"].v6, True),
                                 (z.MX["mx5"].v4, True), (z.MX["mx5"].v6, False)):  # fmt: skip
            with smtplib.SMTP(address, 25, timeout=5) as smtp:
                smtp.ehlo("comprobador.test")
                assert smtp.has_extn("starttls") is offered, address
                if offered:
                    assert smtp.starttls(context=ctx)[0] == 220
                    assert smtp.sock is not None and isinstance(smtp.sock, ssl.SSLSocket)
        assert dig("+short", "embperu-ve.test", "MX").strip() == "10 mx5.rree.test."

    def test_mail_hosts_in_an_unsigned_and_a_bogus_zone(self, net: manage.Lab) -> None:
        assert dig("+short", "embperu-uy.test", "MX").strip() == "10 mx.correo-inseguro.test."
        assert dig("+short", "embperu-py.test", "MX").strip() == "10 mx.correo-roto.test."
        status, flags = _flags(dig("+dnssec", "mx.correo-inseguro.test", "AAAA"))
        assert (status, "ad" in flags) == ("NOERROR", False)
        assert dig("+short", "mx.correo-inseguro.test", "AAAA").strip() == z.MX["mx1"].v6
        assert _flags(dig("+dnssec", "mx.correo-roto.test", "AAAA"))[0] == "SERVFAIL"
        assert _flags(dig("+cd", "mx.correo-roto.test", "AAAA"))[0] == "NOERROR"
        assert "ad" in _flags(dig("+dnssec", "embperu-py.test", "SOA"))[1]

    def test_the_v4_only_vantage_has_no_v6_route(self, net: manage.Lab) -> None:
        where = internet.vantage_v4_only(net)
        for anchor in internet.anchors(net):
            done = subprocess.run(["ip", "netns", "exec", where, "ip", "-6", "route", "get",
                                   anchor], capture_output=True, text=True)  # fmt: skip
            assert done.returncode != 0 and "unreachable" in done.stderr.lower()
        assert _flags(dig("+dnssec", "rree.test", "SOA", where=where))[1] >= {"ad"}

    def test_the_anchors_answer(self, net: manage.Lab) -> None:
        anchors = internet.anchors(net)
        assert len(anchors) >= 3
        done = subprocess.run(["fping", "-6", "-q", "-r", "1", *anchors], capture_output=True)
        assert done.returncode == 0, done.stderr

    def test_lab_estado_names_a_resolver_and_anchors_that_answer(
        self, net: manage.Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from cli import main

        monkeypatch.setenv("PUKARA_LAB_DIR", str(net.state_dir))
        monkeypatch.setenv("HOME", str(net.state_dir))
        for name in ("PUKARA_CONFIG", "PUKARA_IPV6_ANCLAS", "PUKARA_IPV6_PREFIJOS_GLOBALES"):
            monkeypatch.delenv(name, raising=False)
        assert main(["lab", "estado", "-f", "json"]) == 0
        err = capsys.readouterr().err
        block = err[err.index("[ipv6]\n") : err.index("o, solo en esta terminal:")]
        settings = tomllib.loads(block)["ipv6"]
        assert settings["prefijos_globales"] == ["fd70:756b:6172::/48"]
        done = subprocess.run(["fping", "-6", "-q", "-r", "1", *settings["anclas"]],
                              capture_output=True)  # fmt: skip
        assert len(settings["anclas"]) >= 3 and done.returncode == 0, done.stderr
        shown = err.split("resolutor ", 1)[1].split(" ", 1)[0]
        assert "ad" in _flags(dig("+dnssec", "rree.test", "SOA", server=shown))[1]

    def test_every_domain_served_is_in_the_ground_truth(self, net: manage.Lab) -> None:
        truth = internet.expected()
        for domain in internet.domains(net):
            assert (domain, "N1") in truth and (domain, "M1") in truth
        assert internet.status(net) | {"dns": True} == internet.status(net)
        assert all(internet.status(net)[k] for k in ("dns", "resolutor", "web", "correo"))


def test_manage_brings_it_up_on_request_and_down_leaves_nothing(tmp_path: Path) -> None:
    why = _why_not()
    if why:
        skip_or_fail(why)
    lab = manage.Lab(tmp_path / "lab", prefix="pkm")
    site = LabSite(index=3950, code="n1")
    try:
        manage.up(lab, [site], services_on=False)
        assert internet.status(lab) == {}  # opt-in: existing callers get no internet lab
        manage.up(lab, [site], services_on=False, internet=True, internet_domains=40)
        state = internet.status(lab)
        assert state["domains"] == 40 and state["netns_up"] and state["correo"]
        pids = [p for n in internet.names(lab).values() for p in netns.pids_in(n)]
        assert pids
        assert "ad" in _flags(dig("+dnssec", "mision0026.test", "SOA"))[1]
    finally:
        manage.down(lab)
    assert not set(internet.names(lab).values()) & netns.existing()
    assert not Path(f"/sys/class/net/{internet.host_if(lab)}").exists()
    assert not any(Path(f"/proc/{p}").exists() for p in pids)
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    routes6 = subprocess.run(["ip", "-6", "route"], capture_output=True, text=True).stdout
    assert z.V4_NET not in routes and z.V6_NET not in routes6
    assert not lab.state_dir.exists()
