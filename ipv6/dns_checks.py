"""N1-N5, N5m, M1, M3, M4: a domain's name servers, DNSSEC and mail records.

The judging functions are pure over :class:`~ipv6.modelo.Resolved` and what the probes
measured (:class:`Probes`), so each rule is tested on recorded answers; :func:`check_dns`
gathers the probes (direct SOA queries to each name server address over UDP and TCP, PTR
lookups, the security of each MX domain's zone) and judges.

- N1 at least two NS names have a global AAAA (never ``::ffff:``).
- N2u / N2t every IPv6 address of a name server answers the domain's SOA authoritatively
  over UDP / TCP within the timeout (a retry before a fail); no IPv6 NS: not-applicable.
- N3 the IPv6 addresses of the name servers lie in at least two /48s; otherwise warn.
- N4 every name server also answers over IPv4; an IPv6-only one warns, a silent one fails.
- N5 the validating resolver marks the domain's SOA secure (AD).
- N5m the zone of every MX host is secure too: one insecure (no AD) or bogus (SERVFAIL) fails,
  the evidence names each MX, its zone and its state; a null MX or no MX: not-applicable.
- M1 every MX has an AAAA (a null MX or no MX: not-applicable; an MX whose lookup failed:
  not-tested).
- M3 every IPv6 address of the MX has a forward-confirmed PTR; otherwise warn.
- M4 when SPF grants IPv4 (``ip4:``, or ``a``/``mx`` terms that resolve to A), it also grants
  IPv6 (``ip6:``, or ``a``/``mx`` terms that resolve to AAAA).

With no IPv6 at the vantage (``ctx.v6_ok`` False) N2u and N2t are not-tested.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.resolver
import dns.reversename

from ipv6.equipos_reglas import is_global
from ipv6.modelo import Category, CheckResult, Context, HostAddresses, Resolved, Status

DNS_CHECKS = ("N1", "N2u", "N2t", "N3", "N4", "N5", "N5m", "M1", "M3", "M4")
TITLES: dict[str, str] = {
    "N1": "Servidores de nombres con AAAA",
    "N2u": "Servidores de nombres responden por IPv6 (UDP)",
    "N2t": "Servidores de nombres responden por IPv6 (TCP)",
    "N3": "Diversidad de los servidores de nombres IPv6",
    "N4": "Servidores de nombres también por IPv4",
    "N5": "DNSSEC del dominio",
    "N5m": "DNSSEC de las zonas de los MX",
    "M1": "Todos los MX con AAAA",
    "M3": "PTR confirmado de los MX IPv6",
    "M4": "SPF con su equivalente IPv6",
}
CATEGORY = {
    **dict.fromkeys(("N1", "N2u", "N2t", "N3", "N4"), Category.NAMESERVERS),
    **dict.fromkeys(("N5", "N5m"), Category.DNSSEC),
    **dict.fromkeys(("M1", "M3", "M4"), Category.MAIL),
}


SECURE, INSECURE, BOGUS = "secure", "insecure", "bogus"
STATE_TEXT = {SECURE: "validada", INSECURE: "sin firmar", BOGUS: "firma inválida"}


@dataclass(frozen=True, slots=True)
class MxZone:
    """The zone of an MX host and how the validating resolver sees it: ``secure`` (AD),
    ``insecure`` (no AD), ``bogus`` (SERVFAIL) or why it could not tell (``timeout``...)."""

    zone: str | None
    state: str


@dataclass(slots=True)
class Probes:
    """What was measured beyond the resolver's answers."""

    udp6: dict[str, bool] = field(default_factory=dict)  # v6 NS address -> answered (UDP)
    tcp6: dict[str, bool] = field(default_factory=dict)  # v6 NS address -> answered (TCP)
    udp4: dict[str, bool] = field(default_factory=dict)  # v4 NS address -> answered
    mx_zones: dict[str, MxZone] = field(default_factory=dict)  # MX host -> its zone's state
    ptr: dict[str, list[str]] = field(default_factory=dict)  # v6 MX address -> PTR names
    confirmed: dict[str, bool] = field(default_factory=dict)  # v6 MX address -> FCrDNS
    spf_hosts: dict[str, HostAddresses] = field(default_factory=dict)  # a:/mx: term hosts


def _result(domain: str, check: str, status: Status, message: str,
            evidence: Mapping[str, Any] | None = None) -> CheckResult:  # fmt: skip
    return CheckResult(domain, check, status, message, CATEGORY[check], dict(evidence or {}))


def _v6(addresses: Sequence[str]) -> list[ipaddress.IPv6Address]:
    out = []
    for a in addresses:
        try:
            out.append(ipaddress.IPv6Address(a))
        except ValueError:
            continue
    return out


def judge_n1(r: Resolved, ctx: Context) -> CheckResult:
    names = {
        h.name: [str(a) for a in _v6(h.v6) if a.ipv4_mapped is None
                 and is_global(a, ctx.global_prefixes)]
        for h in r.ns
    }  # fmt: skip
    good = sorted(n for n, a in names.items() if a)
    evidence = {"ns": {h.name: list(h.v6) for h in r.ns}, "global": good}
    if len(good) >= 2:
        return _result(
            r.domain,
            "N1",
            Status.PASS,
            f"{len(good)} servidores de nombres con AAAA global",
            evidence,
        )
    return _result(r.domain, "N1", Status.FAIL,
                   f"solo {len(good)} de {len(r.ns)} servidores de nombres tienen AAAA global "
                   "(se necesitan 2)", evidence)  # fmt: skip


def _answers(
    r: Resolved, ctx: Context, check: str, seen: Mapping[str, bool], how: str
) -> CheckResult:
    addresses = [a for h in r.ns for a in h.v6]
    if not addresses:
        return _result(
            r.domain, check, Status.NOT_APPLICABLE, "ningún servidor de nombres tiene AAAA"
        )
    if not ctx.v6_ok:
        return _result(r.domain, check, Status.NOT_TESTED, "sin IPv6 en el punto de prueba (C1)")
    silent = sorted(a for a in addresses if not seen.get(a))
    evidence = {"addresses": addresses, "silent": silent}
    if silent:
        return _result(r.domain, check, Status.FAIL,
                       f"no responden por IPv6 ({how}): {', '.join(silent)}", evidence)  # fmt: skip
    return _result(r.domain, check, Status.PASS, f"todos responden por IPv6 ({how})", evidence)


def judge_n3(r: Resolved) -> CheckResult:
    addresses = _v6([a for h in r.ns for a in h.v6])
    if not addresses:
        return _result(
            r.domain, "N3", Status.NOT_APPLICABLE, "ningún servidor de nombres tiene AAAA"
        )
    nets = sorted({str(ipaddress.IPv6Network(f"{a}/48", strict=False)) for a in addresses})
    evidence = {"addresses": [str(a) for a in addresses], "prefixes_48": nets}
    if len(nets) >= 2:
        return _result(
            r.domain, "N3", Status.PASS, f"servidores IPv6 en {len(nets)} redes /48", evidence
        )
    return _result(r.domain, "N3", Status.WARN,
                   f"todos los servidores IPv6 están en una sola red /48 ({nets[0]})", evidence)  # fmt: skip


def judge_n4(r: Resolved, seen: Mapping[str, bool]) -> CheckResult:
    only6 = sorted(h.name for h in r.ns if not h.v4)
    silent = sorted(a for h in r.ns for a in h.v4 if not seen.get(a))
    evidence = {"ns": {h.name: list(h.v4) for h in r.ns}, "ipv6_only": only6, "silent": silent}
    if silent:
        return _result(
            r.domain, "N4", Status.FAIL, f"no responden por IPv4: {', '.join(silent)}", evidence
        )
    if only6:
        return _result(r.domain, "N4", Status.WARN,
                       f"servidores de nombres solo IPv6: {', '.join(only6)}", evidence)  # fmt: skip
    return _result(r.domain, "N4", Status.PASS, "todos responden también por IPv4", evidence)


def judge_n5(r: Resolved) -> CheckResult:
    evidence = {"domain_secure": r.secure}
    if not r.secure:
        return _result(
            r.domain, "N5", Status.FAIL, "el dominio no está firmado con DNSSEC válido", evidence
        )
    return _result(r.domain, "N5", Status.PASS, "el dominio valida con DNSSEC", evidence)


def judge_n5m(r: Resolved, mx_zones: Mapping[str, MxZone]) -> CheckResult:
    if (na := _no_mail(r, "N5m")) is not None:
        return na
    seen = {h.name: mx_zones.get(h.name, MxZone(None, "sin medir")) for _, h in r.mx}
    evidence = {"mx": {n: {"zone": z.zone, "state": z.state} for n, z in sorted(seen.items())}}
    bad = [f"{n} ({z.zone or 'zona desconocida'}: {STATE_TEXT[z.state]})"
           for n, z in sorted(seen.items()) if z.state in (INSECURE, BOGUS)]  # fmt: skip
    if bad:
        return _result(r.domain, "N5m", Status.FAIL,
                       f"MX en zonas sin DNSSEC válido: {', '.join(bad)}", evidence)  # fmt: skip
    unknown = sorted(f"{n} ({z.state})" for n, z in seen.items() if z.state != SECURE)
    if unknown:
        return _result(r.domain, "N5m", Status.NOT_TESTED,
                       f"no se pudo saber el DNSSEC de: {', '.join(unknown)}", evidence)  # fmt: skip
    return _result(
        r.domain, "N5m", Status.PASS, "las zonas de todos los MX validan con DNSSEC", evidence
    )


def _no_mail(r: Resolved, check: str) -> CheckResult | None:
    if r.null_mx:
        return _result(
            r.domain, check, Status.NOT_APPLICABLE, "MX nulo: el dominio no recibe correo"
        )
    if not r.mx:
        return _result(r.domain, check, Status.NOT_APPLICABLE, "el dominio no tiene MX")
    return None


def judge_m1(r: Resolved) -> CheckResult:
    if (na := _no_mail(r, "M1")) is not None:
        return na
    missing = sorted(h.name for _, h in r.mx if not h.v6 and not h.error)
    failed = {h.name: h.error for _, h in r.mx if h.error and not h.v6}
    evidence = {"mx": {h.name: list(h.v6) for _, h in r.mx}, "without_aaaa": missing}
    if missing:
        return _result(r.domain, "M1", Status.FAIL, f"MX sin AAAA: {', '.join(missing)}", evidence)
    if failed:
        return _result(r.domain, "M1", Status.NOT_TESTED,
                       "no se pudo resolver el MX: " + ", ".join(f"{n} ({e})" for n, e in
                                                                 sorted(failed.items())),
                       evidence | {"errors": failed})  # fmt: skip
    return _result(r.domain, "M1", Status.PASS, "todos los MX tienen AAAA", evidence)


def judge_m3(r: Resolved, p: Probes) -> CheckResult:
    if (na := _no_mail(r, "M3")) is not None:
        return na
    addresses = sorted({a for _, h in r.mx for a in h.v6})
    failed = {h.name: h.error for _, h in r.mx if h.error}
    if not addresses and failed:
        return _result(r.domain, "M3", Status.NOT_TESTED, "no se pudo resolver ningún MX",
                       {"errors": failed})  # fmt: skip
    if not addresses:
        return _result(r.domain, "M3", Status.NOT_APPLICABLE, "ningún MX tiene AAAA")
    bad = [a for a in addresses if not p.confirmed.get(a)]
    evidence = {"ptr": {a: p.ptr.get(a, []) for a in addresses}, "unconfirmed": bad}
    if bad:
        return _result(r.domain, "M3", Status.WARN,
                       f"sin PTR confirmado: {', '.join(bad)}", evidence)  # fmt: skip
    return _result(
        r.domain, "M3", Status.PASS, "cada dirección IPv6 de los MX tiene PTR confirmado", evidence
    )


def spf_terms(spf: str) -> list[tuple[str, str]]:
    """(mechanism, argument) of a ``v=spf1`` record, qualifiers dropped, lower-cased."""
    out = []
    for raw in spf.split()[1:]:
        term = raw.lstrip("+-~?").lower()
        name, _, arg = term.partition(":")
        name = name.split("/", 1)[0]
        out.append((name, arg.split("/", 1)[0] if arg else ""))
    return out


def spf_hosts(r: Resolved) -> list[str]:
    """The names whose addresses the SPF's ``a:`` / ``mx:`` terms name, besides the domain's own."""
    return sorted({arg for m, arg in spf_terms(r.spf or "") if m in ("a", "mx") and arg
                   and arg != r.domain})  # fmt: skip


def judge_m4(r: Resolved, p: Probes) -> CheckResult:
    if r.null_mx:
        return _result(r.domain, "M4", Status.NOT_APPLICABLE, "MX nulo: el dominio no envía correo")
    if not r.spf:
        return _result(r.domain, "M4", Status.NOT_APPLICABLE, "el dominio no publica SPF")
    v4 = v6 = False
    for mech, arg in spf_terms(r.spf):
        hosts: list[HostAddresses] = []
        if mech == "ip4":
            v4 = True
        elif mech == "ip6":
            v6 = True
        elif mech == "a":
            hosts = [p.spf_hosts[arg]] if arg in p.spf_hosts else ([] if arg else [r.apex])
        elif mech == "mx" and not arg:
            hosts = [h for _, h in r.mx]
        elif mech == "mx" and arg in p.spf_hosts:
            hosts = [p.spf_hosts[arg]]
        v4 = v4 or any(h.v4 for h in hosts)
        v6 = v6 or any(h.v6 for h in hosts)
    evidence = {"spf": r.spf, "grants_ipv4": v4, "grants_ipv6": v6}
    if not v4:
        return _result(
            r.domain, "M4", Status.NOT_APPLICABLE, "el SPF no autoriza direcciones IPv4", evidence
        )
    if v6:
        return _result(
            r.domain, "M4", Status.PASS, "el SPF autoriza también direcciones IPv6", evidence
        )
    return _result(r.domain, "M4", Status.FAIL,
                   "el SPF autoriza IPv4 pero ninguna dirección IPv6", evidence)  # fmt: skip


def judge(r: Resolved, ctx: Context, p: Probes) -> list[CheckResult]:
    """N1-N5, N5m, M1, M3, M4 from the resolver's answers and the probes."""
    return [
        judge_n1(r, ctx),
        _answers(r, ctx, "N2u", p.udp6, "UDP"),
        _answers(r, ctx, "N2t", p.tcp6, "TCP"),
        judge_n3(r),
        judge_n4(r, p.udp4),
        judge_n5(r),
        judge_n5m(r, p.mx_zones),
        judge_m1(r),
        judge_m3(r, p),
        judge_m4(r, p),
    ]


# ---- probes -----------------------------------------------------------------------------


async def _soa_answers(domain: str, address: str, tcp: bool, ctx: Context) -> bool:

    query = dns.message.make_query(domain, "SOA")
    query.flags &= ~dns.flags.RD
    for _attempt in range(ctx.retries + 1):
        try:
            if tcp:
                reply = await dns.asyncquery.tcp(query, address, timeout=ctx.connect_timeout_s)
            else:
                reply = await dns.asyncquery.udp(query, address, timeout=ctx.connect_timeout_s)
        except (OSError, EOFError, dns.exception.DNSException):
            continue
        if reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA:
            return True
    return False


class Shared:
    """Per-run caches of lookups many domains share (MX zones, PTRs): one query each."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str], asyncio.Task[Any]] = {}

    def once(self, key: tuple[str, str], make: Any) -> asyncio.Task[Any]:
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = asyncio.ensure_future(make())
        return task


async def _unchecked_zone(name: str, ctx: Context) -> str | None:
    """The zone of ``name`` asked with checking disabled (CD): what a bogus zone is called."""
    resolver = copy.copy(ctx.resolver)
    resolver.flags = dns.flags.RD | dns.flags.CD
    try:
        zone = await dns.asyncresolver.zone_for_name(name, resolver=resolver)
    except dns.exception.DNSException:
        return None
    return str(zone.to_text(omit_final_dot=True))


async def _zone_secure(name: str, ctx: Context) -> MxZone:
    """The zone of MX host ``name`` and its state; a timeout is tried again (``ctx.retries``)."""
    got = MxZone(None, "timeout")
    for _attempt in range(ctx.retries + 1):
        try:
            zone = await dns.asyncresolver.zone_for_name(name, resolver=ctx.resolver)
            answer = await ctx.resolver.resolve(zone, "SOA", raise_on_no_answer=False)
        except dns.resolver.NoNameservers as e:
            said = {str(err[3]) for err in e.kwargs.get("errors") or () if len(err) > 3}
            if said and "SERVFAIL" not in said:
                return MxZone(None, sorted(said)[0])
            return MxZone(await _unchecked_zone(name, ctx), BOGUS)  # the validator's SERVFAIL
        except dns.exception.Timeout:
            continue
        except dns.exception.DNSException as e:
            return MxZone(None, type(e).__name__)
        secure = bool(answer.response.flags & dns.flags.AD)
        return MxZone(zone.to_text(omit_final_dot=True), SECURE if secure else INSECURE)
    return got


async def _fcrdns(address: str, ctx: Context) -> tuple[list[str], bool]:

    names: list[str] = []
    try:
        answer = await ctx.resolver.resolve(dns.reversename.from_address(address), "PTR")
        names = [rr.target.to_text(omit_final_dot=True) for rr in answer]
    except dns.exception.DNSException:
        return [], False
    for name in names:
        try:
            forward = await ctx.resolver.resolve(name, "AAAA")
        except dns.exception.DNSException:
            continue
        if any(
            ipaddress.IPv6Address(rr.address) == ipaddress.IPv6Address(address) for rr in forward
        ):
            return names, True
    return names, False


async def gather_probes(r: Resolved, ctx: Context, shared: Shared,
                        lookup: Any = None) -> Probes:  # fmt: skip
    """Measure what :func:`judge` needs; ``lookup(name) -> HostAddresses`` for SPF hosts."""
    p = Probes()
    v6 = sorted({a for h in r.ns for a in h.v6})
    v4 = sorted({a for h in r.ns for a in h.v4})
    jobs: list[Any] = []
    if ctx.v6_ok:
        jobs += [_soa_answers(r.domain, a, False, ctx) for a in v6]
        jobs += [_soa_answers(r.domain, a, True, ctx) for a in v6]
    jobs += [_soa_answers(r.domain, a, False, ctx) for a in v4]
    mx_names = [] if r.null_mx else sorted({h.name for _, h in r.mx})
    mx6 = [] if r.null_mx else sorted({a for _, h in r.mx for a in h.v6})
    zone_jobs = [shared.once(("zone", n), lambda n=n: _zone_secure(n, ctx)) for n in mx_names]
    ptr_jobs = [shared.once(("ptr", a), lambda a=a: _fcrdns(a, ctx)) for a in mx6]
    extra = spf_hosts(r) if lookup is not None else []
    answers = await asyncio.gather(*jobs, *zone_jobs, *ptr_jobs, *(lookup(n) for n in extra))
    it = iter(answers)
    if ctx.v6_ok:
        p.udp6 = {a: next(it) for a in v6}
        p.tcp6 = {a: next(it) for a in v6}
    p.udp4 = {a: next(it) for a in v4}
    for n in mx_names:
        p.mx_zones[n] = next(it)
    for a in mx6:
        p.ptr[a], p.confirmed[a] = next(it)
    for n in extra:
        p.spf_hosts[n] = next(it)
    return p


async def check_dns(
    r: Resolved, ctx: Context, shared: Shared, lookup: Any = None
) -> list[CheckResult]:
    """N1-N5, N5m, M1, M3, M4 of a resolved domain."""
    return judge(r, ctx, await gather_probes(r, ctx, shared, lookup))
