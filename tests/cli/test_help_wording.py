"""Help pages read alike everywhere: one wording for defaults, paragraphs wrapped whole, and
every usage error with its ``Uso:`` line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
import typer.core

import cli


def _commands(group: typer.core.TyperGroup, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, typer.core.TyperGroup):
            yield from _commands(command, [*path, name])
        else:
            yield [*path, name], command


def test_defaults_are_por_omision_in_every_help_text() -> None:
    """Typer writes ``[por omisión: …]``; a help text of ours says the same, never «por
    defecto»."""
    root = typer.main.get_command(cli.app)
    assert isinstance(root, typer.core.TyperGroup)
    texts: list[tuple[object, str]] = []
    for path, command in _commands(root, []):
        texts.append((path, command.help or ""))
        texts += [((*path, p.name), getattr(p, "help", None) or "") for p in command.params]
    assert len(texts) > 100
    assert [(where, t) for where, t in texts if "por defecto" in t.lower()] == []


def test_a_help_paragraph_is_wrapped_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A docstring's line breaks do not cut a paragraph (``listar`` / ``--bajas``)."""
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["inventario", "baja", "--help"]) == 0
    out = capsys.readouterr().out
    assert "`listar --bajas`" in " ".join(line.strip(" │") for line in out.splitlines())
    assert "`listar --bajas`" in out  # on one line at 80 columns, as rich wraps it


def test_an_option_without_its_value_shows_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["monitoreo", "sondear", "-c"]) == 2
    err = capsys.readouterr().err
    assert "Uso: pukara monitoreo sondear [OPCIONES]" in err
    assert "la opción '-c' necesita un valor" in err


def test_a_group_that_runs_alone_shows_its_command_as_optional(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["inventario", "sedes", "--help"]) == 0
    assert (
        "Uso: pukara inventario sedes [OPCIONES] [ORDEN [ARGUMENTOS]...]" in capsys.readouterr().out
    )


def test_an_on_off_flag_shows_its_default_as_the_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    assert cli.main(["lab", "arriba", "--help"]) == 0
    out = capsys.readouterr().out
    assert "[por omisión: --tuneles]" in out and "[por omisión: tuneles]" not in out


def test_a_command_summary_in_its_group_list_is_one_paragraph(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A first paragraph written over several docstring lines is not cut where they end."""
    assert cli.main(["monitoreo", "--help"]) == 0  # installs the Spanish rich help
    capsys.readouterr()
    from typer import rich_utils

    text = rich_utils._make_command_help(help_text="Una línea\nque sigue.\n\nOtra.",
                                         markup_mode="rich")  # fmt: skip
    assert getattr(text, "plain", None) == "Una línea que sigue."


@pytest.mark.parametrize("path", [["csirt", "alertas", "importar"], ["registros", "importar"]])
def test_a_list_of_paths_shows_its_type_in_spanish(
    path: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "150")
    assert cli.main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "<ruta>" in out and "<Path>" not in out
