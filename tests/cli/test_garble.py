"""Tables and messages show what was stored, as typed: no markup, emoji or control characters."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli import main
from pukara.console import Formato, RichReporter, message, render
from pukara.results import Result, Status
from pukara.store import SQLiteStore

ADDRESS = "fd70:756b:6172:a::2"  # ":a:" is a rich emoji shortcode
MARKUP = "[bold]Juan[/bold] [/] [red"
EMOJI = ":smile: :a: :thumbs_up:"
CONTROL = "ro\x1b[31mjo\x07\x9b2J"
GARBLED = ("🅰", "😄", "👍", "\x1b", "\x07", "\x9b")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--base-datos", str(args[0]), *args[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def _flat(text: str) -> str:
    """The table's text with its borders and line folds taken out."""
    return "".join(c for c in text if c not in "│┃┏┓┗┛┡┩└┘┌┐━─╇╈┳┻ \n")


def _assert_shown(text: str, *values: str, garbled: tuple[str, ...] = GARBLED) -> None:
    flat = _flat(text)
    for value in values:
        assert _flat(value) in flat, (value, text)
    for bad in garbled:
        assert bad not in text, (bad, text)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "p.db"
    with SQLiteStore(path) as store:
        store.upsert("site", [{"code": "lim", "name": f"Lima {MARKUP}", "city": EMOJI,
                               "country": "PE", "kind": "embajada"}], key=["code"])  # fmt: skip
        asset = {"name": "gw-[/]lim", "kind": "router", "site": "lim", "mgmt_ipv6": ADDRESS,
                 "custodian": MARKUP, "model": CONTROL, "vendor": EMOJI, "status": "activo"}  # fmt: skip
        store.upsert("asset", [asset], key=["name"])
        store.upsert("monitor_state", [{"entity": f"lim {ADDRESS} {MARKUP}", "state": "up",
                                        "since": EMOJI}], key=["entity"])  # fmt: skip
    return path


def test_inventory_tables_show_values_as_typed(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    code, out, err = run(capsys, db, "inventario", "listar")
    assert code == 0, err
    _assert_shown(out, "gw-[/]lim", ADDRESS, EMOJI, "rojo2J")
    code, out, err = run(capsys, db, "inventario", "sedes")
    assert code == 0, err
    _assert_shown(out, f"Lima {MARKUP}", EMOJI)
    code, out, err = run(capsys, db, "inventario", "mostrar", "gw-[/]lim")  # title "[/]"
    assert code == 0, err
    _assert_shown(out, "gw-[/]lim", ADDRESS, MARKUP, EMOJI, "rojo2J")


def test_monitoring_and_change_log_tables_show_values_as_typed(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    code, out, err = run(capsys, db, "monitoreo", "estado")
    assert code == 0, err
    _assert_shown(out, f"lim {ADDRESS} {MARKUP}", EMOJI)
    code, out, err = run(capsys, db, "cambios", "listar", "--todos")
    assert code == 0, err
    _assert_shown(out, "gw-[/]lim", f"lim {ADDRESS} {MARKUP}")


def test_json_keeps_the_exact_value(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, _ = run(capsys, db, "inventario", "listar", "--formato", "json")
    assert code == 0
    assert json.loads(out)[0]["model"] == CONTROL


def test_error_messages_show_what_was_typed(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, err = run(capsys, db, "inventario", "mostrar", f"{ADDRESS}x [/] {EMOJI}")
    assert code == 2 and out == ""
    _assert_shown(err, f"{ADDRESS}x [/] {EMOJI}")


def test_messages_titles_and_headers_are_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    message(f"{ADDRESS} {MARKUP} {EMOJI} {CONTROL}", style="yellow")
    _assert_shown(capsys.readouterr().err, f"{ADDRESS} {MARKUP} {EMOJI} rojo2J")
    out = io.StringIO()
    render([{"a": ADDRESS}], Formato.tabla, {"a": f"[/]{EMOJI}"}, title=f"{MARKUP} {ADDRESS}",
           out=out)  # fmt: skip
    _assert_shown(out.getvalue(), ADDRESS, f"[/]{EMOJI}", f"{MARKUP} {ADDRESS}")


def test_progress_description_is_not_markup(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich draws the bar as on a terminal
    reporter = RichReporter()
    reporter.start(1, f"Sondeando {ADDRESS} [/] {EMOJI}")
    reporter.advance(Result(target=ADDRESS, status=Status.OK))
    reporter._progress.refresh()
    reporter.finish()
    err = capsys.readouterr().err  # the bar itself is drawn with escape sequences
    _assert_shown(err, f"Sondeando{ADDRESS}[/]{EMOJI}", garbled=GARBLED[:3])
