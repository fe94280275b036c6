"""`pukara cambios listar` with its filters and actor, and `pukara almacen depurar|estado`."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from cli import main
from pukara.events import make_event, utc_now
from pukara.store import SQLiteStore
from pukara.store.migrations import SCHEMA_VERSION


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    code, out, err = run(capsys, *args, "--formato", "json")
    assert code == 0, err
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def test_analista_signs_the_changes_and_listar_filters_by_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "p.db")
    sedes = tmp_path / "sedes.csv"
    sedes.write_text(
        "code,name,kind,timezone\nlim,Lima,sede_central,America/Lima\nwas,Washington,embajada,America/New_York\n"
    )
    code, _, err = run(capsys, "--base-datos", db, "--analista", "ana", "inventario", "importar",
                       str(sedes))  # fmt: skip
    assert code == 0, err
    monkeypatch.setenv("PUKARA_ANALISTA", "luis")
    sedes.write_text(sedes.read_text().replace("Lima,", "Lima (sede),"))
    assert run(capsys, "--base-datos", db, "inventario", "importar", str(sedes))[0] == 0

    every = _json(capsys, "--base-datos", db, "cambios", "listar")
    assert [(c["actor"], c["key"]) for c in every] == [
        ("ana", '["lim"]'), ("ana", '["was"]'), ("luis", '["lim"]'),
    ]  # fmt: skip
    listar = ("--base-datos", db, "cambios", "listar")
    assert [c["seq"] for c in _json(capsys, *listar, "--analista", "ana")] == [1, 2]
    assert [c["seq"] for c in _json(capsys, *listar, "--clave", "lim")] == [1, 3]
    assert [c["seq"] for c in _json(capsys, *listar, "--clave", '["lim"]', "-n", "1")] == [3]
    assert _json(capsys, *listar, "--coleccion", "assets") == []
    today = utc_now().date().isoformat()
    assert len(_json(capsys, *listar, "--desde", today, "--hasta", today)) == 3
    yesterday = (utc_now() - timedelta(days=1)).date().isoformat()
    assert _json(capsys, *listar, "--hasta", yesterday) == []
    assert _json(capsys, *listar, "--desde", f"{today}T23:59:59.999999+00:00") == []
    code, out, _ = run(capsys, *listar)
    assert code == 0 and "Analista" in out and "luis" in out


@pytest.mark.parametrize(
    ("option", "value"),
    [("--desde", "2026-13-01"), ("--hasta", "ayer"), ("--clave", "[roto"), ("--clave", "[]")],
)
def test_bad_filter_is_a_spanish_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    code, out, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "cambios", "listar",
                         option, value)  # fmt: skip
    assert code == 2 and out == ""
    assert f"Error: {option} '{value}'" in err


def _probe_events(now_days_ago: list[int], dataset: str) -> list[dict[str, object]]:
    now = utc_now()
    return [
        make_event(dataset, timestamp=now - timedelta(days=d), fields={"host.name": "m1"})
        for d in now_days_ago
    ]


def test_depurar_purges_raw_monitoring_events_past_the_retention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as s:
        s.write_events(_probe_events([1, 10, 40, 50], "monitoreo.sondeo"))
        s.write_events(_probe_events([5, 35], "monitoreo.enlace"))
        s.write_events(_probe_events([1, 400], "monitoreo.vpn"))
        s.write_events(_probe_events([400], "monitoreo.estado"))  # not raw: kept
    base = ("--base-datos", str(db), "almacen", "depurar")
    simulated = _json(capsys, *base, "--simular")
    assert {r["target"]: r["count"] for r in simulated} == {
        "monitoreo.sondeo": 2, "monitoreo.enlace": 1, "monitoreo.vpn": 1,
    }  # fmt: skip
    with SQLiteStore(db) as s:
        assert s.count_events() == 9  # nothing went
    monkeypatch.setenv("PUKARA_RETENTION_DAYS", "45")
    code, out, err = run(capsys, *base, "--formato", "csv")
    assert code == 0
    assert out.splitlines() == ["target,count", "monitoreo.sondeo,1", "monitoreo.enlace,0",
                                "monitoreo.vpn,1", "round_summaries,0", "rollup_5m,0",
                                "rollup_1h,0"]  # fmt: skip
    assert "Depurados 2 registros" in err and "retención de 45 días" in err
    purged = _json(capsys, *base, "--retencion-dias", "7")
    assert {r["target"]: r["count"] for r in purged}["monitoreo.sondeo"] == 2
    with SQLiteStore(db) as s:
        left = sorted((st.dataset, st.count) for st in s.event_stats())
    assert left == [("monitoreo.enlace", 1), ("monitoreo.estado", 1), ("monitoreo.sondeo", 1),
                    ("monitoreo.vpn", 1)]  # fmt: skip


def test_depurar_refuses_zero_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "almacen", "depurar",
                       "--retencion-dias", "0")  # fmt: skip
    assert code == 2 and "--retencion-dias" in err


def test_estado_shows_schema_size_and_events_per_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as s:
        s.write_events(_probe_events([3, 2, 1], "monitoreo.sondeo"))
        s.write_events(_probe_events([9], "inventario.descubrimiento"))
    code, out, err = run(capsys, "--base-datos", str(db), "almacen", "estado", "--formato", "json")
    assert code == 0, err
    state = json.loads(out)
    rows = state["datasets"]
    assert state["outbox"]["backlog"] == 0 and state["cluster"] is None
    assert [(r["dataset"], r["count"]) for r in rows] == [
        ("inventario.descubrimiento", 1), ("monitoreo.sondeo", 3),
    ]  # fmt: skip
    sondeo = rows[1]
    assert str(sondeo["oldest"]) < str(sondeo["newest"])
    code, out, err = run(capsys, "--base-datos", str(db), "almacen", "estado")
    assert code == 0 and "monitoreo.sondeo" in out
    assert f"esquema {SCHEMA_VERSION}" in err and "4 eventos" in err and "MB" in err
    assert "T" not in out.replace("UTC", "") and " UTC " in out  # "3 oct. 2026, 12:00:00 UTC"
    assert re.search(r"\d\.\d\sMB", err)  # es_PE (CLDR): decimal point, as formats.number


def test_estado_reintentar_and_enviar_of_the_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pukara.store.cluster.engine import ItemResult
    from pukara.store.outbox import Outbox

    db = tmp_path / "p.db"
    with SQLiteStore(db) as s:
        box = Outbox(s, limit=1000)
        box.put(_probe_events([3, 2, 1], "monitoreo.sondeo"))
        first = box.take(1, 10**9)
        box.to_dead_letters([(first[0], ItemResult(400, "mapper_parsing_exception", "campo long"))])
    code, out, err = run(capsys, "--base-datos", str(db), "almacen", "estado", "--formato", "json")
    state = json.loads(out)
    assert code == 3 and state["outbox"]["backlog"] == 2 and state["outbox"]["oldest"]  # 3: act
    assert state["dead_letters"]["count"] == 1
    (letter,) = state["dead_letters"]["items"]
    assert letter["status"] == 400 and letter["reason"] == "campo long"
    code, out, err = run(capsys, "--base-datos", str(db), "almacen", "estado")
    assert code == 3 and "mapper_parsing_exception" in out and "Cartas muertas" in out
    assert "Cola hacia el clúster: 2 eventos en espera" in err and "reintentar" in err
    code, _, err = run(capsys, "--base-datos", str(db), "almacen", "reintentar")
    assert code == 2 and "--todos" in err
    code, _, err = run(capsys, "--base-datos", str(db), "almacen", "reintentar", str(letter["id"]))
    assert code == 0 and "1 cartas muertas vuelven a la cola" in err
    with SQLiteStore(db) as s:
        assert Outbox(s, limit=1000).backlog() == 3
    code, _, err = run(capsys, "--base-datos", str(db), "almacen", "enviar")
    assert code == 1 and "es_url" in err


def test_estado_says_clearly_when_the_cluster_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PUKARA_ES_URL", f"http://127.0.0.1:{port}")
    db = tmp_path / "p.db"
    SQLiteStore(db).close()
    code, _, err = run(capsys, "--base-datos", str(db), "almacen", "estado")
    assert code == 3 and f"Clúster http://127.0.0.1:{port}: no disponible" in err


def test_enviar_waits_for_a_cluster_away_and_ends_with_an_empty_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PUKARA_ES_URL", f"http://127.0.0.1:{port}")
    db = tmp_path / "p.db"
    SQLiteStore(db).close()
    code, out, err = run(capsys, "--base-datos", str(db), "almacen", "enviar", "--formato", "json")
    assert code == 0 and "no responde" in err and "sin perder eventos" in err
    assert json.loads(out)["backlog"] == 0
