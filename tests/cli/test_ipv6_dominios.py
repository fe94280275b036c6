"""`pukara ipv6 dominios` without the lab: names, a resolver that does not answer, formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from pukara.config import load_settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("PUKARA_TIMEOUT_S", "0.3")
    return ["--base-datos", str(tmp_path / "p.db")]


def test_unresolved_and_invalid_names_are_results_and_exit_3(
    capsys: pytest.CaptureFixture[str], base: list[str], tmp_path: Path
) -> None:
    lista = tmp_path / "dominios.txt"
    lista.write_text("# lista\nlima.rree.test\n" + "a" * 300 + ".test\n", "utf-8")
    code, out, _ = run(capsys, *base, "ipv6", "dominios", "rree.test", "--archivo", str(lista),
                       "--resolutor", "127.0.0.1", "-f", "json")  # fmt: skip
    rows = json.loads(out)
    assert code == 3
    assert rows[0]["check"] == "C1" and rows[0]["status"] == "not-tested"  # no anchors set
    subjects = {r["subject"] for r in rows[1:]}
    assert {"rree.test", "lima.rree.test"} <= subjects and len(subjects) == 3
    assert all(r["status"] != "pass" for r in rows)
    idna = [r for r in rows if r["check"] == "IDNA"]
    assert len(idna) == 1 and idna[0]["status"] == "fail"
    assert idna[0]["evidence"]["line"] == 3 and "(línea 3)" in idna[0]["message"]
    code, out, _ = run(capsys, *base, "ipv6", "dominios", "--lista", str(lista),
                       "--resolutor", "127.0.0.1", "-f", "json")  # fmt: skip
    assert code == 3 and {r["subject"] for r in json.loads(out)[1:]} == subjects - {"rree.test"}


def test_table_and_junit(capsys: pytest.CaptureFixture[str], base: list[str]) -> None:
    code, out, err = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", "127.0.0.1")
    assert code == 3 and "rree.test" in out and "sin probar" in out
    assert "1 dominio:" in err
    code, out, _ = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor",
                       "127.0.0.1", "-f", "junit")  # fmt: skip
    assert code == 3 and out.startswith("<?xml") and 'name="rree.test N1">' in out
    assert '<skipped message="not-tested:' in out  # never a green pass


def test_usage_errors(capsys: pytest.CaptureFixture[str], base: list[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, *base, "ipv6", "dominios")
    assert (code, out) == (2, "") and "al menos un dominio" in err
    code, _, err = run(
        capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", "resolutor.test"
    )
    assert code == 2 and "dirección IP" in err
    code, _, err = run(capsys, *base, "ipv6", "dominios", "--archivo", str(tmp_path / "no-existe"))
    assert code == 2 and "no se pudo leer" in err
    code, out, _ = run(capsys, *base, "ipv6", "dominios", "--help")
    assert code == 0 and "--archivo" in out and "--lista" not in out


def test_shown_first_then_stored_and_a_store_error_is_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUKARA_TIMEOUT_S", "0.3")
    db = tmp_path / "p.db"
    code, _, _ = run(capsys, "--base-datos", str(db), "ipv6", "dominios", "rree.test",
                     "--resolutor", "127.0.0.1", "-f", "json")  # fmt: skip
    assert code == 3
    from ipv6.almacen import load_run
    from pukara.store import opened_store

    with opened_store(load_settings({"db": db}, environ={})) as store:
        stored = load_run(store, kind="dominios")
    assert stored.started_at < stored.finished_at  # the run's start, not its save
    folder = tmp_path / "carpeta"
    folder.mkdir()
    code, out, err = run(capsys, "--base-datos", str(folder), "ipv6", "dominios", "rree.test",
                         "--resolutor", "127.0.0.1", "-f", "json")  # fmt: skip
    assert code == 3  # the results' exit code, kept
    assert json.loads(out)[0]["check"] == "C1"  # the results were shown all the same
    assert "Aviso: la corrida no se guardó" in err


def test_the_anchors_setting(tmp_path: Path) -> None:
    path = tmp_path / "pukara.toml"
    path.write_text('[ipv6]\nanclas = ["fd70:756b:6172:b100::1", "fd70:756b:6172:b100::11"]\n')
    settings = load_settings(environ={"PUKARA_CONFIG": str(path)})
    assert settings.ipv6_anclas == ("fd70:756b:6172:b100::1", "fd70:756b:6172:b100::11")
    assert load_settings(environ={}).ipv6_anclas == ()


def test_debug_logs_the_traceback_of_a_part_that_failed(
    capsys: pytest.CaptureFixture[str], base: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipv6 import dominios

    async def broken(domain: str, lookup: object) -> None:
        raise KeyError("fallo de prueba")

    monkeypatch.setattr(dominios, "resolve", broken)  # a checker bug, as if
    args = ["ipv6", "dominios", "rree.test", "--resolutor", "127.0.0.1", "-f", "json"]
    code, out, err = run(capsys, *base, *args)
    assert code == 3 and "error interno (KeyError)" in out and "Traceback" not in err
    code, _, err = run(capsys, "--debug", *base, *args)
    assert code == 3 and "Traceback" in err and "KeyError: 'fallo de prueba'" in err
