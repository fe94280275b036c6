"""M2, M2s and M5 against real SMTP listeners (asyncio, real TLS after STARTTLS with a
certificate openssl makes) on 127.0.0.1 and ::1."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipv6 import sondas
from ipv6.mail_checks import MAX_SMTP, MailPorts, check_mail
from ipv6.modelo import CheckResult, Context, HostAddresses, Resolved, Status

V4, V6 = "127.0.0.1", "::1"


@dataclass
class Mailer:
    """What one family's mail server does."""

    smtp: bool = True
    starttls: bool = False
    tls_works: bool = True  # False: 220 to STARTTLS, then no TLS at all
    client: tuple[int, ...] = ()  # indexes into MailPorts.client that listen
    banner: str = "220 mx.ejemplo.test ESMTP"
    drop_first: int = 0  # SMTP connections closed before the banner


def free_port() -> int:
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


@functools.cache
def _server_tls() -> ssl.SSLContext:
    folder = Path(tempfile.mkdtemp(prefix="pukara-smtp-tls-"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=mx.ejemplo.test",
         "-keyout", str(folder / "k.pem"), "-out", str(folder / "c.pem")],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "c.pem", folder / "k.pem")
    return ctx


def _smtp(m: Mailer) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if m.drop_first > 0:
                m.drop_first -= 1
                return
            writer.write(m.banner.encode() + b"\r\n")
            while line := await reader.readline():
                if line.upper().startswith(b"EHLO"):
                    tls = b"250-STARTTLS\r\n" if m.starttls else b""
                    writer.write(
                        b"250-mx.ejemplo.test\r\n250-PIPELINING\r\n" + tls + b"250 8BITMIME\r\n"
                    )
                elif line.upper().startswith(b"STARTTLS") and m.starttls:
                    writer.write(b"220 2.0.0 listo\r\n")
                    await writer.drain()
                    if not m.tls_works:
                        writer.write(b"esto no es TLS\r\n")
                        await writer.drain()
                        break
                    await writer.start_tls(_server_tls())
                    continue
                elif line.upper().startswith(b"QUIT"):
                    writer.write(b"221 adios\r\n")
                    break
                await writer.drain()
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    return handle


async def _idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def run(
    v4: Mailer | None, v6: Mailer | None, res: Resolved | None = None, **ctx_args: Any
) -> dict[str, CheckResult]:
    ports = MailPorts(free_port(), (free_port(), free_port(), free_port()))
    ctx = Context(**({"v6_ok": True, "connect_timeout_s": 2.0, "smtp_timeout_s": 2.0} | ctx_args))
    host = HostAddresses("mx.ejemplo.test", (V4,), (V6,))
    res = res or Resolved(
        "ejemplo.test", HostAddresses("ejemplo.test"), HostAddresses("www.ejemplo.test"),
        mx=((10, host),),
    )  # fmt: skip

    async def main() -> list[CheckResult]:
        servers = []
        for address, m in ((V4, v4), (V6, v6)):
            if m is None:
                continue
            if m.smtp:
                servers.append(await asyncio.start_server(_smtp(m), address, ports.smtp))
            for i in m.client:
                servers.append(await asyncio.start_server(_idle, address, ports.client[i]))
        try:
            return await check_mail(res, ctx, ports=ports)
        finally:
            for s in servers:
                s.close()

    return {r.check: r for r in asyncio.run(main())}


def test_dual_stack_mail_passes() -> None:
    got = run(Mailer(client=(1,)), Mailer(client=(1,)))
    assert (got["M2"].status, got["M5"].status) == (Status.PASS, Status.PASS)
    ev = got["M2"].evidence["hosts"]["mx.ejemplo.test"]
    assert ev[V6]["banner"].startswith("220") and "PIPELINING" in ev[V6]["ehlo"]


def test_silent_ipv6_smtp_fails_m2_with_the_error() -> None:
    got = run(Mailer(), Mailer(smtp=False))
    assert got["M2"].status == Status.FAIL
    assert got["M2"].evidence["hosts"]["mx.ejemplo.test"][V6]["error"] == "conexión rechazada"


def test_starttls_on_ipv4_only_fails_m2s_not_m2() -> None:
    got = run(Mailer(starttls=True), Mailer())
    assert got["M2"].status == Status.PASS
    assert got["M2s"].status == Status.FAIL
    assert "STARTTLS" in got["M2s"].message and V6 in got["M2s"].message
    assert got["M2s"].evidence["hosts"]["mx.ejemplo.test"]["v4_starttls"] == [V4]


def test_starttls_on_both_completes_the_handshake_over_ipv6() -> None:
    got = run(Mailer(starttls=True), Mailer(starttls=True))
    assert got["M2s"].status == Status.PASS, got["M2s"]
    tls = got["M2s"].evidence["hosts"]["mx.ejemplo.test"]["tls"][V6]
    assert tls["version"] in ("TLSv1.2", "TLSv1.3") and tls["error"] is None


def test_starttls_offered_over_ipv6_but_no_tls_fails_m2s() -> None:
    got = run(Mailer(starttls=True), Mailer(starttls=True, tls_works=False))
    assert got["M2"].status == Status.PASS
    assert got["M2s"].status == Status.FAIL
    assert got["M2s"].evidence["hosts"]["mx.ejemplo.test"]["tls"][V6]["error"]


def test_m2s_does_not_apply_without_starttls_over_ipv4_nor_run_without_tls() -> None:
    got = run(Mailer(), Mailer(starttls=True))
    assert got["M2s"].status == Status.NOT_APPLICABLE
    without = run(Mailer(starttls=True), Mailer(), tls=False)["M2s"]
    assert without.status == Status.NOT_TESTED and without.evidence == {"reason": "--sin-tls"}


def test_a_bad_banner_fails_m2() -> None:
    got = run(Mailer(), Mailer(banner="554 no"))
    assert got["M2"].status == Status.FAIL


def test_submission_on_ipv4_only_fails_m5() -> None:
    got = run(Mailer(client=(1,)), Mailer())
    assert got["M2"].status == Status.PASS
    assert got["M5"].status == Status.FAIL
    ev = got["M5"].evidence["hosts"]["mx.ejemplo.test"]
    assert ev["v6_open"] == {V6: []} and len(ev["v4_open"]) == 1


def test_a_dropped_banner_gets_a_retry_before_a_fail() -> None:
    assert run(Mailer(), Mailer(drop_first=1))["M2"].status == Status.PASS
    assert run(Mailer(), Mailer(drop_first=1), retries=0)["M2"].status == Status.FAIL


def test_no_ipv6_at_the_vantage_is_not_tested() -> None:
    got = run(Mailer(), Mailer(), v6_ok=False)
    assert {r.status for r in got.values()} == {Status.NOT_TESTED}


def test_null_mx_and_mx_without_aaaa_are_not_applicable() -> None:
    apex, www = HostAddresses("e.test"), HostAddresses("www.e.test")
    null = Resolved("e.test", apex, www, null_mx=True)
    v4_only = Resolved("e.test", apex, www, mx=((10, HostAddresses("mx.e.test", (V4,))),))
    for res in (null, v4_only):
        got = asyncio.run(check_mail(res, Context(v6_ok=True)))
        assert [(r.check, r.status) for r in got] == [
            ("M2", Status.NOT_APPLICABLE),
            ("M2s", Status.NOT_APPLICABLE),
            ("M5", Status.NOT_APPLICABLE),
        ]


def test_an_mx_that_does_not_resolve_is_not_tested() -> None:
    apex, www = HostAddresses("e.test"), HostAddresses("www.e.test")
    res = Resolved("e.test", apex, www, mx=((10, HostAddresses("mx.e.test", error="SERVFAIL")),))
    got = asyncio.run(check_mail(res, Context(v6_ok=True)))
    assert {r.status for r in got} == {Status.NOT_TESTED}
    assert all(r.evidence["errors"] == {"mx.e.test": "SERVFAIL"} for r in got)


def test_smtp_probe_reads_a_multiline_ehlo() -> None:
    async def main() -> sondas.Smtp:
        port = free_port()
        server = await asyncio.start_server(_smtp(Mailer(starttls=True)), V6, port)
        try:
            return await sondas.smtp_ehlo(V6, port, 2.0)
        finally:
            server.close()

    got = asyncio.run(main())
    assert got.ok and got.ehlo == ("PIPELINING", "STARTTLS", "8BITMIME")


def test_many_domains_keep_their_smtp_dialogues_under_the_limit() -> None:
    """Postfix answers 421 past 50 connections from one client: a big run stays under it."""
    live, peak = 0, 0

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        try:
            await asyncio.sleep(0.05)
            await _smtp(Mailer())(reader, writer)
        finally:
            live -= 1

    async def main() -> list[list[CheckResult]]:
        ports = MailPorts(free_port(), ())
        servers = [await asyncio.start_server(counting, a, ports.smtp) for a in (V4, V6)]
        ctx = Context(v6_ok=True, connect_timeout_s=2.0, smtp_timeout_s=5.0)
        host = HostAddresses("mx.e.test", (V4,), (V6,))
        doms = [
            Resolved(f"d{i}.test", HostAddresses(f"d{i}.test"), HostAddresses(f"www.d{i}.test"),
                     mx=((10, host),))
            for i in range(120)
        ]  # fmt: skip
        try:
            return await asyncio.gather(*(check_mail(d, ctx, ports=ports) for d in doms))
        finally:
            for s in servers:
                s.close()

    got = asyncio.run(main())
    assert all(r.status == Status.PASS for results in got for r in results if r.check != "M2s")
    assert 1 < peak <= MAX_SMTP
