"""Evidence items: files kept by their SHA-256, read-only, each with its custody.

The store of blobs is ``<data_dir>/evidencia/sha256/ab/cd/<sha256>``: content-addressed, so
the same content is kept once however many items (``csirt.evidencia`` records, one per
addition) point to it. A blob is copied by streaming (1 MiB at a time, hashed on the way) into
``tmp/``, flushed to disk, made 0400 and renamed into place; its folders are 0500 (opened to
0700 only while a blob is put in), the evidence folder 0700. An interruption leaves no half
file and no record: the copy is removed and the command's transaction rolls back. A long copy
is staged (:func:`staged`) before the command opens, so the database is not held meanwhile.

Each addition opens the item's custody (:mod:`csirt.custodia`) with the hash of what was read
(before) and the hash of the stored copy read back from disk (after).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from csirt import custodia
from csirt.records import EVIDENCE, Command, new_ulid
from pukara.config import Settings
from pukara.errors import PukaraError, UsageError, os_reason
from pukara.events import format_timestamp, parse_timestamp
from pukara.files import fsync_directory, make_private_dirs
from pukara.text import clean_line

CHUNK = 1 << 20
FOLDER = "evidencia"
BLOBS = "sha256"
BLOB_MODE = 0o400
SEALED_DIR = 0o500
OPEN_DIR = 0o700
_KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class EvidenceError(PukaraError):
    """Evidence could not be stored or read."""


def evidence_root(settings: Settings) -> Path:
    return settings.data_dir / FOLDER


def stored_path(sha256: str) -> str:
    """Where the blob of ``sha256`` lives, relative to the evidence folder."""
    return f"{BLOBS}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read 1 MiB at a time."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@contextlib.contextmanager
def _opened(folder: Path) -> Iterator[None]:
    """``folder`` writable (0700) for the block, sealed (0500) again after it."""
    os.chmod(folder, OPEN_DIR)
    try:
        yield
    finally:
        os.chmod(folder, SEALED_DIR)


def _sealed_dir(parent: Path, name: str) -> Path:
    """``parent/name``, made 0500 if it is new (``parent`` is opened for it if sealed)."""
    folder = parent / name
    if not folder.is_dir():
        sealed = stat.S_IMODE(parent.stat().st_mode) == SEALED_DIR
        with _opened(parent) if sealed else contextlib.nullcontext():
            folder.mkdir(mode=OPEN_DIR, exist_ok=True)
            os.chmod(folder, SEALED_DIR)
        fsync_directory(parent)
    return folder


@dataclass(frozen=True, slots=True)
class Staged:
    """Content copied into the evidence folder's ``tmp/``, hashed, flushed and read-only, but
    not yet in the store of blobs (:func:`staged`)."""

    root: Path
    tmp: Path
    sha256: str
    size: int


@contextlib.contextmanager
def staged(settings: Settings, stream: IO[bytes]) -> Iterator[Staged]:
    """Copy ``stream`` into ``tmp/`` 1 MiB at a time, hashing it; the copy is gone when the
    block ends unless :func:`add_staged` moved it into the store.

    A long copy (a disk image) is made here, before the command's transaction: the
    database is not held while it runs.
    """
    root = evidence_root(settings)
    make_private_dirs(root / "tmp")
    fd, tmp_name = tempfile.mkstemp(prefix=".entrante-", dir=root / "tmp")
    tmp = Path(tmp_name)
    try:
        try:
            sha, size = copy_fd(fd, stream)
        except OSError as e:
            raise EvidenceError(f"no se pudo copiar la evidencia a {root}: {os_reason(e)}") from e
        yield Staged(root, tmp, sha, size)
    finally:
        tmp.unlink(missing_ok=True)


def copy_fd(fd: int, stream: IO[bytes]) -> tuple[str, int]:
    """Stream ``stream`` into the file open as ``fd`` (closed after), hashing it, then make it
    0400 and flush it to disk; its SHA-256 and size."""
    h = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fchmod(out.fileno(), BLOB_MODE)
        os.fsync(out.fileno())
    return h.hexdigest(), size


def _place(st: Staged) -> tuple[str, bool]:
    """Move a staged copy into the store of blobs; its path there and whether it is new
    (False: that content was kept already, the staged copy is dropped)."""
    rel = stored_path(st.sha256)
    final = st.root / rel
    try:
        if final.exists():
            return rel, False  # the same content is kept once
        sha = st.sha256
        folder = _sealed_dir(_sealed_dir(_sealed_dir(st.root, BLOBS), sha[:2]), sha[2:4])
        with _opened(folder):
            os.rename(st.tmp, final)
        fsync_directory(folder)
    except OSError as e:
        raise EvidenceError(f"no se pudo guardar la evidencia en {st.root}: {os_reason(e)}") from e
    return rel, True


def _text(value: str, what: str, *, limit: int = 200) -> str:
    text = clean_line(value).strip()
    if not text:
        raise UsageError(f"falta {what} de la evidencia")
    return text[:limit]


def check_kind(kind: str) -> str:
    if not _KIND.match(kind):
        raise UsageError(
            f"tipo de evidencia inválido «{clean_line(kind)}»: use minúsculas, cifras y _.- "
            "(p. ej. archivo, registro_auth, procesos)"
        )
    return kind


def _when(value: datetime | str | None, default: str) -> str:
    if value is None:
        return default
    if isinstance(value, str):
        try:
            return format_timestamp(parse_timestamp(value))
        except ValueError:
            raise UsageError(
                f"hora de adquisición inválida «{clean_line(value)}»: use ISO 8601 con zona, "
                "p. ej. 2026-03-01T10:00:00-05:00"
            ) from None
    return format_timestamp(value)


@dataclass(frozen=True, slots=True)
class Details:
    """What is said about an item, checked (:func:`details`)."""

    name: str
    kind: str
    host: str
    purpose: str
    action: str
    acquired_at: str | None
    where: str


def details(
    *,
    name: str,
    kind: str,
    host: str,
    purpose: str,
    acquired_at: datetime | str | None = None,
    action: str = "agregada",
    where: str = "",
) -> Details:
    """Check what is said about an item before anything is copied; a UsageError names what
    is wrong."""
    return Details(
        name=_text(name, "el nombre").replace("/", "_"),
        kind=check_kind(kind),
        host=_text(host, "el equipo de origen (--equipo)"),
        purpose=custodia.check_purpose(purpose),
        action=custodia.check_action(action),
        acquired_at=None if acquired_at is None else _when(acquired_at, ""),
        where=clean_line(where).strip(),
    )


def add_staged(
    cmd: Command, settings: Settings, incident: Mapping[str, Any], st: Staged, d: Details
) -> dict[str, Any]:
    """Record a staged copy as one evidence item of ``incident`` (its blob moved into the
    store, its record, its custody opened, its timeline entry and event); the record.

    ``d.action`` opens the custody (``agregada`` by an analyst, ``adquirida`` by a
    collection); ``d.where``: where the item was taken from (default: the host).
    """
    if d.action not in ("agregada", "adquirida"):
        raise UsageError(f"una evidencia nueva entra «agregada» o «adquirida», no «{d.action}»")
    rel, new = _place(st)
    try:
        return _record(cmd, st, rel, incident, d)
    except BaseException:
        if new:  # nothing points to it: the store stays as it was
            _remove_blob(st.root, rel)
        raise


def _remove_blob(root: Path, rel: str) -> None:
    blob = root / rel
    with contextlib.suppress(OSError), _opened(blob.parent):
        blob.unlink(missing_ok=True)


def _record(
    cmd: Command, st: Staged, rel: str, incident: Mapping[str, Any], d: Details
) -> dict[str, Any]:
    sha, size, root = st.sha256, st.size, st.root
    try:
        after, _ = hash_file(root / rel)  # the stored copy, read back from disk
    except OSError as e:
        raise EvidenceError(f"no se pudo releer la evidencia guardada: {os_reason(e)}") from e
    if after != sha:
        raise EvidenceError(
            f"la copia guardada {root / rel} no tiene el hash de lo leído ({sha}): se alteró; "
            "ejecute «pukara csirt evidencia verificar»"
        )
    acquired = d.acquired_at or cmd.now
    doc: dict[str, Any] = {
        "id": new_ulid(),
        "incident_id": incident["id"],
        "incident_number": incident.get("number"),
        "name": d.name,
        "sha256": sha,
        "size": size,
        "acquired_at": acquired,
        "host": d.host,
        "kind": d.kind,
        "stored_path": rel,
        "added_by": cmd.analyst,
        "added_at": cmd.now,
    }
    cmd.insert(EVIDENCE, doc)
    custodia.append(
        cmd, root, doc, action=d.action, purpose=d.purpose, sha256_before=sha,
        sha256_after=after, where=d.where or d.host,
    )  # fmt: skip
    from pukara.formats import number

    what = f"evidencia {d.name} ({number(size)} bytes, SHA-256 {sha})"
    _timeline(cmd, incident, doc, d.action, acquired,
              f"{what} {custodia.ACTION_TEXT[d.action]}, del equipo {d.host}")  # fmt: skip
    cmd.emit(
        "evidencia", d.action, f"{what} del equipo {d.host}", incident=incident,
        fields={"csirt.evidence.id": doc["id"], "file.name": d.name, "file.size": size,
                "file.hash.sha256": sha, "host.name": d.host},
    )  # fmt: skip
    return doc


def _timeline(cmd: Command, incident: Mapping[str, Any], item: Mapping[str, Any], action: str,
              ts: str, text: str) -> None:  # fmt: skip
    from csirt.linea import add_timeline

    add_timeline(cmd, incident, kind="evidencia", message=text, ts=ts, source="evidencia",
                 raw_ref=item["id"], fields={"evidence_id": item["id"], "action": action,
                                             "sha256": item["sha256"]})  # fmt: skip


def add_stream(
    cmd: Command,
    settings: Settings,
    incident: Mapping[str, Any],
    stream: IO[bytes],
    *,
    name: str,
    kind: str,
    host: str,
    purpose: str,
    acquired_at: datetime | str | None = None,
    action: str = "agregada",
    where: str = "",
) -> dict[str, Any]:
    """Store what ``stream`` yields as one evidence item of ``incident``, inside the command
    (for a long copy, :func:`staged` before the command and :func:`add_staged` in it)."""
    d = details(name=name, kind=kind, host=host, purpose=purpose, acquired_at=acquired_at,
                action=action, where=where)  # fmt: skip
    with staged(settings, stream) as st:
        return add_staged(cmd, settings, incident, st, d)


def add_bytes(
    cmd: Command,
    settings: Settings,
    incident: Mapping[str, Any],
    name: str,
    data: bytes,
    *,
    kind: str,
    host: str,
    purpose: str,
    acquired_at: datetime | str | None = None,
    action: str = "agregada",
    where: str = "",
) -> dict[str, Any]:
    """:func:`add_stream` for content already in memory (a command's output, a report)."""
    return add_stream(
        cmd, settings, incident, io.BytesIO(data), name=name, kind=kind, host=host,
        purpose=purpose, acquired_at=acquired_at, action=action, where=where,
    )  # fmt: skip


def open_source(path: Path) -> IO[bytes]:
    """A file (or a named pipe) to read evidence from; a UsageError says why not."""
    try:
        if path.is_dir():
            raise UsageError(f"{path}: es una carpeta; agregue sus archivos uno a uno")
        return path.open("rb")
    except OSError as e:
        raise UsageError(f"{path}: no se puede leer: {os_reason(e)}") from e


def add_file(
    cmd: Command,
    settings: Settings,
    incident: Mapping[str, Any],
    path: Path,
    *,
    kind: str = "archivo",
    host: str,
    purpose: str,
    acquired_at: datetime | str | None = None,
    name: str | None = None,
    action: str = "agregada",
    where: str = "",
) -> dict[str, Any]:
    """:func:`add_stream` for a file (or a named pipe), copied without loading it whole."""
    with open_source(path) as f:
        return add_stream(
            cmd, settings, incident, f, name=name or path.name, kind=kind, host=host,
            purpose=purpose, acquired_at=acquired_at, action=action,
            where=where or f"{host}:{path}",
        )  # fmt: skip


def check_sha256(text: str) -> str:
    value = text.strip().lower()
    if not _SHA256.match(value):
        raise UsageError(f"«{clean_line(text)}» no es un SHA-256 (64 cifras hexadecimales)")
    return value


# -- reading ----------------------------------------------------------------------------------
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$", re.IGNORECASE)


def find_incident(source: Any, ref: str) -> dict[str, Any]:
    """The incident ``ref`` names (``INC-2026-0001`` or its ULID), from a store or a command
    (:func:`csirt.casos.load_incident`)."""
    from csirt.casos import load_incident

    return load_incident(source, clean_line(str(ref)).strip())


def items(store: Any, incident: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Evidence items (of one incident), in the order they were added."""
    where = {"incident_id": incident["id"]} if incident is not None else None
    rows = store.scan(EVIDENCE, (), where)
    return sorted(rows, key=lambda e: (e.get("added_at") or "", e["id"]))


def resolve(store: Any, ref: str | None) -> tuple[list[dict[str, Any]] | None, str]:
    """What ``ref`` names: an evidence id, an incident, or None (everything); and its label."""
    if ref is None:
        return None, "toda la evidencia"
    text = clean_line(ref).strip()
    one = store.get(EVIDENCE, (text.upper(),)) if _ULID.match(text) else None
    if one is not None:
        return [one], f"evidencia {one['id']}"
    incident = find_incident(store, text)
    return items(store, incident), f"incidente {incident.get('number') or incident['id']}"


def get_item(store: Any, ref: str) -> dict[str, Any]:
    text = clean_line(ref).strip()
    found = store.get(EVIDENCE, (text.upper(),)) if _ULID.match(text) else None
    if found is None:
        raise UsageError(f"no existe la evidencia «{text}» (use el id de «evidencia listar»)")
    return dict(found)


def manifest_lines(root: Path, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``sha256sum -c`` lines for ``rows``: each stored blob once, by its absolute path."""
    seen: dict[str, str] = {}
    for e in rows:
        seen.setdefault(e["stored_path"], e["sha256"])
    out = []
    for rel, sha in seen.items():
        path = str((root / rel).resolve())
        if "\\" in path or "\n" in path:  # as sha256sum writes such a name: escaped
            path = path.replace("\\", "\\\\").replace("\n", "\\n")
            out.append(f"\\{sha}  {path}")
        else:
            out.append(f"{sha}  {path}")
    return out


def record_custody(
    cmd: Command,
    settings: Settings,
    item: Mapping[str, Any],
    *,
    action: str,
    purpose: str,
    where: str = "",
) -> dict[str, Any]:
    """A custody entry for ``item`` (a transfer, an export...), after hashing its stored copy
    again: a copy that no longer matches is refused (``evidencia verificar`` says more)."""
    action = custodia.check_action(action)
    if action in ("adquirida", "agregada"):
        raise UsageError(f"«{action}» abre la custodia al agregar la evidencia; no se registra "
                         "aparte")  # fmt: skip
    root = evidence_root(settings)
    try:
        after, _ = hash_file(root / item["stored_path"])
    except OSError as e:
        raise EvidenceError(f"evidencia {item['id']}: no se puede leer su copia: "
                            f"{os_reason(e)}") from e  # fmt: skip
    if after != item["sha256"]:
        raise EvidenceError(
            f"evidencia {item['id']}: su copia ya no tiene el SHA-256 registrado (tiene "
            f"{after}); no se registra «{action}». Ejecute «pukara csirt evidencia verificar»"
        )
    entry = custodia.append(cmd, root, item, action=action, purpose=purpose,
                            sha256_before=item["sha256"], sha256_after=after, where=where)  # fmt: skip
    if action != "verificada":  # a routine check is in the custody, not in the case's story
        incident = find_incident(cmd, item["incident_id"])
        _timeline(cmd, incident, item, action, cmd.now, f"evidencia {item['name']} "
                  f"{custodia.ACTION_TEXT[action]}: {entry['purpose']}")  # fmt: skip
    return entry
