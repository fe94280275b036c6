"""internet.nl-style scores: per domain and category, the weighted share of checks that pass.

The rules of internet.nl (research §1, "N1-N4 scoring"), on a 0-100 scale: a pass scores 1,
a partial 0.2, a fail 0, averaged with each check's weight (:data:`CHECK_WEIGHT`: W4 and its
parts W4h/W4s count twice, like internet.nl's web_ipv46; any other check, a new one
included, once). Only checks that can fail count: those whose worst status is a warning
(:data:`WARN_ONLY`: N3, M3) are left out whatever their result, and so is any warning (a
recommendation, not a failure), not-tested or not-applicable result. A domain whose DNS
has fewer than two name servers with a global AAAA (N1's evidence) gets at most 50 in DNS,
as internet.nl caps a domain with one name server. A category with nothing judged has no
score (None); a domain's overall score is the mean of its categories' scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from ipv6.modelo import Category, CheckResult, Status

VALUE = {Status.PASS: 1.0, Status.PARTIAL: 0.2, Status.FAIL: 0.0}
# check id (or id prefix, the longest that matches wins) -> weight; anything else weighs 1
CHECK_WEIGHT = {"W4": 2.0}
WARN_ONLY = frozenset({"N3", "M3"})  # their worst status is a warning: never scored
# not checks of a domain: the vantage self-test and the result of a name that is not a domain
UNSCORED = frozenset({"C1", "IDNA"})
MIN_GLOBAL_NS = 2
NS_CAP = 50.0
CATEGORIES = (Category.NAMESERVERS, Category.DNSSEC, Category.WEB, Category.MAIL)


def weight(check: str) -> float:
    """How much a check counts: the weight of the longest id prefix in :data:`CHECK_WEIGHT`."""
    found = [k for k in CHECK_WEIGHT if check.startswith(k)]
    return CHECK_WEIGHT[max(found, key=len)] if found else 1.0


def category_score(results: Sequence[CheckResult]) -> float | None:
    """0-100 over the scored results, None when none was scored."""
    scored = [(VALUE[r.status], weight(r.check)) for r in results
              if r.status in VALUE and r.check not in WARN_ONLY]  # fmt: skip
    total = sum(w for _, w in scored)
    return round(100 * sum(v * w for v, w in scored) / total, 1) if total else None


def _few_name_servers(results: Sequence[CheckResult]) -> bool:
    """N1 was judged and found fewer than two name servers with a global AAAA."""
    n1 = next((r for r in results if r.check == "N1"), None)
    if n1 is None or n1.status not in VALUE:
        return False
    return len(n1.evidence.get("global") or ()) < MIN_GLOBAL_NS


def scores(results: Sequence[CheckResult]) -> dict[str, dict[str, float | None]]:
    """subject -> {category value: score, "total": mean of the categories}."""
    by_subject: dict[str, list[CheckResult]] = {}
    for r in results:
        scored = by_subject.setdefault(r.subject, [])  # every subject gets a row
        if r.check not in UNSCORED:
            scored.append(r)
    out: dict[str, dict[str, float | None]] = {}
    for subject, rs in by_subject.items():
        row: dict[str, float | None] = {
            c.value: category_score([r for r in rs if r.category is c]) for c in CATEGORIES
        }
        dns = row[Category.NAMESERVERS.value]
        if dns is not None and _few_name_servers(rs):
            row[Category.NAMESERVERS.value] = min(dns, NS_CAP)
        judged = [v for v in row.values() if v is not None]
        row["total"] = round(sum(judged) / len(judged), 1) if judged else None
        out[subject] = row
    return out
