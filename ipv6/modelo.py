"""The IPv6 checks' result model, shared by public services, devices and servers.

One :class:`CheckResult` per check and subject (a domain, a device, a server). Every result
that is not a pass carries machine-readable evidence; with no IPv6 at the vantage an IPv6
result is NOT_TESTED, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (a result state, not a secret)
    PARTIAL = "partial"
    WARN = "warn"
    FAIL = "fail"
    NOT_TESTED = "not-tested"
    NOT_APPLICABLE = "not-applicable"


class Category(StrEnum):
    """internet.nl-style score categories."""

    NAMESERVERS = "dns"
    WEB = "web"
    MAIL = "correo"
    DNSSEC = "dnssec"
    VANTAGE = "punto"  # C1, the vantage self-test
    DEVICE = "equipo"
    SERVER = "servidor"
    PLAN = "plan"  # the address plan's rules P01-P13


@dataclass(frozen=True, slots=True)
class CheckResult:
    subject: str  # the domain (IDNA ASCII form), device or server name
    check: str  # "N1", "W3", "M2", "D2", "S3" ...
    status: Status
    message: str  # Spanish, one line
    category: Category
    evidence: Mapping[str, Any] = field(default_factory=dict)  # JSON-able: addresses, ports...
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "check": self.check,
            "status": self.status.value,
            "message": self.message,
            "category": self.category.value,
            "evidence": dict(self.evidence),
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            subject=str(data["subject"]),
            check=str(data["check"]),
            status=Status(data["status"]),
            message=str(data["message"]),
            category=Category(data["category"]),
            evidence=dict(data.get("evidence") or {}),
            duration_ms=data.get("duration_ms"),
        )


@dataclass(frozen=True, slots=True)
class HostAddresses:
    """One name's addresses; ``error`` says why its lookup failed (NXDOMAIN, SERVFAIL, timeout)."""

    name: str
    v4: tuple[str, ...] = ()
    v6: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """What the resolver said about one domain, gathered once and shared by every check."""

    domain: str  # IDNA ASCII form
    apex: HostAddresses
    www: HostAddresses
    ns: tuple[HostAddresses, ...] = ()
    mx: tuple[tuple[int, HostAddresses], ...] = ()  # (preference, host), by preference
    null_mx: bool = False  # RFC 7505 "MX 0 ."
    spf: str | None = None  # the v=spf1 TXT record, if any
    error: str | None = None  # the domain could not be resolved at all
    secure: bool | None = None  # the validating resolver's AD bit on the domain's SOA (N5)


@dataclass(frozen=True, slots=True)
class Context:
    """How the checks of one run behave."""

    v6_ok: bool  # C1 passed; when False every IPv6 result is NOT_TESTED
    global_prefixes: tuple[Any, ...] = ()  # ipaddress.IPv6Network: counted as global (setting)
    connect_timeout_s: float = 4.0
    smtp_timeout_s: float = 30.0
    retries: int = 1  # a retry before any fail
    tls: bool = True  # W6c/W6p (the 1,000-domain benchmark runs without it)
    resolver: Any = None  # dns.asyncresolver.Resolver pointed at --resolutor (PTR lookups)
    tls_roots: str | None = None  # W6c: PEM file of the only roots trusted (None: the system's)
