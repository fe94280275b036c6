"""`ipv6 dominios`: names, the DNS and mail rules on recorded answers, C1, scores."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import dns.message
import pytest

from ipv6 import dns_checks, dominios, puntaje
from ipv6.modelo import Category, CheckResult, Context, HostAddresses, Resolved, Status
from pukara.errors import UsageError

ULA = (ipaddress.IPv6Network("fd70:756b:6172::/48"),)
CTX = Context(v6_ok=True, global_prefixes=ULA)


def _resolved(**kw: object) -> Resolved:
    base: dict[str, object] = {
        "domain": "rree.test",
        "apex": HostAddresses("rree.test", ("198.19.18.10",), ("fd70:756b:6172:b200::10",)),
        "www": HostAddresses("www.rree.test", ("198.19.18.10",), ("fd70:756b:6172:b200::10",)),
        "ns": (HostAddresses("ns1.rree.test", ("198.19.17.11",), ("fd70:756b:6172:b100::11",)),
               HostAddresses("ns2.rree.test", ("198.19.17.12",), ("fd70:756b:6172:b100::12",))),
        "mx": ((10, HostAddresses("mx1.rree.test", ("198.19.19.10",), ("fd70:756b:6172:b300::10",))),),
        "spf": "v=spf1 ip4:198.19.19.10 ip6:fd70:756b:6172:b300::10 -all",
        "secure": True,
    }  # fmt: skip
    base.update(kw)
    return Resolved(**base)  # type: ignore[arg-type]


def _all_answer(r: Resolved) -> dns_checks.Probes:
    v6 = {a: True for h in r.ns for a in h.v6}
    mx6 = [a for _, h in r.mx for a in h.v6]
    return dns_checks.Probes(udp6=dict(v6), tcp6=dict(v6), udp4={a: True for h in r.ns for a in h.v4},
                             mx_zones={h.name: dns_checks.MxZone("rree.test", "secure")
                                       for _, h in r.mx},
                             ptr={a: ["mx1.rree.test"] for a in mx6},
                             confirmed=dict.fromkeys(mx6, True))  # fmt: skip


def _status(results: list[CheckResult]) -> dict[str, str]:
    return {r.check: r.status.value for r in results}


def test_a_good_domain_passes_everything_but_n3() -> None:
    r = _resolved()
    got = _status(dns_checks.judge(r, CTX, _all_answer(r)))
    assert got == {"N1": "pass", "N2u": "pass", "N2t": "pass", "N3": "warn", "N4": "pass",
                   "N5": "pass", "N5m": "pass", "M1": "pass", "M3": "pass",
                   "M4": "pass"}  # fmt: skip


def test_ula_is_not_global_without_the_setting() -> None:
    r = _resolved()
    result = dns_checks.judge_n1(r, Context(v6_ok=True))
    assert result.status is Status.FAIL
    assert result.evidence["global"] == []


def test_one_ns_without_aaaa_fails_n1() -> None:
    r = _resolved(ns=(_resolved().ns[0], HostAddresses("ns3.rree.test", ("198.19.17.13",))))
    assert dns_checks.judge_n1(r, CTX).status is Status.FAIL


def test_a_mapped_address_does_not_count_for_n1() -> None:
    ns = (_resolved().ns[0], HostAddresses("ns9.rree.test", ("192.0.2.1",), ("::ffff:192.0.2.1",)))
    assert dns_checks.judge_n1(_resolved(ns=ns), CTX).status is Status.FAIL


def test_a_silent_v6_address_fails_n2_with_evidence() -> None:
    r = _resolved()
    p = _all_answer(r)
    p.udp6["fd70:756b:6172:b100::12"] = False
    got = dns_checks.judge(r, CTX, p)
    n2u = next(x for x in got if x.check == "N2u")
    assert n2u.status is Status.FAIL
    assert n2u.evidence["silent"] == ["fd70:756b:6172:b100::12"]
    assert _status(got)["N2t"] == "pass"


def test_without_v6_at_the_vantage_n2_is_not_tested() -> None:
    r = _resolved()
    got = _status(dns_checks.judge(r, Context(v6_ok=False, global_prefixes=ULA), _all_answer(r)))
    assert got["N2u"] == got["N2t"] == "not-tested"
    assert got["N1"] == "pass"


def test_n3_passes_across_two_48s() -> None:
    ns = (HostAddresses("a", ("192.0.2.1",), ("2001:db8:1::1",)),
          HostAddresses("b", ("192.0.2.2",), ("2001:db8:2::1",)))  # fmt: skip
    assert dns_checks.judge_n3(_resolved(ns=ns)).status is Status.PASS


def test_an_ipv6_only_ns_warns_n4_and_a_silent_one_fails() -> None:
    ns = (_resolved().ns[0], HostAddresses("ns5.rree.test", (), ("fd70:756b:6172:b100::15",)))
    assert dns_checks.judge_n4(_resolved(ns=ns), {"198.19.17.11": True}).status is Status.WARN
    assert dns_checks.judge_n4(_resolved(), {"198.19.17.11": True}).status is Status.FAIL


def test_n5_judges_the_domains_own_zone_only() -> None:
    assert dns_checks.judge_n5(_resolved(secure=False)).status is Status.FAIL
    r = _resolved(mx=((10, HostAddresses("mx.correo-inseguro.test", ("198.19.19.10",))),))
    p = _all_answer(r)
    p.mx_zones["mx.correo-inseguro.test"] = dns_checks.MxZone("correo-inseguro.test", "insecure")
    got = _status(dns_checks.judge(r, CTX, p))
    assert (got["N5"], got["N5m"]) == ("pass", "fail")


def test_n5m_names_each_mx_and_its_zone_state() -> None:
    a = HostAddresses("mx1.rree.test", ("198.19.19.10",), ("fd70:756b:6172:b300::10",))
    b = HostAddresses("mx.correo-inseguro.test", ("198.19.19.10",))
    c = HostAddresses("mx.correo-roto.test", error="SERVFAIL")
    r = _resolved(mx=((10, a), (20, b), (30, c)))
    zones = {"mx1.rree.test": dns_checks.MxZone("rree.test", "secure"),
             "mx.correo-inseguro.test": dns_checks.MxZone("correo-inseguro.test", "insecure"),
             "mx.correo-roto.test": dns_checks.MxZone(None, "bogus")}  # fmt: skip
    got = dns_checks.judge_n5m(r, zones)
    assert got.status is Status.FAIL
    assert "mx.correo-inseguro.test (correo-inseguro.test: sin firmar)" in got.message
    assert "mx.correo-roto.test (zona desconocida: firma inválida)" in got.message
    assert "mx1.rree.test" not in got.message
    assert got.evidence["mx"] == {
        "mx.correo-inseguro.test": {"zone": "correo-inseguro.test", "state": "insecure"},
        "mx.correo-roto.test": {"zone": None, "state": "bogus"},
        "mx1.rree.test": {"zone": "rree.test", "state": "secure"},
    }
    only_good = _resolved(mx=((10, a),))
    assert dns_checks.judge_n5m(only_good, zones).status is Status.PASS
    timeout = {"mx1.rree.test": dns_checks.MxZone(None, "timeout")}
    assert dns_checks.judge_n5m(only_good, timeout).status is Status.NOT_TESTED
    for r in (_resolved(mx=(), null_mx=True), _resolved(mx=())):
        assert dns_checks.judge_n5m(r, {}).status is Status.NOT_APPLICABLE


def test_an_mx_that_does_not_resolve_is_not_tested_for_m1_and_m3() -> None:
    r = _resolved(mx=((10, HostAddresses("mx.correo-roto.test", error="SERVFAIL")),))
    m1, m3 = dns_checks.judge_m1(r), dns_checks.judge_m3(r, dns_checks.Probes())
    assert (m1.status, m3.status) == (Status.NOT_TESTED, Status.NOT_TESTED)
    assert m1.evidence["errors"] == {"mx.correo-roto.test": "SERVFAIL"}


def test_mail_rules() -> None:
    mx4 = ((10, HostAddresses("mx4.rree.test", ("198.19.19.40",))),)
    r = _resolved(mx=mx4, spf="v=spf1 ip4:198.19.19.40 -all")
    got = _status(dns_checks.judge(r, CTX, _all_answer(r)))
    assert (got["M1"], got["M3"], got["M4"]) == ("fail", "not-applicable", "fail")
    r = _resolved(mx=mx4, spf="v=spf1 mx -all")
    assert dns_checks.judge_m4(r, dns_checks.Probes()).status is Status.FAIL
    r = _resolved(spf="v=spf1 mx -all")
    assert dns_checks.judge_m4(r, dns_checks.Probes()).status is Status.PASS
    assert (
        dns_checks.judge_m4(_resolved(spf="v=spf1 -all"), dns_checks.Probes()).status
        is Status.NOT_APPLICABLE
    )
    null = _resolved(mx=(), null_mx=True)
    judged = (dns_checks.judge_m1(null), dns_checks.judge_m3(null, dns_checks.Probes()),
              dns_checks.judge_m4(null, dns_checks.Probes()))  # fmt: skip
    assert {x.status for x in judged} == {Status.NOT_APPLICABLE}


def test_m3_warns_without_a_confirmed_ptr() -> None:
    r = _resolved()
    p = _all_answer(r)
    p.confirmed["fd70:756b:6172:b300::10"] = False
    assert dns_checks.judge_m3(r, p).status is Status.WARN


def test_spf_terms_and_hosts() -> None:
    terms = dns_checks.spf_terms("v=spf1 +ip4:192.0.2.0/24 ~a:web.rree.test/24 mx -all")
    assert terms == [("ip4", "192.0.2.0"), ("a", "web.rree.test"), ("mx", ""), ("all", "")]
    assert dns_checks.spf_hosts(_resolved(spf="v=spf1 a:web.rree.test mx:rree.test -all")) == [
        "web.rree.test"
    ]


def test_idna_names() -> None:
    assert dominios.idna_name("Cancillería.Test.").ascii == "xn--cancillera-s8a.test"
    bad = dominios.idna_name("a" * 300 + ".test")
    assert bad.ascii == "" and bad.error and "no válido" in bad.error
    assert dominios.idna_name("-bad-.test").error
    names = dominios.read_names(
        ["rree.test", "RREE.test"], ["# comentario", "", "lima.rree.test  # sede"]
    )
    assert [n.ascii for n in names] == ["rree.test", "lima.rree.test"]
    with pytest.raises(UsageError):
        dominios.read_names([], ["# nada"])


def test_an_invalid_name_is_its_own_result_not_a_crash() -> None:
    ctx = Context(v6_ok=False, resolver=dominios.make_resolver("127.0.0.1", 0.2))
    names = [dominios.idna_name("x" * 300 + ".test")]
    c1, results = asyncio.run(dominios.run_async(names, ctx, [], 4))
    assert c1.status is Status.NOT_TESTED
    assert [(r.check, r.status) for r in results] == [("IDNA", Status.FAIL)]
    assert dominios.failed(results)


def test_an_unresolved_domain_gets_every_check_not_tested_but_n5_when_bogus() -> None:
    out = dominios.not_tested("embperu-es.test", "SERVFAIL", "NOERROR")
    assert {r.check for r in out} == set(dominios.ALL_CHECKS)
    assert {r.check: r.status for r in out}["N5"] is Status.FAIL
    assert {r.status for r in out if r.check != "N5"} == {Status.NOT_TESTED}
    for unchecked in ("SERVFAIL", "NXDOMAIN", None):
        out = dominios.not_tested("x.test", "SERVFAIL", unchecked)
        assert {r.status for r in out} == {Status.NOT_TESTED}


def test_resolver_must_be_an_address() -> None:
    with pytest.raises(UsageError):
        dominios.make_resolver("resolutor.test", 1.0)


def test_c1_needs_enough_anchors_that_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    reached: list[str] = []

    async def reaches(address: str, timeout_s: float) -> int | None:
        reached.append(address)
        return 443 if address.startswith("fd70") else None

    monkeypatch.setattr(dominios, "_reaches", reaches)
    same = ["fd70:756b:6172:b100::1", "fd70:756b:6172:b100:0::1", "FD70:756B:6172:B100::1"]
    one = asyncio.run(dominios.vantage(same, 1.0))
    assert one.status is Status.FAIL  # one address, however it is written, is one anchor
    assert reached == ["fd70:756b:6172:b100::1"]
    three = ["fd70:756b:6172:b100::1", "fd70:756b:6172:b100::2", "fd70:756b:6172:b100::3"]
    assert asyncio.run(dominios.vantage(three, 1.0)).status is Status.PASS
    two = asyncio.run(dominios.vantage([*three[:2], "2001:db8::1"], 1.0))
    assert two.status is Status.FAIL and set(two.evidence["reached"]) == set(three[:2])


def test_c1_never_passes_on_loopback_ipv4_or_a_name() -> None:
    from pukara.errors import ConfigError

    for bad in (["::1"] * 3, ["198.51.100.1"], ["anclas.example"], ["fe80::1"],
                ["::ffff:192.0.2.1"], ["ff02::1"], ["::"]):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            asyncio.run(dominios.vantage([*bad, "fd70:756b:6172:b100::1"], 0.2))
        assert bad[0] in e.value.message


def test_an_anchor_is_reached_over_ipv6_only() -> None:
    v6 = socket.socket(socket.AF_INET6)
    v6.bind(("::1", 0))
    v6.listen()
    port = v6.getsockname()[1]
    v4 = socket.socket(socket.AF_INET)
    v4.bind(("127.0.0.1", 0))
    v4.listen()
    try:
        import unittest.mock

        with unittest.mock.patch.object(dominios, "ANCHOR_PORTS", (port, v4.getsockname()[1])):
            assert asyncio.run(dominios._reaches("::1", 1.0)) == port
            assert asyncio.run(dominios._reaches("127.0.0.1", 1.0)) is None  # AF_INET6 only
    finally:
        v6.close()
        v4.close()


def _r(check: str, status: Status, category: Category = Category.NAMESERVERS,
       **evidence: object) -> CheckResult:  # fmt: skip
    return CheckResult("a.test", check, status, "", category, evidence)


def test_scores() -> None:
    rs = [_r("N1", Status.PASS, **{"global": ["ns1.a.test", "ns2.a.test"]}),
          _r("N3", Status.WARN),
          _r("N2u", Status.FAIL),
          _r("N2t", Status.NOT_TESTED),
          _r("W3", Status.PARTIAL, Category.WEB),
          _r("M1", Status.NOT_APPLICABLE, Category.MAIL)]  # fmt: skip
    got = puntaje.scores(rs)["a.test"]
    assert got["dns"] == 50.0  # N1 1, N2u 0; N3 (it can only warn) left out
    assert got["web"] == 20.0  # a partial is 0.2
    assert got["correo"] is None and got["dnssec"] is None
    assert got["total"] == 35.0


def test_a_name_that_is_not_a_domain_and_the_vantage_get_no_score() -> None:
    bad = CheckResult("1.2.3.4", "IDNA", Status.FAIL, "", Category.NAMESERVERS, {})
    c1 = CheckResult("punto-de-prueba", "C1", Status.FAIL, "", Category.NAMESERVERS, {})
    got = puntaje.scores([bad, c1])
    assert set(got) == {"1.2.3.4", "punto-de-prueba"}
    assert all(v is None for row in got.values() for v in row.values())


def test_warn_only_checks_never_count_and_w4_weighs_two() -> None:
    web = [_r("W3", Status.PASS, Category.WEB), _r("W4", Status.FAIL, Category.WEB),
           _r("W8", Status.WARN, Category.WEB)]  # fmt: skip
    assert puntaje.category_score(web) == pytest.approx(33.3)  # 1 / (1 + 2)
    split = [_r("W3", Status.PASS, Category.WEB), _r("W4h", Status.FAIL, Category.WEB),
             _r("W4s", Status.PASS, Category.WEB), _r("W99", Status.PASS, Category.WEB)]  # fmt: skip
    assert puntaje.category_score(split) == pytest.approx(66.7)  # (1 + 0 + 2 + 1) / 6
    assert puntaje.weight("W4s") == 2.0 and puntaje.weight("X1") == 1.0
    mail = [_r("M3", Status.PASS, Category.MAIL), _r("M1", Status.FAIL, Category.MAIL)]
    assert puntaje.category_score(mail) == 0.0  # M3 warns at worst: left out, pass or not
    assert puntaje.category_score([_r("N3", Status.PASS)]) is None


def test_one_name_server_with_a_global_aaaa_caps_dns_at_50() -> None:
    rs = [_r("N1", Status.FAIL, **{"global": ["ns1.a.test"]}), _r("N2u", Status.PASS),
          _r("N2t", Status.PASS), _r("N4", Status.PASS)]  # fmt: skip
    assert puntaje.category_score(rs) == 75.0
    assert puntaje.scores(rs)["a.test"]["dns"] == 50.0
    two = [_r("N1", Status.PASS, **{"global": ["ns1.a.test", "ns2.a.test"]}), *rs[1:]]
    assert puntaje.scores(two)["a.test"]["dns"] == 100.0


def test_the_resolvers_rcode_names_the_error() -> None:
    import dns.resolver

    def nn(rcode: str) -> dns.resolver.NoNameservers:
        query = dns.message.make_query("rree.test", "SOA")
        return dns.resolver.NoNameservers(
            request=query, errors=[("127.0.0.1", False, 53, rcode, None)]
        )

    assert dominios._reason(nn("SERVFAIL")) == "SERVFAIL"
    assert dominios._reason(nn("REFUSED")) == "REFUSED"
    assert dominios._reason(dns.resolver.NXDOMAIN()) == "NXDOMAIN"
    assert dominios._reason(dns.resolver.LifetimeTimeout(timeout=1.0, errors=[])) == "timeout"
