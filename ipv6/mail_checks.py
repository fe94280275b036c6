"""M2 and M5: a domain's mail servers over IPv6, judged against IPv4.

- M2: every IPv6 address of every MX host gives a 220 banner and answers EHLO within
  ``ctx.smtp_timeout_s``; where IPv4 offers STARTTLS, IPv6 must offer it too.
- M5: the client mail ports 465, 587 and 993 of every MX host give the same result (open or
  closed) on its IPv4 and its IPv6 addresses.

A null MX, or no MX host with AAAA, makes both not-applicable; without IPv6 at the vantage
both are not-tested. A failure is tried again (``ctx.retries``) before it counts. M1, M3 and
M4 read DNS only and live with the name-server checks.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

from ipv6 import sondas
from ipv6.modelo import Category, CheckResult, Context, HostAddresses, Resolved, Status
from ipv6.web_checks import NO_VANTAGE, Verdict, worst

# Postfix answers 421 past 50 connections from one client (smtpd_client_connection_count_limit):
# a run of many domains keeps its SMTP dialogues under that.
MAX_SMTP = 32
RETRY_PAUSE_S = 0.5
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class MailPorts:
    smtp: int = 25
    client: tuple[int, ...] = (465, 587, 993)


def _result(domain: str, check: str, verdict: Verdict) -> CheckResult:
    status, message, evidence = verdict
    return CheckResult(domain, check, status, message, Category.MAIL, evidence)


async def check_mail(
    resolved: Resolved, ctx: Context, *, ports: MailPorts | None = None
) -> list[CheckResult]:
    """M2 and M5 for one resolved domain."""
    domain, ports = resolved.domain, ports or MailPorts()
    if resolved.error:
        why = f"el dominio no se resolvió: {resolved.error}"
        verdict: Verdict = (Status.NOT_TESTED, why, {"error": resolved.error})
        return [_result(domain, c, verdict) for c in ("M2", "M5")]
    hosts = [h for _, h in resolved.mx if h.v6]
    if resolved.null_mx or not hosts:
        why = "MX nulo: el dominio no recibe correo" if resolved.null_mx else "ningún MX tiene AAAA"
        evidence = {"mx": [h.name for _, h in resolved.mx], "null_mx": resolved.null_mx}
        return [_result(domain, c, (Status.NOT_APPLICABLE, why, evidence)) for c in ("M2", "M5")]
    if not ctx.v6_ok:
        return [
            _result(domain, c, (Status.NOT_TESTED, NO_VANTAGE, {"v6_ok": False}))
            for c in ("M2", "M5")
        ]
    m2, m5 = await asyncio.gather(
        asyncio.gather(*(_m2(h, ports, ctx) for h in hosts)),
        asyncio.gather(*(_m5(h, ports, ctx) for h in hosts)),
    )
    return [_result(domain, "M2", _merge(hosts, m2)), _result(domain, "M5", _merge(hosts, m5))]


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


async def _m2(host: HostAddresses, ports: MailPorts, ctx: Context) -> Verdict:
    addresses = host.v6 + host.v4
    dialogues = dict(
        zip(
            addresses,
            await asyncio.gather(*(_ehlo(a, ports.smtp, ctx) for a in addresses)),
            strict=True,
        )
    )
    evidence: dict[str, Any] = {"port": ports.smtp} | {
        a: _smtp_evidence(s) for a, s in dialogues.items()
    }
    broken = [a for a in host.v6 if not dialogues[a].ok]
    if broken:
        return Status.FAIL, f"{host.name}: sin 220 y EHLO por IPv6 en {', '.join(broken)}", evidence
    v4_tls = any("STARTTLS" in dialogues[a].ehlo for a in host.v4)
    no_tls = [a for a in host.v6 if "STARTTLS" not in dialogues[a].ehlo]
    if v4_tls and no_tls:
        return (
            Status.FAIL,
            f"{host.name}: IPv4 ofrece STARTTLS e IPv6 no ({', '.join(no_tls)})",
            evidence,
        )
    return Status.PASS, f"{host.name}: 220 y EHLO por IPv6", evidence


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
