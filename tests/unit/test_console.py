import io
import json

import pytest

from pukara.console import Formato, render

ROWS = [
    {"host": {"name": "s001"}, "loss": 0.5, "up": True},
    {"host": {"name": "s;002"}, "up": False},
]
COLS = {"host.name": "Equipo", "loss": "Pérdida", "up": "Activo"}


def test_json_keeps_english_keys() -> None:
    out = io.StringIO()
    render(ROWS, Formato.json, COLS, out=out)
    assert json.loads(out.getvalue()) == ROWS


def test_csv_is_rfc4180_with_english_header() -> None:
    out = io.StringIO()
    render(ROWS, Formato.csv, COLS, out=out)
    assert out.getvalue() == "host.name,loss,up\r\ns001,0.5,sí\r\ns;002,,no\r\n"


def test_table_has_spanish_headers() -> None:
    out = io.StringIO()
    render(ROWS, Formato.tabla, COLS, out=out)
    text = out.getvalue()
    assert "Equipo" in text and "Pérdida" in text and "s001" in text


def test_rich_reporter_is_silent_when_stderr_is_not_a_terminal(
    capsys: "pytest.CaptureFixture[str]",
) -> None:
    from pukara.console import RichReporter
    from pukara.runner import run_many

    run = run_many(lambda n: {"n": n}, range(5), action="Sondeando", reporter=RichReporter())
    assert len(run.ok) == 5
    assert capsys.readouterr().err == ""
