"""Text from devices reaches a terminal or a CSV file without control characters or formulas."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli import main
from pukara.console import Formato, render
from pukara.store import SQLiteStore

# what an SNMP agent or an SSH banner may send: a screen clear, a title change, a bell, C1 CSI
HOSTILE = "gw\x1b[2J\x1b]0;pwned\x07-1\r\n\x9b31mrojo\x00"
ROWS = [{"name": HOSTILE, "model": '=HYPERLINK("http://x")', "note": "[bold]x[/bold]", "n": -5}]
COLS = {"name": "Nombre", "model": "Modelo", "note": "Nota", "n": "N"}


def test_table_cells_lose_control_characters_and_markup_stays_text() -> None:
    out = io.StringIO()
    render(ROWS, Formato.tabla, COLS, out=out, title="Equipo \x1b[31mrojo")
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\x00" not in text
    assert "gw-1" in text and "rojo" in text
    assert "[bold]x[/bold]" in text  # shown as sent, not interpreted as rich markup


def test_csv_cells_are_clean_and_cannot_start_a_formula() -> None:
    out = io.StringIO()
    render(ROWS, Formato.csv, COLS, out=out)
    lines = out.getvalue().split("\r\n")
    assert lines[0] == "name,model,note,n"
    assert lines[1] == 'gw-1 31mrojo,"\'=HYPERLINK(""http://x"")",[bold]x[/bold],-5'


def test_json_is_exact() -> None:
    out = io.StringIO()
    render(ROWS, Formato.json, COLS, out=out)
    assert json.loads(out.getvalue()) == ROWS
    assert "\x1b" not in out.getvalue()  # the encoder escaped it as \u001b


def test_a_listing_through_the_cli_is_safe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:
        store.upsert("site", [{"code": "lim", "name": "@SUMA(1)\x1b[5m"}], key=["code"])
    assert main(["--base-datos", str(db), "inventario", "sedes", "-f", "csv"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and ",'@SUMA(1)," in out


def test_an_error_quoting_a_device_reaches_the_terminal_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "malo.csv"
    bad.write_text("name,kind,serial\nr1\x1b[2J\x1b]0;x\x07,tostadora\x1b[31m,\n")
    code = main(["--base-datos", str(tmp_path / "p.db"), "inventario", "importar", str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and "tostadora" in err
    assert "\x1b" not in err and "\x07" not in err
