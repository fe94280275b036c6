"""internet.nl-style scores: per domain and category, the share of judged checks that pass.

A pass or a warning (a recommendation, as internet.nl counts it) scores 1, a partial 0.5, a
fail 0; not-tested and not-applicable results are left out. A category with nothing judged
has no score (None); a domain's overall score is the mean of its categories' scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from ipv6.modelo import Category, CheckResult, Status

WEIGHT = {Status.PASS: 1.0, Status.WARN: 1.0, Status.PARTIAL: 0.5, Status.FAIL: 0.0}
CATEGORIES = (Category.NAMESERVERS, Category.DNSSEC, Category.WEB, Category.MAIL)


def category_score(results: Sequence[CheckResult]) -> float | None:
    """0-100 over the judged results, None when none was judged."""
    weights = [WEIGHT[r.status] for r in results if r.status in WEIGHT]
    return round(100 * sum(weights) / len(weights), 1) if weights else None


def scores(results: Sequence[CheckResult]) -> dict[str, dict[str, float | None]]:
    """subject -> {category value: score, "total": mean of the categories}."""
    by_subject: dict[str, list[CheckResult]] = {}
    for r in results:
        by_subject.setdefault(r.subject, []).append(r)
    out: dict[str, dict[str, float | None]] = {}
    for subject, rs in by_subject.items():
        row: dict[str, float | None] = {
            c.value: category_score([r for r in rs if r.category is c]) for c in CATEGORIES
        }
        judged = [v for v in row.values() if v is not None]
        row["total"] = round(sum(judged) / len(judged), 1) if judged else None
        out[subject] = row
    return out
