"""`pukara red remediar`: what it refuses before touching any device (exit 2, Spanish)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--base-datos", str(tmp_path / "r.db")]


def test_needs_devices_or_todos_but_not_both(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, err = run(capsys, *db, "red", "remediar")
    assert code == 2 and out == ""
    assert "nombre uno o más equipos (o sedes), o use --todos" in err
    code, _, err = run(capsys, *db, "red", "remediar", "gw-emb-ar", "--todos")
    assert code == 2 and "o use --todos" in err


def test_offline_only_with_simulate_and_no_csv(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, _, err = run(capsys, *db, "red", "remediar", "--todos", "--desde-respaldo")
    assert code == 2 and "--desde-respaldo solo vale con --simular" in err
    code, _, err = run(capsys, *db, "red", "remediar", "--todos", "--formato", "csv")
    assert code == 2 and "use tabla o json" in err


def test_a_command_file_with_a_secret_marker_is_refused(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    orders = tmp_path / "ordenes.txt"
    orders.write_text("router bgp 4200000001\n neighbor 198.18.0.5 password <secreto:0a1b>\n")
    code, out, err = run(capsys, *db, "red", "remediar", "--todos", "--ordenes", str(orders))
    assert code == 2 and out == ""
    assert "línea 2" in err and "marcador de secreto" in err
    empty = tmp_path / "vacio.txt"
    empty.write_text("! solo un comentario\n\n")
    code, _, err = run(capsys, *db, "red", "remediar", "--todos", "--ordenes", str(empty))
    assert code == 2 and "no tiene órdenes" in err
