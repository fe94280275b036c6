"""Retention: raw high-rate events are kept ``retention_days``; the compact long view longer.

:func:`enforce_retention` is what ``pukara almacen depurar`` runs, and what a long-running
process (``vigilar``) may run once a day. It purges the raw datasets through
``Store.purge_events`` and then the per-round summaries and rollups past their own, longer
retention (``Store.purge_summaries``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pukara.errors import ConfigError
from pukara.events import utc_now

if TYPE_CHECKING:
    from pukara.store import Store

# the raw datasets written every round for every site
RAW_DATASETS = ("monitoreo.sondeo", "monitoreo.enlace", "monitoreo.vpn")
SUMMARY_RETENTION = timedelta(days=400)  # one summary per site per round: a year of SLA
ROLLUP_RETENTION = timedelta(days=730)  # 5-minute and hourly rollups: two years


@dataclass(frozen=True, slots=True)
class PurgeReport:
    cutoff: datetime  # raw events older than this went (or would go)
    simulated: bool
    counts: Mapping[str, int] = field(default_factory=dict)  # dataset or table -> rows
    freed_bytes: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def enforce_retention(
    store: Store,
    retention_days: int,
    *,
    now: datetime | None = None,
    simulate: bool = False,
    datasets: tuple[str, ...] = RAW_DATASETS,
) -> PurgeReport:
    """Purge (or with ``simulate`` only count) what is past its retention."""
    if retention_days < 1:
        raise ConfigError(f"retención de {retention_days} días: debe ser al menos 1 día")
    now = now or utc_now()
    cutoff = now - timedelta(days=retention_days)
    counts: dict[str, int] = {}
    for dataset in datasets:
        if simulate:
            counts[dataset] = store.count_events(datasets=[dataset], before=cutoff)
        else:
            counts[dataset] = store.purge_events(cutoff, [dataset])
    if not simulate:
        keep = max(SUMMARY_RETENTION, timedelta(days=retention_days))
        counts.update(store.purge_summaries(now - keep, now - max(keep, ROLLUP_RETENTION)))
    freed = 0 if simulate else store.compact()
    return PurgeReport(cutoff, simulate, counts, freed)
