import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app, main
from pukara.store import SQLiteStore
from pukara.store.migrations import SCHEMA_VERSION

SUBAPPS = {
    "inventario": "Inventario de sedes y activos",
    "red": "Equipos de red",
    "monitoreo": "Monitoreo WAN/VPN",
    "ipv6": "Transición IPv4 a IPv6",
    "auditoria": "Auditoría ISO/IEC 27001",
    "csirt": "CSIRT: alertas, incidentes",
    "lab": "Laboratorio: WAN emulada",
    "cambios": "Registro de cambios encadenado",
    "almacen": "Almacén de datos",
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    conf = tmp_path / "pukara.toml"
    conf.write_text(text)
    monkeypatch.setenv("PUKARA_CONFIG", str(conf))


def test_root_help_lists_every_area_in_spanish(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in SUBAPPS:
        assert name in out
    assert "Cancillería" in out


@pytest.mark.parametrize(("name", "text"), SUBAPPS.items())
def test_every_subapp_has_spanish_help(name: str, text: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0
    assert text in " ".join(result.output.split())


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--no-existe")
    assert code == 2 and "--no-existe" in err


def test_malformed_config_names_file_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, "concurrency = [\n")
    code, out, err = run(capsys, "cambios", "verificar")
    assert code == 1 and out == ""
    assert "pukara.toml: TOML mal formado" in " ".join(err.split())
    assert "Traceback" not in err


def test_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, "clave_rara = 1\n")
    code, _, err = run(capsys, "--debug", "cambios", "verificar")
    assert code == 1
    assert "Traceback" in err
    assert "clave desconocida «clave_rara»" in " ".join(err.split())


def test_newer_database_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    SQLiteStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    code, _, err = run(capsys, "--base-datos", str(db), "cambios", "listar")
    assert code == 1 and "más nuevo" in err


def test_corrupt_database_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    db.write_bytes(b"\x00basura" * 512)
    code, _, err = run(capsys, "--base-datos", str(db), "cambios", "listar")
    assert code == 1 and "no es una base de datos SQLite válida" in " ".join(err.split())


def test_cambios_listar_and_verificar_catch_tampering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as s:
        for code in ("LIM", "WAS", "MAD"):
            s.upsert("sites", [{"code": code}], key=["code"])
    code, out, _ = run(capsys, "--base-datos", str(db), "cambios", "listar", "--formato", "json")
    assert code == 0
    assert [c["key"] for c in json.loads(out)] == ['["LIM"]', '["WAS"]', '["MAD"]']
    code, _, err = run(capsys, "--base-datos", str(db), "cambios", "verificar")
    assert code == 0 and "3 cambios verificados" in err

    conn = sqlite3.connect(db)
    conn.execute("""UPDATE changes SET after = '{"code":"XXX"}' WHERE seq = 2""")
    conn.commit()
    conn.close()
    code, _, err = run(capsys, "--base-datos", str(db), "cambios", "verificar")
    assert code == 1
    assert "Cadena ROTA en el cambio n.º 2" in " ".join(err.split())


def test_csv_listing_has_only_data_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as s:
        s.upsert("sites", [{"code": "LIM"}], key=["code"])
    code, out, _ = run(capsys, "--base-datos", str(db), "cambios", "listar", "-f", "csv")
    assert code == 0
    assert out.splitlines()[0] == "seq,@timestamp,actor,collection,key,action,hash"
    assert len(out.splitlines()) == 2


def test_lab_refuses_without_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for an unprivileged user: the real check is os.geteuid(); the integration
    # suite also runs `pukara lab estado` as the nobody user.
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    code, _, err = run(capsys, "lab", "arriba", "--sedes", "2")
    assert code == 1 and "necesita root" in err


def test_an_es_url_opens_the_cluster_store_and_still_checks_it_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a malformed URL is refused before anything is created (see test_cluster_store.py)
    monkeypatch.setenv("PUKARA_ES_URL", "ftp://127.0.0.1:9200")
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "cambios", "listar")
    assert code == 1 and "http:// o https://" in " ".join(err.split())
    assert not (tmp_path / "p.db").exists()
