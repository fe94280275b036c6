"""`pukara ipv6 dominios`: the public services of many domains over IPv6, at once.

A run: the names (IDNA, UTS 46; a name that does not encode is that domain's error result,
never a crash), then C1 (the vantage reaches at least three IPv6 anchors, the setting
``ipv6_anclas``; otherwise every IPv6 result is not-tested), then each domain resolved once
through the resolver (``--resolutor``; dnspython's asyncio resolver, with the DNSSEC OK bit
so the validating resolver's AD bit tells N5) into :class:`~ipv6.modelo.Resolved`, judged by
:mod:`ipv6.dns_checks` and by the web and mail checks. A name that is not a zone apex (a host
inside a zone) has its name servers and SOA from the zone above it (one label up at a time
until NS answers); N1-N5 then carry that ``zone`` in their evidence. The DNS, web and mail
parts run apart: a bug in one makes only its checks not-tested (``--debug`` logs it). At
most ``concurrency`` domains run together; every lookup gets a retry before it counts as
failed, and only answers are kept for the next domain. A domain that does not resolve
(SERVFAIL, NXDOMAIN, a resolver that does not answer) gets every check not-tested, except N5
which fails on a bogus signature: SERVFAIL, but data when asked again with CD=1 (SERVFAIL with
CD=1 too is a broken zone or resolver, not a DNSSEC verdict; NXDOMAIN is «el dominio no
existe»).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.rdatatype
import dns.resolver

from ipv6 import dns_checks, mail_checks, web_checks
from ipv6.modelo import Category, CheckResult, Context, HostAddresses, Resolved, Status
from pukara.config import ipv6_anchors
from pukara.errors import PukaraError, UsageError, os_reason
from pukara.text import clean_line

WEB_CHECKS = ("W1a", "W1w", "W2", "W3h", "W3s", "W4h", "W4s", "W5", "W6c", "W6p", "W7", "W8")
MAIL_CHECKS = ("M2", "M2s", "M5")
ALL_CHECKS = ("N1", "N2u", "N2t", "N3", "N4", "N5", "N5m", *WEB_CHECKS,
              "M1", "M2", "M2s", "M3", "M4", "M5")  # fmt: skip
CATEGORY = {**dns_checks.CATEGORY, **dict.fromkeys(WEB_CHECKS, Category.WEB),
            **dict.fromkeys(MAIL_CHECKS, Category.MAIL)}  # fmt: skip
ZONE_CHECKS = ("N1", "N2u", "N2t", "N3", "N4", "N5")  # judged on the zone that holds the name
NAME_CHECK = "IDNA"  # the result of a name that is not a valid domain
VANTAGE = "punto-de-prueba"  # C1's subject
ANCHOR_PORTS = (53, 80, 25, 443)
MIN_ANCHORS = 3
PART_TEXT = {"resolucion": "la resolución del dominio", "dns": "los servidores de nombres",
             "web": "la web", "correo": "el correo", "dominio": "el dominio"}  # fmt: skip
_log = logging.getLogger("pukara.ipv6.dominios")


@dataclass(frozen=True, slots=True)
class Name:
    given: str  # as typed (cleaned)
    ascii: str  # IDNA form, "" when it does not encode
    error: str | None = None
    line: int | None = None  # its line in the --archivo file
    detail: str | None = None  # the IDNA library's own words, for the evidence


# the idna library's messages -> Spanish (the library's text stays in the evidence)
_IDNA_TEXT = (
    ("label too long", "una etiqueta tiene más de 63 caracteres"),
    ("domain too long", "el nombre tiene más de 253 caracteres"),
    ("empty label", "hay una etiqueta vacía (dos puntos seguidos)"),
    ("start or end with a hyphen", "una etiqueta empieza o termina con guion"),
    ("hyphens in 3rd and 4th", "una etiqueta tiene guiones en las posiciones 3 y 4"),
    ("invalid a-label", "una etiqueta «xn--» no es una A-label válida"),
    ("joiner", "un carácter de unión (ZWJ/ZWNJ) está fuera de su contexto"),
    ("codepoint", "contiene un carácter que no se admite en nombres de dominio"),
)


def _idna_reason(e: Exception) -> str:
    text = str(e).lower()
    return next((es for key, es in _IDNA_TEXT if key in text), "no se puede codificar en IDNA")


def idna_name(text: str, line: int | None = None) -> Name:
    """The IDNA ASCII form of a domain name (UTS 46 mapping), or why it has none."""
    import idna

    given = clean_line(text).strip().rstrip(".")
    if not given:
        return Name(given, "", "nombre vacío", line)
    try:
        ipaddress.ip_address(given.strip("[]"))
    except ValueError:
        pass
    else:
        return Name(given, "", "es una dirección IP, no un nombre de dominio", line)
    try:
        ascii_name = idna.encode(given, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as e:
        return Name(given[:255], "", f"nombre de dominio no válido: {_idna_reason(e)}", line,
                    clean_line(str(e))[:200])  # fmt: skip
    if len(ascii_name) > 253:
        return Name(given[:255], "", "nombre de dominio no válido: más de 253 caracteres", line)
    return Name(given, ascii_name, line=line)


def read_names(arguments: Sequence[str], lines: Sequence[str] = ()) -> list[Name]:
    """The names of the arguments and of a file's lines (``#`` comments, blanks skipped),
    each once, in order; a name from the file carries its line number."""
    seen: set[str] = set()
    out = []
    numbered = [(None, a) for a in arguments] + list(enumerate(lines, start=1))
    for line, raw in numbered:
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        name = idna_name(text, line)
        key = name.ascii or name.given
        if key not in seen:
            seen.add(key)
            out.append(name)
    if not out:
        raise UsageError("indique al menos un dominio (argumentos o --archivo)")
    return out


def resolver_address(text: str) -> tuple[str, int]:
    """``IP``, ``IPv4:PUERTO`` or ``[IPv6]:PUERTO`` -> (address, port); port 53 by default."""
    bad = UsageError(f"--resolutor debe ser una dirección IP, IPv4:PUERTO o [IPv6]:PUERTO, "
                     f"no «{clean_line(text)[:80]}»")  # fmt: skip
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, sep, rest = host[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise bad
        port = rest[1:] if rest else port
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise bad from None
    if not 0 < number < 65536 or (text.startswith("[") and address.version != 6):
        raise bad
    return str(address), number


def make_resolver(address: str | None, timeout_s: float) -> dns.asyncresolver.Resolver:
    """dnspython's asyncio resolver at ``address`` (see :func:`resolver_address`; else the
    system's), asking for DNSSEC."""
    if address is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        host, port = resolver_address(address)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.timeout = timeout_s
    resolver.lifetime = timeout_s
    resolver.use_edns(0, dns.flags.DO, 1232)
    return resolver


def _unchecked(resolver: dns.asyncresolver.Resolver) -> dns.asyncresolver.Resolver:
    """The same resolver asked with CD=1 (checking disabled): data it gives this way but not
    with validation is a bogus signature."""
    cd = dns.asyncresolver.Resolver(configure=False)
    cd.nameservers = list(resolver.nameservers)
    cd.port = resolver.port
    cd.timeout, cd.lifetime = resolver.timeout, resolver.lifetime
    cd.use_edns(0, dns.flags.DO, 1232)
    cd.flags = dns.flags.RD | dns.flags.CD
    return cd


def tls_roots(path: Path, origin: str, error: type[PukaraError] = UsageError) -> str:
    """``path`` as W6c's trust store: a readable PEM file with at least one certificate;
    otherwise ``error`` naming it (``origin``: the option or the setting)."""
    import ssl

    try:
        text = path.read_bytes()
    except OSError as e:
        raise error(f"{origin}: no se pudo leer {path}: {os_reason(e)}") from None
    if b"-----BEGIN CERTIFICATE-----" not in text:
        raise error(f"{origin}: {path} no es un archivo PEM con certificados")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError) as e:
        raise error(f"{origin}: {path} no tiene certificados PEM válidos ({e})") from None
    return str(path)


# ---- C1 ---------------------------------------------------------------------------------


async def _reaches(address: str, timeout_s: float) -> int | None:
    for port in ANCHOR_PORTS:
        try:
            opening = asyncio.open_connection(address, port, family=socket.AF_INET6)
            _r, w = await asyncio.wait_for(opening, timeout_s)
        except (OSError, TimeoutError):
            continue
        w.close()
        return port
    return None


async def vantage(anchors: Sequence[str], timeout_s: float) -> CheckResult:
    """C1: the vantage reaches at least three IPv6 anchors (TCP 53, 80, 25 or 443).

    The anchors are IPv6 addresses, each counted once by value
    (:func:`pukara.config.ipv6_anchors`; anything else is a ConfigError).
    """
    if not anchors:
        return CheckResult(VANTAGE, "C1", Status.NOT_TESTED,
                           "no hay anclas IPv6 configuradas (ajuste ipv6_anclas): los "
                           "resultados IPv6 quedan sin probar", Category.VANTAGE)  # fmt: skip
    anchors = list(ipv6_anchors(anchors))
    ports = await asyncio.gather(*(_reaches(a, timeout_s) for a in anchors))
    reached = {a: p for a, p in zip(anchors, ports, strict=True) if p is not None}
    evidence = {"anchors": list(anchors), "reached": reached}
    if len(reached) >= MIN_ANCHORS:
        return CheckResult(VANTAGE, "C1", Status.PASS,
                           f"el punto de prueba alcanza {len(reached)} de {len(anchors)} anclas IPv6",
                           Category.VANTAGE, evidence)  # fmt: skip
    return CheckResult(VANTAGE, "C1", Status.FAIL,
                       f"el punto de prueba alcanza solo {len(reached)} de {len(anchors)} anclas "
                       "IPv6: los resultados IPv6 quedan sin probar", Category.VANTAGE,
                       evidence)  # fmt: skip


# ---- resolution -------------------------------------------------------------------------


class _Lookup:
    def __init__(self, resolver: dns.asyncresolver.Resolver, retries: int) -> None:
        self.resolver = resolver
        self.retries = retries
        self._hosts: dict[str, asyncio.Task[HostAddresses]] = {}
        self._cd: dns.asyncresolver.Resolver | None = None

    async def answer(self, name: str, rdtype: str) -> Any:
        """The answer (None when there are no records); raises the resolver's error."""
        for attempt in range(self.retries + 1):
            try:
                return await self.resolver.resolve(name, rdtype, raise_on_no_answer=False)
            except dns.resolver.NXDOMAIN:
                raise
            except dns.exception.DNSException:
                if attempt == self.retries:
                    raise
        return None  # pragma: no cover

    async def unchecked(self, name: str) -> str:
        """What the resolver says of ``name``'s SOA with CD=1: "NOERROR" (data), or the
        error (:func:`_reason`)."""
        if self._cd is None:
            self._cd = _unchecked(self.resolver)
        try:
            await self._cd.resolve(name, "SOA", raise_on_no_answer=False)
        except dns.exception.DNSException as e:
            return _reason(e)
        return "NOERROR"

    async def _host(self, name: str) -> HostAddresses:
        try:
            a, aaaa = await asyncio.gather(self.answer(name, "A"), self.answer(name, "AAAA"))
        except dns.exception.DNSException as e:
            return HostAddresses(name, error=_reason(e))
        return HostAddresses(name, _addresses(a), _addresses(aaaa))

    def host(self, name: str) -> asyncio.Task[HostAddresses]:
        """A name's A and AAAA, looked up once per run (name servers and MX repeat).

        Only an answer is kept: a lookup that failed (a timeout after its retry) is forgotten
        once done, so the next domain that names the host asks again.
        """
        name = name.lower().rstrip(".")
        task = self._hosts.get(name)
        if task is None:
            task = self._hosts[name] = asyncio.ensure_future(self._host(name))
            task.add_done_callback(lambda t: self._forget(name, t))
        return task

    def _forget(self, name: str, task: asyncio.Task[HostAddresses]) -> None:
        if self._hosts.get(name) is not task:
            return
        if task.cancelled() or task.exception() is not None or task.result().error:
            del self._hosts[name]


def _addresses(answer: Any) -> tuple[str, ...]:
    if answer is None or answer.rrset is None:
        return ()
    return tuple(sorted(rr.address for rr in answer.rrset))


# dnspython's errors other than the rcodes and the timeout -> Spanish
_DNS_TEXT = {
    "NoAnswer": "la respuesta no trae los registros pedidos",
    "YXDOMAIN": "el nombre queda demasiado largo tras un DNAME",
    "NoRootSOA": "no se encontró el SOA de la raíz",
    "NoMetaqueries": "el resolutor no admite esa consulta",
    "LabelTooLong": "una etiqueta tiene más de 63 octetos",
    "NameTooLong": "el nombre tiene más de 255 octetos",
    "EmptyLabel": "el nombre tiene una etiqueta vacía",
    "FormError": "respuesta DNS mal formada",
    "Truncated": "respuesta DNS truncada",
    "TooBig": "respuesta DNS demasiado grande",
    "UnexpectedSource": "la respuesta llegó de otra dirección",
    "BadResponse": "la respuesta no corresponde a la pregunta",
}
# the codes of :func:`_reason` said in words for a message (the evidence keeps the code)
REASON_TEXT = {"timeout": "el resolutor no respondió a tiempo"}


def _reason(e: BaseException) -> str:
    if isinstance(e, dns.resolver.NXDOMAIN):
        return "NXDOMAIN"
    if isinstance(e, dns.resolver.NoNameservers):
        # what the resolver answered: SERVFAIL (a validating resolver's bogus), REFUSED...
        said = {str(err[3]) for err in e.kwargs.get("errors") or () if len(err) > 3}
        return "SERVFAIL" if not said or "SERVFAIL" in said else sorted(said)[0]
    if isinstance(e, dns.exception.Timeout):
        return "timeout"
    name = type(e).__name__
    return _DNS_TEXT.get(name) or f"error de DNS ({name})"


def _records(answer: Any) -> list[Any]:
    return [] if answer is None or answer.rrset is None else list(answer.rrset)


async def _zone_above(domain: str, lookup: _Lookup) -> tuple[str, Any, Any] | None:
    """The zone that holds ``domain`` (a host name, not a zone apex): one label up at a time
    until NS answers, as internet.nl does; its name, NS and SOA answers."""
    labels = domain.split(".")
    for i in range(1, len(labels)):
        parent = ".".join(labels[i:])
        ns = await lookup.answer(parent, "NS")
        if _records(ns):
            return parent, ns, await lookup.answer(parent, "SOA")
    return None


async def resolve(domain: str, lookup: _Lookup) -> tuple[Resolved, str]:
    """Everything the checks need to know of ``domain``, from the resolver, and the zone
    whose name servers and SOA it uses (``domain`` itself when it is a zone apex)."""
    empty = HostAddresses(domain)
    zone = domain
    try:
        soa = await lookup.answer(domain, "SOA")
        ns, mx, txt = await asyncio.gather(lookup.answer(domain, "NS"),
                                           lookup.answer(domain, "MX"),
                                           lookup.answer(domain, "TXT"))  # fmt: skip
        if not _records(ns) and (above := await _zone_above(domain, lookup)) is not None:
            zone, ns, soa = above
    except dns.exception.DNSException as e:
        return Resolved(domain, empty, HostAddresses("www." + domain), error=_reason(e)), zone
    secure = bool(soa.response.flags & dns.flags.AD)
    ns_names = sorted(rr.target.to_text(omit_final_dot=True).lower() for rr in _records(ns))
    mx_rows = sorted((rr.preference, rr.exchange.to_text(omit_final_dot=True).lower())
                     for rr in _records(mx))  # fmt: skip
    null_mx = len(mx_rows) == 1 and mx_rows[0][1] in ("", ".")
    if null_mx:
        mx_rows = []
    apex, www, *hosts = await asyncio.gather(
        lookup.host(domain), lookup.host("www." + domain),
        *(lookup.host(n) for n in ns_names), *(lookup.host(n) for _, n in mx_rows))  # fmt: skip
    texts = (clean_line(b"".join(rr.strings).decode("utf-8", "replace")) for rr in _records(txt))
    spf = next((t for t in texts if t.lower().startswith("v=spf1")), None)
    return Resolved(
        domain=domain,
        apex=apex,
        www=www,
        ns=tuple(hosts[: len(ns_names)]),
        mx=tuple((pref, h) for (pref, _), h in zip(mx_rows, hosts[len(ns_names) :], strict=True)),
        null_mx=null_mx,
        spf=spf,
        secure=secure,
    ), zone


# ---- a run ------------------------------------------------------------------------------


# why a domain that did not resolve has no results: (message, N5 fails)
def _unresolved(why: str, unchecked: str | None) -> tuple[str, bool]:
    if why == "NXDOMAIN" or (why == "SERVFAIL" and unchecked == "NXDOMAIN"):
        return "el dominio no existe (NXDOMAIN)", False
    if why == "SERVFAIL" and unchecked == "NOERROR":
        return ("el resolutor validador rechaza el dominio (SERVFAIL) y sin validar (CD=1) lo "
                "entrega: firma DNSSEC inválida"), True  # fmt: skip
    if why == "SERVFAIL" and unchecked is not None:
        return ("el resolutor no obtiene el dominio ni sin validar (SERVFAIL también con CD=1): "
                "servidores de nombres caídos o inalcanzables desde el resolutor"), False  # fmt: skip
    if why == "SERVFAIL":
        return "el resolutor no entrega el dominio (SERVFAIL)", False
    return f"el dominio no se pudo resolver ({REASON_TEXT.get(why, why)})", False


def not_tested(domain: str, why: str, unchecked: str | None = None) -> list[CheckResult]:
    """Every check of a domain that did not resolve (``why``: :func:`_reason`; ``unchecked``:
    what the resolver said with CD=1 after a SERVFAIL). Only a bogus signature (data with
    CD=1, SERVFAIL without) is a verdict: N5 fails; everything else is not-tested."""
    text, bogus = _unresolved(why, unchecked)
    evidence: dict[str, Any] = {"error": why, "rcode": why}
    if unchecked is not None:
        evidence["rcode_cd"] = unchecked
    if why == "timeout":
        del evidence["rcode"]
    out = []
    for check in ALL_CHECKS:
        if check == "N5" and bogus:
            out.append(CheckResult(domain, "N5", Status.FAIL, text, Category.DNSSEC, evidence))
        else:
            out.append(CheckResult(domain, check, Status.NOT_TESTED, text, CATEGORY[check],
                                   evidence))  # fmt: skip
    return out


def _name_result(name: Name) -> CheckResult:
    evidence: dict[str, Any] = {"given": name.given}
    if name.line is not None:
        evidence["line"] = name.line
    if name.detail:
        evidence["idna"] = name.detail
    where = f" (línea {name.line})" if name.line is not None else ""
    return CheckResult(name.given, NAME_CHECK, Status.FAIL, f"{name.error}{where}",
                       Category.NAMESERVERS, evidence)  # fmt: skip


def internal_error(domain: str, part: str, checks: Sequence[str], e: BaseException
                   ) -> list[CheckResult]:  # fmt: skip
    """The checks of a part whose code failed: not-tested, the error kept (``--debug`` logs it)."""
    _log.debug("error interno en la parte %s de %s", part, domain, exc_info=e)
    why = f"error interno ({type(e).__name__})"
    return [CheckResult(domain, c, Status.NOT_TESTED,
                        f"error interno al revisar {PART_TEXT[part]}; repita con --debug para ver "
                        "la traza", CATEGORY[c], {"error": why, "part": part})
            for c in checks]  # fmt: skip


async def _part(domain: str, part: str, checks: Sequence[str],
                work: Awaitable[list[CheckResult]]) -> list[CheckResult]:  # fmt: skip
    try:
        return await work
    except Exception as e:  # one part's bug leaves the other parts' results standing
        return internal_error(domain, part, checks, e)


async def check_domain(name: Name, ctx: Context, lookup: _Lookup,
                       shared: dns_checks.Shared) -> list[CheckResult]:  # fmt: skip
    """Every check of one domain; an error in the DNS, web or mail part makes only that
    part's checks not-tested."""
    if name.error is not None:
        return [_name_result(name)]
    started = time.monotonic()
    domain = name.ascii
    try:
        resolved, zone = await resolve(domain, lookup)
    except Exception as e:
        return internal_error(domain, "resolucion", ALL_CHECKS, e)
    if resolved.error is not None:
        unchecked = await lookup.unchecked(domain) if resolved.error == "SERVFAIL" else None
        return not_tested(domain, resolved.error, unchecked)
    parts = await asyncio.gather(
        _part(domain, "dns", dns_checks.DNS_CHECKS,
              dns_checks.check_dns(resolved, ctx, shared, lambda n: lookup.host(n))),
        _part(domain, "web", WEB_CHECKS, web_checks.check_web(resolved, ctx)),
        _part(domain, "correo", MAIL_CHECKS, mail_checks.check_mail(resolved, ctx)),
    )  # fmt: skip
    results = [r for part in parts for r in part]
    if zone != domain:  # N1-N5 judged the zone above the name
        results = [replace(r, evidence={**r.evidence, "zone": zone}) if r.check in ZONE_CHECKS
                   else r for r in results]  # fmt: skip
    elapsed = (time.monotonic() - started) * 1000
    return [r if r.duration_ms is not None else replace(r, duration_ms=elapsed) for r in results]


async def run_async(names: Sequence[Name], ctx: Context, anchors: Sequence[str],
                    concurrency: int, progress: Callable[[str, list[CheckResult]], None] | None = None,
                    ) -> tuple[CheckResult, list[CheckResult]]:  # fmt: skip
    c1 = await vantage(anchors, ctx.connect_timeout_s)
    ctx = replace(ctx, v6_ok=c1.status is Status.PASS)
    lookup = _Lookup(ctx.resolver, ctx.retries)
    shared = dns_checks.Shared()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(name: Name) -> list[CheckResult]:
        async with gate:
            try:
                out = await check_domain(name, ctx, lookup, shared)
            except Exception as e:  # one failing domain never stops the run
                out = internal_error(name.ascii or name.given, "dominio", ALL_CHECKS, e)
        if progress is not None:
            progress(name.ascii or name.given, out)
        return out

    parts = await asyncio.gather(*(one(n) for n in names))
    return c1, [r for part in parts for r in part]


def run(names: Sequence[Name], *, resolver: str | None, anchors: Sequence[str],
        global_prefixes: Sequence[str] = (), concurrency: int = 32, timeout_s: float = 4.0,
        tls: bool = True, progress: Callable[[str, list[CheckResult]], None] | None = None,
        tls_roots: str | None = None) -> tuple[CheckResult, list[CheckResult]]:  # fmt: skip
    """C1 and every domain's results (``tls_roots``: the only roots W6c trusts, a PEM file)."""
    from ipv6.equipos import global_prefixes as parse_prefixes

    ctx = Context(v6_ok=False, global_prefixes=tuple(parse_prefixes(global_prefixes)),
                  connect_timeout_s=timeout_s, tls=tls, tls_roots=tls_roots,
                  resolver=make_resolver(resolver, timeout_s))  # fmt: skip
    return asyncio.run(run_async(names, ctx, anchors, concurrency, progress))


def failed(results: Sequence[CheckResult], c1: CheckResult | None = None) -> bool:
    """A fail, a domain that could not be checked, or (given ``c1``) a vantage that did not
    pass C1, so nothing IPv6 was tried: exit code 3."""
    if c1 is not None and c1.status is not Status.PASS:
        return True
    return any(r.status is Status.FAIL for r in results) or any(
        r.status is Status.NOT_TESTED and "error" in r.evidence for r in results
    )


def unanswered(results: Sequence[CheckResult]) -> bool:
    """The resolver itself did not answer: every domain that reached it timed out."""
    asked = [r for r in results if r.check == "N1"]
    return bool(asked) and all(r.evidence.get("error") == "timeout" for r in asked)


def unchecked_domains(results: Sequence[CheckResult]) -> int:
    """Domains that could not be checked (did not resolve, or a name that is not one)."""
    return len(
        {
            r.subject
            for r in results
            if r.check == NAME_CHECK or (r.check == "N1" and "error" in r.evidence)
        }
    )
