"""The plan indicator "% of Internet services in dual stack" and NIST-style counts.

A service is one domain's name service (dns), web (web) or mail (mail). As the NIST IPv6
deployment monitor does per interface, each service is counted as

- *assigned*: it has IPv6 addresses (N1 pass/warn/partial; W1a or W1w pass; M1 pass/partial),
- *reachable*: those addresses answer a connection (N2u; W3 pass/partial; M2 not fail),
- *operational*: it fully works over IPv6 (N2u and N2t pass; W3 pass and W4 not fail;
  M2 pass).

A service whose deciding checks were not tested (no IPv6 at the vantage, lookup failure) is
counted as *not tested*, never as a failure or a success; a domain with a null MX (M1
not-applicable) has no mail service. The indicator is operational / (services tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ipv6.modelo import CheckResult, Status

SERVICE_KINDS = ("dns", "web", "mail")
SERVICE_TEXT = {"dns": "DNS", "web": "Web", "mail": "Correo"}

_GOOD = {Status.PASS, Status.WARN, Status.PARTIAL}
_UNTESTED = {Status.NOT_TESTED, None}


@dataclass(frozen=True, slots=True)
class ServiceState:
    domain: str
    kind: str
    tested: bool
    assigned: bool
    reachable: bool
    operational: bool


@dataclass(frozen=True, slots=True)
class Counts:
    kind: str
    services: int  # with a verdict (tested)
    not_tested: int
    assigned: int
    reachable: int
    operational: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "services": self.services,
            "not_tested": self.not_tested,
            "assigned": self.assigned,
            "reachable": self.reachable,
            "operational": self.operational,
        }


def _state(domain: str, kind: str, s: Mapping[str, Status]) -> ServiceState | None:
    def st(check: str) -> Status | None:
        return s.get(check)

    if kind == "dns":
        if st("N1") is None:
            return None
        key: tuple[Status | None, ...] = (st("N1"),)
        assigned = st("N1") in _GOOD
        reachable = assigned and st("N2u") in _GOOD
        operational = reachable and st("N2u") is Status.PASS and st("N2t") is Status.PASS
    elif kind == "web":
        if st("W1a") is None and st("W1w") is None:
            return None
        key = (st("W1a"), st("W1w"))
        assigned = Status.PASS in key
        # W3/W4: runs stored before the split into W3h/W3s and W4h/W4s
        ports = [st(c) for c in ("W3", "W3h", "W3s") if st(c) not in (None, Status.NOT_APPLICABLE)]
        parity = [st(c) for c in ("W4", "W4h", "W4s") if st(c) is not None]
        reachable = assigned and any(p in (Status.PASS, Status.PARTIAL) for p in ports)
        operational = (reachable and all(p is Status.PASS for p in ports) and bool(parity)
                       and Status.FAIL not in parity)  # fmt: skip
    else:
        if st("M1") in (Status.NOT_APPLICABLE, None):
            return None
        key = (st("M1"),)
        assigned = st("M1") in (Status.PASS, Status.PARTIAL)
        reachable = assigned and st("M2") in _GOOD
        operational = reachable and st("M2") is Status.PASS
    if all(k in _UNTESTED for k in key) or (st("C1") is not None and st("C1") is not Status.PASS):
        return ServiceState(domain, kind, False, False, False, False)
    return ServiceState(domain, kind, True, assigned, reachable, operational)


def services(results: Iterable[CheckResult]) -> list[ServiceState]:
    """One state per domain and service kind, from an ``ipv6 dominios`` run's results.

    C1 is the run's verdict: its result (stored under any subject) applies to every domain.
    """
    by_domain: dict[str, dict[str, Status]] = {}
    vantage: Status | None = None
    for r in results:
        if r.check == "C1":
            vantage = r.status if vantage in (None, Status.PASS) else vantage
            continue
        by_domain.setdefault(r.subject, {})[r.check] = r.status
    out: list[ServiceState] = []
    for domain in sorted(by_domain):
        statuses = dict(by_domain[domain])
        if vantage is not None:
            statuses["C1"] = vantage
        for kind in SERVICE_KINDS:
            state = _state(domain, kind, statuses)
            if state is not None:
                out.append(state)
    return out


def counts(states: Iterable[ServiceState]) -> dict[str, Counts]:
    """NIST-style counts per service kind (every kind present, zeros included)."""
    rows = list(states)
    out: dict[str, Counts] = {}
    for kind in SERVICE_KINDS:
        mine = [s for s in rows if s.kind == kind]
        tested = [s for s in mine if s.tested]
        out[kind] = Counts(kind, len(tested), len(mine) - len(tested),
                           sum(s.assigned for s in tested), sum(s.reachable for s in tested),
                           sum(s.operational for s in tested))  # fmt: skip
    return out


def indicator(states: Iterable[ServiceState]) -> float | None:
    """Share (0-1) of the tested Internet services that are operational over IPv6 (dual
    stack); ``None`` when no service could be tested."""
    tested = [s for s in states if s.tested]
    if not tested:
        return None
    return sum(s.operational for s in tested) / len(tested)
