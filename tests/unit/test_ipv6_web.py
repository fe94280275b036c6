"""W1-W8 against real HTTP(S) servers on 127.0.0.1 and ::1 (asyncio, self-signed certificates).

Loopback ``::1`` counts as global here only through ``Context.global_prefixes``, the way the
lab's ULA does through the setting ``ipv6_prefijos_globales``. W6c/W6p with a real chain (root,
intermediate, leaf): test_ipv6_web_tls.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ipv6 import sondas
from ipv6.modelo import CheckResult, Context, HostAddresses, Resolved, Status
from ipv6.web_checks import WebPorts, check_web, distance

V4, V6 = "127.0.0.1", "::1"
WEB = ("W1a", "W1w", "W2", "W3h", "W3s", "W4h", "W4s", "W5", "W6c", "W6p", "W7", "W8")
CONNECTED = ("W3h", "W3s", "W4h", "W4s", "W5", "W6c", "W6p", "W7", "W8")
LOOP = (ipaddress.IPv6Network("::1/128"),)
PAGE = b"<html><body>" + b"Embajada del Peru, sitio de prueba. " * 100 + b"</body></html>"


@dataclass
class Site:
    """What one family's server answers."""

    status: int = 200
    body: bytes = PAGE
    location: str | None = None
    https: bool = True
    http: bool = True
    cert: str = "a"  # "a", "b", or "a13" (the certificate "a", TLS 1.3 only)
    drop_first: int = 0  # connections closed unanswered (the connect probe counts)
    stall: bool = False  # read the request, never answer (a PMTU black hole, as seen)
    seen: list[str] = field(default_factory=list)


def free_port() -> int:
    """A port free on both loopback families."""
    for _ in range(50):
        with socket.socket(socket.AF_INET6) as s6:
            s6.bind((V6, 0))
            port = int(s6.getsockname()[1])
            with socket.socket(socket.AF_INET) as s4:
                try:
                    s4.bind((V4, port))
                except OSError:
                    continue
                return port
    raise AssertionError("sin puerto libre")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ssl.SSLContext]:
    folder = tmp_path_factory.mktemp("certs")
    out = {}
    for name in ("a", "b", "a13"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if name == "a13":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.load_cert_chain(folder / "a.crt", folder / "a.key")
            out[name] = ctx
            continue
        key, crt = folder / f"{name}.key", folder / f"{name}.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", f"/CN=prueba {name}", "-keyout", str(key),
             "-out", str(crt)],
            check=True, capture_output=True,
        )  # fmt: skip
        ctx.load_cert_chain(crt, key)
        out[name] = ctx
    return out


def _handler(site: Site) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if site.drop_first > 0:
                site.drop_first -= 1
                return
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.decode().split("\r\n")[0]
            site.seen.append(line)
            if site.stall:
                await asyncio.sleep(30)
            moved = site.location is not None and line.split(" ")[1] == "/"
            status, body = (site.status, site.body) if moved or not site.location else (200, PAGE)
            extra = f"Location: {site.location}\r\n" if moved else ""
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return handle


async def _serve(
    sites: dict[str, Site], ports: WebPorts, certs: dict[str, ssl.SSLContext]
) -> list[asyncio.Server]:
    servers = []
    for address, site in sites.items():
        if site.http:
            servers.append(await asyncio.start_server(_handler(site), address, ports.http))
        if site.https:
            tls = certs[site.cert]
            servers.append(
                await asyncio.start_server(_handler(site), address, ports.https, ssl=tls)
            )
    return servers


def resolved(v4: bool = True, v6: bool = True, www_v6: bool = True) -> Resolved:
    apex = HostAddresses("ejemplo.test", (V4,) if v4 else (), (V6,) if v6 else ())
    www = HostAddresses("www.ejemplo.test", (V4,) if v4 else (), (V6,) if www_v6 else ())
    return Resolved("ejemplo.test", apex, www)


def run(
    certs: dict[str, ssl.SSLContext],
    v4: Site | None,
    v6: Site | None,
    res: Resolved | None = None,
    **ctx_args: Any,
) -> dict[str, CheckResult]:
    ports = WebPorts(free_port(), free_port())
    args: dict[str, Any] = {"v6_ok": True, "global_prefixes": LOOP, "connect_timeout_s": 2.0}
    ctx = Context(**(args | ctx_args))
    sites = {a: s for a, s in ((V4, v4), (V6, v6)) if s is not None}

    async def main() -> list[CheckResult]:
        servers = await _serve(sites, ports, certs)
        try:
            return await check_web(res or resolved(), ctx, ports=ports)
        finally:
            for s in servers:
                s.close()

    results = asyncio.run(main())
    by_check = {r.check: r for r in results}
    assert len(by_check) == len(results)
    return by_check


def statuses(results: dict[str, CheckResult]) -> dict[str, str]:
    return {c: r.status.value for c, r in results.items()}


def test_dual_stack_site_passes_every_check(certs: dict[str, ssl.SSLContext]) -> None:
    got = run(certs, Site(), Site())
    assert statuses(got) == dict.fromkeys(WEB, "pass")
    w8 = got["W8"].evidence["names"]["ejemplo.test"]
    assert w8["v6_connect_ms"] is not None and w8["v4_connect_ms"] is not None


def test_443_on_ipv4_only_fails_w3s_and_passes_w3h(certs: dict[str, ssl.SSLContext]) -> None:
    results = run(certs, Site(), Site(https=False))
    got = statuses(results)
    assert (got["W3h"], got["W3s"]) == ("pass", "fail")
    assert (got["W4h"], got["W4s"]) == ("pass", "not-applicable")  # W4s: 443 on both only
    assert got["W6c"] == got["W6p"] == "not-applicable"
    assert (got["W5"], got["W7"], got["W8"]) == ("pass", "pass", "pass")
    w3s = results["W3s"].evidence["names"]["ejemplo.test"]
    assert w3s["v4_open"] == [V4] and w3s["v6_closed"] == [V6]


def test_a_port_neither_family_offers_is_not_applicable(certs: dict[str, ssl.SSLContext]) -> None:
    got = statuses(run(certs, Site(https=False), Site(https=False)))
    assert (got["W3h"], got["W3s"], got["W4h"], got["W4s"]) == (
        "pass", "not-applicable", "pass", "not-applicable",
    )  # fmt: skip


def test_other_content_and_certificate_on_ipv6(certs: dict[str, ssl.SSLContext]) -> None:
    other = b"<html>" + b"0123456789 IPV6 " * 120 + b"</html>"
    got = run(certs, Site(), Site(body=other, cert="b"))
    assert got["W4h"].status == got["W4s"].status == Status.WARN
    pair = got["W4s"].evidence["names"]["ejemplo.test"]["pairs"][0]
    assert pair["distance"] > 0.1 and pair["v4_size"] == len(PAGE) and pair["v6_size"] == len(other)
    assert pair["port"] != got["W4h"].evidence["names"]["ejemplo.test"]["pairs"][0]["port"]
    assert got["W6c"].status == Status.FAIL and got["W6p"].status == Status.PASS
    tls = got["W6c"].evidence["names"]["ejemplo.test"]
    assert tls[V4]["cert_sha256"] != tls[V6]["cert_sha256"]


def test_a_narrower_tls_protocol_set_on_ipv6_fails_w6p(certs: dict[str, ssl.SSLContext]) -> None:
    got = run(certs, Site(), Site(cert="a13"))
    assert got["W6p"].status == Status.FAIL and got["W6c"].status == Status.PASS
    assert "TLSv1.2, TLSv1.3" in got["W6p"].message
    tls = got["W6p"].evidence["names"]["ejemplo.test"]
    assert tls[V4]["cert_sha256"] == tls[V6]["cert_sha256"]
    assert tls[V4]["protocols"] == ["TLSv1.2", "TLSv1.3"] and tls[V6]["protocols"] == ["TLSv1.3"]


def test_redirect_to_an_ipv4_literal_fails_w5(certs: dict[str, ssl.SSLContext]) -> None:
    target = "http://198.19.18.10/"
    redirect = {"status": 301, "body": b"moved", "location": target}
    got = run(certs, Site(**redirect), Site(**redirect))
    assert got["W5"].status == Status.FAIL
    assert target in got["W5"].message
    assert got["W4h"].status == Status.PASS  # the same 301 on both families
    assert got["W7"].status == Status.NOT_APPLICABLE  # a small answer says nothing of PMTU


def test_redirect_that_stays_on_ipv6_passes(certs: dict[str, ssl.SSLContext]) -> None:
    v6 = Site(status=302, body=b"", location="/inicio")
    got = run(certs, Site(status=302, body=b"", location="/inicio"), v6)
    assert got["W5"].status == Status.PASS
    hops = got["W5"].evidence["names"]["ejemplo.test"]["chains"][0]["hops"]
    assert len(hops) >= 2 and hops[1]["url"].endswith("/inicio")
    assert "GET /inicio HTTP/1.1" in v6.seen


def test_same_404_on_both_families_warns(certs: dict[str, ssl.SSLContext]) -> None:
    got = statuses(run(certs, Site(status=404), Site(status=404)))
    assert got["W4h"] == got["W4s"] == "warn"
    assert (got["W3h"], got["W3s"], got["W5"], got["W7"]) == ("pass", "pass", "pass", "pass")


def test_aaaa_that_does_not_answer(certs: dict[str, ssl.SSLContext]) -> None:
    got = run(certs, Site(), None)
    assert {c: statuses(got)[c] for c in ("W3h", "W3s", "W4h", "W4s")} == {
        "W3h": "fail", "W3s": "fail", "W4h": "fail", "W4s": "not-applicable",
    }  # fmt: skip
    for check in ("W5", "W6c", "W6p", "W7", "W8"):
        assert got[check].status == Status.NOT_TESTED, check
    assert got["W3h"].evidence["names"]["ejemplo.test"]["v6_closed"] == [V6]


def test_an_ipv6_answer_that_never_arrives(certs: dict[str, ssl.SSLContext]) -> None:
    """What a PMTU black hole looks like from here: connects pass, the page never comes."""
    got = run(certs, Site(https=False), Site(https=False, stall=True), res=resolved(www_v6=False),
              connect_timeout_s=1.0)  # fmt: skip
    assert statuses(got)["W3h"] == "pass" and statuses(got)["W8"] == "pass"
    assert got["W7"].status == Status.FAIL and got["W4h"].status == Status.FAIL
    assert got["W7"].evidence["names"]["ejemplo.test"]["v6"][0]["error"] == "tiempo agotado"
    assert got["W5"].status == Status.NOT_TESTED  # no first answer: W4h and W7 judge it


def test_a_flaky_ipv6_server_gets_a_retry_before_a_fail(certs: dict[str, ssl.SSLContext]) -> None:
    one = resolved(www_v6=False)  # one name judged: its HTTP connect probe, then both GETs dropped
    assert run(certs, Site(), Site(drop_first=3), res=one)["W4h"].status == Status.PASS
    got = run(certs, Site(), Site(drop_first=3), res=one, retries=0)
    assert got["W4h"].status == got["W4s"].status == Status.FAIL
    assert got["W4h"].evidence["names"]["ejemplo.test"]["pairs"][0]["v6_error"]


def test_no_ipv6_at_the_vantage_is_never_a_pass(certs: dict[str, ssl.SSLContext]) -> None:
    got = run(certs, Site(), Site(), v6_ok=False)
    assert got["W1a"].status == Status.PASS and got["W2"].status == Status.PASS
    for check in CONNECTED:
        assert got[check].status == Status.NOT_TESTED, check


def test_without_tls_w6_is_not_tested_never_left_out(certs: dict[str, ssl.SSLContext]) -> None:
    got = run(certs, Site(), Site(), tls=False)
    assert "W4s" in got
    for check in ("W6c", "W6p"):
        assert got[check].status == Status.NOT_TESTED
        assert got[check].evidence == {"reason": "--sin-tls"}
    assert list(got).index("W6c") == list(got).index("W5") + 1  # in its place
    res = resolved(v6=False, www_v6=False)  # not-applicable otherwise: still --sin-tls
    assert run(certs, Site(), None, res=res, tls=False)["W6p"].evidence == {"reason": "--sin-tls"}


def test_no_aaaa_fails_w1_and_leaves_the_rest_not_applicable(
    certs: dict[str, ssl.SSLContext],
) -> None:
    got = run(certs, Site(), None, res=resolved(v6=False, www_v6=False))
    assert got["W1a"].status == got["W1w"].status == Status.FAIL
    assert got["W1a"].evidence["v4"] == [V4]
    assert {got[c].status for c in ("W2", *CONNECTED)} == {Status.NOT_APPLICABLE}


def test_www_without_aaaa_judges_the_apex(certs: dict[str, ssl.SSLContext]) -> None:
    got = statuses(run(certs, Site(), Site(), res=resolved(www_v6=False)))
    assert got["W1a"] == "pass" and got["W1w"] == "fail"
    assert got["W3h"] == got["W3s"] == got["W4h"] == got["W4s"] == "pass"


def test_loopback_is_not_routable_without_the_setting(certs: dict[str, ssl.SSLContext]) -> None:
    got = run(certs, Site(), Site(), global_prefixes=())
    assert got["W2"].status == Status.FAIL
    assert got["W2"].evidence["addresses"] == [V6]


def test_an_unresolved_domain_is_not_tested() -> None:
    res = Resolved("x.test", HostAddresses("x.test"), HostAddresses("www.x.test"), error="SERVFAIL")
    got = asyncio.run(check_web(res, Context(v6_ok=True)))
    assert {r.status for r in got} == {Status.NOT_TESTED}
    assert len(got) == len(WEB) and all(r.evidence["error"] == "SERVFAIL" for r in got)


def test_parse_response_chunked_and_truncated() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhola \r\n3\r\nmun\r\n0\r\n\r\n"
    )
    got = sondas.parse_response(V4, 80, raw, 1.0)
    assert (got.status, got.body, got.complete) == (200, b"hola mun", True)
    short = sondas.parse_response(V4, 80, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1.0)
    assert (short.body, short.complete) == (b"abc", False)
    assert sondas.parse_response(V4, 80, b"SSH-2.0-x\r\n\r\n", 1.0).error


def test_distance() -> None:
    assert distance(PAGE, PAGE) == 0.0
    assert distance(PAGE, PAGE[:-10] + b"0123456789") < 0.1
    assert distance(PAGE, b"0123456789 IPV6 " * 120) > 0.5
    assert distance(PAGE * 20, PAGE * 40) >= 0.5  # past the compared bytes, length counts


def test_probe_of_a_closed_port(tmp_path: Path) -> None:
    got = asyncio.run(sondas.connect_retry(V6, free_port(), 1.0, 1))
    assert not got.open and got.error == "conexión rechazada"
