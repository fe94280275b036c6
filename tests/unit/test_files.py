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
