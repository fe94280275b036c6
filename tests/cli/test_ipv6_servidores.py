"""`pukara ipv6 servidores` without the lab: scope, credential problems, formats, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main

SEDES = "code,name,kind,timezone\nlima,Sede central,sede_central,America/Lima\n"
ACTIVOS = """name,kind,site,mgmt_ipv4,mgmt_ipv6,status,retired_reason
srv-a,servidor_fisico,lima,127.0.0.9,,activo,
srv-b,maquina_virtual,lima,,::1,activo,
gw-c,router,lima,127.0.0.10,,activo,
srv-d,servidor_fisico,lima,127.0.0.11,,dado_de_baja,Reemplazado
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
       ) -> list[str]:  # fmt: skip
    base = ["--base-datos", str(tmp_path / "inv.db")]
    for name, text in (("sedes.csv", SEDES), ("activos.csv", ACTIVOS)):
        (tmp_path / name).write_text(text, "utf-8")
        assert main([*base, "inventario", "importar", str(tmp_path / name), "-q"]) == 0
    creds = tmp_path / "credenciales.toml"
    creds.touch(mode=0o600)
    creds.write_text('[lab]\ncommunity = "nadie"\n\n[auditoria]\nusername = "nadie"\n')  # no key
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))
    capsys.readouterr()
    return base


def test_servers_without_credentials_are_not_tested_and_exit_3(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, _ = run(capsys, *db, "ipv6", "servidores", "-f", "json")
    rows = json.loads(out)
    assert code == 3
    assert {r["host.name"] for r in rows} == {"srv-a", "srv-b"}  # not the router nor retired
    assert len(rows) == 8 and {r["status"] for r in rows} == {"not-tested"}
    assert all("«auditoria»" in r["message"] for r in rows)
    assert next(r for r in rows if r["host.name"] == "srv-b")["address"] == "::1"


def test_scope_by_name_or_site_and_an_unknown_one_is_named(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, _ = run(capsys, *db, "ipv6", "servidores", "SRV-A", "--credencial", "lab",
                       "-f", "csv")  # fmt: skip
    assert code == 3
    assert out.count("srv-a") == 4 and "srv-b" not in out
    assert "credenciales" in out
    code, _, err = run(capsys, *db, "ipv6", "servidores", "lima", "nada", "gw-c")
    assert code == 2 and "«nada»" in err and "«gw-c»" in err and "«lima»" not in err


def test_junit_and_table(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    from defusedxml import ElementTree as SafeET

    code, out, _ = run(capsys, *db, "ipv6", "servidores", "-f", "junit")
    assert code == 3 and out.startswith("<?xml")
    suite = SafeET.fromstring(out).find("testsuite")
    assert suite is not None
    # nothing was tested: every case is skipped (never a green pass), both hosts are errors
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8", "failures": "0", "errors": "2", "skipped": "8"}  # fmt: skip
    case = next(c for c in suite.iter("testcase") if c.get("name") == "srv-a S2")
    skipped = case.find("skipped")
    assert skipped is not None and "not-tested" in (skipped.get("message") or "")
    code, out, err = run(capsys, *db, "ipv6", "servidores")
    assert code == 3 and "sin probar" in out and "S4" in out
    assert "2 servidores no se pudieron revisar" in err
    # a server that could not be read is one row of the detail, not four
    detail = out[out.index("Pruebas que no cumplen") :]
    assert detail.count("srv-a") == 1 and "todas" in detail


def test_an_inventory_without_servers_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "vacio.db"), "ipv6", "servidores")
    assert code == 2 and "no tiene servidores" in err


def test_the_run_is_stored_for_diff_and_the_report(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    from ipv6 import almacen
    from pukara.config import Settings
    from pukara.store import opened_store

    code, _, err = run(capsys, *db, "ipv6", "servidores")
    assert code == 3
    assert "Corrida guardada" in err
    with opened_store(Settings(data_dir=tmp_path, db=tmp_path / "inv.db"), read_only=True) as s:
        runs = almacen.list_runs(s, "servidores")
        assert len(runs) == 1 and runs[0].meta["targets"] == ["srv-a", "srv-b"]
        results = almacen.run_results(s, runs[0].id)
    assert len(results) == 8 and {r.check for r in results} == {"S1", "S2", "S3", "S4"}
    assert run(capsys, *db, "ipv6", "servidores", "srv-a")[0] == 3
    code, out, err = run(capsys, *db, "ipv6", "diff", "-f", "json")
    assert code == 0, err
    assert "srv-b" not in out and "1 servidor solo en la corrida A" in err  # the first only
    assert "): srv-b; no se comparan." in err


def test_an_unknown_credential_profile_is_refused_before_anything_is_stored(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    from ipv6 import almacen
    from pukara.config import Settings
    from pukara.store import opened_store

    code, out, err = run(capsys, *db, "ipv6", "servidores", "--credencial", "nada", "-f", "json")
    assert (code, out) == (2, "")
    assert "--credencial nada: perfil de credenciales «nada» desconocido" in err
    assert "Corrida guardada" not in err
    with opened_store(Settings(data_dir=tmp_path, db=tmp_path / "inv.db"), read_only=True) as s:
        assert almacen.list_runs(s) == []


def test_a_store_that_refuses_the_run_warns_after_the_output(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "inv.db") as conn:  # every new event is refused from now on
        conn.execute("CREATE TRIGGER lleno BEFORE INSERT ON events "
                     "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")  # fmt: skip
    conn.close()
    code, out, err = run(capsys, *db, "ipv6", "servidores", "-f", "json")
    assert code == 3  # the run's own exit code, not the store's
    assert len(json.loads(out)) == 8  # the results were shown all the same
    assert "Aviso: la corrida no se guardó" in err and "Corrida guardada" not in err
