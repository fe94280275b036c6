"""``ipv6 plan verificar`` as a stored run: one result per rule P01-P13 (kind ``plan``).

A rule with no finding passes; one with an error finding fails and one with only warnings
warns, with its findings (line, severity, prefix, message) and their lines as evidence. P10
is not-tested when the inventory was not read. The subject is the plan file's name, so the
runs of one plan compare in ``ipv6 diff``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ipv6.modelo import Category, CheckResult, Status
from ipv6.plan import Finding


def results(findings: Sequence[Finding], subject: str, *, sites_checked: bool) -> list[CheckResult]:
    """One result per rule of :data:`ipv6.plan_reglas.RULES`, in rule order."""
    from ipv6.plan_reglas import RULES
    from pukara.text import count

    out: list[CheckResult] = []
    for rule, title in RULES.items():
        found = [f for f in findings if f.rule == rule]
        if not found:
            if rule == "P10" and not sites_checked:
                out.append(CheckResult(subject, rule, Status.NOT_TESTED, "no se leyó el "
                                       "inventario (sin base de datos o --sin-inventario)",
                                       Category.PLAN, {"inventory": "no leído"}))  # fmt: skip
            else:
                out.append(CheckResult(subject, rule, Status.PASS, title, Category.PLAN))
            continue
        errors = [f for f in found if f.severity == "error"]
        first = errors[0] if errors else found[0]
        where = f"línea {first.line}: " if first.line is not None else ""
        head = count(len(found), "hallazgo", "hallazgos")
        evidence: dict[str, Any] = {
            "findings": [f.record() for f in found],
            "lines": sorted({f.line for f in found if f.line is not None}),
        }
        out.append(CheckResult(subject, rule, Status.FAIL if errors else Status.WARN,
                               f"{head}; {where}{first.message}", Category.PLAN, evidence))  # fmt: skip
    return out
