"""`auditoria informe` after a Ctrl-C: never the interrupted run by default, never an empty pass."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from auditoria import almacen
from auditoria.ejecutar import known_checks
from auditoria.modelo import Kind
from cli import main
from pukara.store import SQLiteStore
from tests.unit.test_auditoria_paquete import sample_run

WHOLE = sample_run()
CUT = replace(
    sample_run(),
    id="0193a1b2-0000-7000-8000-000000000002",
    started_at="2026-12-02T10:00:00Z",
    finished_at="2026-12-02T10:00:05Z",
    complete=False,
    scope={"hosts": {"srv-aud1": "linux", "srv-aud2": "linux", "srv-aud3": "linux"}},
    sampling={"method": "censo", "selected": ["srv-aud1", "srv-aud2", "srv-aud3"]},
    results=(),
    raw={},
)
LINUX_CHECKS = sum(1 for c in known_checks().values() if c.kind is Kind.LINUX)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PUKARA_DATA_DIR", str(tmp_path / "datos"))
    return tmp_path / "a.db"


def test_only_an_interrupted_run_is_not_reported_by_default(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SQLiteStore(db) as store:
        almacen.save_run(store, CUT)
    code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "informe", "-f", "junit")
    assert code == 1 and out == ""
    assert f"no hay ninguna auditoría completa; la última, {CUT.id}, se interrumpió" in err


def test_default_is_the_newest_complete_run(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SQLiteStore(db) as store:
        almacen.save_run(store, WHOLE)
        almacen.save_run(store, CUT)
        assert almacen.previous_run_id(store, CUT.id) == WHOLE.id
    code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "informe", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["run"]["id"] == WHOLE.id and data["run"]["state"] == "completa"


def test_a_named_interrupted_run_is_incomplete_in_every_format(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SQLiteStore(db) as store:
        almacen.save_run(store, CUT)
    base = ("--base-datos", str(db), "auditoria", "informe", CUT.id, "-f")
    code, out, err = run(capsys, *base, "junit")
    assert code == 0 and f"la ejecución {CUT.id} está incompleta" in err
    root = ET.fromstring(out)  # noqa: S314 (our own output)
    assert root.get("name", "").endswith("(incompleta)")
    assert int(root.get("tests", "0")) == 3 * LINUX_CHECKS > 0
    assert root.get("errors") == root.get("tests")
    assert sorted(s.get("name") for s in root.iter("testsuite")) == [
        "srv-aud1", "srv-aud2", "srv-aud3"
    ]  # fmt: skip
    code, out, _ = run(capsys, *base, "json")
    data = json.loads(out)
    assert data["run"]["state"] == "incompleta" and data["run"]["complete"] is False
    assert {r["status"] for r in data["results"]} == {"error"}
    assert len(data["results"]) == 3 * LINUX_CHECKS
    code, out, _ = run(capsys, *base, "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3 * LINUX_CHECKS and all("incompleta" in r["message"] for r in rows)
    code, out, _ = run(capsys, *base, "html")
    assert "Ejecución incompleta" in out and "Ningún fallo, error ni excepción" not in out
