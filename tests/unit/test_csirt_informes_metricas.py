"""csirt.metricas over a real SQLite store filled through csirt.records.command."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from csirt import metricas, records
from pukara.errors import UsageError
from pukara.events import format_timestamp
from pukara.store import SQLiteStore

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _ts(t: datetime) -> str:
    return format_timestamp(t)


def add_case(
    store: SQLiteStore,
    n: int,
    *,
    created: datetime,
    steps: list[tuple[str, float, dict[str, Any]]],
    severity: int = 3,
    sites: tuple[str, ...] = ("m001",),
    rsit: str = "fraud",
    detected_min: float = -10,
    occurred_min: float = -70,
) -> str:
    """One incident; ``steps``: (kind, minutes after creation, extra fields of the entry)."""
    inc = records.new_ulid()
    with records.command(store, "ana") as cmd:
        cmd.put(records.INCIDENT, {
            "id": inc, "number": f"INC-2026-{n:04d}", "title": f"Caso {n}", "severity": severity,
            "rsit_class": rsit, "cnsd_class": "Fraude", "sites": list(sites), "status": "cerrado",
            # the incident's own fields lie: the metrics must not read them
            "created_at": _ts(created - timedelta(days=30)), "acknowledged_at": _ts(created),
            "contained_at": _ts(created), "notified_at": _ts(created), "closed_at": _ts(created),
            "detected_at": _ts(created), "occurred_at": _ts(created),
        })  # fmt: skip
        entries = [("creado", 0.0, {"fields": {
            "detected_at": _ts(created + timedelta(minutes=detected_min)),
            "occurred_at": _ts(created + timedelta(minutes=occurred_min))}})]  # fmt: skip
        for kind, minutes, extra in entries + steps:
            cmd.put(records.TIMELINE, {
                "incident_id": inc, "id": records.new_ulid(), "kind": kind,
                "ts": _ts(created + timedelta(minutes=minutes)), "tz": "America/Lima",
                "message": kind, "source": "", "raw_ref": "", "analyst": "ana",
                "fields": {}, **extra})  # fmt: skip
    return inc


def fase(a: str, b: str, minutes: float) -> tuple[str, float, dict[str, Any]]:
    return ("fase", minutes, {"from": a, "to": b})


WALK = [
    fase("nuevo", "analisis", 30),
    fase("analisis", "contencion", 60),
    ("notificacion_cnsd", 90, {}),
    fase("contencion", "erradicacion", 120),
    fase("erradicacion", "recuperacion", 180),
    fase("recuperacion", "post_incidente", 200),
    fase("post_incidente", "cerrado", 240),
]


def test_durations_come_from_the_timeline_only(store: SQLiteStore) -> None:
    add_case(store, 1, created=T0, steps=WALK)
    # the second case is assigned before it leaves "nuevo"; its entries are written out of
    # order, and it goes back from contencion to analisis before containment ends
    add_case(store, 2, created=T0 + timedelta(hours=5), steps=[
        fase("post_incidente", "cerrado", 600), fase("contencion", "erradicacion", 300),
        fase("analisis", "contencion", 100), fase("contencion", "analisis", 150),
        fase("analisis", "contencion", 200), ("asignado", 10, {}), fase("nuevo", "analisis", 50),
        fase("erradicacion", "cerrado", 700),
    ])  # fmt: skip
    result = metricas.compute(store)
    assert result.cases == 2 and len(result.rows) == 1
    row = result.rows[0]
    assert row["month"] == "2026-03" and row["severity"] == 3 and row["cases"] == 2
    assert row["ttd_median_s"] == 3600 and row["ttd_count"] == 2
    assert row["tta_median_s"] == (30 + 10) / 2 * 60  # 30 min and 10 min (asignado first)
    assert row["tta_p90_s"] == 30 * 60
    assert row["ttc_median_s"] == (120 + 300) / 2 * 60
    assert row["ttn_count"] == 1 and row["ttn_median_s"] == 90 * 60
    assert row["ttr_median_s"] == (240 + 600) / 2 * 60 and row["ttr_p90_s"] == 600 * 60


def test_groups_months_missions_and_window(store: SQLiteStore) -> None:
    add_case(store, 1, created=T0, steps=WALK, severity=4, sites=("m001", "m002"))
    add_case(store, 2, created=T0 + timedelta(days=31), steps=WALK[:2], severity=1, sites=())
    add_case(store, 3, created=T0 + timedelta(days=40), steps=[], severity=1, rsit="")
    rows = metricas.compute(store).rows
    assert [(r["month"], r["severity"], r["cases"]) for r in rows] == [
        ("2026-03", 4, 1), ("2026-04", 1, 2)]  # fmt: skip
    assert rows[1]["ttr_count"] == 0 and rows[1]["ttr_median_s"] is None
    by_site = metricas.compute(store, by=metricas.parse_by("mision"))
    assert [(r["site"], r["cases"]) for r in by_site.rows] == [
        ("m001", 2), ("m002", 1), (None, 1)]  # fmt: skip
    by_rsit = metricas.compute(store, by=("rsit", "cnsd"))
    assert [(r["rsit_class"], r["cnsd_class"], r["cases"]) for r in by_rsit.rows] == [
        ("fraud", "Fraude", 2), (None, "Fraude", 1)]  # fmt: skip
    april = metricas.compute(store, since=T0 + timedelta(days=30), until=T0 + timedelta(days=35))
    assert april.cases == 1 and april.rows[0]["severity"] == 1


def test_missing_creation_and_negative_durations_are_reported(store: SQLiteStore) -> None:
    add_case(store, 1, created=T0, steps=[("notificacion_cnsd", -30, {})], detected_min=-90)
    with records.command(store, "ana") as cmd:
        cmd.put(records.INCIDENT, {"id": records.new_ulid(), "number": "INC-2026-0009",
                                   "severity": 2, "created_at": _ts(T0)})  # fmt: skip
    result = metricas.compute(store)
    assert result.without_creation == ["INC-2026-0009"]
    assert result.inconsistent == 2  # detected before it occurred, notified before created
    row = result.rows[0]
    assert row["ttn_count"] == 0 and row["ttd_count"] == 0


def test_percentile_and_duration_text() -> None:
    assert metricas.p90([float(v) for v in range(1, 11)]) == 9
    assert metricas.p90([5.0]) == 5 and metricas.p90([]) is None
    assert metricas.median([1.0, 2.0, 10.0, 20.0]) == 6
    assert metricas.duration_text(42) == "42 s"
    assert metricas.duration_text(12 * 60 + 20) == "12 min"
    assert metricas.duration_text(3 * 3600 + 5 * 60) == "3 h 5 min"
    assert metricas.duration_text(2 * 86400 + 4 * 3600) == "2 d 4 h"
    assert metricas.duration_text(1500 * 86400) == "1,500 d"
    assert metricas.duration_text(None) == ""


def test_unknown_dimension_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="dimensión desconocida: pais; válidas: mes"):
        metricas.parse_by("mes,pais")
    assert metricas.parse_by(" Mes , severidad,mes") == ("mes", "severidad")


def test_benchmark_agrees_with_raw_sqlite() -> None:
    """The benchmark's raw-SQL reference gives the same figures as the library (small N)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "csirt_metricas.py"), "--casos", "400"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cifras distintas: 0 — coinciden" in done.stdout
