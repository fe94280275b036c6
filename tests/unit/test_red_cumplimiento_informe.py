"""The compliance report: per device result, offline findings, JSON, CSV rows and HTML."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pukara.store.sqlite import SQLiteStore
from red import informe
from tests.unit.red_cumplimiento_case import as_backed_up, device, real, small_inventory

WHEN = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


@pytest.fixture
def report(store: SQLiteStore, tmp_path: Path) -> informe.Report:
    small_inventory(store, tmp_path)
    configs = {
        "lima/gw-lima.cfg": as_backed_up(real("gw-lima")),
        "emb-ar/gw-emb-ar.cfg": as_backed_up(real("gw-emb-ar", "as-errado")),
        # emb-bo has no backup
    }
    devices = [device(store, n) for n in ("gw-lima", "gw-emb-ar", "gw-emb-bo")]
    return informe.build(devices, configs, store, source="prueba", when=WHEN)


def test_each_device_has_its_result_and_the_run_goes_on(report: informe.Report) -> None:
    status = {d.device: d.status for d in report.devices}
    assert status == {
        "gw-lima": informe.COMPLIANT,
        "gw-emb-ar": informe.NON_COMPLIANT,
        "gw-emb-bo": informe.NO_BACKUP,
    }
    assert [d.device for d in report.failed] == ["gw-emb-bo"]
    assert report.counts() == {
        "compliant": 1, "non_compliant": 1, "no_backup": 1, "error": 0, "findings": 2
    }  # fmt: skip


def test_a_device_whose_golden_cannot_be_rendered_is_an_error(
    store: SQLiteStore, tmp_path: Path
) -> None:
    small_inventory(store, tmp_path)
    odd = dataclasses.replace(device(store, "gw-emb-ar"), role="switch")
    configs = {"emb-ar/gw-emb-ar.cfg": real("gw-emb-ar"), "emb-bo/gw-emb-bo.cfg": real("gw-emb-bo")}
    report = informe.build([odd, device(store, "gw-emb-bo")], configs, store, source="x", when=WHEN)
    assert [(d.device, d.status) for d in report.devices] == [
        ("gw-emb-ar", informe.ERROR), ("gw-emb-bo", informe.COMPLIANT)
    ]  # fmt: skip
    assert "no hay plantilla para el rol «switch»" in report.devices[0].reason


def test_headquarters_is_compliant_and_the_peering_finding_is_reported(
    report: informe.Report,
) -> None:
    lima = next(d for d in report.devices if d.device == "gw-lima")
    assert lima.status == informe.COMPLIANT, lima.to_dict()
    kinds = {(f.kind, f.device) for f in report.findings}
    assert ("peering", "gw-emb-ar") in kinds
    # gw-emb-bo has no backup: HQ's neighbour towards it matches no backed-up device
    assert ("peering", "gw-lima") in kinds


def test_json_and_csv_rows(report: informe.Report) -> None:
    data = informe.to_json(report)
    assert data["generated"] == "2026-12-01T20:00:00.000000Z"
    ar = next(d for d in data["devices"] if d["device"] == "gw-emb-ar")
    bgp = next(f for f in ar["features"] if f["feature"] == "bgp")
    assert bgp["missing"] == [
        {"parents": ["router bgp 4200000001"], "line": "neighbor 198.18.0.5 remote-as 65000"}
    ]
    rows = informe.csv_rows(report)
    assert {r["record"] for r in rows} == {"equipo", "linea", "hallazgo"}
    assert {
        "record": "linea",
        "status": "non_compliant",
        "device": "gw-emb-ar",
        "site": "emb-ar",
        "feature": "bgp",
        "change": "extra",
        "line": "router bgp 4200000001 › neighbor 198.18.0.5 remote-as 65099",
    } in rows


def test_html_is_escaped_spanish_and_self_contained(store: SQLiteStore, tmp_path: Path) -> None:
    small_inventory(store, tmp_path)
    hostile = real("gw-emb-ar").replace(
        "description enlace a sede central", "description <script>alert(1)</script>"
    )
    configs = {"emb-ar/gw-emb-ar.cfg": hostile}
    report = informe.build([device(store, "gw-emb-ar")], configs, store, source="x", when=WHEN)
    page = informe.html(report, UTC)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<html lang="es">' in page and "Cumplimiento de la configuración de red" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "1 dic 2026" in page or "1 dic. 2026" in page
