"""`pukara csirt incidente|observable|tarea|linea`: a case from opening to closure through the
command line, bad input refused with nothing written, hostile text kept as typed, the log
store pulled into the timeline once, and two analysts (two processes) on one case at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli import main
from csirt.records import TIMELINE
from pukara.events import make_event
from pukara.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    args = ["--base-datos", str(tmp_path / "csirt.db"), "--analista", "ana"]
    assert run(capsys, *args, "inventario", "importar", "--ejemplo", "-q")[0] == 0
    return args


def _new(capsys: pytest.CaptureFixture[str], db: list[str], *extra: str) -> str:
    code, out, err = run(capsys, *db, "csirt", "incidente", "nuevo", "Correo con adjunto .iso",
                         "--tipo", "phishing", "--severidad", "alta", *extra)  # fmt: skip
    assert code == 0, err
    return out.strip()


def _changes(db: list[str]) -> int:
    store = SQLiteStore(Path(db[1]))
    try:
        return len(list(store.changes()))
    finally:
        store.close()


def test_a_case_walks_from_opening_to_closure(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    inc = _new(capsys, db, "--activo", "blade-lima-01", "--ocurrido", "2026-11-30 22:00",
               "--zona", "America/Lima")  # fmt: skip
    assert inc.startswith("INC-") and inc.endswith("-0001")
    assert run(capsys, *db, "csirt", "incidente", "asignar", inc, "lquispe")[0] == 0
    code, _, err = run(capsys, *db, "csirt", "incidente", "editar", inc, "--personas", "12",
                       "--datos", "correo", "--datos", "DNI")  # fmt: skip
    assert code == 0 and "guardado" in err
    code, _, err = run(capsys, *db, "csirt", "incidente", "editar", inc, "--personas", "12")
    assert code == 0 and "sin cambios" in err
    for to in ("analisis", "contencion", "erradicacion", "recuperacion", "post-incidente"):
        code, _, err = run(capsys, *db, "csirt", "incidente", "estado", inc, to)
        assert code == 0, err
    before = _changes(db)
    code, _, err = run(capsys, *db, "csirt", "incidente", "cerrar", inc, "--determinacion",
                       "successful-attempt", "--impacto", "con_impacto")  # fmt: skip
    assert code == 2
    assert "falta la disposición (--disposicion), la nota de lecciones aprendidas" in err
    assert _changes(db) == before
    code, _, err = run(capsys, *db, "csirt", "incidente", "cerrar", inc, "--determinacion",
                       "successful-attempt", "--impacto", "con_impacto", "--disposicion",
                       "incident:confirmed", "--lecciones", "Bloquear .iso en la pasarela")  # fmt: skip
    assert code == 0 and "post-incidente → cerrado" in err
    code, out, _ = run(capsys, *db, "csirt", "incidente", "mostrar", inc, "-f", "json")
    shown = json.loads(out)
    case = shown["incident"]
    assert (case["status"], case["assignee"], case["priority"]) == ("cerrado", "lquispe", 4)
    assert case["occurred_tz"] == "America/Lima"
    assert case["personal_data"] == {"affected": True, "kinds": ["correo", "DNI"], "people": 12}
    phases = [e["to"] for e in shown["timeline"] if e["kind"] == "fase"]
    assert phases == ["analisis", "contencion", "erradicacion", "recuperacion",
                      "post_incidente", "cerrado"]  # fmt: skip
    assert shown["tasks"]  # the phishing template
    code, out, _ = run(capsys, *db, "csirt", "incidente", "listar", "-f", "csv")
    assert out.splitlines()[1].startswith(f"{inc},cerrado,3,4,")
    code, _, err = run(capsys, *db, "csirt", "incidente", "reabrir", inc)
    assert code == 2 and "indique el motivo (--motivo)" in err
    assert run(capsys, *db, "csirt", "incidente", "reabrir", inc, "--motivo", "Reapareció")[0] == 0
    code, out, _ = run(capsys, *db, "csirt", "incidente", "listar", "--abiertos", "-f", "json")
    assert [r["status"] for r in json.loads(out)] == ["reabierto"]


def test_errors_are_spanish_and_write_nothing(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    inc = _new(capsys, db)
    before = _changes(db)
    bad = [
        (["incidente", "estado", inc, "cerrado"], "no se puede pasar de «nuevo» a «cerrado»; "
         "desde «nuevo» se puede pasar a: análisis, descartado"),
        (["incidente", "descartar", inc], "indique la disposición"),
        (["incidente", "mostrar", "INC-2026-0099"], "no existe el incidente INC-2026-0099"),
        (["incidente", "nuevo", "x", "--sede", "cusco"], "la sede «cusco» no está"),
        (["incidente", "nuevo", "x", "--tipo", "phishing", "--clase", "fraude"], "Clase RSIT"),
        (["observable", "agregar", inc, "999.1.1.1", "--tipo", "ipv4"], "«999.1.1.1»"),
        (["observable", "agregar", inc, "evil..com", "--tipo", "domain"], "«evil..com»"),
        (["observable", "agregar", inc, "a" * 63, "--tipo", "sha256"], "a" * 63),
        (["observable", "agregar", inc, "algo raro"], "indíquelo con --tipo"),
        (["tarea", "estado", inc, "9", "hecha"], "no tiene la tarea «9»"),
        (["linea", "agregar", inc, "x", "--zona", "Marte/Olimpo"], "no es una zona horaria"),
        (["linea", "importar", inc], "indique qué traer"),
        (["linea", "agregar", inc, "x", "--tlp", "green"], "menos restringida que su caso"),
    ]  # fmt: skip
    for args, says in bad:
        code, out, err = run(capsys, *db, "csirt", *args)
        assert code == 2, (args, err)
        assert says in err, (args, err)
        assert out == ""
    assert _changes(db) == before


HOSTILE = ["$(reboot)", "; rm -rf /", "<script>alert(1)</script>"]


def test_hostile_text_is_stored_and_shown_as_typed(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, _ = run(capsys, *db, "csirt", "incidente", "nuevo", " ".join(HOSTILE))
    inc = out.strip()
    for value in HOSTILE:
        assert run(capsys, *db, "csirt", "observable", "agregar", inc, value, "--tipo",
                   "filename")[0] == 0  # fmt: skip
    code, out, _ = run(capsys, *db, "csirt", "incidente", "mostrar", inc, "-f", "json")
    shown = json.loads(out)
    assert shown["incident"]["title"] == " ".join(HOSTILE)
    assert sorted(o["value"] for o in shown["observables"]) == sorted(HOSTILE)
    code, out, _ = run(capsys, *db, "csirt", "incidente", "mostrar", inc)
    assert code == 0
    assert " ".join(HOSTILE) in out and "$(reboot)" in out and "&lt;" not in out
    code, out, _ = run(capsys, *db, "csirt", "observable", "buscar", "<script>alert(1)</script>",
                       "-f", "json")  # fmt: skip
    assert [r["number"] for r in json.loads(out)] == [inc]


def test_the_same_observable_in_two_cases(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    a, b = _new(capsys, db), _new(capsys, db)
    assert run(capsys, *db, "csirt", "observable", "agregar", a, "198.18.7.10", "--ioc")[0] == 0
    code, _, err = run(capsys, *db, "csirt", "observable", "agregar", b, "198.18.7.10")
    assert code == 0 and f"también en {a}" in err
    code, out, _ = run(capsys, *db, "csirt", "observable", "buscar", "198.18.7.10", "-f", "json")
    assert [(r["number"], r["ioc"]) for r in json.loads(out)] == [(a, True), (b, False)]


def test_listing_filters(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    a = _new(capsys, db, "--activo", "blade-lima-01", "--asignar", "lquispe")
    b = _new(capsys, db, "--severidad", "baja")
    c = _new(capsys, db, "--severidad", "crítica", "--asignar", "lquispe")

    def listed(*args: str) -> list[str]:
        code, out, err = run(capsys, *db, "csirt", "incidente", "listar", *args, "-f", "json")
        assert code == 0, err
        return [r["number"] for r in json.loads(out)]

    assert listed() == [c, b, a]
    assert listed("--asignado", "lquispe") == [c, a]
    assert listed("--sede", "dc1") == [a]
    assert listed("--severidad", "alta") == [c, a]
    assert listed("--estado", "análisis") == []
    code, _, err = run(capsys, *db, "csirt", "incidente", "listar", "--severidad", "urgente")
    assert code == 2 and "no es una severidad" in err


def test_tasks_through_the_command_line(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    inc = _new(capsys, db)
    code, out, _ = run(capsys, *db, "csirt", "tarea", "listar", inc, "-f", "json")
    assert code == 0
    n = len(json.loads(out))
    assert run(capsys, *db, "csirt", "tarea", "agregar", inc, "Revisar buzones", "--fase",
               "contencion", "--vence", "2026-12-05 10:00", "--zona", "-05:00")[0] == 0  # fmt: skip
    assert run(capsys, *db, "csirt", "tarea", "estado", inc, str(n + 1), "en espera")[0] == 0
    assert run(capsys, *db, "csirt", "tarea", "asignar", inc, str(n + 1), "lquispe")[0] == 0
    code, out, _ = run(capsys, *db, "csirt", "tarea", "listar", inc, "-f", "json")
    task = json.loads(out)[-1]
    assert (task["n"], task["status"], task["assignee"], task["due_at"]) == (
        n + 1, "en_espera", "lquispe", "2026-12-05T15:00:00.000000Z")  # fmt: skip


def test_importing_a_query_twice_adds_nothing(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    inc = _new(capsys, db)
    store = SQLiteStore(Path(db[1]))
    events = [make_event("registros.sshd", message=f"Failed password for root from 198.18.7.{i}",
                         fields={"host.name": "srv-correo", "source.ip": f"198.18.7.{i}"})
              for i in range(4)]  # fmt: skip
    events.append(make_event("registros.sshd", message="otro equipo",
                             fields={"host.name": "otro"}))  # fmt: skip
    store.write_events(events)
    store.close()
    query = ["--consulta", "host.name=srv-correo event.dataset=registros.sshd"]
    code, _, err = run(capsys, *db, "csirt", "linea", "importar", inc, *query)
    assert code == 0 and "4 entradas agregadas; 0 ya estaban" in err
    code, _, err = run(capsys, *db, "csirt", "linea", "importar", inc, *query)
    assert code == 0 and "0 entradas agregadas; 4 ya estaban" in err
    code, out, _ = run(capsys, *db, "csirt", "linea", "listar", inc, "-f", "json")
    rows = [r for r in json.loads(out) if r["kind"] == "registro"]
    assert sorted(r["raw_ref"] for r in rows) == sorted(e["event"]["id"] for e in events[:4])
    assert all(r["source"] == "registros" for r in rows)


WORKER = textwrap.dedent("""
    import sys
    from cli import main
    from csirt import casos
    from csirt.records import command
    from pukara.config import load_settings
    from pukara.store import open_store

    db, who, inc = sys.argv[1:4]
    base = ["--base-datos", db, "--analista", who, "csirt"]
    settings = load_settings({"db": db, "analyst": who}, environ={})
    for i in range(50):
        assert main([*base, "linea", "agregar", inc, f"{who} nota {i}"]) == 0
        assert main([*base, "tarea", "agregar", inc, f"{who} tarea {i}"]) == 0
        assert main([*base, "incidente", "editar", inc, "--descripcion", f"{who} {i}"]) == 0
        store = open_store(settings)
        try:
            with command(store, who) as cmd:  # read-modify-write of one field
                doc = casos.load_incident(cmd, inc)
                people = doc["personal_data"]["people"] + 1
                casos.update_incident(cmd, doc, personal_data={"people": people})
        finally:
            store.close()
""")


def test_two_analysts_editing_one_case_at_once_lose_nothing(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    inc = _new(capsys, db, "--tipo", "brute-force")
    _, out, _ = run(capsys, *db, "csirt", "tarea", "listar", inc, "-f", "json")
    base = len(json.loads(out))  # the template's
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, db[1], who, inc], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("ana", "luis")]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    store = SQLiteStore(Path(db[1]))
    try:
        from csirt import casos, tareas

        doc = casos.load_incident(store, inc)
        assert doc["personal_data"]["people"] == 100
        assert doc["description"] in ("ana 49", "luis 49")
        timeline = list(store.scan(TIMELINE, (doc["id"],)))
        notes = [e for e in timeline if e["kind"] == "nota" and e["source"] == "manual"]
        assert sorted(e["message"] for e in notes) == sorted(
            f"{who} nota {i}" for who in ("ana", "luis") for i in range(50))  # fmt: skip
        assert {e["analyst"] for e in notes} == {"ana", "luis"}
        numbers = [t["n"] for t in tareas.tasks(store, doc["id"])]
        assert numbers == list(range(1, base + 101))
        report = store.verify_changes()
        assert report.ok, report.reason
        assert {c.actor for c in store.changes(collection=TIMELINE)} == {"ana", "luis"}
    finally:
        store.close()


def test_a_note_stricter_than_its_case(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    inc = _new(capsys, db, "--tlp", "green")
    code, _, err = run(
        capsys, *db, "csirt", "linea", "agregar", inc, "En confianza", "--tlp", "red"
    )
    assert code == 0, err
    code, out, _ = run(capsys, *db, "csirt", "linea", "listar", inc, "-f", "json")
    assert {e["message"]: e["tlp"] for e in json.loads(out)}["En confianza"] == "RED"
    code, out, _ = run(capsys, *db, "csirt", "linea", "listar", inc)
    assert code == 0 and "TLP" in out and "RED" in out
