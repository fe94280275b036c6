"""Stored IPv6 runs of every kind, shared by the report's unit and CLI tests."""

from __future__ import annotations

from ipv6 import almacen
from ipv6.modelo import Category, CheckResult, Status
from pukara.store import Store

P, F, W, NT, NA = Status.PASS, Status.FAIL, Status.WARN, Status.NOT_TESTED, Status.NOT_APPLICABLE
EVIL = "<script>alert(1)</script>"


def r(subject: str, check: str, status: Status, category: Category = Category.WEB,
      message: str = "", **evidence: object) -> CheckResult:  # fmt: skip
    return CheckResult(subject, check, status, message or f"{check} de {subject}", category,
                       evidence)  # fmt: skip


def domains(second: bool = False) -> list[CheckResult]:
    ns = Category.NAMESERVERS
    return [
        r("*", "C1", P, Category.VANTAGE),
        r("dual.test", "N1", P, ns), r("dual.test", "N2u", P, ns), r("dual.test", "N2t", P, ns),
        r("dual.test", "W1a", P), r("dual.test", "W1w", P), r("dual.test", "W3", P),
        r("dual.test", "W4", W, message="cuerpos distintos", distancia=0.12),
        r("dual.test", "M1", P, Category.MAIL), r("dual.test", "M2", P, Category.MAIL),
        r("v4.test", "N1", F, ns, message=EVIL, direcciones=[EVIL]),
        r("v4.test", "W1a", P if second else F, direcciones_v4=["198.19.16.10"]),
        r("v4.test", "W1w", F), r("v4.test", "W3", P if second else NA),
        r("v4.test", "W4", P if second else NA), r("v4.test", "M1", NA, Category.MAIL),
    ]  # fmt: skip


def seed(store: Store) -> None:
    """Servers at 10:00, devices at 10:30, domains at 11:00 and 12:00 (v4.test gets web)."""
    almacen.save_run(
        store,
        "servidores",
        [
            r("aud1", "S1", P, Category.SERVER),
            r("aud6", "S1", F, Category.SERVER, disable_ipv6={"all": 1}),
            r("aud5", "S2", F, Category.SERVER, puertos_solo_v4=[2222]),
        ],
        {"run_id": "srv-1", "finished_at": "2026-12-01T10:00:00Z"},
    )
    almacen.save_run(
        store,
        "equipos",
        [r("lima-rt1", "D2", P, Category.DEVICE), r("cusco-rt1", "D2", F, Category.DEVICE)],
        {"run_id": "equ-1", "finished_at": "2026-12-01T10:30:00Z"},
    )
    almacen.save_run(
        store, "dominios", domains(), {"run_id": "dom-1", "finished_at": "2026-12-01T11:00:00Z"}
    )
    almacen.save_run(store, "dominios", domains(second=True),
                     {"run_id": "dom-2", "finished_at": "2026-12-01T12:00:00Z"})  # fmt: skip
