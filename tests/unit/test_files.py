"""Atomic file writing: whole or not at all, with a sensible mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pukara.files import FileWriteError, write_atomically


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / "a.csv", "código\nlima\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == "código\nlima\n"
    assert _mode(tmp_path / "a.csv") == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]  # no temporary left


def test_replacing_keeps_the_files_mode_unless_told(tmp_path: Path) -> None:
    target = tmp_path / "informe.html"
    target.write_text("viejo")
    target.chmod(0o600)
    write_atomically(target, b"<html></html>")
    assert target.read_bytes() == b"<html></html>" and _mode(target) == 0o600
    write_atomically(target, "otro", mode=0o640)
    assert _mode(target) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_text("anterior")

    class Boom(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, Boom("x"))
    assert target.read_text() == "anterior"
    with pytest.raises(FileWriteError, match="no-existe"):
        write_atomically(tmp_path / "no-existe" / "x.csv", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]


def test_a_target_that_cannot_be_replaced_is_a_spanish_error(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    target.write_text("anterior")
    # a directory cannot be replaced by a file: os.replace fails after the data is written
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(FileWriteError, match="no se puede escribir"):
        write_atomically(tmp_path / "dir.csv", "x")
    assert (tmp_path / "dir.csv").is_dir() and target.read_text() == "anterior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.csv", "x.csv"]


def test_a_symlink_is_followed_and_its_target_written_atomically(tmp_path: Path) -> None:
    real = tmp_path / "datos" / "target.csv"
    real.parent.mkdir()
    real.write_text("viejo")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    chain = tmp_path / "chain.csv"
    chain.symlink_to(link)
    write_atomically(chain, "nuevo")
    assert link.is_symlink() and chain.is_symlink()
    assert real.read_text() == "nuevo" and link.read_text() == "nuevo"
    # the temporary lived beside the target, not beside the link
    assert sorted(p.name for p in real.parent.iterdir()) == ["target.csv"]
    dangling = tmp_path / "nuevo.csv"
    dangling.symlink_to(tmp_path / "datos" / "aun-no.csv")
    write_atomically(dangling, "creado")
    assert dangling.is_symlink() and (tmp_path / "datos" / "aun-no.csv").read_text() == "creado"


def test_a_fifo_is_refused_untouched_and_nobody_waits(tmp_path: Path) -> None:
    fifo = tmp_path / "tuberia"
    os.mkfifo(fifo)
    with pytest.raises(FileWriteError, match=r"tuberia: no se puede escribir: es una tubería"):
        write_atomically(fifo, "x")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    link = tmp_path / "a-la-tuberia.csv"
    link.symlink_to(fifo)
    with pytest.raises(FileWriteError, match=r"a-la-tuberia.csv → .*tuberia: .*tubería"):
        write_atomically(link, "x")
    assert link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-la-tuberia.csv", "tuberia"]


def test_a_character_device_is_refused_without_opening_it(tmp_path: Path) -> None:
    # a link to /dev/null: the device is only stat()ed, never written or replaced
    link = tmp_path / "nulo.json"
    link.symlink_to("/dev/null")
    with pytest.raises(FileWriteError, match="dispositivo de caracteres"):
        write_atomically(link, "x")
    assert link.is_symlink() and stat.S_ISCHR(Path("/dev/null").stat().st_mode)


_FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from pukara.files import FileWriteError, write_atomically
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_atomically(Path(sys.argv[1]), "x" * 100_000)
except FileWriteError as e:
    print(e.message)
    sys.exit(7)
"""


def test_a_write_that_fails_half_way_leaves_the_old_file(tmp_path: Path) -> None:
    """The disk fills up mid-write (a file-size limit stands in for a full disk)."""
    import subprocess
    import sys

    target = tmp_path / "export.json"
    target.write_text("anterior")
    done = subprocess.run([sys.executable, "-c", _FULL_DISK, str(target)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 7, done.stderr
    assert "export.json: no se puede escribir" in done.stdout
    assert target.read_text() == "anterior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]
