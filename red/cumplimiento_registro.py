"""A compliance run as events (``red.cumplimiento``): the record an audit reads.

One event per device, all sharing the run's id (``red.cumplimiento.run``): its status
(``compliant``, ``non_compliant``, ``no_backup``, ``error``), whether it complies (None when it
could not be checked) and the features that drift. No configuration text and no secret: only
names, statuses and counts.
"""

from __future__ import annotations

from typing import Any

from pukara.events import make_event, new_event_id
from red.informe import COMPLIANT, NON_COMPLIANT, Report

DATASET = "red.cumplimiento"


def events(report: Report) -> list[dict[str, Any]]:
    run = new_event_id()
    out = []
    for d in report.devices:
        features = [f.feature for f in d.result.features if not f.compliant] if d.result else []
        checked = d.status in (COMPLIANT, NON_COMPLIANT)
        out.append(make_event(
            DATASET,
            timestamp=report.generated,
            message=f"cumplimiento de {d.device}: {d.status}" + (f" ({d.reason})" if d.reason else ""),
            outcome="success" if checked else "failure",
            fields={
                "event.action": "cumplimiento", "host.name": d.device, "red.site": d.site,
                "red.cumplimiento.run": run, "red.cumplimiento.status": d.status,
                "red.cumplimiento.compliant": (d.status == COMPLIANT) if checked else None,
                "red.cumplimiento.features": features or None,
                "red.cumplimiento.source": report.source, "error.message": d.reason or None,
            },
        ))  # fmt: skip
    return out
