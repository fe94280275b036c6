"""W6c and W6p: the same TLS on both families, where both offer 443 (``ctx.tls``).

- W6c, the same certificate chain: the same leaf (SHA-256 of its DER form) and the same
  chain-validation outcome. The chain is verified with a context that trusts only
  ``ctx.tls_roots`` (a PEM file; without it the system's store) and has no intermediate
  loaded, so a server that omits its intermediate fails to verify while one that sends it
  verifies: a chain difference. The host name is not checked (it is the same on both
  families); the outcome compared is "verified" or the verifier's error code.
- W6p, the same protocol set: which of TLS 1.2 and TLS 1.3 each address accepts, one
  handshake per protocol with ``minimum_version = maximum_version``.

Every handshake that fails for a reason other than the one judged (a timeout, a reset) is
tried again ``ctx.retries`` times before it counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ipv6.modelo import Context, HostAddresses, Status

PROTOCOLS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
Verdict = tuple[Status, str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Handshake:
    leaf_sha256: str | None = None
    version: str | None = None
    error: str | None = None
    verify_code: int | None = None  # the verifier's error code when the chain did not verify
    refused: bool = False  # the server answered, but refused the handshake (protocol, chain)


@dataclass(frozen=True, slots=True)
class TlsView:
    """What one address shows over TLS."""

    address: str
    leaf_sha256: str | None
    protocols: tuple[str, ...]  # of PROTOCOLS, those the address accepted
    chain: str  # "verificada", "error N: ..." or "sin saludo: ..."
    errors: dict[str, str] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        return {
            "cert_sha256": self.leaf_sha256,
            "protocols": list(self.protocols),
            "chain": self.chain,
            "errors": dict(self.errors),
        }


@functools.cache
def _context(version: str | None, roots: str | None) -> ssl.SSLContext:
    """``version``: one protocol, unverified; None: verify the chain with ``roots`` only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if version is not None:
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = PROTOCOLS[version]
        return ctx
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags &= ~ssl.VERIFY_X509_PARTIAL_CHAIN
    if roots:
        ctx.load_verify_locations(cafile=roots)
    else:
        ctx.load_default_certs()
    return ctx


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "tiempo agotado"
    if isinstance(exc, ConnectionRefusedError):
        return "conexión rechazada"
    return (str(exc) or type(exc).__name__)[:200]


async def handshake(
    address: str, port: int, name: str, timeout: float, context: ssl.SSLContext
) -> Handshake:
    """One TLS handshake (SNI ``name``); the leaf's hash and the protocol, or why not."""
    try:
        opening = asyncio.open_connection(address, port, ssl=context, server_hostname=name)
        _, writer = await asyncio.wait_for(opening, timeout)
    except ssl.SSLCertVerificationError as exc:
        return Handshake(error=_why(exc), verify_code=exc.verify_code, refused=True)
    except ssl.SSLError as exc:
        return Handshake(error=_why(exc), refused=True)
    except (OSError, TimeoutError) as exc:
        return Handshake(error=_why(exc))
    try:
        obj = writer.get_extra_info("ssl_object")
        der = obj.getpeercert(binary_form=True) if obj else None
        return Handshake(
            leaf_sha256=hashlib.sha256(der).hexdigest() if der else None,
            version=obj.version() if obj else None,
        )
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _retried(
    address: str, port: int, name: str, ctx: Context, context: ssl.SSLContext
) -> Handshake:
    got = await handshake(address, port, name, ctx.connect_timeout_s, context)
    for _ in range(ctx.retries):
        if got.error is None or got.refused:
            break
        got = await handshake(address, port, name, ctx.connect_timeout_s, context)
    return got


async def view(address: str, port: int, name: str, ctx: Context) -> TlsView:
    """The leaf, the accepted protocols and the chain's outcome of one address."""
    versions = list(PROTOCOLS)
    done = await asyncio.gather(
        *(_retried(address, port, name, ctx, _context(v, None)) for v in versions),
        _retried(address, port, name, ctx, _context(None, ctx.tls_roots)),
    )
    per_version, verified = dict(zip(versions, done[:-1], strict=True)), done[-1]
    errors = {v: h.error for v, h in per_version.items() if h.error}
    leaf = next((h.leaf_sha256 for h in (*done[:-1], verified) if h.leaf_sha256), None)
    if verified.error is None:
        chain = "verificada"
    elif verified.verify_code is not None:
        chain = f"error {verified.verify_code}: {verified.error}"
    else:
        chain = f"sin saludo: {verified.error}"
        errors["cadena"] = verified.error
    protocols = tuple(v for v, h in per_version.items() if h.error is None)
    return TlsView(address, leaf, protocols, chain, errors)


def _pairs(
    host: HostAddresses, opened: Mapping[str, list[int]], https: int
) -> list[tuple[str, str]]:
    return [
        (a4, a6) for a4 in host.v4 for a6 in host.v6 if https in opened[a4] and https in opened[a6]
    ]


async def check_tls(
    host: HostAddresses, opened: Mapping[str, list[int]], https: int, ctx: Context
) -> dict[str, Verdict]:
    """W6c and W6p of one name over every v4/v6 pair that both offer ``https``."""
    pairs = _pairs(host, opened, https)
    if not pairs:
        why = f"{host.name}: 443 no está abierto en ambas familias"
        na: Verdict = (Status.NOT_APPLICABLE, why, {"open": dict(opened)})
        return {"W6c": na, "W6p": na}
    wanted = sorted({a for pair in pairs for a in pair})
    views = await asyncio.gather(*(view(a, https, host.name, ctx) for a in wanted))
    infos = dict(zip(wanted, views, strict=True))
    evidence = {a: t.evidence() for a, t in infos.items()}
    return {
        "W6c": _judge(host.name, pairs, infos, evidence, _chain),
        "W6p": _judge(host.name, pairs, infos, evidence, _protocols),
    }


def _chain(t4: TlsView, t6: TlsView) -> str | None:
    if t4.leaf_sha256 is None or t6.leaf_sha256 is None:
        return "el saludo TLS falló en una familia"
    if t4.leaf_sha256 != t6.leaf_sha256:
        return "el certificado difiere entre IPv4 e IPv6"
    if t4.chain != t6.chain:
        return f"la cadena del certificado difiere: IPv4 {t4.chain}; IPv6 {t6.chain}"
    return None


def _protocols(t4: TlsView, t6: TlsView) -> str | None:
    if not t4.protocols or not t6.protocols:
        return "el saludo TLS falló en una familia"
    if t4.protocols != t6.protocols:
        return (
            f"los protocolos TLS difieren: IPv4 {', '.join(t4.protocols)}; "
            f"IPv6 {', '.join(t6.protocols)}"
        )
    return None


def _judge(
    name: str,
    pairs: list[tuple[str, str]],
    infos: Mapping[str, TlsView],
    evidence: dict[str, Any],
    rule: Callable[[TlsView, TlsView], str | None],
) -> Verdict:
    for a4, a6 in pairs:
        why = rule(infos[a4], infos[a6])
        if why is not None:
            return Status.FAIL, f"{name}: {why} ({a4} / {a6})", evidence
    what = "la misma cadena de certificados" if rule is _chain else "los mismos protocolos TLS"
    return Status.PASS, f"{name}: {what} en ambas familias", evidence
