"""Tables at the width of a real terminal: no address, code or word is split across lines.

The commands run against the example inventory with their stdout on a pseudo-terminal of 80
or 100 columns, as a person sees them; piped, every cell stays whole on its row.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import sys
import termios
import threading
from pathlib import Path

import pytest
from rich.cells import cell_len

from cli import main
from pukara.console import Formato, render

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NOTE = re.compile(r"columnas omitidas por el ancho: (.*); use -f csv o una terminal más ancha")
# (command, first column, columns that hold one word each: shown whole on the row's line)
TABLES = {
    "listar": ("name", ["mgmt_ipv4", "mgmt_ipv6", "site", "serial", "vendor"]),
    "sedes": ("code", ["country", "timezone", "parent"]),
}
HEADERS = {
    "listar": {"name": "Nombre", "mgmt_ipv4": "IPv4", "mgmt_ipv6": "IPv6", "site": "Sede",
               "serial": "N.º de serie", "vendor": "Fabricante", "model": "Modelo"},
    "sedes": {"code": "Código", "name": "Nombre", "country": "País", "city": "Ciudad",
              "timezone": "Zona horaria", "parent": "Superior"},
}  # fmt: skip


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("ancho") / "p.db"
    assert main(["--base-datos", str(db), "inventario", "importar", "--ejemplo"]) == 0
    return db


def _records(db: Path, command: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["--base-datos", str(db), "inventario", command, "-f", "json"]) == 0
    return [{k: "" if v is None else str(v) for k, v in r.items()}
            for r in json.loads(capsys.readouterr().out)]  # fmt: skip


def _on_terminal(argv: list[str], width: int, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run pukara with stdout on a pseudo-terminal ``width`` columns wide; what it showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    terminal = open(slave, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", terminal)
    try:
        code = main(argv)
    finally:
        terminal.close()
        reader.join(10)
        os.close(master)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return code, ANSI.sub("", text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split("[│┃]", line)[1:-1]]


def _words(text: str) -> set[str]:
    return {w for line in text.splitlines() for c in _cells(line) for w in c.split()}


def _check_whole(command: str, text: str, records: list[dict[str, str]], shown: set[str]) -> None:
    first, single = TABLES[command]
    lines = text.splitlines()
    words = _words(text)
    for key in shown:
        for word in HEADERS[command][key].split():
            assert word in words, (key, word)
    for record in records:
        row = [line for line in lines if _cells(line)[:1] == [record[first]]]
        assert len(row) == 1, (record[first], "no está entero en una sola línea")
        cells = _cells(row[0])
        for key in single:
            if key in shown and record[key]:
                assert record[key] in cells, (record[first], key, record[key], row[0])
        for key in shown - set(single):
            for word in record[key].split():
                assert word in words, (record[first], key, word)


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("command", ["listar", "sedes"])
def test_a_terminal_table_never_splits_an_address_a_code_or_a_word(
    command: str,
    width: int,
    example: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = _records(example, command, capsys)
    code, text = _on_terminal(["--base-datos", str(example), "inventario", command], width,
                              monkeypatch)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert text.startswith("┏"), text[:200]  # a table, drawn for a terminal
    for line in text.splitlines():
        assert cell_len(line) <= width, line
    note = NOTE.search(err)
    left_out = set(note.group(1).split(", ")) if note else set()
    shown = {k for k, h in HEADERS[command].items() if h not in left_out}
    _check_whole(command, text, records, shown)
    assert left_out, err  # neither table fits whole in 100 columns
    assert TABLES[command][0] in shown
    if command == "listar":
        assert {"mgmt_ipv4", "mgmt_ipv6"} <= shown  # addresses are never left out


@pytest.mark.parametrize("command", ["listar", "sedes"])
def test_piped_tables_keep_every_column_and_every_cell_whole(
    command: str, example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records(example, command, capsys)
    assert main(["--base-datos", str(example), "inventario", command]) == 0
    out, err = capsys.readouterr()
    assert "columnas omitidas" not in err
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == len(records)  # one line per record: nothing wrapped
    _check_whole(command, out, records, set(HEADERS[command]))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _table(monkeypatch: pytest.MonkeyPatch, width: int, rows: list[dict[str, str]],
           columns: dict[str, str], **options: object) -> str:  # fmt: skip
    monkeypatch.setenv("COLUMNS", str(width))
    out = _Terminal()
    render(rows, Formato.tabla, columns, out=out, **options)  # type: ignore[arg-type]
    return ANSI.sub("", out.getvalue())


ROWS = [{"host": "gw-od-madre-de-dios", "ip": "fd70:756b:6172:ffff::129", "site": "od-puno",
         "notes": "Enlace de respaldo contratado con el proveedor local desde 2019",
         "serial": "MXQ8120023XYZ"}]  # fmt: skip
COLS = {"host": "Equipo", "site": "Sede", "serial": "N.º de serie", "notes": "Notas",
        "ip": "Dirección"}  # fmt: skip


def test_free_text_wraps_at_spaces_and_the_last_columns_go_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(monkeypatch, 100, ROWS, COLS)
    words = _words(text)
    for value in ROWS[0].values():
        assert set(value.split()) <= words, (value, text)
    assert "Notas" in words and capsys.readouterr().err == ""
    assert text.count("\n") > 4  # the notes took more than one line
    text = _table(monkeypatch, 64, ROWS, COLS)  # the address stays; the rightmost others go
    assert "fd70:756b:6172:ffff::129" in _words(text) and "Notas" not in _words(text)
    assert "columnas omitidas por el ancho: N.º de serie, Notas;" in capsys.readouterr().err
    text = _table(monkeypatch, 64, ROWS, COLS, priority={"notes": 1, "site": 2})
    assert "Notas" in _words(text) and "Sede" not in _words(text)
    assert "omitidas por el ancho: Sede, N.º de serie;" in capsys.readouterr().err


def test_columns_that_must_stay_make_the_table_wider_than_split_an_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(monkeypatch, 30, ROWS, COLS)
    assert {"gw-od-madre-de-dios", "fd70:756b:6172:ffff::129"} <= _words(text), text
    assert "Equipo, " not in capsys.readouterr().err


def test_a_figure_and_its_unit_stay_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from pukara.formats import percent

    rows = [{"site": "emb-ar", "target": percent(99), "verdict": "cobertura insuficiente"}]
    cols = {"site": "Sede", "target": "Meta", "verdict": "Veredicto"}
    keep = {"site": 0, "target": 0, "verdict": 0}
    text = _table(monkeypatch, 33, rows, cols, priority=keep)  # room only if "99.00 %" splits
    assert any("99.00\u00a0%" in line for line in text.splitlines()), text


def test_monitoreo_estado_keeps_whether_snmp_answers_on_a_narrow_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitoreo.cli import STATE_COLUMNS, STATE_PRIORITY

    when = "1\u00a0dic.\u00a02026,\u00a012:24:18\u00a0UTC"
    rows = [{"entity": "emb-ar/vpn", "state": "arriba", "since": when, "flapping": "no",
             "alert": "", "snmp_device": "gw-emb-ar", "snmp": "falla",
             "snmp_reason": "sin respuesta SNMP con lab/v3 (tiempo agotado)",
             "snmp_since": when}]  # fmt: skip
    text = _table(monkeypatch, 80, rows, STATE_COLUMNS, priority=STATE_PRIORITY)
    words = _words(text)
    assert {"SNMP", "falla", "Desde"} <= words, text
    err = capsys.readouterr().err
    assert "SNMP desde" in err and "Motivo SNMP" in err  # left out before whether it answers
