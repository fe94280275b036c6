"""Files written whole or not at all.

:func:`write_atomically` writes to a temporary file in the target's directory, flushes it to
disk, renames it over the target and flushes the directory, so that a crash or a full disk
leaves either the old file or the new one, never half of either.

Only a regular file is ever replaced. A symbolic link is followed: its target is the file
written, atomically in the target's own folder, and the link stays a link. A named pipe, a
device or a socket is refused (rather than written through): renaming over one would destroy
it, and writing into one can neither be atomic nor be undone when it fails half-way, which is
what this function promises; a command that wants its output in a pipe writes to stdout.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from pukara.errors import PukaraError, os_reason


class FileWriteError(PukaraError):
    """A file could not be written."""


PRIVATE_DIR_MODE = 0o700


def fsync_directory(path: Path) -> None:
    """Flush a directory's entries (a new or renamed file in it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parent 0700, whatever the umask; existing ones stay."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # made by another process meanwhile: theirs to set
            continue
        os.chmod(d, PRIVATE_DIR_MODE)


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


_KINDS = (
    (stat.S_ISDIR, "es una carpeta, no un archivo"),
    (stat.S_ISFIFO, "es una tubería con nombre (FIFO)"),
    (stat.S_ISCHR, "es un dispositivo de caracteres"),
    (stat.S_ISBLK, "es un dispositivo de bloques"),
    (stat.S_ISSOCK, "es un socket"),
)


def not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` (symbolic links followed) cannot be replaced by a file; None if it can
    (a regular file, or nothing there yet)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as e:
        return os_reason(e)
    if stat.S_ISREG(mode):
        return None
    what = next((text for test, text in _KINDS if test(mode)), "no es un archivo regular")
    return f"{what}; solo se escriben archivos regulares"


def _real_target(path: Path) -> Path:
    """The file a write to ``path`` must replace: a symbolic link's target (links of links
    followed), else ``path`` itself."""
    if not path.is_symlink():
        return path
    return Path(os.path.realpath(path))


def write_atomically(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) only once all of it is on disk.

    The file keeps the mode of the one it replaces (a new file gets the usual 0666 less the
    umask, not mkstemp's 0600), unless ``mode`` is given. A symbolic link's target is written
    (see the module docstring); anything but a regular file is refused, untouched. A full
    disk or an I/O error while writing or flushing is a :class:`FileWriteError`, and the old
    file is left as it was.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    shown = path
    path = _real_target(path)
    problem = not_a_regular_file(path)
    if problem is not None:
        where = f"{shown} → {path}" if shown != path else f"{shown}"
        raise FileWriteError(f"{where}: no se puede escribir: {problem}")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        final_mode = _mode_for(path, mode)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise FileWriteError(f"{shown}: no se puede escribir: {os_reason(e)}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fchmod(f.fileno(), final_mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_directory(directory)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise FileWriteError(f"{shown}: no se puede escribir: {os_reason(e)}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
