"""Typer's own texts (help, usage, errors) read in Spanish, whatever the shell's LANG."""

from __future__ import annotations

import ast
import gettext
import os
import shutil
import string
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

import cli
from pukara import i18n, typer_es

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent
# What Typer, Click and pydantic say in English; none of it may reach a user.
ENGLISH = (
    "Usage", "Options", "OPTIONS", "Commands", "COMMAND", "ARGS", "Arguments", "Show this",
    "and exit", "default:", "required]", "env var", "No such", "Missing", "Invalid value",
    "Try ", "for help", "Did you mean", "Possible options", "Input should", "is not one of",
    "Got unexpected", "requires", "does not", "is a directory", "is not a valid", "Value error",
    "Aborted", "Choose from", "<int", "<float", "<str", "<bool", "<path", "<list", "range>",
)  # fmt: skip
USAGE_ERRORS = [
    ["nada"],
    ["--no-existe"],
    ["monitoreo", "sondear", "--nope"],
    ["monitoreo", "sondear", "-c", "abc"],
    ["monitoreo", "sondear", "-c", "0"],
    ["monitoreo", "sondear", "-c"],
    ["monitoreo", "sondear", "--formato", "xml"],
    ["monitoreo", "informe"],
    ["inventario", "mostrar"],
    ["inventario", "listr"],
    ["cambios", "listar", "a", "b"],
    ["--concurrencia", "0", "cambios", "listar"],
]


def _english_in(text: str) -> list[str]:
    return [word for word in ENGLISH if word in text]


def _pukara(*args: str, lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUKARA_", "LC_", "LANG"))}
    env.update(LANG=lang, LANGUAGE="en", COLUMNS="100", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [str(SCRIPTS / "pukara"), *args], capture_output=True, text=True, env=env,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("lang", ["C.UTF-8", "en_US.UTF-8"])
def test_root_help_is_spanish_in_an_english_shell(lang: str) -> None:
    done = _pukara("--help", lang=lang)
    assert done.returncode == 0, done.stderr
    assert "Uso: pukara [OPCIONES] ORDEN [ARGUMENTOS]..." in done.stdout
    assert "Opciones" in done.stdout and "Órdenes" in done.stdout
    assert "Muestra esta ayuda y termina." in done.stdout
    assert _english_in(done.stdout) == [], done.stdout


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_usage_errors_are_spanish(args: list[str]) -> None:
    done = _pukara(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("Error: ") == 1
    if args != ["monitoreo", "sondear", "-c"]:  # Click knows the command there, not its usage
        assert "Uso: pukara" in done.stderr and "para ver la ayuda" in done.stderr
    assert _english_in(done.stderr) == [], done.stderr


def test_usage_error_messages_say_what_is_wrong() -> None:
    err = _pukara("monitoreo", "sondear", "--nope").stderr
    assert "Pruebe «pukara monitoreo sondear -h» para ver la ayuda." in err
    assert "Error: no existe la opción --nope" in err
    assert (
        "no existe la orden 'listr'. ¿Quiso decir 'listar'?"
        in _pukara("inventario", "listr").stderr
    )
    err = _pukara("monitoreo", "sondear", "-c", "0").stderr
    assert "valor no válido para '--cuenta' / '-c': debe ser mayor o igual que 1" in err
    err = _pukara("monitoreo", "sondear", "--formato", "xml").stderr
    assert "'xml' no es ninguno de 'tabla', 'json', 'csv'" in err
    assert "falta la opción '--mes'" in _pukara("monitoreo", "informe").stderr
    err = _pukara("inventario", "[/]fd70::a:1").stderr  # shown as typed, not as rich markup
    assert "no existe la orden '[/]fd70::a:1'" in err


def _commands(group: typer.core.TyperGroup, path: list[str]) -> Iterator[list[str]]:
    yield path
    for name, command in sorted(group.commands.items()):
        if isinstance(command, typer.core.TyperGroup):
            yield from _commands(command, [*path, name])
        else:
            yield [*path, name]


def test_every_help_page_is_spanish(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LANG", "C.UTF-8")
    root = typer.main.get_command(cli.app)
    assert isinstance(root, typer.core.TyperGroup)
    pages = list(_commands(root, []))
    assert len(pages) > 30
    for path in pages:
        assert cli.main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "Uso: pukara" in out, path
        assert _english_in(out) == [], (path, out)


def _po_entries() -> dict[str, str]:
    from babel.messages.pofile import read_po

    po, _ = i18n.catalogue_files()
    with po.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id and isinstance(m.id, str)}


def test_the_shipped_mo_is_the_compiled_po() -> None:
    po, mo = i18n.catalogue_files()
    assert mo.read_bytes() == i18n.compile_catalogue(po), "ejecute: python -m pukara.i18n"


def test_the_catalogue_in_use_is_the_spanish_one() -> None:
    assert isinstance(i18n._catalog, gettext.GNUTranslations)
    assert i18n._catalog.info().get("language") == "es"
    assert i18n._("Missing command.") != "Missing command."


def test_a_missing_catalogue_is_loud(tmp_path: Path) -> None:
    with pytest.warns(i18n.MissingCatalogueWarning, match="falta el catálogo"):
        catalogue = i18n.load_catalogue(tmp_path)
    assert type(catalogue) is gettext.NullTranslations


def test_the_package_data_names_the_catalogue() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["pukara"]
    _, mo = i18n.catalogue_files()
    assert any(mo in (ROOT / "pukara").glob(p) for p in patterns), patterns


def test_the_built_wheel_ships_a_catalogue_that_loads(tmp_path: Path) -> None:
    """Built from the files git keeps, as a release is: an untracked .mo would not count."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")  # fmt: skip
    source = tmp_path / "src"
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
         str(source)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("pukara-*.whl")
    member = "pukara/locale/es/LC_MESSAGES/pukara.mo"
    with zipfile.ZipFile(wheel) as whl:
        assert member in whl.namelist()
        whl.extract(member, tmp_path / "installed")
    catalogue = i18n.load_catalogue(tmp_path / "installed" / "pukara" / "locale")
    assert isinstance(catalogue, gettext.GNUTranslations)
    assert catalogue.gettext("Missing command.") == i18n._("Missing command.")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _typer_gettext_texts() -> set[str]:
    """Every literal Typer passes to gettext's ``_()`` in the modules pukara shows."""
    texts = set()
    for module in ("core.py", "rich_utils.py"):
        tree = ast.parse((Path(typer.__file__).parent / module).read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_" and isinstance(node.args[0], ast.Constant)):  # fmt: skip
                texts.add(node.args[0].value)
    return texts


def test_every_text_has_a_spanish_translation_with_the_same_fields() -> None:
    entries = _po_entries()
    wanted = {*i18n.TEMPLATES, *typer_es.USAGE_WORDS, *_typer_gettext_texts(),
              *(v for v in typer_es.TYPE_NAMES.values() if v), "Usage: ",
              "Show this message and exit.", "Try '{command} {option}' for help.",
              "Error: {message}"}  # fmt: skip
    assert len(_typer_gettext_texts()) > 15
    missing = sorted(t for t in wanted if not entries.get(t))
    assert missing == []
    for msgid, msgstr in entries.items():
        assert _fields(msgid) == _fields(msgstr), msgid


def test_translate_keeps_the_pieces_and_leaves_unknown_text() -> None:
    text = "Invalid value for '--x': Value error, 'a' is not one of 'b', 'c'."
    assert i18n.translate(text) == "valor no válido para '--x': 'a' no es ninguno de 'b', 'c'"
    assert i18n.translate("Input should be less than 7") == "debe ser menor que 7"
    assert i18n.translate("no existe el activo «x»") == "no existe el activo «x»"


def test_install_reaches_every_place_typer_keeps_its_texts() -> None:
    """A Typer upgrade that moves one of them fails here, not in front of a user."""
    from typer import rich_utils

    typer_es.install()
    typer_es._localize_rich_utils()
    assert typer.core._ is i18n._  # type: ignore[attr-defined]
    spanish = set(_po_entries().values())
    for name in typer_es.RICH_STRINGS:
        assert getattr(rich_utils, name) in spanish, name
    assert rich_utils.OPTIONS_PANEL_TITLE == "Opciones"
    assert rich_utils.DEFAULT_STRING == "[por omisión: {}]"


def _typed_options() -> Iterator[list[str]]:
    """``[*command, option]`` for every option whose value Typer checks (number or choice)."""
    root = typer.main.get_command(cli.app)
    assert isinstance(root, typer.core.TyperGroup)
    for path in _commands(root, []):
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        for param in command.params:
            desc = getattr(param, "type_descriptor", None)
            if param.param_type_name != "option" or getattr(param, "is_flag", False):
                continue
            if desc is not None and (desc.is_choice or desc.annotation in (int, float)):
                yield [*path, max(param.opts, key=len)]


def test_a_bad_value_for_any_option_is_refused_in_spanish(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cases = list(_typed_options())
    assert len(cases) > 20
    for args in cases:
        assert cli.main([*args, "zzz"]) == 2, args
        err = capsys.readouterr().err
        assert "Error: " in err and _english_in(err) == [], (args, err)
