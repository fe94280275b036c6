"""ipv6.sondas against small real servers on 127.0.0.1: a hostile SMTP server, a trickling
HTTP server, control characters in what a server sends, Spanish reasons."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from collections.abc import Awaitable, Callable

from ipv6 import sondas

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler, probe: Callable[[int], Awaitable[object]]) -> object:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        return await asyncio.wait_for(probe(port), 10.0)  # the old code hung here
    finally:
        server.close()


def _smtp(*replies: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(replies[0])
            await writer.drain()
            for reply in replies[1:]:
                await reader.readline()
                writer.write(reply)
                await writer.drain()
            await asyncio.sleep(0.5)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    return handler


def _ehlo(handler: Handler) -> sondas.Smtp:
    got = asyncio.run(_serve(handler, lambda port: sondas.smtp_ehlo("127.0.0.1", port, 2.0)))
    assert isinstance(got, sondas.Smtp)
    return got


def test_a_70_kib_smtp_line_is_the_probes_error_not_a_crash() -> None:
    got = _ehlo(_smtp(b"220 " + b"x" * (70 * 1024) + b"\r\n"))
    assert not got.ok and got.error == "línea de respuesta demasiado larga"


def test_smtp_replies_are_capped_in_lines_and_bytes() -> None:
    many = b"".join(b"250-X%d\r\n" % i for i in range(200)) + b"250 OK\r\n"
    got = _ehlo(_smtp(b"220 mx.test ESMTP\r\n", many))
    assert got.banner == "220 mx.test ESMTP" and got.error == "respuesta SMTP de más de 100 líneas"
    big = b"".join(b"250-" + b"y" * 1000 + b"\r\n" for _ in range(10)) + b"250 OK\r\n"
    got = _ehlo(_smtp(b"220 mx.test ESMTP\r\n", big))
    assert got.error == "respuesta SMTP de más de 8192 bytes"


def test_smtp_text_is_cleaned_before_it_is_kept() -> None:
    got = _ehlo(
        _smtp(b"220 mx.test \x1b[31mESMTP\x07\r\n", b"250-mx.test\r\n250 STARTTLS\x1b]0;x\x07\r\n")
    )
    assert (
        got.ok and got.banner is not None and "\x1b" not in got.banner and "\x07" not in got.banner
    )
    assert all("\x1b" not in k for k in got.ehlo)
    bad = _ehlo(_smtp(b"554 \x1b[2Jno\r\n"))
    assert bad.error is not None and bad.error.startswith("saludo inesperado: 554")
    assert "\x1b" not in bad.error


def test_a_trickling_http_server_meets_the_whole_exchange_deadline() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while True:  # a byte just inside the per-read timeout, forever
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    start = time.monotonic()
    got = asyncio.run(
        _serve(trickle, lambda port: sondas.http_get("127.0.0.1", port, "a.test", 0.4))
    )
    elapsed = time.monotonic() - start
    assert isinstance(got, sondas.Response)
    assert got.error == "tiempo agotado" and got.status == 200 and got.size > 40
    assert elapsed < 0.4 * sondas.EXCHANGE_FACTOR + 1.0, elapsed


def test_http_headers_are_cleaned() -> None:
    async def web(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 301 Moved\r\nLocation: http://b.test/\x1b[31m\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    got = asyncio.run(_serve(web, lambda port: sondas.http_get("127.0.0.1", port, "a.test", 2.0)))
    assert isinstance(got, sondas.Response) and got.status == 301
    assert got.location is not None and "\x1b" not in got.location


def test_os_errors_are_spanish_with_the_systems_words() -> None:
    unreachable = OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH))
    assert sondas._why(unreachable) == f"la red no es alcanzable ({os.strerror(errno.ENETUNREACH)})"
    assert sondas._why(OSError(errno.ENOTSOCK, "x")).startswith("error de red (ENOTSOCK)")
    assert sondas._why(ConnectionRefusedError(errno.ECONNREFUSED, "x")) == "conexión rechazada"
    assert (
        sondas._why(asyncio.IncompleteReadError(b"", 10))
        == "la respuesta se cortó antes de terminar"
    )
    import ssl

    tls = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    tls.reason = "WRONG_VERSION_NUMBER"
    assert sondas._why(tls) == "error de TLS (WRONG_VERSION_NUMBER)"


def _starttls(handler: Handler, timeout: float = 2.0) -> object:
    from ipv6 import mail_checks

    return asyncio.run(
        _serve(
            handler, lambda port: mail_checks.smtp_starttls("127.0.0.1", port, "mx.test", timeout)
        )
    )


def test_an_oversized_reply_to_starttls_is_the_probes_error_not_a_crash() -> None:
    from ipv6 import mail_checks

    got = _starttls(_smtp(b"220 " + b"x" * (70 * 1024) + b"\r\n"))
    assert isinstance(got, mail_checks.StartTls)
    assert got.error == "línea de respuesta demasiado larga"
    many = b"".join(b"250-X%d\r\n" % i for i in range(200)) + b"250 OK\r\n"
    got = _starttls(_smtp(b"220 mx.test ESMTP\r\n", many))
    assert isinstance(got, mail_checks.StartTls)
    assert got.error == "respuesta SMTP de más de 100 líneas"


def test_a_trickling_smtp_server_meets_the_starttls_exchange_deadline() -> None:
    from ipv6 import mail_checks

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for byte in b"220 mx.test ESMTP " + b"x" * 200:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    started = time.monotonic()
    got = _starttls(trickle, timeout=0.5)
    assert isinstance(got, mail_checks.StartTls) and got.error == "tiempo agotado"
    assert time.monotonic() - started < 2.5
