"""Files written whole or not at all.

:func:`write_atomically` writes to a temporary file in the target's directory, flushes it to
disk, renames it over the target and flushes the directory, so that a crash or a full disk
leaves either the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from pukara.errors import PukaraError


class FileWriteError(PukaraError):
    """A file could not be written."""


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(path: Path, mode: int | None) -> int:
    """``mode`` if given, else the replaced file's own mode, else 0666 less the umask."""
    if mode is not None:
        return mode
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) only once all of it is on disk.

    The file keeps the mode of the one it replaces (a new file gets the usual 0666 less the
    umask, not mkstemp's 0600), unless ``mode`` is given.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    directory = path.parent if str(path.parent) else Path(".")
    try:
        final_mode = _mode_for(path, mode)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise FileWriteError(f"{path}: no se puede escribir: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fchmod(f.fileno(), final_mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_directory(directory)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise FileWriteError(f"{path}: no se puede escribir: {e.strerror}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
