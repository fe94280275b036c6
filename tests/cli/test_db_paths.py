"""Where the database is: a typed path is not a new tree, a read-only file can still be read,
and what the system refused is said (permission, a folder, a folder that cannot be entered)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import cli
from pukara.store import SQLiteStore
from tests.conftest import NOBODY, run_as_nobody


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def test_a_typed_database_path_in_a_missing_folder_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "no-existe" / "x.db"
    code, out, err = run(capsys, "--base-datos", str(db), "inventario", "listar")
    assert code == 2 and out == ""
    assert f"--base-datos: {db}: no existe la carpeta {db.parent}" in err
    monkeypatch.setenv("PUKARA_DB", str(db))
    code, _, err = run(capsys, "inventario", "importar", "--ejemplo", "-q")
    assert code == 2 and f"variable PUKARA_DB: {db}: no existe la carpeta" in err
    assert not db.parent.exists()


def test_the_default_data_directory_is_still_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUKARA_DB", raising=False)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(tmp_path / "datos" / "pukara"))
    code, _, err = run(capsys, "inventario", "importar", "--ejemplo", "-q")
    assert code == 0, err
    assert (tmp_path / "datos" / "pukara" / "pukara.db").is_file()


def test_a_folder_as_the_database_says_it_is_a_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--base-datos", str(tmp_path), "inventario", "listar")
    assert code == 2 and f"{tmp_path} es una carpeta, no un archivo de base de datos" in err


def test_a_reading_command_on_a_missing_database_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "vacia.db"
    code, out, err = run(capsys, "--base-datos", str(db), "inventario", "listar", "-f", "json")
    assert code == 0 and json.loads(out) == [], err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the nobody user can enter, with a database only root may write."""
    folder = Path(tempfile.mkdtemp(prefix="pukara-ro-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder)


def _nobody(*args: str, home: Path) -> tuple[int, str, str]:
    done = run_as_nobody(["-m", "cli", *args], {"HOME": str(home), "PATH": os.environ["PATH"],
                                                 "PUKARA_DATA_DIR": str(home / "datos")})  # fmt: skip
    return done.returncode, done.stdout, " ".join(done.stderr.split())


def test_reading_commands_work_on_a_database_this_user_may_only_read(
    capsys: pytest.CaptureFixture[str], shared: Path
) -> None:
    db = shared / "ro" / "pukara.db"
    db.parent.mkdir()
    assert cli.main(["--base-datos", str(db), "inventario", "importar", "--ejemplo", "-q"]) == 0
    capsys.readouterr()
    with SQLiteStore(db) as store:  # leave the WAL holding rows not yet in the main file
        store.upsert("sites", [{"code": "zz", "name": "Sede zz"}], key=["code"])
    for p in db.parent.iterdir():
        p.chmod(0o644)
    db.parent.chmod(0o755)  # nobody may read it all, write nothing, create nothing beside it
    home = shared / "casa"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    code, out, err = _nobody("--base-datos", str(db), "inventario", "listar", "-f", "json",
                             home=home)  # fmt: skip
    assert code == 0, err
    assert len(json.loads(out)) > 3
    code, out, err = _nobody("--base-datos", str(db), "inventario", "sedes", "-f", "json",
                             home=home)  # fmt: skip
    assert code == 0 and "lima" in out, err
    code, _, err = _nobody("--base-datos", str(db), "inventario", "importar", "--ejemplo",
                           home=home)  # fmt: skip
    assert code == 1 and "no se puede abrir para escritura: permiso denegado" in err, err


def test_what_the_system_refused_is_said(shared: Path) -> None:
    home = shared / "casa"
    home.mkdir()
    home.chmod(0o777)
    closed = shared / "cerrada"
    closed.mkdir(mode=0o700)  # root's, exists: nobody cannot enter it
    code, _, err = _nobody("--base-datos", str(closed / "p.db"), "inventario", "listar",
                           home=home)  # fmt: skip
    assert code == 1, err
    assert f"la carpeta {closed} existe pero no se puede entrar en ella: permiso denegado" in err
    assert "no se puede crear" not in err
    # an unreadable input file: the reason, and the exit code of a missing one
    locked = shared / "sedes.csv"
    locked.write_text("code,name\nzz,Sede zz\n")
    locked.chmod(0o600)
    assert locked.stat().st_uid != NOBODY
    db = ["--base-datos", str(home / "p.db")]
    code, _, err = _nobody(*db, "inventario", "importar", str(locked), home=home)
    missing, _, err_missing = _nobody(*db, "inventario", "importar", str(shared / "falta.csv"),
                                      home=home)  # fmt: skip
    assert "permiso denegado" in err and "no existe" in err_missing
    assert code == missing == 1, (err, err_missing)
