"""W1-W8: a domain's web over IPv6, judged against its IPv4 web.

W1a/W1w and W2 read the resolved addresses; W3-W8 connect. The names judged are the apex and
``www`` that have AAAA (none: W2-W8 are not-applicable), and each check is the worst over
those names and every address pair. Rules (research §2, the agreed ids):

- W3h (TCP 80) and W3s (TCP 443), each per port: every AAAA accepts the port within
  ``ctx.connect_timeout_s`` where an A of the name offers it: all (pass), some (partial), none
  (fail); the port offered by neither family: not-applicable.
- W4h (over ``http://``) and W4s (over ``https://``, only where both families offer 443):
  per v4/v6 pair, the port open on both and the same status (else fail), bodies within 10 %
  (else warn); the same 4xx/5xx on both families warns, as internet.nl does.
- W5: every redirect hop over IPv6 stays reachable over IPv6, never an IPv4 literal. A first
  request over IPv6 that failed before any redirect says nothing of redirects: W4h/W4s and
  W7 judge it, W5 leaves it out (not-tested when nothing else is left).
- W6c and W6p (``ctx.tls``, :mod:`ipv6.tls_checks`): where both families offer 443, the same
  certificate chain and the same TLS protocol set.
- W7: a response over 1280 bytes completes over IPv6 (smaller answers: not-applicable).
- W8: the v6 connect takes at most the v4 connect plus 1 s.

Without IPv6 at the vantage (``ctx.v6_ok`` false) W3-W8 are not-tested; where no v6 address
answers at all W5-W8 are not-tested. A closed port or a failed request is tried again
(``ctx.retries``) before it counts.
"""

from __future__ import annotations

import asyncio
import difflib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from ipv6 import sondas, tls_checks
from ipv6.equipos_reglas import is_global
from ipv6.modelo import Category, CheckResult, Context, HostAddresses, Resolved, Status

TITLES: dict[str, str] = {
    "W1a": "AAAA del dominio",
    "W1w": "AAAA de www",
    "W2": "Direcciones IPv6 enrutables",
    "W3h": "La web responde por IPv6 (puerto 80)",
    "W3s": "La web responde por IPv6 (puerto 443)",
    "W4h": "Misma web por IPv4 e IPv6 (http)",
    "W4s": "Misma web por IPv4 e IPv6 (https)",
    "W5": "Redirecciones que siguen en IPv6",
    "W6c": "Misma cadena de certificados en ambas familias",
    "W6p": "Mismos protocolos TLS en ambas familias",
    "W7": "Respuestas de más de 1280 bytes por IPv6 (PMTU)",
    "W8": "Conexión IPv6 no más lenta que la IPv4",
}
REDIRECTS = (301, 302, 303, 307, 308)
MAX_HOPS = 5
MAX_DISTANCE = 0.10  # W4: body distance that still passes
COMPARED_BYTES = 32 * 1024  # W4: how much of each body the distance reads
PMTU_BYTES = 1280
LATENCY_SLACK_MS = 1000.0
SLOW_MS = 5000.0
SEVERITY = (
    Status.FAIL, Status.PARTIAL, Status.WARN, Status.NOT_TESTED, Status.PASS,
    Status.NOT_APPLICABLE,
)  # fmt: skip
NO_VANTAGE = "sin IPv6 en el punto de prueba (C1): no se probó"


@dataclass(frozen=True, slots=True)
class WebPorts:
    http: int = 80
    https: int = 443


Verdict = tuple[Status, str, dict[str, Any]]


def worst(statuses: Iterable[Status]) -> Status:
    found = set(statuses)
    return next((s for s in SEVERITY if s in found), Status.NOT_APPLICABLE)


def _result(domain: str, check: str, verdict: Verdict) -> CheckResult:
    status, message, evidence = verdict
    return CheckResult(domain, check, status, message, Category.WEB, evidence)


def _checks(ctx: Context) -> tuple[str, ...]:
    return ("W3h", "W3s", "W4h", "W4s", "W5") + (("W6c", "W6p") if ctx.tls else ()) + ("W7", "W8")


SKIPPED_TLS = "no se probó: se pidió --sin-tls"  # W6c, W6p and M2s without ctx.tls
ORDER = ("W1a", "W1w", "W2", "W3h", "W3s", "W4h", "W4s", "W5", "W6c", "W6p", "W7", "W8")


def without_tls(domain: str, checks: tuple[str, ...], category: Category) -> list[CheckResult]:
    """The TLS checks of a run with --sin-tls: not-tested, never left out (``ipv6 diff``
    would list them as no longer tested)."""
    return [CheckResult(domain, c, Status.NOT_TESTED, SKIPPED_TLS, category,
                        {"reason": "--sin-tls"}) for c in checks]  # fmt: skip


async def check_web(
    resolved: Resolved, ctx: Context, *, ports: WebPorts | None = None
) -> list[CheckResult]:
    """W1a, W1w, W2-W8 for one resolved domain; without ``ctx.tls`` W6c and W6p are
    not-tested with the evidence ``{"reason": "--sin-tls"}``."""
    out = await _check_web(resolved, ctx, ports)
    if not ctx.tls:
        out += without_tls(resolved.domain, ("W6c", "W6p"), Category.WEB)
        out.sort(key=lambda r: ORDER.index(r.check) if r.check in ORDER else len(ORDER))
    return out


async def _check_web(resolved: Resolved, ctx: Context, ports: WebPorts | None) -> list[CheckResult]:
    domain = resolved.domain
    if resolved.error:
        why = f"el dominio no se resolvió: {resolved.error}"
        names = ("W1a", "W1w", "W2", *_checks(ctx))
        return [
            _result(domain, c, (Status.NOT_TESTED, why, {"error": resolved.error})) for c in names
        ]
    out = [_result(domain, "W1a", _w1(resolved.apex)), _result(domain, "W1w", _w1(resolved.www))]
    hosts = [h for h in (resolved.apex, resolved.www) if h.v6]
    if not hosts:
        why = "ni el dominio ni www tienen AAAA"
        v4 = sorted({a for h in (resolved.apex, resolved.www) for a in h.v4})
        return out + [
            _result(domain, c, (Status.NOT_APPLICABLE, why, {"v6": [], "v4": v4}))
            for c in ("W2", *_checks(ctx))
        ]
    out.append(_result(domain, "W2", _w2(hosts, ctx)))
    if not ctx.v6_ok:
        return out + [
            _result(domain, c, (Status.NOT_TESTED, NO_VANTAGE, {"v6_ok": False}))
            for c in _checks(ctx)
        ]
    judged = await asyncio.gather(*(_judge(h, resolved, ctx, ports or WebPorts()) for h in hosts))
    for check in _checks(ctx):
        out.append(
            _result(
                domain,
                check,
                _merge([(h.name, j[check]) for h, j in zip(hosts, judged, strict=True)]),
            )
        )
    return out


def _merge(per_name: list[tuple[str, Verdict]]) -> Verdict:
    status = worst(v[0] for _, v in per_name)
    message = next(v[1] for _, v in per_name if v[0] == status)
    return status, message, {"names": {n: v[2] for n, v in per_name}}


def _w1(host: HostAddresses) -> Verdict:
    if host.v6:
        return Status.PASS, f"{host.name} tiene AAAA", {"v6": list(host.v6)}
    evidence: dict[str, Any] = {"name": host.name, "v4": list(host.v4)}
    if host.error:
        evidence["error"] = host.error
    return Status.FAIL, f"{host.name} no tiene AAAA", evidence


def _w2(hosts: list[HostAddresses], ctx: Context) -> Verdict:
    all_v6 = sorted({a for h in hosts for a in h.v6})
    bad = sorted(
        {
            a
            for h in hosts
            for a in h.v6
            if not is_global(ipaddress.IPv6Address(a), ctx.global_prefixes)
        }
    )
    if not bad:
        return Status.PASS, "todas las AAAA son direcciones globales", {"v6": all_v6}
    return (
        Status.FAIL,
        "hay AAAA no enrutables en Internet (no globales o de uso especial)",
        {"addresses": bad, "global_prefixes": [str(p) for p in ctx.global_prefixes]},
    )


async def _probe(
    addresses: tuple[str, ...], ports: WebPorts, ctx: Context
) -> dict[str, list[sondas.Connect]]:
    jobs = [
        sondas.connect_retry(a, p, ctx.connect_timeout_s, ctx.retries)
        for a in addresses
        for p in (ports.http, ports.https)
    ]
    done = await asyncio.gather(*jobs)
    out: dict[str, list[sondas.Connect]] = {}
    for c in done:
        out.setdefault(c.address, []).append(c)
    return out


def _open(probes: list[sondas.Connect]) -> list[int]:
    return sorted(c.port for c in probes if c.open)


async def _fetch(
    address: str, host: str, port: int, open_ports: list[int], tls: bool, ctx: Context
) -> sondas.Response | None:
    if port not in open_ports:
        return None
    resp = await sondas.http_get(address, port, host, ctx.connect_timeout_s, tls=tls)
    for _ in range(ctx.retries):
        if resp.error is None:
            break
        resp = await sondas.http_get(address, port, host, ctx.connect_timeout_s, tls=tls)
    return resp


Responses = dict[tuple[str, int], sondas.Response | None]


async def _judge(
    host: HostAddresses, resolved: Resolved, ctx: Context, ports: WebPorts
) -> dict[str, Verdict]:
    addresses = host.v4 + host.v6
    probes = await _probe(addresses, ports, ctx)
    opened = {a: _open(p) for a, p in probes.items()}
    keys = [(a, p) for a in addresses for p in (ports.http, ports.https)]
    fetched = await asyncio.gather(
        *(_fetch(a, host.name, p, opened[a], p == ports.https, ctx) for a, p in keys)
    )
    responses: Responses = dict(zip(keys, fetched, strict=True))
    # the response the one-per-address checks read: HTTP where open, else HTTPS
    first = {a: responses[a, ports.http] or responses[a, ports.https] for a in addresses}
    out: dict[str, Verdict] = {
        "W3h": _w3(host, opened, ports.http),
        "W3s": _w3(host, opened, ports.https),
        "W4h": _w4(host, opened, responses, ports.http, both=False),
        "W4s": _w4(host, opened, responses, ports.https, both=True),
    }
    v6_alive = [a for a in host.v6 if opened[a]]
    if not v6_alive:
        why = "ninguna dirección IPv6 responde en 80/443: no se probó"
        evidence = {"v6": {a: [c.error for c in probes[a]] for a in host.v6}}
        for check in ("W5", "W6c", "W6p", "W7", "W8"):
            out[check] = (Status.NOT_TESTED, why, evidence)
        return out
    out["W5"] = await _w5(host, ports, [first[a] for a in v6_alive], resolved, ctx)
    if ctx.tls:
        out |= await tls_checks.check_tls(host, opened, ports.https, ctx)
    out["W7"] = _w7([first[a] for a in v6_alive], [first[a] for a in host.v4])
    out["W8"] = _w8(host, probes)
    return out


def _w3(host: HostAddresses, opened: Mapping[str, list[int]], port: int) -> Verdict:
    v4 = [a for a in host.v4 if port in opened[a]]
    v6 = [a for a in host.v6 if port in opened[a]]
    evidence = {
        "port": port,
        "v4_open": v4,
        "v6_open": v6,
        "v6_closed": [a for a in host.v6 if a not in v6],
    }
    if not v4:
        if v6:
            return Status.PASS, f"{host.name}: IPv6 acepta el puerto {port}", evidence
        why = f"{host.name}: ninguna familia ofrece el puerto {port}"
        return Status.NOT_APPLICABLE, why, evidence
    if len(v6) == len(host.v6):
        return Status.PASS, f"{host.name}: toda AAAA acepta el puerto {port} como IPv4", evidence
    if v6:
        why = f"{host.name}: solo algunas AAAA aceptan el puerto {port}, que IPv4 ofrece"
        return Status.PARTIAL, why, evidence
    why = f"{host.name}: ninguna AAAA acepta el puerto {port}, que IPv4 ofrece"
    return Status.FAIL, why, evidence


def distance(a: bytes, b: bytes) -> float:
    """0 for equal bodies, 1 for bodies with nothing in common.

    difflib's ratio over the first :data:`COMPARED_BYTES` of each body (it is quadratic at
    worst and runs on the event loop), and never less than the bodies' length difference.
    """
    if a == b:
        return 0.0
    longest = max(len(a), len(b))
    by_length = abs(len(a) - len(b)) / longest
    matcher = difflib.SequenceMatcher(None, a[:COMPARED_BYTES], b[:COMPARED_BYTES])
    return round(max(1.0 - matcher.ratio(), by_length), 4)


def _pair(a4: str, a6: str, port: int, opened: Mapping[str, list[int]],
          responses: Responses) -> Verdict:  # fmt: skip
    r4, r6 = responses[a4, port], responses[a6, port]
    evidence: dict[str, Any] = {"v4": a4, "v6": a6, "port": port,
                                "v4_ports": opened[a4], "v6_ports": opened[a6]}  # fmt: skip
    if (port in opened[a4]) != (port in opened[a6]):
        return Status.FAIL, f"el puerto {port} está abierto en una sola familia", evidence
    if r4 is None or r6 is None:
        return Status.NOT_APPLICABLE, f"ninguna familia responde en {port}", evidence
    evidence |= {
        "v4_status": r4.status,
        "v6_status": r6.status,
        "v4_size": len(r4.body),
        "v6_size": len(r6.body),
    }
    if r6.error or r4.error:
        evidence |= {"v4_error": r4.error, "v6_error": r6.error}
        return Status.FAIL, "la petición HTTP falló en una de las familias", evidence
    if r4.status != r6.status:
        return Status.FAIL, f"estado HTTP distinto: IPv4 {r4.status}, IPv6 {r6.status}", evidence
    evidence["distance"] = d = distance(r4.body, r6.body)
    if d > MAX_DISTANCE:
        return Status.WARN, "el contenido difiere entre IPv4 e IPv6 (más de 10 %)", evidence
    if r4.status is not None and r4.status >= 400:
        return Status.WARN, f"ambas familias responden con error HTTP {r4.status}", evidence
    return Status.PASS, "mismo estado y contenido en IPv4 e IPv6", evidence


def _w4(
    host: HostAddresses,
    opened: Mapping[str, list[int]],
    responses: Responses,
    port: int,
    *,
    both: bool,
) -> Verdict:
    """Per v4/v6 pair over ``port``; ``both``: only pairs where both families offer it."""
    pairs = [(a4, a6) for a4 in host.v4 for a6 in host.v6]
    if both:
        pairs = [(a4, a6) for a4, a6 in pairs if port in opened[a4] and port in opened[a6]]
    if not pairs:
        what = "no tiene A con que comparar" if not host.v4 else f"sin {port} en ambas familias"
        return Status.NOT_APPLICABLE, f"{host.name} {what}", {"ports": dict(opened)}
    verdicts = [_pair(a4, a6, port, opened, responses) for a4, a6 in pairs]
    status = worst(v[0] for v in verdicts)
    message = next(v[1] for v in verdicts if v[0] == status)
    return status, f"{host.name}: {message}", {"pairs": [v[2] for v in verdicts]}


async def _aaaa(name: str, resolved: Resolved, ctx: Context) -> tuple[str, ...] | None:
    for known in (resolved.apex, resolved.www):
        if name.rstrip(".").lower() == known.name.rstrip(".").lower():
            return known.v6
    if ctx.resolver is None:
        return None
    import dns.exception

    try:
        answer = await ctx.resolver.resolve(name, "AAAA")
    except dns.exception.DNSException:
        return ()
    return tuple(str(r) for r in answer)


async def _w5(
    host: HostAddresses,
    ports: WebPorts,
    first: list[sondas.Response | None],
    resolved: Resolved,
    ctx: Context,
) -> Verdict:
    answered = [r for r in first if r is not None and (r.error is None or r.status in REDIRECTS)]
    if not answered:
        why = f"{host.name}: la primera petición por IPv6 no obtuvo respuesta (ver W4h/W4s, W7)"
        failed = [{"address": r.address, "port": r.port, "error": r.error} for r in first if r]
        return Status.NOT_TESTED, why, {"first": failed}
    verdicts = [await _follow(host.name, r, r.port == ports.https, resolved, ctx) for r in answered]
    status = worst(v[0] for v in verdicts)
    message = next(v[1] for v in verdicts if v[0] == status)
    return status, f"{host.name}: {message}", {"chains": [v[2] for v in verdicts]}


async def _follow(
    name: str, resp: sondas.Response, https: bool, resolved: Resolved, ctx: Context
) -> Verdict:
    scheme = "https" if https else "http"
    default = resp.port == (443 if https else 80)
    url = f"{scheme}://{name}/" if default else f"{scheme}://{name}:{resp.port}/"
    hops: list[dict[str, Any]] = []
    for _ in range(MAX_HOPS):
        hops.append(
            {"url": url, "address": resp.address, "status": resp.status, "error": resp.error}
        )
        evidence = {"hops": hops}
        if resp.error:
            return Status.FAIL, f"un salto no responde por IPv6: {url}", evidence
        if resp.status not in REDIRECTS or not resp.location:
            return Status.PASS, "las redirecciones siguen por IPv6", evidence
        url = urljoin(url, resp.location)
        target = urlsplit(url)
        host = target.hostname or ""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if isinstance(literal, ipaddress.IPv4Address):
            hops.append({"url": url})
            return Status.FAIL, f"redirección a un literal IPv4: {url}", evidence
        addresses = (str(literal),) if literal else await _aaaa(host, resolved, ctx)
        if addresses is None:
            hops.append({"url": url})
            return (
                Status.WARN,
                f"no se pudo resolver el destino de la redirección: {host}",
                evidence,
            )
        if not addresses:
            hops.append({"url": url})
            return Status.FAIL, f"el destino de la redirección no tiene AAAA: {host}", evidence
        tls = target.scheme == "https"
        port = target.port or (443 if tls else 80)
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        resp = await sondas.http_get(
            addresses[0], port, host, ctx.connect_timeout_s, tls=tls, path=path
        )
        for _ in range(ctx.retries):
            if resp.error is None:
                break
            resp = await sondas.http_get(
                addresses[0], port, host, ctx.connect_timeout_s, tls=tls, path=path
            )
    return Status.WARN, f"más de {MAX_HOPS} redirecciones", {"hops": hops}


def _w7(v6: list[sondas.Response | None], v4: list[sondas.Response | None]) -> Verdict:
    got = [r for r in v6 if r is not None]
    evidence: dict[str, Any] = {
        "v6": [
            {"address": r.address, "size": r.size, "complete": r.complete, "error": r.error}
            for r in got
        ],
        "v4_sizes": [r.size for r in v4 if r is not None],
    }
    big4 = any(r is not None and r.size > PMTU_BYTES for r in v4)
    if any(r.size > PMTU_BYTES and r.complete and not r.error for r in got):
        if all(r.complete and not r.error for r in got):
            return (
                Status.PASS,
                f"una respuesta de más de {PMTU_BYTES} B llega completa por IPv6",
                evidence,
            )
    elif not big4 and all(not r.error for r in got):
        return Status.NOT_APPLICABLE, f"ninguna respuesta supera {PMTU_BYTES} B", evidence
    return (
        Status.FAIL,
        f"una respuesta de más de {PMTU_BYTES} B no llega completa por IPv6",
        evidence,
    )


def _w8(host: HostAddresses, probes: Mapping[str, list[sondas.Connect]]) -> Verdict:
    def best(addresses: tuple[str, ...]) -> float | None:
        times = [c.ms for a in addresses for c in probes[a] if c.ms is not None]
        return min(times) if times else None

    v4, v6 = best(host.v4), best(host.v6)
    evidence = {"v4_connect_ms": v4, "v6_connect_ms": v6}
    if v6 is None:
        return Status.NOT_TESTED, f"{host.name}: sin conexión IPv6 que medir", evidence
    limit = (v4 + LATENCY_SLACK_MS) if v4 is not None else SLOW_MS
    if v6 <= limit:
        return (
            Status.PASS,
            f"{host.name}: la conexión IPv6 no es más lenta que IPv4 + 1 s",
            evidence,
        )
    return Status.FAIL, f"{host.name}: la conexión IPv6 tarda más que IPv4 + 1 s", evidence
