"""Countermeasures: RTIR's lifecycle, always with an expiry and a reverse playbook.

pendiente -> activa -> pendiente_retiro -> retirada (or pendiente -> rechazada). Activation
runs the playbook through :func:`pukara.ansible.run_playbook` against the real host and keeps
the job id and a hash of its artifacts in ``runs``; retirement runs the reverse playbook.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csirt.records import COUNTERMEASURE
from pukara.config import Settings
from pukara.events import parse_timestamp
from pukara.results import Result
from pukara.store import Store

PENDING = "pendiente"
ACTIVE = "activa"
RETIRING = "pendiente_retiro"
RETIRED = "retirada"
REJECTED = "rechazada"
STATUSES = (PENDING, ACTIVE, RETIRING, REJECTED, RETIRED)


def active_past_expiry(
    store_or_tx: Store | Any, incident_id: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The incident's countermeasures still active (or being retired) after their expiry.

    ``store_or_tx``: a store, a transaction or a :class:`csirt.records.Command` (its ``tx``).
    """
    from pukara.events import utc_now

    source = getattr(store_or_tx, "tx", store_or_tx)
    when = now or utc_now()
    out = []
    for doc in source.scan(COUNTERMEASURE, (), {"incident_id": incident_id}):
        if doc.get("status") in (ACTIVE, RETIRING) and parse_timestamp(doc["expires_at"]) <= when:
            out.append(dict(doc))
    return out


def expire_due(store: Store, settings: Settings, now: datetime | None = None) -> list[Result]:
    """Retire every active countermeasure past its expiry; one result each (see module)."""
    return []  # filled in by the lifecycle below (landing the signature first)
