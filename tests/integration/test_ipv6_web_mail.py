"""W1-W8, M2, M2s and M5 against the internet lab's nginx and postfix, from real lookups.

Every base domain's addresses come from the lab's validating resolver (dnspython); the
verdicts must be exactly the ground truth's (lab/datos/internet_dominios.csv). Run under
both locks:
    flock /tmp/pukara-lab.lock flock /tmp/pukara-lab-internet.lock \
        .venv/bin/pytest tests/integration/test_ipv6_web_mail.py -q
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.resolver
import pytest

from ipv6.mail_checks import check_mail
from ipv6.modelo import CheckResult, Context, HostAddresses, Resolved, Status
from ipv6.web_checks import check_web
from lab import internet, manage
from lab import internet_zonas as z
from pukara.errors import LabError
from tests.conftest import ROOT, skip_or_fail

pytestmark = pytest.mark.integration

LAB48 = (ipaddress.IPv6Network("fd70:756b:6172::/48"),)  # ipv6_prefijos_globales in the lab
MINE = (
    "W1a",
    "W1w",
    "W2",
    "W3h",
    "W3s",
    "W4h",
    "W4s",
    "W5",
    "W6c",
    "W6p",
    "W7",
    "W8",
    "M2",
    "M2s",
    "M5",
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    if os.geteuid() != 0:
        skip_or_fail("el laboratorio necesita root")
    try:
        internet.require()
    except LabError as exc:
        skip_or_fail(str(exc))
    lab = manage.Lab(tmp_path_factory.mktemp("web") / "lab", prefix="pkw")
    internet.up(lab)
    try:
        yield lab
    finally:
        internet.down(lab)


def _resolver(address: str) -> dns.asyncresolver.Resolver:
    r = dns.asyncresolver.Resolver(configure=False)
    r.nameservers = [address]
    r.timeout, r.lifetime = 2.0, 4.0
    return r


async def _host(r: dns.asyncresolver.Resolver, name: str) -> HostAddresses:
    found: dict[str, tuple[str, ...]] = {"A": (), "AAAA": ()}
    error = None
    for rtype in found:
        try:
            found[rtype] = tuple(str(x) for x in await r.resolve(name, rtype))
        except dns.resolver.NoAnswer:
            pass
        except dns.exception.DNSException as exc:
            error = type(exc).__name__
    return HostAddresses(name, found["A"], found["AAAA"], error)


async def resolve(r: dns.asyncresolver.Resolver, domain: str) -> Resolved:
    apex, www = await _host(r, domain), await _host(r, f"www.{domain}")
    try:
        await r.resolve(domain, "SOA")
    except dns.exception.DNSException as exc:
        return Resolved(domain, apex, www, error=type(exc).__name__)
    try:
        records = sorted(
            (m.preference, str(m.exchange).rstrip(".")) for m in await r.resolve(domain, "MX")
        )
    except dns.resolver.NoAnswer:
        records = []
    if records == [(0, "")]:
        return Resolved(domain, apex, www, null_mx=True)
    mx = tuple([(pref, await _host(r, name)) for pref, name in records])
    return Resolved(domain, apex, www, mx=mx)


async def _check_all(domains: list[str], ctx: Context) -> list[CheckResult]:
    out: list[CheckResult] = []
    for domain in domains:
        resolved = await resolve(ctx.resolver, domain)
        web, mail = await asyncio.gather(check_web(resolved, ctx), check_mail(resolved, ctx))
        out += web + mail
    return out


def test_every_base_domain_gets_its_expected_web_and_mail_verdicts(net: manage.Lab) -> None:
    v4, _ = internet.resolver(net)

    async def main() -> list[CheckResult]:
        ctx = Context(v6_ok=True, global_prefixes=LAB48, resolver=_resolver(v4),
                      tls_roots=str(internet.web_roots(net)))  # fmt: skip
        return await _check_all([p.name for p in z.BASE], ctx)

    results = asyncio.run(main())
    expected = internet.expected()
    wrong, extra = [], []
    for r in results:
        want = expected.get((r.subject, r.check))
        if want is None:
            if r.status == Status.PASS:
                extra.append((r.subject, r.check, r.status.value))
        elif r.status.value != want:
            wrong.append((r.subject, r.check, want, r.status.value, r.message, dict(r.evidence)))
        if r.status != Status.PASS:
            assert r.evidence, (r.subject, r.check)
    assert not wrong, "\n".join(map(str, wrong))
    assert not extra  # a check the table does not judge is never a pass
    checked = {(r.subject, r.check) for r in results}
    for (domain, check), _status in expected.items():
        if check in MINE and domain in {p.name for p in z.BASE}:
            assert (domain, check) in checked, (domain, check)


SCRIPT = """
import asyncio, ipaddress, json, sys
sys.path.insert(0, sys.argv[1])
from ipv6.modelo import Context, HostAddresses, Resolved
from ipv6.web_checks import check_web
from ipv6.mail_checks import check_mail
apex = HostAddresses("rree.test", (sys.argv[2],), (sys.argv[3],))
mx = HostAddresses("mx1.rree.test", (sys.argv[4],), (sys.argv[5],))
res = Resolved("rree.test", apex, apex, mx=((10, mx),))
out = {}
for ok in (False, True):
    ctx = Context(v6_ok=ok, global_prefixes=(ipaddress.IPv6Network("fd70:756b:6172::/48"),),
                  connect_timeout_s=1.0, smtp_timeout_s=2.0)
    async def main():
        return await check_web(res, ctx) + await check_mail(res, ctx)
    out[str(ok)] = {r.check: r.status.value for r in asyncio.run(main())}
print(json.dumps(out))
"""


def test_from_the_vantage_without_ipv6_nothing_ipv6_passes(net: manage.Lab) -> None:
    where = internet.vantage_v4_only(net)
    web, mx = z.WEB["dual"], z.MX["mx1"]
    argv = ["ip", "netns", "exec", where, sys.executable, "-c", SCRIPT, str(ROOT),
            web.v4, web.v6, mx.v4, mx.v6]  # fmt: skip
    out = json.loads(
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
    )
    ipv6_checks = ("W3h", "W3s", "W4h", "W4s", "W5", "W6c", "W6p", "W7", "W8", "M2", "M2s", "M5")
    # C1 failed: every IPv6 result is not-tested
    assert {out["False"][c] for c in ipv6_checks} == {"not-tested"}
    # even with C1 wrongly passed, a vantage with no IPv6 route never gives an IPv6 pass
    assert "pass" not in {out["True"][c] for c in ipv6_checks}, out["True"]
    assert Path(ROOT, "ipv6", "web_checks.py").exists()
