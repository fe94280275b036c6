"""Everything pukara shows: tables, JSON and CSV on stdout, messages and progress on stderr.

This is the only core module that imports rich. Commands declare ``--formato`` and
``--silencioso`` through the aliases below and call :func:`render`.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console

from pukara.errors import UsageError
from pukara.events import get_field
from pukara.text import clean, clean_line, csv_cell

if TYPE_CHECKING:
    from pukara.results import Result


class Formato(StrEnum):
    tabla = "tabla"
    json = "json"
    csv = "csv"


FormatoOpt = Annotated[
    Formato, typer.Option("--formato", "-f", help="Formato de salida: tabla, json o csv.")
]
SilenciosoOpt = Annotated[
    bool, typer.Option("--silencioso", "-q", help="Sin barra de progreso ni mensajes.")
]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (``| head``): let ``cli.main`` end quietly, not rich's exit 1."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "salida cerrada")


def output_file(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
    """Callback of an option naming a file to write: a path that cannot be one is refused.

    Checked before any work, so a month's report is not computed only to fail at the end;
    the file itself is then written atomically (:func:`pukara.files.write_atomically`).
    """
    if value is None or ctx.resilient_parsing:
        return value
    option = max(param.opts, key=len) if param.opts else str(param.name)
    folder = value.parent if str(value.parent) else Path(".")
    if value.is_dir():
        problem = "es una carpeta; indique el nombre de un archivo dentro de ella"
    elif not folder.exists():
        problem = f"no existe la carpeta {folder}"
    elif not folder.is_dir():
        problem = f"{folder} no es una carpeta"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = f"no hay permiso para escribir en la carpeta {folder}"
    else:
        return value
    raise UsageError(f"{option} {value}: {problem}")


def plain_console(**options: Any) -> Console:
    """A console that shows text as typed: no markup, no emoji shortcodes, no highlighting.

    Everything pukara prints may carry what a device, a file or a person sent: ``[bold]`` in
    a custodian's name is text, ``[/]`` must not raise, and ``fd70:756b:6172:a::2`` is an
    address, not ``:a:`` turned into an emoji.
    """
    return _Console(markup=False, emoji=False, highlight=False, **options)


def stderr_console() -> Console:
    return plain_console(stderr=True)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _cell(value: Any) -> str:
    """A table or CSV cell on one line, without the control characters a device may send."""
    return clean_line(_text(value))


def render(
    records: Iterable[Mapping[str, Any]],
    fmt: Formato,
    columns: Mapping[str, str],
    *,
    title: str | None = None,
    out: TextIO | None = None,
    shown: Mapping[str, Callable[[Any], Any]] | None = None,
) -> None:
    """Write records to stdout.

    Table and CSV cells are cleaned of control characters (:func:`pukara.text.clean_line`)
    and CSV cells cannot start a spreadsheet formula (:func:`pukara.text.csv_cell`); JSON is
    written exactly, its encoder escapes control characters itself.

    Args:
        records: dicts with English (dotted ECS where they exist) keys.
        fmt: tabla (rich, Spanish headers), json (array, keys as given) or csv (RFC 4180,
            header row of the English keys).
        columns: key -> Spanish header, in display order; json keeps every key.
        shown: key -> how the table shows that column's value to a person (a Spanish label
            for ``insert``, a formatted time); json and csv keep the stored value.
    """
    stream = out or sys.stdout
    rows = list(records)
    if fmt is Formato.json:
        json.dump(rows, stream, ensure_ascii=False, indent=2, default=str)
        stream.write("\n")
    elif fmt is Formato.csv:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(list(columns))
        for row in rows:
            writer.writerow([csv_cell(_cell(get_field(row, key))) for key in columns])
    else:
        from rich.table import Table
        from rich.text import Text

        # Text everywhere: a "[bold]" sent by a device is shown, not taken as markup
        table = Table(title=Text(clean_line(title)) if title else None, header_style="bold")
        for header in columns.values():
            table.add_column(Text(clean_line(header)), overflow="fold")
        show = shown or {}
        for row in rows:
            values = [get_field(row, key) for key in columns]
            values = [show[k](v) if k in show and v is not None else v
                      for k, v in zip(columns, values, strict=True)]  # fmt: skip
            table.add_row(*(Text(_cell(v)) for v in values))
        console = plain_console(file=stream)
        if not console.is_terminal:  # piped or redirected: no screen width to respect
            console = plain_console(file=stream, width=250)
        console.print(table)


class RichReporter:
    """A transient rich progress bar on stderr; off when stderr is not a terminal."""

    def __init__(self, *, quiet: bool = False) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = stderr_console()
        self._enabled = not quiet and console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} fallidos"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self._enabled,
        )
        self._task: Any = None

    def start(self, total: int, description: str) -> None:
        self._progress.start()
        self._task = self._progress.add_task(clean_line(description), total=total, failed=0)

    def advance(self, result: Result) -> None:
        if self._task is None:
            return
        task = next(t for t in self._progress.tasks if t.id == self._task)  # this task's count
        failed = task.fields["failed"] + (1 if result.failed else 0)
        self._progress.update(self._task, advance=1, failed=failed)

    def finish(self) -> None:
        self._progress.stop()


def message(text: str, *, quiet: bool = False, style: str | None = None) -> None:
    """A line for the user on stderr."""
    if not quiet:
        stderr_console().print(clean(text), style=style, soft_wrap=True)
