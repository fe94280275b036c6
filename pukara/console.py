"""Everything pukara shows: tables, JSON and CSV on stdout, messages and progress on stderr.

This is the only core module that imports rich. Commands declare ``--formato`` and
``--silencioso`` through the aliases below and call :func:`render`.
"""

from __future__ import annotations

import csv
import errno
import ipaddress
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
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


# Table layout: a cell wraps only at spaces and every word fits its column whole, so an
# address, a code, a serial or a name is never split across lines. When the terminal is too
# narrow, the least important columns are left out (and a note on stderr says which), the way
# kubectl and gh fit a table, instead of cutting every column into pieces.
_PADDING = 2  # a space on each side of a cell
_BORDERS = 1  # n columns draw n + 1 borders: one each and the closing one
_LONG_WORD = 40  # in multi-word text, a longer word (a URL, a hash) may fold: the last resort
# a word ends only at an ASCII space: "99.00\u00a0%" (pukara.formats) stays one, as it is meant to
_WORD = re.compile(r"[^ \t\n\r\f\v]+")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return True


@dataclass(eq=False)
class _Column:
    key: str
    header: str
    cells: list[str]
    rank: int  # 0 is never left out; the greater, the sooner it goes

    def _words(self, text: str) -> int:
        from rich.cells import cell_len

        return max((cell_len(w) for w in _WORD.findall(text)), default=0)

    @cached_property
    def least(self) -> int:
        """The narrowest width at which no word of a cell or of the header is split."""
        longest = max((self._words(c) for c in self.cells), default=0)
        if any(len(_WORD.findall(c)) > 1 for c in self.cells):
            longest = min(longest, _LONG_WORD)  # free text: only a huge word may fold
        return max(longest, self._words(self.header), 1)

    @cached_property
    def natural(self) -> int:
        """The width at which every cell and the header fit on one line."""
        from rich.cells import cell_len

        return max([cell_len(c) for c in self.cells] + [cell_len(self.header), 1])


def _columns(
    columns: Mapping[str, str], cells: list[list[str]], priority: Mapping[str, int]
) -> list[_Column]:
    out = []
    for i, (key, header) in enumerate(columns.items()):
        values = [row[i] for row in cells]
        if key in priority:
            rank = priority[key]
        elif i == 0 or any(_is_address(v) for v in values if v):
            rank = 0
        else:
            rank = i
        out.append(_Column(key, clean_line(header), values, max(rank, 0)))
    return out


def _frame(count: int) -> int:
    return count * (_PADDING + 1) + _BORDERS


def _fit(cols: list[_Column], width: int) -> tuple[list[_Column], list[int]]:
    """The columns to show in ``width`` cells and the width of each.

    Rank 0 columns always stay; the others join from the most important (least rank, then
    the leftmost) while they fit without splitting a word, so a narrow column may still
    find room after a wide one did not. When the rank 0 columns alone do not fit, the table
    is wider than ``width`` rather than break an address. The room left goes to the
    columns that still need it, the neediest first, so long text wraps least.
    """
    chosen = {id(c) for c in cols if c.rank == 0}
    used = sum(c.least for c in cols if id(c) in chosen) + _frame(len(chosen))
    for col in sorted((c for c in cols if c.rank > 0), key=lambda c: c.rank):
        if used + col.least + _PADDING + 1 <= width:
            chosen.add(id(col))
            used += col.least + _PADDING + 1
    kept = [c for c in cols if id(c) in chosen]
    widths = [c.least for c in kept]
    room = width - sum(widths) - _frame(len(kept))
    while room > 0:
        need = [c.natural - w for c, w in zip(kept, widths, strict=True)]
        if max(need, default=0) <= 0:
            break
        widths[need.index(max(need))] += 1
        room -= 1
    return kept, widths


def render(
    records: Iterable[Mapping[str, Any]],
    fmt: Formato,
    columns: Mapping[str, str],
    *,
    title: str | None = None,
    out: TextIO | None = None,
    shown: Mapping[str, Callable[[Any], Any]] | None = None,
    priority: Mapping[str, int] | None = None,
) -> None:
    """Write records to stdout.

    Table and CSV cells are cleaned of control characters (:func:`pukara.text.clean_line`)
    and CSV cells cannot start a spreadsheet formula (:func:`pukara.text.csv_cell`); JSON is
    written exactly, its encoder escapes control characters itself.

    A table never splits a word, an address or a code across lines: cells wrap at spaces
    only. On a terminal too narrow for every column, the least important ones are left out
    and a line on stderr names them; piped or redirected, every column and every cell is
    written whole on one line.

    Args:
        records: dicts with English (dotted ECS where they exist) keys.
        fmt: tabla (rich, Spanish headers), json (array, keys as given) or csv (RFC 4180,
            header row of the English keys).
        columns: key -> Spanish header, in display order; json keeps every key.
        shown: key -> how the table shows that column's value to a person (a Spanish label
            for ``insert``, a formatted time); json and csv keep the stored value.
        priority: key -> rank for a narrow terminal: 0 is never left out, and the greater
            the rank the sooner the column goes. By default the first column and those
            holding IP addresses rank 0 and the others rank by their place, the last first.
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
        _render_table(rows, columns, title, stream, shown or {}, priority or {})


def _render_table(
    rows: list[Mapping[str, Any]],
    columns: Mapping[str, str],
    title: str | None,
    stream: TextIO,
    show: Mapping[str, Callable[[Any], Any]],
    priority: Mapping[str, int],
) -> None:
    from rich.table import Table
    from rich.text import Text

    cells = []
    for row in rows:
        values = [get_field(row, key) for key in columns]
        values = [show[k](v) if k in show and v is not None else v
                  for k, v in zip(columns, values, strict=True)]  # fmt: skip
        cells.append([_cell(v) for v in values])
    cols = _columns(columns, cells, priority)
    console = plain_console(file=stream)
    if console.is_terminal:
        kept, widths = _fit(cols, console.width)
    else:  # piped or redirected: no screen to fit, every cell whole on its line
        kept, widths = cols, [c.natural for c in cols]
    needed = sum(widths) + _frame(len(kept))
    if needed > console.width or not console.is_terminal:
        console = plain_console(file=stream, width=needed)
    # Text everywhere: a "[bold]" sent by a device is shown, not taken as markup
    table = Table(title=Text(clean_line(title)) if title else None, header_style="bold")
    for col, width in zip(kept, widths, strict=True):
        table.add_column(Text(col.header), width=width, overflow="fold")
    places = [cols.index(c) for c in kept]
    for row_cells in cells:
        table.add_row(*(Text(row_cells[i]) for i in places))
    console.print(table)
    left_out = [c.header for c in cols if c not in kept]
    if left_out:
        message(
            f"columnas omitidas por el ancho: {', '.join(left_out)}; "
            "use -f csv o una terminal más ancha"
        )


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

    def update(self, done: int, total: int, failed: int = 0) -> None:
        """For work counted rather than done one target at a time (``almacen migrar``)."""
        if self._task is not None:
            self._progress.update(self._task, completed=done, total=total, failed=failed)

    def finish(self) -> None:
        self._progress.stop()


class ByteProgress:
    """A transient rich bar on stderr for reading files (bytes done of the file's size); off
    when stderr is not a terminal."""

    def __init__(self, *, quiet: bool = False) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = stderr_console()
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=quiet or not console.is_terminal,
        )

    def __enter__(self) -> ByteProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def task(self, description: str, total: int) -> Callable[[int], None]:
        """A new bar; the callback it gives sets how many bytes are done."""
        task = self._progress.add_task(clean_line(description), total=total)
        return lambda done: self._progress.update(task, completed=done)


def message(text: str, *, quiet: bool = False, style: str | None = None) -> None:
    """A line for the user on stderr."""
    if not quiet:
        stderr_console().print(clean(text), style=style, soft_wrap=True)


def date_option(option: str, text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """``AAAA-MM-DD`` (the whole day, UTC) or an ISO 8601 instant (UTC when it has no zone)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time(), UTC)
            return day + timedelta(days=1) if end_of_day else day
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: fecha inválida; use AAAA-MM-DD o AAAA-MM-DDTHH:MM[:SS][zona]"
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
