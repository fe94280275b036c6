"""Log files into the store: auth.log, syslog and kern.log (also rotated ``.gz``), nftables
and sshd lines, JSON lines (ECS documents or flat objects).

Files are read as a stream (one line at a time, at most :data:`registros.syslog.MAX_BYTES`
of a line kept) and stored in batches of :data:`BATCH`, each one transaction.

Re-importing a file stores nothing twice: a line's ``event.id`` is derived from the file's
first line, the line's byte offset in the (decompressed) text and the line itself (SHA-256,
written as a UUID of version 8, RFC 9562). So the same file imported again, the same file
after it grew (the lines it had keep their ids), after rotation (``auth.log`` →
``auth.log.1``) or compressed (``auth.log.2.gz``) gives the same ids, and the store skips
them; two different files never share ids unless they start with the same line and hold the
same line at the same offset. A JSON document that carries its own ``event.id`` keeps it.

A line that cannot be read (not syslog, not JSON) is stored as a parse failure with
``event.original`` and named in the summary by file and line.
"""

from __future__ import annotations

import gzip
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson

from pukara.errors import PukaraError, UsageError, os_reason
from pukara.events import ECS_VERSION, format_timestamp, new_event_id, parse_timestamp, set_field
from registros import ecs
from registros.syslog import MAX_BYTES, decode

BATCH = 1000
FAILURES_NAMED = 20  # failing lines named in the summary; the rest counted


class Kind(StrEnum):
    AUTO = "auto"
    SYSLOG = "syslog"
    AUTH = "auth"
    NFTABLES = "nftables"
    JSONL = "jsonl"


@dataclass
class FileSummary:
    path: str
    kind: str
    read: int = 0
    stored: int = 0
    failures: int = 0
    failed_lines: list[int] = field(default_factory=list)


@dataclass
class ImportSummary:
    files: list[FileSummary] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def stored(self) -> int:
        return sum(f.stored for f in self.files)

    @property
    def failures(self) -> int:
        return sum(f.failures for f in self.files)


def check_files(paths: list[Path]) -> None:
    """Every file exists and can be read, before anything is imported (a usage error)."""
    for path in paths:
        if path.is_dir():
            raise UsageError(f"{path}: es una carpeta; indique los archivos de registro")
        try:
            with path.open("rb"):
                pass
        except OSError as e:
            raise UsageError(f"{path}: no se puede leer: {os_reason(e)}") from None


def _open(path: Path) -> IO[bytes]:
    f = path.open("rb")
    if f.read(2) == b"\x1f\x8b":
        f.close()
        return gzip.GzipFile(filename=path, mode="rb")  # type: ignore[return-value]
    f.seek(0)
    return f


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(offset, line) with lines cut to ``MAX_BYTES + 1`` bytes (the rest skipped)."""
    offset = 0
    reader = stream
    while True:
        line = reader.readline(MAX_BYTES + 1)
        if not line:
            return
        start, size = offset, len(line)
        if not line.endswith(b"\n") and len(line) > MAX_BYTES:
            while True:  # the rest of an oversized line
                more = reader.readline(1 << 20)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
        offset += size
        yield start, line.rstrip(b"\r\n")


def detect(path: Path, first: bytes) -> Kind:
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")) or \
            first.lstrip().startswith(b"{"):  # fmt: skip
        return Kind.JSONL
    if name.startswith(("auth", "secure")):
        return Kind.AUTH
    if name.startswith(("kern", "nftables", "iptables", "ufw", "firewall")):
        return Kind.NFTABLES
    return Kind.SYSLOG


def stable_id(identity: bytes, offset: int, line: bytes) -> str:
    """A UUID (version 8) for the line at ``offset`` of the file that starts with ``identity``."""
    digest = hashlib.sha256(identity + b"\0" + str(offset).encode() + b"\0" + line).digest()
    value = int.from_bytes(digest[:16], "big")
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


Progress = Callable[[int], None]  # bytes of the file read so far


def import_files(
    store: Any,
    paths: list[Path],
    *,
    kind: Kind = Kind.AUTO,
    site: str | None = None,
    year: int | None = None,
    resolve: ecs.Resolver | None = None,
    progress: Callable[[Path, int], Progress] | None = None,
) -> ImportSummary:
    """Import ``paths`` (checked first with :func:`check_files`); the summary per file.

    ``year``: the year of timestamps that name none (default: from the file's modification
    time, see :mod:`registros.syslog`). ``progress(path, size)`` gives a callback that is told
    how far into the file the import is.
    """
    check_files(paths)
    summary = ImportSummary()
    for path in paths:
        summary.files.append(_import(store, path, kind, site, year, resolve, progress))
    return summary


def _import(
    store: Any, path: Path, kind: Kind, site: str | None, year: int | None,
    resolve: ecs.Resolver | None, progress: Callable[[Path, int], Progress] | None,
) -> FileSummary:  # fmt: skip
    try:
        stat = path.stat()
        stream = _open(path)
    except OSError as e:
        raise PukaraError(f"{path}: no se puede leer: {os_reason(e)}") from e
    reference = datetime.fromtimestamp(stat.st_mtime, UTC)  # of a date without year
    now = datetime.now(UTC)
    tell = progress(path, stat.st_size) if progress else None
    raw_file = getattr(stream, "fileobj", None) or stream  # a .gz: how far in the file
    try:
        with stream:
            lines = _lines(stream)
            first = next(lines, None)
            if first is None:
                return FileSummary(str(path), kind.value if kind != Kind.AUTO else "vacío")
            chosen = detect(path, first[1]) if kind == Kind.AUTO else kind
            result = FileSummary(str(path), chosen.value)
            dataset = f"registros.{chosen.value}"
            identity = first[1]
            batch: list[dict[str, Any]] = []
            for number, (offset, line) in enumerate(_chain(first, lines), 1):
                if not line.strip():
                    continue
                result.read += 1
                event_id = stable_id(identity, offset, line)
                if chosen == Kind.JSONL:
                    doc = _json_event(line, dataset, event_id, now, site)
                else:
                    doc = ecs.event(line, received=now, reference=reference, dataset=dataset,
                                    resolve=resolve, year=year, site=site,
                                    event_id=event_id)  # fmt: skip
                _count(result, doc, number)
                batch.append(doc)
                if len(batch) >= BATCH:
                    result.stored += store.write_events(batch)
                    batch.clear()
                    if tell is not None:
                        tell(raw_file.tell())
            result.stored += store.write_events(batch) if batch else 0
            if tell is not None:
                tell(stat.st_size)
    except OSError as e:  # a truncated .gz, a disk error: what was stored stays
        raise PukaraError(f"{path}: error al leer: {os_reason(e)}") from e
    except EOFError:
        raise PukaraError(f"{path}: el archivo comprimido está cortado") from None
    return result


def _count(result: FileSummary, doc: dict[str, Any], number: int) -> None:
    if ecs.PARSE_FAILURE in doc.get("tags", ()):
        result.failures += 1
        if len(result.failed_lines) < FAILURES_NAMED:
            result.failed_lines.append(number)


def _chain(
    first: tuple[int, bytes], rest: Iterator[tuple[int, bytes]]
) -> Iterator[tuple[int, bytes]]:
    yield first
    yield from rest


def _json_event(
    line: bytes, dataset: str, event_id: str, reference: datetime, site: str | None
) -> dict[str, Any]:
    """An ECS document (nested or with dotted keys) or a flat object as an event."""
    text, original, tags = decode(line)
    why: str | None = None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        value, why = None, f"no es JSON ({e})"
    if why is None and not isinstance(value, dict):
        why = "la línea JSON no es un objeto"
    doc = _nested(value) if isinstance(value, dict) else {}
    given = doc.get("@timestamp") or doc.get("timestamp") or doc.get("time")
    stamp = _stamp(given)
    raw_event = doc.get("event")
    event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
    own_id = event.get("id")
    raw_tags = doc.get("tags")
    all_tags = [t for t in raw_tags if isinstance(t, str)] if isinstance(raw_tags, list) else []
    all_tags += tags
    doc["@timestamp"] = format_timestamp(stamp or reference)
    doc.setdefault("ecs", {"version": ECS_VERSION})
    doc["event"] = {
        **event,
        "id": own_id if isinstance(own_id, str) and own_id else event_id or new_event_id(),
        "kind": event.get("kind") or "event",
        "dataset": dataset,
        "module": "registros",
        "created": format_timestamp(reference),
        "original": original,
    }
    if site and not isinstance(doc.get("labels"), dict):
        doc["labels"] = {"site": site}
    if why is not None:
        all_tags.append(ecs.PARSE_FAILURE)
        doc["error"] = {"message": why}
        doc["message"] = text
    elif given is not None and stamp is None:
        all_tags.append("registros_fecha_invalida")  # kept; @timestamp is the import time
    if all_tags:
        doc["tags"] = all_tags
    return doc


def _nested(value: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys (``{"source.ip": ...}``) as nested objects, as the store expects."""
    doc: dict[str, Any] = {}
    for key, v in value.items():
        if isinstance(key, str) and key != "@timestamp" and "." in key:
            try:
                set_field(doc, key, v)
                continue
            except ValueError:
                pass
        doc[key] = v
    return doc


def _stamp(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return datetime.fromtimestamp(value, UTC)
    return None


def summary_lines(summary: ImportSummary) -> list[str]:
    """Per file and in total: read, stored (new), parse failures and which lines failed."""
    from pukara.formats import number

    lines = []
    for f in summary.files:
        text = (f"{f.path} ({f.kind}): leídas {number(f.read)}, guardadas {number(f.stored)}, "
                f"fallos de lectura {number(f.failures)}")  # fmt: skip
        if f.read > f.stored:
            text += f" ({number(f.read - f.stored)} ya estaban guardadas)"
        if f.failed_lines:
            shown = ", ".join(str(n) for n in f.failed_lines)
            more = f" y {number(f.failures - len(f.failed_lines))} más" if f.failures > len(
                f.failed_lines) else ""  # fmt: skip
            text += f"; líneas que no se pudieron leer: {shown}{more}"
        lines.append(text)
    if len(summary.files) > 1:
        lines.append(f"Total: leídas {number(summary.read)}, guardadas {number(summary.stored)}, "
                     f"fallos de lectura {number(summary.failures)}")  # fmt: skip
    return lines
