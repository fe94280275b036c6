"""``evidencia exportar``: verified copies of a case's evidence for whoever receives them.

The copies go into a new (or empty) folder as ``<id>-<name>``, each streamed, checked against
its recorded SHA-256 before it is put in place, and read-only, with ``SHA256SUMS`` (``cd
FOLDER && sha256sum -c SHA256SUMS``); all or nothing. The caller records ``exportada`` in each
item's custody.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from csirt.evidencia import EvidenceError, copy_fd, evidence_root, open_source
from pukara.config import Settings
from pukara.errors import UsageError, os_reason
from pukara.files import fsync_directory, make_private_dirs, write_atomically

MANIFEST = "SHA256SUMS"


def export_copies(
    settings: Settings, rows: Sequence[Mapping[str, Any]], folder: Path
) -> list[tuple[dict[str, Any], str]]:
    """Copy each item's stored blob into ``folder`` (new or empty; made 0700) as
    ``<id>-<name>``, read-only, each copy checked against its SHA-256, and write
    ``SHA256SUMS`` there (``sha256sum -c SHA256SUMS`` checks them); the items and their file
    names. Nothing is recorded here: the caller writes each item's ``exportada`` custody."""
    try:
        existed = folder.exists()
        if existed and (not folder.is_dir() or any(folder.iterdir())):
            raise UsageError(f"{folder}: debe ser una carpeta nueva o vacía")
        make_private_dirs(folder)
    except OSError as e:
        raise UsageError(f"{folder}: no se puede usar: {os_reason(e)}") from e
    try:
        return _export(settings, rows, folder)
    except BaseException:  # all or nothing: the folder is left as it was found
        for leftover in folder.iterdir():
            leftover.unlink(missing_ok=True)
        if not existed:
            folder.rmdir()
        raise


def _export(
    settings: Settings, rows: Sequence[Mapping[str, Any]], folder: Path
) -> list[tuple[dict[str, Any], str]]:
    root = evidence_root(settings)
    done: list[tuple[dict[str, Any], str]] = []
    lines: list[str] = []
    for item in rows:
        name = f"{item['id']}-{item['name']}"
        _copy_out(root / item["stored_path"], folder / name, item)
        if "\\" in name:  # as sha256sum writes such a name: escaped, the line marked
            lines.append("\\" + item["sha256"] + "  " + name.replace("\\", "\\\\"))
        else:
            lines.append(item["sha256"] + "  " + name)
        done.append((dict(item), name))
    write_atomically(folder / MANIFEST, "".join(f"{ln}\n" for ln in lines), mode=0o400)
    fsync_directory(folder)
    return done


def _copy_out(source: Path, target: Path, item: Mapping[str, Any]) -> None:
    """Stream ``source`` into ``target`` (temp + fsync + rename, 0400) if what was copied has
    the item's SHA-256; otherwise nothing is left there."""
    fd, tmp_name = tempfile.mkstemp(prefix=".exportando-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with open_source(source) as src:
            sha, _ = copy_fd(fd, src)
        if sha != item["sha256"]:
            raise EvidenceError(f"evidencia {item['id']}: su copia guardada ya no tiene el "
                                "SHA-256 registrado; no se exporta. Ejecute «pukara csirt "
                                "evidencia verificar»")  # fmt: skip
        os.rename(tmp, target)
    except OSError as e:
        raise EvidenceError(f"{target}: no se pudo exportar: {os_reason(e)}") from e
    finally:
        tmp.unlink(missing_ok=True)
