"""`pukara csirt alertas importar|agregar|listar|mostrar|descartar` on a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli import main
from csirt.records import ALERT
from pukara.store.sqlite import SQLiteStore
from tests.sigma_corpus import corpus

DATA = Path(__file__).parent.parent / "data" / "csirt"
HASTA = ["--desde", "2026-11-30T09:00", "--hasta", "2026-11-30T13:30"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_importar_then_listar_in_every_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ["--base-datos", str(tmp_path / "p.db"), "--analista", "ana"]
    code, out, err = run(capsys, *db, "csirt", "alertas", "importar",
                         str(DATA / "alertas.jsonl"), str(DATA / "misp_evento.json"))  # fmt: skip
    assert code == 0, err
    assert out == ""
    assert "3 nuevas, 1 repetida" in err
    code, out, err = run(capsys, *db, "csirt", "alertas", "listar", "--formato", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["source_ref"] for r in rows][:1] == ["ids-0002"]  # the latest sighting first
    scan = next(r for r in rows if r["source_ref"] == "ids-0001")
    assert (scan["count"], scan["status"], scan["incident_number"]) == (2, "nueva", None)
    assert "raw" not in scan
    code, out, _ = run(capsys, *db, "csirt", "alertas", "listar", "--formato", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["count"] for r in table} == {"1", "2"}
    assert set(table[0]) >= {"status", "count", "first_seen", "last_seen", "incident_number"}
    code, out, _ = run(capsys, *db, "csirt", "alertas", "listar", "--fuente", "misp")
    assert code == 0 and "Campaña de phishing" in out and "Escaneo" not in out
    code, out, err = run(capsys, *db, "csirt", "alertas", "importar",
                         str(DATA / "alertas.jsonl"))  # fmt: skip
    assert code == 0 and "0 nuevas, 0 repetidas" in err and "3 ya vistas" in err


def test_a_bad_file_exits_1_with_its_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "malas.jsonl"
    bad.write_text(
        (DATA / "alertas.jsonl").read_text().replace("ip:198.51.100.7", "ip:999.1.1.1", 1)
    )
    db = ["--base-datos", str(tmp_path / "p.db")]
    code, _, err = run(capsys, *db, "csirt", "alertas", "importar", str(bad))
    assert code == 1
    assert f"{bad}:1:" in err and "999.1.1.1" in err and "Traceback" not in err
    with SQLiteStore(tmp_path / "p.db") as store:
        assert list(store.scan(ALERT)) == []


def test_nothing_to_import_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "csirt", "alertas",
                       "importar")  # fmt: skip
    assert code == 2 and "--desde-registros" in err


def test_detections_rerun_over_the_same_window_create_no_new_alert(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "p.db"
    with SQLiteStore(path) as store:
        store.write_events(corpus())
    db = ["--base-datos", str(path)]
    code, _, err = run(capsys, *db, "registros", "reglas", "ejecutar", *HASTA)
    assert code == 3, err
    code, _, err = run(capsys, *db, "csirt", "alertas", "importar", "--desde-registros")
    assert code == 0, err
    with SQLiteStore(path) as store:
        detections = list(store.search_events(dataset="registros.alerta"))
        alerts = list(store.scan(ALERT))
    assert len(alerts) == len(detections) > 3
    assert {a["source"] for a in alerts} == {"registros"}
    assert {a["count"] for a in alerts} == {1}
    # the rules again over the same window, and the import again: nothing new, nothing counted
    run(capsys, *db, "registros", "reglas", "ejecutar", *HASTA)
    code, _, err = run(capsys, *db, "csirt", "alertas", "importar", "--desde-registros",
                       "--desde", "2026-11-01", "--hasta", "2026-12-01")  # fmt: skip
    assert code == 0, err
    assert "0 nuevas, 0 repetidas" in err
    with SQLiteStore(path) as store:
        assert sorted(a["id"] for a in store.scan(ALERT)) == sorted(a["id"] for a in alerts)


def test_agregar_mostrar_and_descartar(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = ["--base-datos", str(tmp_path / "p.db"), "--analista", "luis"]
    code, out, err = run(capsys, *db, "csirt", "alertas", "agregar", "--titulo",
                         "Aviso \x1b[31mrojo\x1b[0m; $(reboot)", "--severidad", "alta",
                         "--observable", "ip:198.51.100.7", "--tlp", "amber+strict")  # fmt: skip
    assert code == 0, err
    alert_id = out.strip()
    code, out, err = run(capsys, *db, "csirt", "alertas", "mostrar", alert_id[:20])
    assert code == 0, err
    assert "\x1b" not in out and "$(reboot)" in out and "198.51.100.7" in out
    assert "AMBER+STRICT" in out
    code, _, err = run(capsys, *db, "csirt", "alertas", "descartar", alert_id, "--motivo", " ")
    assert code == 2 and "--motivo" in err
    code, _, err = run(capsys, *db, "csirt", "alertas", "descartar", alert_id, "--motivo",
                       "falso positivo: escaneo autorizado")  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, *db, "csirt", "alertas", "descartar", alert_id, "--motivo", "x")
    assert code == 1 and "ya está descartada" in err
    with SQLiteStore(tmp_path / "p.db") as store:
        (alert,) = store.scan(ALERT)
        assert (alert["status"], alert["discarded_by"]) == ("descartada", "luis")
        assert alert["title"] == "Aviso rojo; $(reboot)"
        last = list(store.changes())[-1]
        assert last.actor == "luis" and last.request_id
        events = list(store.search_events(dataset="csirt.alerta",
                                          where={"event.action": "descartar"}))  # fmt: skip
        assert len(events) == 1
    code, _, err = run(capsys, *db, "csirt", "alertas", "mostrar", "0000000000")
    assert code == 1 and "no hay ninguna alerta" in err


def test_agregar_refuses_a_bad_observable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "csirt", "alertas",
                       "agregar", "--titulo", "x", "--severidad", "2", "--observable",
                       "domain:evil..com")  # fmt: skip
    assert code == 2 and "evil..com" in err
    assert not (tmp_path / "p.db").exists()  # refused before the store is opened


def test_promover_then_unir_and_listar_shows_the_case(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ["--base-datos", str(tmp_path / "p.db"), "--analista", "ana"]
    run(capsys, *db, "csirt", "alertas", "importar", str(DATA / "thehive_alertas.json"))
    _, out, _ = run(capsys, *db, "csirt", "alertas", "listar", "--formato", "json")
    first, second = sorted(json.loads(out), key=lambda r: r["source_ref"])
    code, out, err = run(capsys, *db, "csirt", "alertas", "promover", first["id"],
                         "--clase", "fraud", "--tipo", "phishing", "--severidad", "crítica")  # fmt: skip
    assert code == 0, err
    number = out.strip()
    assert number.startswith("INC-") and number in err
    code, _, err = run(capsys, *db, "csirt", "alertas", "unir", second["id"], number)
    assert code == 0, err
    code, _, err = run(capsys, *db, "csirt", "alertas", "unir", second["id"], number)
    assert code == 1 and "ya está unida a un caso" in err
    code, out, _ = run(capsys, *db, "csirt", "alertas", "listar", "--formato", "json")
    rows = {r["source_ref"]: r for r in json.loads(out)}
    assert {r["incident_number"] for r in rows.values()} == {number}
    assert {r["status"] for r in rows.values()} == {"promovida", "unida"}
    code, out, _ = run(capsys, *db, "csirt", "alertas", "listar")
    assert number in out and "promovida" in out
    with SQLiteStore(tmp_path / "p.db") as store:
        (case,) = store.scan("csirt.incidente")
    assert case["severity"] == 4 and case["rsit_type"] == "phishing"
    code, _, err = run(capsys, *db, "csirt", "alertas", "unir", "0000000000", "INC-2026-9999")
    assert code == 1 and "no hay ninguna alerta" in err


def test_listar_shows_the_latest_hundred_in_a_table_and_all_in_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("TZ", "America/Lima")  # times are shown in the machine's zone
    db = ["--base-datos", str(tmp_path / "p.db"), "--analista", "ana"]
    lines = [json.dumps({"source": "ids", "source_ref": f"r-{n:04d}", "title": f"Alerta {n:04d}",
                         "severity": 2, "seen": f"2026-11-30T{n // 60:02d}:{n % 60:02d}:00Z"})
             for n in range(130)]  # fmt: skip
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run(capsys, *db, "csirt", "alertas", "importar", str(tmp_path / "a.jsonl"))[0] == 0
    code, out, err = run(capsys, *db, "csirt", "alertas", "listar")
    assert code == 0, err
    assert "100 de 130" in err and "--limite" in err
    assert "Alerta 0129" in out and "Alerta 0030" in out and "Alerta 0029" not in out
    assert "29 nov. 2026, 21:09:00 PET" in out  # Alerta 0129: 02:09 UTC is 21:09 in Lima
    code, out, err = run(capsys, *db, "csirt", "alertas", "listar", "-f", "csv")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 130 and err == ""
    code, out, err = run(capsys, *db, "csirt", "alertas", "listar", "--limite", "5", "-f", "json")
    assert [r["source_ref"] for r in json.loads(out)] == [f"r-{n:04d}" for n in range(129, 124, -1)]
    code, out, err = run(capsys, *db, "csirt", "alertas", "listar", "--limite", "200")
    assert code == 0 and err == ""
