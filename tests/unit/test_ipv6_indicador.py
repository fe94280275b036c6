"""The plan indicator and NIST-style assigned / reachable / operational counts."""

from __future__ import annotations

from ipv6 import indicador
from ipv6.modelo import Category, CheckResult, Status

P, F, W, NT, NA = Status.PASS, Status.FAIL, Status.WARN, Status.NOT_TESTED, Status.NOT_APPLICABLE


def domain(name: str, **checks: Status) -> list[CheckResult]:
    return [CheckResult(name, c, s, "", Category.WEB) for c, s in checks.items()]


def test_counts_per_service_kind() -> None:
    results = [
        *domain("dual.test", N1=P, N2u=P, N2t=P, W1a=P, W1w=P, W3=P, W4=W, M1=P, M2=P),
        *domain("v4.test", N1=F, N2u=NA, N2t=NA, W1a=F, W1w=F, W3=NA, M1=F, M2=NA),
        *domain("mudo.test", N1=P, N2u=F, N2t=F, W1a=P, W1w=F, W3=F, W4=NT, M1=NA),
        *domain("parcial.test", N1=P, N2u=P, N2t=F, W1a=P, W3=Status.PARTIAL, M1=P, M2=F),
    ]
    states = indicador.services(results)
    got = {k: c.to_dict() for k, c in indicador.counts(states).items()}
    assert got["dns"] == {"kind": "dns", "services": 4, "not_tested": 0, "assigned": 3,
                          "reachable": 2, "operational": 1}  # fmt: skip
    assert got["web"] == {"kind": "web", "services": 4, "not_tested": 0, "assigned": 3,
                          "reachable": 2, "operational": 1}  # fmt: skip
    # mudo.test has a null MX: no mail service at all
    assert got["mail"] == {"kind": "mail", "services": 3, "not_tested": 0, "assigned": 2,
                           "reachable": 1, "operational": 1}  # fmt: skip
    assert indicador.indicator(states) == 3 / 11


def test_no_ipv6_at_the_vantage_is_not_tested_never_dual_stack() -> None:
    results = [
        CheckResult("*", "C1", F, "sin IPv6", Category.VANTAGE),
        *domain("dual.test", N1=P, N2u=NT, N2t=NT, W1a=P, W1w=P, W3=NT, W4=NT, M1=P, M2=NT),
    ]
    states = indicador.services(results)
    assert all(not s.tested for s in states) and len(states) == 3
    assert indicador.counts(states)["web"].not_tested == 1
    assert indicador.indicator(states) is None


def test_an_untested_reachability_check_is_not_tested_not_a_failure() -> None:
    # C1 passed, but one domain's N2u, W3 and M2 were not tested (a per-domain reason)
    results = [
        CheckResult("*", "C1", P, "", Category.VANTAGE),
        *domain("dual.test", N1=P, N2u=P, N2t=P, W1a=P, W1w=P, W3=P, W4=P, M1=P, M2=P),
        *domain("caido.test", N1=P, N2u=NT, N2t=NT, W1a=P, W1w=P, W3=NT, W4=NT, M1=P, M2=NT),
        # runs after the split: W3h and W3s, either one untested leaves web undecided
        *domain("puertos.test", W1a=P, W1w=P, W3h=P, W3s=NT, W4h=P, W4s=NT),
        *domain("partido.test", W1a=P, W1w=P, W3h=P, W3s=NA, W4h=P),
    ]
    states = {(s.domain, s.kind): s for s in indicador.services(results)}
    assert [k for k, s in states.items() if not s.tested] == [
        ("caido.test", "dns"),
        ("caido.test", "web"),
        ("caido.test", "mail"),
        ("puertos.test", "web"),
    ]
    c = indicador.counts(states.values())
    assert (c["dns"].not_tested, c["web"].not_tested, c["mail"].not_tested) == (1, 2, 1)
    assert states["partido.test", "web"].tested
    # no reachability result at all for a service with addresses: no verdict either
    (alone,) = indicador.services(domain("solo.test", N1=P))
    assert not alone.tested
