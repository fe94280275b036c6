"""How `registros buscar` writes the events it finds: a table, JSON or CSV, streamed.

JSON is an array of the ECS documents exactly as stored, one per line, written as they come
(valid JSON with no events, and closed when ``--seguir`` is interrupted); CSV has the dotted
ECS names as its header and cells that cannot run as a spreadsheet formula; the table shows
the time in the local zone, cleaned text, and never splits a word. A file given with
``--archivo`` is written beside its final name and put in place only once complete.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any, TextIO

import orjson

from pukara.console import Formato, plain_console, render
from pukara.errors import os_reason
from pukara.events import get_field, parse_timestamp
from pukara.files import FileWriteError, fsync_directory, not_a_regular_file
from pukara.store import Store
from pukara.store.query import EventQuery
from pukara.text import clean_line, csv_cell

# the table's columns: key -> header; "origin" is the program (syslog app) or the dataset
TABLE_COLUMNS = {
    "@timestamp": "Fecha", "host.name": "Equipo", "origin": "Origen",
    "event.outcome": "Resultado", "source.ip": "IP de origen", "user.name": "Usuario",
    "message": "Mensaje",
}  # fmt: skip
# on a narrow terminal the message stays, and the dataset goes first
TABLE_PRIORITY = {"@timestamp": 0, "message": 0, "host.name": 1, "user.name": 2,
                  "event.outcome": 3, "origin": 4}  # fmt: skip
CSV_FIELDS = ("@timestamp", "event.id", "event.dataset", "host.name", "log.syslog.appname",
              "event.outcome", "source.ip", "user.name", "message")  # fmt: skip
OUTCOMES = {"success": "éxito", "failure": "fallo", "unknown": "desconocido"}


def moment(stamp: Any, tz: tzinfo) -> Any:
    from pukara.formats import datetime_text

    try:
        return datetime_text(parse_timestamp(str(stamp)), tz, seconds=True)
    except ValueError:
        return stamp


def table_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    origin = get_field(doc, "log.syslog.appname") or get_field(doc, "event.dataset")
    row = {key: get_field(doc, key) for key in TABLE_COLUMNS if key != "origin"}
    row["origin"] = origin
    return row


class Writer:
    """Events in, text out, one at a time; :meth:`finish` ends the output."""

    def add(self, doc: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """What has come so far is shown (``--seguir`` calls it after each batch)."""

    def finish(self) -> None:
        self.flush()


class JsonWriter(Writer):
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        out.write("[")

    def add(self, doc: Mapping[str, Any]) -> None:
        self.out.write(",\n" if self.count else "\n")
        self.out.write(orjson.dumps(doc).decode())
        self.count += 1

    def flush(self) -> None:
        self.out.flush()

    def finish(self) -> None:
        self.out.write("\n]\n" if self.count else "]\n")
        self.out.flush()


class CsvWriter(Writer):
    def __init__(self, out: TextIO, fields: Sequence[str] = CSV_FIELDS) -> None:
        self.out = out
        self.fields = tuple(fields)
        self.writer = csv.writer(out, lineterminator="\r\n")
        self.writer.writerow(self.fields)

    def add(self, doc: Mapping[str, Any]) -> None:
        cells = []
        for key in self.fields:
            value = get_field(doc, key)
            if isinstance(value, list | dict):
                value = orjson.dumps(value).decode()
            cells.append(csv_cell(clean_line("" if value is None else str(value))))
        self.writer.writerow(cells)

    def flush(self) -> None:
        self.out.flush()


class TableWriter(Writer):
    """A table of what came before the first :meth:`flush`; one line per event after it."""

    def __init__(self, out: TextIO, tz: tzinfo) -> None:
        self.out = out
        self.tz = tz
        self.rows: list[dict[str, Any]] | None = []
        # the moment is one word (no-break spaces): a narrow table wraps the message instead
        self.shown: dict[str, Callable[[Any], Any]] = {
            "@timestamp": lambda v: str(moment(v, tz)).replace(" ", "\u00a0"),
            "event.outcome": lambda v: OUTCOMES.get(str(v), v),
        }

    def add(self, doc: Mapping[str, Any]) -> None:
        row = table_row(doc)
        if self.rows is not None:
            self.rows.append(row)
            return
        cells = [self.shown[k](row[k]) if k in self.shown and row[k] is not None else row[k]
                 for k in TABLE_COLUMNS]  # fmt: skip
        line = "  ".join(clean_line("" if c is None else str(c)) for c in cells if c is not None)
        plain_console(file=self.out, soft_wrap=True).print(line)

    def flush(self) -> None:
        if self.rows is not None:
            if self.rows:
                render(self.rows, Formato.tabla, TABLE_COLUMNS, out=self.out,
                       shown=self.shown, priority=TABLE_PRIORITY)  # fmt: skip
            self.rows = None
        self.out.flush()


def writer(fmt: Formato, out: TextIO, tz: tzinfo, fields: Sequence[str] | None) -> Writer:
    if fmt is Formato.json:
        return JsonWriter(out)
    if fmt is Formato.csv:
        return CsvWriter(out, fields or CSV_FIELDS)
    return TableWriter(out, tz)


@contextlib.contextmanager
def output(path: Path | None, stdout: TextIO) -> Iterator[TextIO]:
    """``stdout``, or a file beside ``path`` that replaces it once the block ends normally
    (an error leaves the old file as it was, and no partial one)."""
    if path is None:
        yield stdout
        return
    problem = not_a_regular_file(path)
    if problem is not None:
        raise FileWriteError(f"{path}: no se puede escribir: {problem}")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise FileWriteError(f"{path}: no se puede escribir: {os_reason(e)}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_directory(folder)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise FileWriteError(f"{path}: no se puede escribir: {os_reason(e)}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class Emitted:
    shown: int  # events written
    more: bool  # the window held more than the limit
    interrupted: bool  # --seguir ended by Ctrl-C (the output was closed properly)


def emit(
    store: Store,
    q: EventQuery,
    w: Writer,
    *,
    limit: int,
    follow: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> Emitted:
    """Write the events of ``q`` (asked with ``limit + 1``, to know whether there are more),
    then, with ``follow``, the new ones until Ctrl-C, which ends the output cleanly."""
    from registros import search

    shown, more, tail = 0, False, search.Tail()
    try:
        found = search.search(store, q)
        if isinstance(found, list) and limit and len(found) > limit:
            found, more = found[1:], True
        for doc in found:
            w.add(doc)
            if follow:
                tail.add(doc)
            shown += 1
        if not follow:
            w.finish()
            return Emitted(shown, more, False)
        w.flush()

        def pause(seconds: float) -> None:
            w.flush()
            sleep(seconds)

        for doc in search.follow(store, q, tail, sleep=pause):
            w.add(doc)
            shown += 1
    except KeyboardInterrupt:
        w.finish()  # stdout stays valid JSON; without --seguir a file given is not written
        if not follow:
            raise
        return Emitted(shown, more, True)
    raise AssertionError("follow() never ends")  # pragma: no cover
