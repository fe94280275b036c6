"""Small network probes over asyncio streams for the web and mail checks.

A TCP connect with its time, a minimal HTTP/1.1 client (``Connection: close``, optional TLS
through :mod:`ssl`), a TLS handshake that reports the server's certificate and protocol, and
an SMTP 220 + EHLO dialogue. Every probe returns a result object and never raises for a
network failure or a broken reply (a line over the stream's limit, an SMTP reply over
:data:`SMTP_MAX_LINES` lines or :data:`SMTP_MAX_BYTES` bytes): the failure is the result
(``error``, in Spanish), so a check can keep it as evidence. A whole exchange (connect,
request, reply) has a deadline of :data:`EXCHANGE_FACTOR` times the per-step timeout, so a
server that trickles a byte at a time cannot hold a probe for long. Text the server sends
(banner, EHLO reply, headers) is cleaned of control characters before it is kept.
Certificates are not verified here: W6 compares what each family presents, it does not judge
the chain (lab servers are self-signed).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import ssl
import time
from dataclasses import dataclass, field

from pukara.errors import os_reason_hinted
from pukara.text import clean_line

MAX_BODY = 256 * 1024  # bytes read from one response at most
USER_AGENT = "pukara-ipv6"
EXCHANGE_FACTOR = 2.0  # a whole exchange may take this many per-step timeouts
SMTP_MAX_LINES = 100  # lines of one SMTP reply at most
SMTP_MAX_BYTES = 8 * 1024  # bytes of one SMTP reply at most


class BadReply(ValueError):
    """A reply the probe will not read further (its message is Spanish)."""


# what a probe turns into its result's error rather than raising
PROBE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Connect:
    address: str
    port: int
    open: bool
    ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Response:
    address: str
    port: int
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    size: int = 0  # bytes received in all (status line, headers, body)
    complete: bool = False  # the body arrived whole (Content-Length, chunked end or EOF)
    ms: float | None = None
    error: str | None = None

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


@dataclass(frozen=True, slots=True)
class Tls:
    address: str
    port: int
    cert_sha256: str | None = None
    version: str | None = None
    cipher: str | None = None
    error: str | None = None
    protocols: tuple[str, ...] = ()  # versions the server accepted


@dataclass(frozen=True, slots=True)
class Smtp:
    address: str
    port: int
    banner: str | None = None  # the 220 line
    ehlo: tuple[str, ...] = ()  # EHLO keywords (STARTTLS, PIPELINING, ...)
    ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.banner) and bool(self.ehlo)


def _why(exc: BaseException) -> str:
    """A probe's failure in Spanish (the system's or the TLS library's words in brackets)."""
    if isinstance(exc, TimeoutError):
        return "tiempo agotado"
    if isinstance(exc, ConnectionRefusedError):
        return "conexión rechazada"
    if isinstance(exc, BadReply):
        return str(exc)
    if isinstance(exc, ssl.SSLError):
        return clean_line(f"error de TLS ({exc.reason or exc})")[:200]
    if isinstance(exc, asyncio.IncompleteReadError):
        return "la respuesta se cortó antes de terminar"
    if isinstance(exc, asyncio.LimitOverrunError | ValueError):
        return "línea de respuesta demasiado larga"
    if isinstance(exc, OSError):
        if exc.errno is None:
            return clean_line(str(exc) or "error de red")[:200]
        return clean_line(os_reason_hinted(exc, fallback="error de red"))[:200]
    return f"error de la sonda ({type(exc).__name__})"


@functools.cache
def _client_tls(maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """One client context per protocol cap, made once (loading it costs milliseconds)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


async def _open(
    address: str,
    port: int,
    timeout: float,
    tls_name: str | None = None,
    maximum: ssl.TLSVersion | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if tls_name is None:
        return await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    opening = asyncio.open_connection(
        address, port, ssl=_client_tls(maximum), server_hostname=tls_name
    )
    return await asyncio.wait_for(opening, timeout)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


async def connect(address: str, port: int, timeout: float) -> Connect:
    """Whether ``address:port`` accepts a TCP connection within ``timeout`` seconds."""
    start = time.perf_counter()
    try:
        _, writer = await _open(address, port, timeout)
    except PROBE_ERRORS as exc:
        return Connect(address, port, False, error=_why(exc))
    ms = (time.perf_counter() - start) * 1000
    await _close(writer)
    return Connect(address, port, True, ms=round(ms, 3))


async def connect_retry(address: str, port: int, timeout: float, retries: int) -> Connect:
    """:func:`connect`, tried again ``retries`` times before a closed port is believed."""
    result = await connect(address, port, timeout)
    for _ in range(retries):
        if result.open:
            break
        result = await connect(address, port, timeout)
    return result


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    out, rest = bytearray(), data
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return bytes(out), False
        try:
            size = int(line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            return bytes(out), False
        if size == 0:
            return bytes(out), True
        out += rest[:size]
        if len(rest) < size + 2:
            return bytes(out), False
        rest = rest[size + 2 :]


def parse_response(address: str, port: int, raw: bytes, ms: float) -> Response:
    """An HTTP/1.1 response read to EOF: status, headers (lower-case names) and body."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return Response(address, port, size=len(raw), ms=ms, error="respuesta HTTP inválida")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[clean_line(name).strip().lower()] = clean_line(value).strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, complete = _dechunk(rest)
    elif headers.get("content-length", "").isdigit():
        length = int(headers["content-length"])
        body, complete = rest[:length], len(rest) >= length
    else:
        body, complete = rest, True
    return Response(address, port, int(parts[1]), headers, body, len(raw), complete, ms)


async def http_get(
    address: str, port: int, host: str, timeout: float, *, tls: bool = False, path: str = "/"
) -> Response:
    """``GET path`` with ``Host: host`` at ``address:port`` (TLS with SNI ``host`` if asked),
    the whole exchange within ``EXCHANGE_FACTOR × timeout`` seconds."""
    start = time.perf_counter()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    )
    raw = bytearray()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(EXCHANGE_FACTOR * timeout):
            reader, writer = await _open(address, port, timeout, host if tls else None)
            writer.write(request.encode("ascii", "replace"))
            await writer.drain()
            while len(raw) < MAX_BODY:
                chunk = await asyncio.wait_for(reader.read(MAX_BODY - len(raw)), timeout)
                if not chunk:
                    break
                raw += chunk
    except PROBE_ERRORS as exc:
        if writer is None:
            return Response(address, port, error=_why(exc))
        ms = (time.perf_counter() - start) * 1000
        partial = parse_response(address, port, bytes(raw), ms) if raw else None
        return Response(
            address,
            port,
            status=partial.status if partial else None,
            size=len(raw),
            ms=round(ms, 3),
            error=_why(exc),
        )
    finally:
        if writer is not None:
            await _close(writer)
    return parse_response(address, port, bytes(raw), round((time.perf_counter() - start) * 1000, 3))


async def _handshake(
    address: str, port: int, host: str, timeout: float, maximum: ssl.TLSVersion | None = None
) -> Tls:
    try:
        _, writer = await _open(address, port, timeout, host, maximum)
    except PROBE_ERRORS as exc:
        return Tls(address, port, error=_why(exc))
    obj = writer.get_extra_info("ssl_object")
    try:
        der = obj.getpeercert(binary_form=True) if obj else None
        cipher = obj.cipher() if obj else None
        version = obj.version() if obj else None
        return Tls(
            address,
            port,
            cert_sha256=hashlib.sha256(der).hexdigest() if der else None,
            version=version,
            cipher=cipher[0] if cipher else None,
            protocols=(version,) if version else (),
        )
    finally:
        await _close(writer)


async def tls_info(address: str, port: int, host: str, timeout: float) -> Tls:
    """The certificate (SHA-256 of its DER form), protocol and cipher ``address`` presents.

    ``protocols``: the negotiated version and, when that is TLS 1.3, TLS 1.2 if a handshake
    capped at 1.2 also succeeds (the client refuses anything older).
    """
    first = await _handshake(address, port, host, timeout)
    if first.version != "TLSv1.3":
        return first
    capped = await _handshake(address, port, host, timeout, ssl.TLSVersion.TLSv1_2)
    if capped.error or not capped.version:
        return first
    return dataclasses.replace(first, protocols=tuple(sorted({*first.protocols, capped.version})))


async def _reply(reader: asyncio.StreamReader, timeout: float) -> list[str]:
    """One SMTP reply, every line of it (``250-...`` continues, ``250 ...`` ends), cleaned of
    control characters; at most :data:`SMTP_MAX_LINES` lines and :data:`SMTP_MAX_BYTES`."""
    lines: list[str] = []
    size = 0
    while True:
        raw = await asyncio.wait_for(reader.readline(), timeout)
        if not raw:
            raise ConnectionError("el servidor cerró la conexión")
        size += len(raw)
        if size > SMTP_MAX_BYTES:
            raise BadReply(f"respuesta SMTP de más de {SMTP_MAX_BYTES} bytes")
        line = clean_line(raw.decode("latin-1").rstrip("\r\n"))
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines
        if len(lines) >= SMTP_MAX_LINES:
            raise BadReply(f"respuesta SMTP de más de {SMTP_MAX_LINES} líneas")


async def smtp_ehlo(address: str, port: int, timeout: float, helo: str = "pukara.test") -> Smtp:
    """Connect, read the 220 banner, send EHLO and read its 250 reply; then QUIT. The whole
    dialogue has ``EXCHANGE_FACTOR × timeout`` seconds."""
    start = time.perf_counter()
    banner: str | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(EXCHANGE_FACTOR * timeout):
            reader, writer = await _open(address, port, timeout)
            greeting = await _reply(reader, timeout)
            if not greeting[0].startswith("220"):
                return Smtp(address, port, error=f"saludo inesperado: {greeting[0][:120]}")
            banner = greeting[0]
            writer.write(f"EHLO {helo}\r\n".encode())
            await writer.drain()
            reply = await _reply(reader, timeout)
            if not reply[0].startswith("250"):
                return Smtp(address, port, banner, error=f"EHLO rechazado: {reply[0][:120]}")
            keywords = tuple(line[4:].split(" ")[0].upper() for line in reply[1:])
            writer.write(b"QUIT\r\n")
            await writer.drain()
        ms = round((time.perf_counter() - start) * 1000, 3)
        return Smtp(address, port, banner, keywords, ms)
    except PROBE_ERRORS as exc:
        return Smtp(address, port, banner, error=_why(exc))
    finally:
        if writer is not None:
            await _close(writer)
