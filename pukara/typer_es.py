"""Typer's own texts (help, usage, errors) in Spanish, through :mod:`pukara.i18n`'s catalogue.

Typer 0.29 carries its own copy of Click with the gettext calls taken out: ``Usage:``,
``Show this message and exit.`` and the error messages are plain strings. Only Typer's
``core`` and ``rich_utils`` still call ``gettext.gettext``, whose language comes from
``LANG`` (English on a server). :func:`install` points each of those places at the Spanish
catalogue; ``tests/cli/test_spanish.py`` fails if a Typer upgrade moves one of them.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

import typer.core
from typer import _click
from typer._click.decorators import help_option as _help_option
from typer._click.formatting import HelpFormatter

from pukara.i18n import N_, _, translate

_write_usage = HelpFormatter.write_usage
_parse_args = _click.core.Command.parse_args
_default_string = typer.core.TyperOption._get_default_string
_display_type = typer.core._TyperParameter.display_type
_format_help = {cls: cls.format_help for cls in (typer.core.TyperCommand, typer.core.TyperGroup)}

# The rich help's fixed strings: typer.rich_utils computes them once, when imported
RICH_STRINGS = (
    "DEPRECATED_STRING", "DEFAULT_STRING", "ENVVAR_STRING", "REQUIRED_LONG_STRING",
    "ARGUMENTS_PANEL_TITLE", "OPTIONS_PANEL_TITLE", "COMMANDS_PANEL_TITLE",
    "ERRORS_PANEL_TITLE", "ABORTED_TEXT", "RICH_HELP",
)  # fmt: skip
USAGE_WORDS = (N_("[OPTIONS]"), N_("COMMAND [ARGS]..."))
TYPE_NAMES = {
    "int": N_("entero"), "float": N_("número"), "str": N_("texto"), "path": N_("ruta"),
    "file": N_("archivo"), "dir": N_("carpeta"), "datetime": N_("fecha y hora"),
    "date": N_("fecha"), "uuid": N_("UUID"), "range": "",
}  # fmt: skip
_TYPE_WORD = re.compile(r"[a-z]+", re.IGNORECASE)  # a list[Path] argument shows "Path"


def _spanish_usage(
    self: HelpFormatter, prog: str, args: str = "", prefix: str | None = None
) -> None:
    for word in USAGE_WORDS:
        args = args.replace(word, _(word))
    _write_usage(self, prog, args, _("Usage: ") if prefix is None else prefix)


def _spanish_type(self: Any, ctx: Any) -> str | None:
    """``<int range>`` as ``<entero>``, ``<list[str]>`` as ``<texto>``; none for a flag."""
    shown = _display_type(self, ctx)
    if shown is None or getattr(self, "is_flag", False):
        return None
    label = re.sub(r"^list\[(.*)\]$", r"\1", shown[1:-1])  # repeatable: the help says so
    if not self.type_descriptor.is_choice:  # choices are the command's own (Spanish) words
        label = _TYPE_WORD.sub(lambda m: _(TYPE_NAMES.get(m[0].lower(), m[0])), label).strip()
    return f"<{label}>"


def _spanish_help_option(param_decls: list[str]) -> Any:
    add_option = _help_option(param_decls)

    def apply(command: Any) -> Any:
        command = add_option(command)
        command.params[-1].help = _("Show this message and exit.")
        return command

    return apply


def _parse_args_with_context(self: Any, ctx: Any, args: list[str]) -> list[str]:
    """Click's option parser raises some usage errors (``-c`` without its value) without the
    command's context, so they would print no ``Uso:`` line; give them this command's."""
    try:
        return _parse_args(self, ctx, args)
    except _click.exceptions.UsageError as e:
        if e.ctx is None:
            e.ctx, e.cmd = ctx, self
        raise


def _flag_default(self: Any, **kwargs: Any) -> str:
    """``[por omisión: --tuneles]`` for an on/off flag, the option as it is typed (Typer
    writes ``tuneles``, which reads like a value)."""
    if self.is_bool_flag and self.secondary_opts and not kwargs.get("show_default_is_str"):
        return str(self.opts[0] if self.default else self.secondary_opts[0])
    return str(_default_string(self, **kwargs))


def _joined_lines(paragraphs: list[str], markup_mode: Any) -> str:
    """The rich help's paragraphs after the first, each on one line for rich to wrap (Typer
    0.29 keeps the docstring's line breaks, which cut a paragraph at odd places); a paragraph
    starting with ``\\b`` keeps them, as Click's convention says."""
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)


def _command_summary(original: Any) -> Any:
    """A command's line in its group's list: its first paragraph on one line (Typer keeps
    the docstring's line breaks there too)."""

    def make(*, help_text: str, markup_mode: Any) -> Any:
        first, *rest = inspect.cleandoc(help_text).split("\n\n")
        if not first.startswith("\b"):
            first = " ".join(first.split("\n"))
        return original(help_text="\n\n".join([first, *rest]), markup_mode=markup_mode)

    return make


def _localize_rich_utils() -> None:
    """typer.rich_utils is imported only to show help (it pulls in most of rich)."""
    from typer import rich_utils

    if getattr(rich_utils, "_pukara_spanish", False):
        return
    rich_utils._ = _  # type: ignore[attr-defined]
    rich_utils._fix_linebreaks = _joined_lines
    rich_utils._make_command_help = _command_summary(rich_utils._make_command_help)
    for name in RICH_STRINGS:
        setattr(rich_utils, name, _(getattr(rich_utils, name)))
    rich_utils.OptionHighlighter.highlights.append(r"(?P<usage>" + re.escape(_("Usage: ")) + ")")
    rich_utils._pukara_spanish = True  # type: ignore[attr-defined]


def _spanish_format_help(cls: type[Any]) -> Any:
    original = _format_help[cls]

    def format_help(self: Any, ctx: Any, formatter: Any) -> Any:
        _localize_rich_utils()
        return original(self, ctx, formatter)

    return format_help


def install() -> None:
    """Make every text Typer shows Spanish; once per process, before the first command."""
    if getattr(typer.core, "_pukara_spanish", False):
        return
    typer.core._ = _  # type: ignore[attr-defined]
    HelpFormatter.write_usage = _spanish_usage  # type: ignore[method-assign]
    typer.core._TyperParameter.display_type = _spanish_type  # type: ignore[method-assign,assignment]
    _click.core.Command.parse_args = _parse_args_with_context  # type: ignore[method-assign]
    typer.core.TyperOption._get_default_string = _flag_default  # type: ignore[method-assign]
    _click.decorators.help_option = _spanish_help_option
    for cls in _format_help:
        cls.format_help = _spanish_format_help(cls)  # type: ignore[method-assign]
    if "typer.rich_utils" in sys.modules:
        _localize_rich_utils()
    typer.core._pukara_spanish = True  # type: ignore[attr-defined]


def usage_error_text(exc: _click.exceptions.ClickException) -> str:
    """What to show for a usage error: usage line, where to find help, the error; Spanish."""
    lines = []
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        lines.append(ctx.get_usage())
        if ctx.command.get_help_option(ctx) is not None:
            lines.append(
                _("Try '{command} {option}' for help.").format(
                    command=ctx.command_path, option=ctx.help_option_names[0]
                )
            )
        lines.append("")
    lines.append(_("Error: {message}").format(message=translate(exc.format_message())))
    return "\n".join(lines)
