"""M2, M2s and M5: a domain's mail servers over IPv6, judged against IPv4.

- M2: every IPv6 address of every MX host gives a 220 banner and answers EHLO within
  ``ctx.smtp_timeout_s``.
- M2s (``ctx.tls``): where an MX host's IPv4 side offers STARTTLS, every IPv6 address offers
  it too and the TLS handshake after STARTTLS completes; not-applicable where IPv4 offers none.
- M5: the client mail ports 465, 587 and 993 of every MX host give the same result (open or
  closed) on its IPv4 and its IPv6 addresses.

A null MX, or no MX host with AAAA, makes them not-applicable (not-tested when the MX did
not resolve); without IPv6 at the vantage they are not-tested. A failure is tried again
(``ctx.retries``) before it counts. M1, M3 and M4 read DNS only and live with the name-server
checks.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import Any

from ipv6 import sondas
from ipv6.modelo import Category, CheckResult, Context, HostAddresses, Resolved, Status
from ipv6.web_checks import NO_VANTAGE, Verdict, without_tls, worst

# Postfix answers 421 past 50 connections from one client (smtpd_client_connection_count_limit):
# a run of many domains keeps its SMTP dialogues under that.
TITLES: dict[str, str] = {
    "M2": "SMTP por IPv6 (saludo y EHLO)",
    "M2s": "STARTTLS por IPv6 donde IPv4 lo ofrece",
    "M5": "Puertos de clientes de correo iguales en ambas familias",
}
MAX_SMTP = 32
RETRY_PAUSE_S = 0.5
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class MailPorts:
    smtp: int = 25
    client: tuple[int, ...] = (465, 587, 993)


@dataclass(frozen=True, slots=True)
class StartTls:
    """What STARTTLS on ``address`` gave: the negotiated protocol, or why it failed."""

    address: str
    port: int
    version: str | None = None
    cipher: str | None = None
    ms: float | None = None
    error: str | None = None


def _result(domain: str, check: str, verdict: Verdict) -> CheckResult:
    status, message, evidence = verdict
    return CheckResult(domain, check, status, message, Category.MAIL, evidence)


def _checks(ctx: Context) -> tuple[str, ...]:
    return ("M2", "M2s", "M5") if ctx.tls else ("M2", "M5")


def _untested(resolved: Resolved, ctx: Context) -> Verdict | None:
    """The verdict every mail check of ``resolved`` gets when none can be measured."""
    if resolved.error:
        why = f"el dominio no se resolvió: {resolved.error}"
        return Status.NOT_TESTED, why, {"error": resolved.error}
    if resolved.null_mx:
        return Status.NOT_APPLICABLE, "MX nulo: el dominio no recibe correo", {"null_mx": True}
    if not any(h.v6 for _, h in resolved.mx):
        failed = {h.name: h.error for _, h in resolved.mx if h.error}
        if failed:
            why = "no se pudo resolver el MX: " + ", ".join(f"{n} ({e})" for n, e in failed.items())
            return Status.NOT_TESTED, why, {"errors": failed}
        evidence = {"mx": [h.name for _, h in resolved.mx], "null_mx": False}
        return Status.NOT_APPLICABLE, "ningún MX tiene AAAA", evidence
    if not ctx.v6_ok:
        return Status.NOT_TESTED, NO_VANTAGE, {"v6_ok": False}
    return None


async def check_mail(
    resolved: Resolved, ctx: Context, *, ports: MailPorts | None = None
) -> list[CheckResult]:
    """M2, M2s and M5 for one resolved domain; without ``ctx.tls`` M2s is not-tested with
    the evidence ``{"reason": "--sin-tls"}``."""
    out = await _check_mail(resolved, ctx, ports)
    if not ctx.tls:
        out.insert(1, without_tls(resolved.domain, ("M2s",), Category.MAIL)[0])
    return out


async def _check_mail(
    resolved: Resolved, ctx: Context, ports: MailPorts | None
) -> list[CheckResult]:
    domain, ports = resolved.domain, ports or MailPorts()
    if (verdict := _untested(resolved, ctx)) is not None:
        return [_result(domain, c, verdict) for c in _checks(ctx)]
    hosts = [h for _, h in resolved.mx if h.v6]
    dialogues, m5 = await asyncio.gather(
        asyncio.gather(*(_dialogues(h, ports, ctx) for h in hosts)),
        asyncio.gather(*(_m5(h, ports, ctx) for h in hosts)),
    )
    m2 = [_m2(h, d, ports) for h, d in zip(hosts, dialogues, strict=True)]
    out = [_result(domain, "M2", _merge(hosts, m2))]
    if ctx.tls:
        m2s = await asyncio.gather(
            *(_m2s(h, d, ports, ctx) for h, d in zip(hosts, dialogues, strict=True))
        )
        out.append(_result(domain, "M2s", _merge(hosts, list(m2s))))
    return [*out, _result(domain, "M5", _merge(hosts, m5))]


def _merge(hosts: list[HostAddresses], verdicts: list[Verdict]) -> Verdict:
    status = worst(v[0] for v in verdicts)
    message = next(v[1] for v in verdicts if v[0] == status)
    return status, message, {"hosts": {h.name: v[2] for h, v in zip(hosts, verdicts, strict=True)}}


def _smtp_slots() -> asyncio.Semaphore:
    """The running loop's limit on simultaneous SMTP dialogues (see :data:`MAX_SMTP`)."""
    loop = asyncio.get_running_loop()
    slots = _SLOTS.get(loop)
    if slots is None:
        slots = _SLOTS[loop] = asyncio.Semaphore(MAX_SMTP)
    return slots


async def _ehlo(address: str, port: int, ctx: Context) -> sondas.Smtp:
    async with _smtp_slots():
        got = await sondas.smtp_ehlo(address, port, ctx.smtp_timeout_s)
    for _ in range(ctx.retries):
        if got.ok:
            break
        await asyncio.sleep(RETRY_PAUSE_S)  # a 421 (too many connections) is often brief
        async with _smtp_slots():
            got = await sondas.smtp_ehlo(address, port, ctx.smtp_timeout_s)
    return got


def _smtp_evidence(s: sondas.Smtp) -> dict[str, Any]:
    return {"banner": s.banner, "ehlo": list(s.ehlo), "ms": s.ms, "error": s.error}


async def _dialogues(host: HostAddresses, ports: MailPorts, ctx: Context) -> dict[str, sondas.Smtp]:
    """The 220 + EHLO dialogue with every address of ``host`` (IPv6 first)."""
    addresses = host.v6 + host.v4
    found = await asyncio.gather(*(_ehlo(a, ports.smtp, ctx) for a in addresses))
    return dict(zip(addresses, found, strict=True))


def _m2(host: HostAddresses, dialogues: dict[str, sondas.Smtp], ports: MailPorts) -> Verdict:
    evidence: dict[str, Any] = {"port": ports.smtp} | {
        a: _smtp_evidence(s) for a, s in dialogues.items()
    }
    broken = [a for a in host.v6 if not dialogues[a].ok]
    if broken:
        return Status.FAIL, f"{host.name}: sin 220 y EHLO por IPv6 en {', '.join(broken)}", evidence
    return Status.PASS, f"{host.name}: 220 y EHLO por IPv6", evidence


async def _m2s(host: HostAddresses, dialogues: dict[str, sondas.Smtp], ports: MailPorts,
               ctx: Context) -> Verdict:  # fmt: skip
    offered4 = [a for a in host.v4 if "STARTTLS" in dialogues[a].ehlo]
    offered6 = [a for a in host.v6 if "STARTTLS" in dialogues[a].ehlo]
    evidence: dict[str, Any] = {"port": ports.smtp, "v4_starttls": offered4,
                                "v6_starttls": offered6}  # fmt: skip
    if not offered4:
        return Status.NOT_APPLICABLE, f"{host.name}: IPv4 no ofrece STARTTLS", evidence
    done = await asyncio.gather(*(_tls(a, ports.smtp, host.name, ctx) for a in offered6))
    evidence["tls"] = {t.address: {"version": t.version, "cipher": t.cipher, "ms": t.ms,
                                   "error": t.error} for t in done}  # fmt: skip
    missing = [a for a in host.v6 if dialogues[a].ok and a not in offered6]
    if missing:
        return (Status.FAIL, f"{host.name}: IPv4 ofrece STARTTLS e IPv6 no ({', '.join(missing)})",
                evidence)  # fmt: skip
    broken = [t.address for t in done if t.error]
    if broken:
        return (Status.FAIL, f"{host.name}: el TLS tras STARTTLS no se completa por IPv6 en "
                f"{', '.join(broken)}", evidence)  # fmt: skip
    if len(done) < len(host.v6):
        return Status.NOT_TESTED, f"{host.name}: sin EHLO por IPv6 (vea M2)", evidence
    return Status.PASS, f"{host.name}: STARTTLS y TLS por IPv6 como por IPv4", evidence


async def _tls(address: str, port: int, name: str, ctx: Context) -> StartTls:
    async with _smtp_slots():
        got = await smtp_starttls(address, port, name, ctx.smtp_timeout_s)
    for _ in range(ctx.retries):
        if got.error is None:
            break
        await asyncio.sleep(RETRY_PAUSE_S)
        async with _smtp_slots():
            got = await smtp_starttls(address, port, name, ctx.smtp_timeout_s)
    return got


async def smtp_starttls(address: str, port: int, name: str, timeout: float,
                        helo: str = "pukara.test") -> StartTls:  # fmt: skip
    """220, EHLO, STARTTLS and the TLS handshake (certificate not verified); then QUIT. The
    whole dialogue has ``EXCHANGE_FACTOR × timeout`` seconds, and a reply that is too long or
    cut short is that address's error, as in :func:`ipv6.sondas.smtp_ehlo`."""
    start = time.perf_counter()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(sondas.EXCHANGE_FACTOR * timeout):
            reader, writer = await sondas._open(address, port, timeout)
            for command in (None, f"EHLO {helo}", "STARTTLS"):
                if command is not None:
                    writer.write(f"{command}\r\n".encode())
                    await writer.drain()
                reply = (await sondas._reply(reader, timeout))[0]
                if not reply.startswith("250" if command and command.startswith("EHLO") else "220"):
                    return StartTls(address, port, error=f"respuesta inesperada: {reply[:120]}")
            await writer.start_tls(sondas._client_tls(), server_hostname=name,
                                   ssl_handshake_timeout=timeout)  # fmt: skip
            tls = writer.get_extra_info("ssl_object")
            cipher = tls.cipher() if tls else None
            writer.write(b"QUIT\r\n")
            await writer.drain()
        ms = round((time.perf_counter() - start) * 1000, 3)
        return StartTls(address, port, tls.version() if tls else None,
                        cipher[0] if cipher else None, ms)  # fmt: skip
    except sondas.PROBE_ERRORS as exc:  # ssl.SSLError is an OSError
        return StartTls(address, port, error=sondas._why(exc))
    finally:
        if writer is not None:
            await sondas._close(writer)


async def _m5(host: HostAddresses, ports: MailPorts, ctx: Context) -> Verdict:
    async def open_ports(address: str) -> list[int]:
        found = await asyncio.gather(
            *(
                sondas.connect_retry(address, p, ctx.connect_timeout_s, ctx.retries)
                for p in ports.client
            )
        )
        return sorted(c.port for c in found if c.open)

    addresses = host.v4 + host.v6
    opened = dict(
        zip(addresses, await asyncio.gather(*(open_ports(a) for a in addresses)), strict=True)
    )
    v4 = sorted({p for a in host.v4 for p in opened[a]})
    evidence: dict[str, Any] = {"ports": list(ports.client), "v4_open": v4}
    evidence["v6_open"] = {a: opened[a] for a in host.v6}
    differ = [a for a in host.v6 if host.v4 and opened[a] != v4]
    if differ:
        return (
            Status.FAIL,
            f"{host.name}: los puertos 465/587/993 difieren entre IPv4 e IPv6",
            evidence,
        )
    return Status.PASS, f"{host.name}: 465/587/993 iguales en IPv4 e IPv6", evidence
