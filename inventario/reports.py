"""Capacity (from the latest Ansible facts) and life cycle (age, warranty, end of life)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from statistics import fmean
from typing import Any

from inventario.model import RETIRED, SERVER_KINDS, UNKNOWN, age_years

# Averages the ministry's plan reports for its servers, shown beside the measured ones
PLAN_AVERAGES = {"cpu": 40.0, "memory": 60.0, "disk": 70.0}


@dataclass(frozen=True, slots=True)
class Thresholds:
    cpu: float = 80.0
    memory: float = 85.0
    disk: float = 90.0


@dataclass(frozen=True, slots=True)
class Capacity:
    rows: list[dict[str, Any]]
    averages: dict[str, float | None]
    over: list[str]


def capacity(
    assets: Iterable[Mapping[str, Any]],
    observations: Iterable[Mapping[str, Any]],
    metrics: Mapping[str, Mapping[str, Any]],
    limits: Thresholds,
) -> Capacity:
    """One row per server: sizes from its Ansible observation, use from its latest run."""
    latest = {
        o["asset"]: o for o in observations if o.get("source") == "ansible" and o.get("asset")
    }
    rows = []
    for asset in sorted(assets, key=lambda a: a["name"]):
        if asset.get("status") == RETIRED:
            continue
        obs = latest.get(asset["name"])
        if obs is None and asset.get("kind") not in SERVER_KINDS:
            continue
        facts = {**(obs or {}).get("facts", {}), **metrics.get(asset["name"], {})}
        row = {
            "name": asset["name"], "site": asset.get("site"), "kind": asset.get("kind"),
            "cpu_count": facts.get("cpu_count"), "cpu_used_pct": facts.get("cpu_used_pct"),
            "memory_mb": facts.get("memory_mb"), "memory_used_pct": facts.get("memory_used_pct"),
            "disk_gb": round(sum(d["size_gb"] for d in facts.get("disks", [])), 1) or None,
            "disk_used_pct": facts.get("disk_used_pct"),
            "load_avg_15m": (facts.get("load_avg") or [None, None, None])[2],
            "ipv6_enabled": facts.get("ipv6_enabled"),
            "seen_at": facts.get("@timestamp"),
        }  # fmt: skip
        over = [
            label for label, key, limit in (
                ("CPU", "cpu_used_pct", limits.cpu), ("RAM", "memory_used_pct", limits.memory),
                ("disco", "disk_used_pct", limits.disk))
            if row[key] is not None and row[key] >= limit
        ]  # fmt: skip
        row["over"] = over
        rows.append(row)

    def mean(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return round(fmean(values), 1) if values else None

    return Capacity(
        rows,
        {"cpu": mean("cpu_used_pct"), "memory": mean("memory_used_pct"),
         "disk": mean("disk_used_pct")},
        [r["name"] for r in rows if r["over"]],
    )  # fmt: skip


def _state(end: str | None, today: date, within: int) -> tuple[str, int | None]:
    if end is None:
        return "sin dato", None
    if end == UNKNOWN:
        return "desconocido", None
    days = (date.fromisoformat(end) - today).days
    if days < 0:
        return "vencido", days
    if days <= within:
        return "por vencer", days
    return "vigente", days


# Age buckets, youngest first: (upper bound in years, label); the last has no bound
AGE_BUCKETS = ((3.0, "menos de 3 años"), (5.0, "3 a 5 años"), (8.0, "5 a 8 años"),
               (None, "8 años o más"))  # fmt: skip
NO_PURCHASE_DATE = "sin fecha de compra"
# Bought after the reference date: it did not exist then (or is planned), so it has no age,
# warranty or end of life to judge; counted apart and left out of the rows
NOT_YET_BOUGHT = "comprados después de la fecha"
BUCKET_ORDER = (*(label for _, label in AGE_BUCKETS), NO_PURCHASE_DATE, NOT_YET_BOUGHT)


def age_bucket(years: float | None) -> str:
    if years is None:
        return NO_PURCHASE_DATE
    return next(label for limit, label in AGE_BUCKETS if limit is None or years < limit)


def ordered_buckets(buckets: Mapping[str, int]) -> list[tuple[str, int]]:
    """The age buckets by age, youngest first, those without a purchase date last."""
    return [(label, buckets[label]) for label in BUCKET_ORDER if buckets.get(label)]


def lifecycle(
    assets: Iterable[Mapping[str, Any]], today: date, within_days: int, *, everything: bool
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Rows for assets whose warranty or end of life is past, near or unknown (or all);
    ``attention`` marks the findings. Retired assets are left out, and so are those bought
    after ``today`` (counted in the bucket ``NOT_YET_BOUGHT``)."""
    rows, buckets = [], Counter[str]()
    for asset in sorted(assets, key=lambda a: a["name"]):
        if asset.get("status") == RETIRED:
            continue
        years = age_years(asset.get("purchase_date"), today)
        if years is not None and years < 0:
            buckets[NOT_YET_BOUGHT] += 1
            continue
        buckets[age_bucket(years)] += 1
        warranty, w_days = _state(asset.get("warranty_end"), today, within_days)
        eol, e_days = _state(asset.get("eol_date"), today, within_days)
        attention = warranty in ("vencido", "por vencer") or eol in (
            "vencido", "por vencer", "desconocido")  # fmt: skip
        if not (everything or attention):
            continue
        rows.append({
            "name": asset["name"], "site": asset.get("site"), "kind": asset.get("kind"),
            "purchase_date": asset.get("purchase_date"),
            "age_years": round(years, 1) if years is not None else None,
            "age_bucket": age_bucket(years),
            "warranty_end": asset.get("warranty_end"), "warranty_state": warranty,
            "warranty_days": w_days, "eol_date": asset.get("eol_date"), "eol_state": eol,
            "eol_days": e_days, "attention": attention,
        })  # fmt: skip
    return rows, buckets
