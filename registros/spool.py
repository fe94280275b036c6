"""The receiver's overflow queue on disk (what rsyslog calls a disk-assisted queue).

When the inbox in memory is full, what the sockets bring is appended to one spool file
(``<data_dir>/registros/cola/cola.bin``, 0600 in a 0700 folder) instead of being dropped, up
to a size; once spilling starts, everything new goes to the file until the writers have
drained it, so the order of arrival is kept. The file holds records, one per read of a
socket that spilled::

    length of the block (4 bytes) | its crc32 (4) | its number of items (4) | the block

little-endian; the block is the list of (line, sender, port, receive time) in :mod:`marshal`'s
format (one call in C for a whole read; the file is ours alone). Records are appended in
large buffered chunks. How far the writers have stored is kept in ``cola.pos`` (8 bytes,
written after each stored batch, in order), so a stop (or a crash) leaves the unread records
for the next start, which stores them first. A record cut by a crash in the middle of a write
(shorter than its length, or its crc wrong) ends the file: it and what follows are cut off
and the bytes are counted (:attr:`Found.torn_bytes`). A crash can hand back again the
batches that were being stored when it came; each line's ``event.id`` comes from the line, its
sender and its receive time (:func:`registros.receiver.received_id`), so they are stored once.
"""

from __future__ import annotations

import contextlib
import fcntl
import marshal
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from pukara.errors import PukaraError, os_reason
from pukara.formats import number

Item = tuple[bytes, str, int, float]  # line, sender address, sender port, receive time

DEFAULT_MIB = 2048
CHUNK = 1 << 20  # bytes buffered before they are written
READ = 4 << 20  # bytes read at most per batch taken back
_HEAD = struct.Struct("<III")  # length of the block, its crc32, its number of items


def encode(items: list[Item]) -> bytes:
    """One record: the items of one read of a socket, in :mod:`marshal`'s format (one call
    in C for the lot: the socket loop has no time for a loop over them)."""
    block = marshal.dumps(items, 4)
    return _HEAD.pack(len(block), zlib.crc32(block), len(items)) + block


def decode(buf: bytes | memoryview, most: int) -> tuple[list[Item], int, bool]:
    """Whole records from the start of ``buf`` until ``most`` items are in: (items, bytes
    they took, whether a damaged record stopped the reading — as opposed to a record not read
    in full yet)."""
    items: list[Item] = []
    pos, end, head = 0, len(buf), _HEAD.size
    while len(items) < most and pos + head <= end:
        length, crc, count = _HEAD.unpack_from(buf, pos)
        start = pos + head
        if start + length > end:
            return items, pos, False
        block = bytes(buf[start : start + length])
        if zlib.crc32(block) != crc:
            return items, pos, True
        try:
            got = marshal.loads(block)  # noqa: S302 (our own file, 0600, checked by its crc)
        except (ValueError, EOFError, TypeError):
            return items, pos, True
        if not isinstance(got, list) or len(got) != count:
            return items, pos, True
        items += got
        pos = start + length
    return items, pos, False


def _fits(items: list[Item], room: int) -> bytes:
    """The record of the longest prefix of ``items`` that fits in ``room`` bytes (b"": none)."""
    if room <= _HEAD.size:
        return b""
    record = encode(items)
    n = len(items)
    while n and len(record) > room:
        n = max(min(n - 1, n * room // len(record)), 0)
        record = encode(items[:n]) if n else b""
    return record


def _scan(buf: bytes) -> tuple[int, int]:
    """Bytes and items of the whole, sound records at the start of ``buf``."""
    pos, count, head = 0, 0, _HEAD.size
    while pos + head <= len(buf):
        length, crc, n = _HEAD.unpack_from(buf, pos)
        start = pos + head
        if start + length > len(buf) or zlib.crc32(memoryview(buf)[start : start + length]) != crc:
            break
        pos, count = start + length, count + n
    return pos, count


@dataclass(frozen=True)
class Found:
    """What a start found in the spool: records left by a previous run, a torn tail."""

    items: int
    size: int
    torn_bytes: int


class Spool:
    """The file, its buffer and the reading position (thread-safe)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder, self.max_bytes = folder, max_bytes
        self.path, self.pos_path = folder / "cola.bin", folder / "cola.pos"
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._pending: dict[int, list[int]] = {}  # batches out, in order: [end, stored?]
        self._tokens = 0
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            self._pos_fd = os.open(self.pos_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise PukaraError(
                f"no se pudo abrir la cola en disco {folder}: {os_reason(e)}"
            ) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            os.close(self._pos_fd)
            raise PukaraError(f"otro «registros recibir» usa la cola en disco {folder} (use "
                              "otra carpeta de datos o --cola-disco 0)") from None  # fmt: skip
        self.found = self._recover()
        self._end = os.fstat(self._fd).st_size  # bytes in the file
        self._read = self._stored = self._stored_pos()  # next to read / stored up to
        self.active = self._read < self._end  # new items go here until drained

    # -- start ---------------------------------------------------------------------------
    def _stored_pos(self) -> int:
        raw = os.pread(self._pos_fd, 8, 0)
        return int.from_bytes(raw, "little") if len(raw) == 8 else 0

    def _recover(self) -> Found:
        """Count what a previous run left and cut a torn tail off."""
        size = os.fstat(self._fd).st_size
        pos = self._stored_pos()
        if pos > size:
            pos = 0
            self._save(0)
        count, at = 0, pos
        while at < size:
            chunk = os.pread(self._fd, max(READ, _HEAD.size), at)
            if len(chunk) >= _HEAD.size:  # a record longer than READ: read it whole
                length = _HEAD.unpack_from(chunk)[0]
                if _HEAD.size + length > len(chunk) and at + _HEAD.size + length <= size:
                    chunk = os.pread(self._fd, _HEAD.size + length, at)
            used, items = _scan(chunk)
            if not used:
                break
            count, at = count + items, at + used
        torn = size - at
        if torn:
            os.ftruncate(self._fd, at)
        if count == 0 and at > 0:  # all stored: start empty
            os.ftruncate(self._fd, 0)
            self._save(0)
            at = 0
        return Found(count, at - pos, torn)

    def _save(self, pos: int) -> None:
        os.pwrite(self._pos_fd, pos.to_bytes(8, "little"), 0)

    # -- the socket side -----------------------------------------------------------------
    def size(self) -> int:
        """Bytes not yet stored (in the file and its buffer)."""
        return self._end + len(self._buffer) - self._stored

    def put(self, items: list[Item]) -> int:
        """Append ``items`` (in order) up to the bound; how many fit."""
        with self._lock:
            record = _fits(items, self.max_bytes - (self._end + len(self._buffer)))
            if not record:
                return 0
            taken: int = _HEAD.unpack_from(record)[2]
            self._buffer += record
            self.active = True
            if len(self._buffer) >= CHUNK:
                try:
                    self._flush()
                except OSError:  # disk full: keep what is buffered, take nothing more
                    self.max_bytes = 0
        return taken

    def _flush(self) -> None:
        """Write the buffer out (what a short write left stays in it)."""
        done = 0
        with memoryview(self._buffer) as view:
            try:
                while done < len(view):
                    done += os.write(self._fd, view[done:])
            finally:
                self._end += done
        del self._buffer[:done]

    def _write_out(self) -> None:
        try:
            self._flush()
        except OSError as e:
            raise PukaraError(f"no se pudo escribir la cola en disco {self.path}: "
                              f"{os_reason(e)}") from None  # fmt: skip

    def flush(self) -> None:
        with self._lock:
            self._flush()

    # -- the writers' side ---------------------------------------------------------------
    def take(self, most: int) -> tuple[list[Item], int]:
        """Up to ``most`` items in order and the token :meth:`stored` wants once they are."""
        with self._lock:
            if self._read >= self._end:
                self._write_out()
            start, end = self._read, self._end
            if start >= end:
                if not self._buffer:
                    self.active = False  # drained: the sockets go to memory again
                return [], -1
            chunk = os.pread(self._fd, min(READ, end - start), start)
            items, used, damaged = decode(chunk, most)
            if not used and not damaged:
                length = _HEAD.unpack_from(chunk)[0] if len(chunk) >= _HEAD.size else 0
                if start + _HEAD.size + length > end:  # its end is in the buffer (a short write)
                    self._write_out()
                    return [], -1
                chunk = os.pread(self._fd, _HEAD.size + length, start)  # longer than READ
                items, used, damaged = decode(chunk, most)
            if not used:
                raise PukaraError(f"la cola en disco {self.path} se dañó mientras se usaba "
                                  f"(en el byte {number(start)})")  # fmt: skip
            self._read = start + used
            self._tokens += 1
            self._pending[self._tokens] = [self._read, 0]
            return items, self._tokens

    def stored(self, token: int) -> None:
        """The batch ``token`` is in the store: move the stored position past every batch
        stored in order, and empty the file once all of it is."""
        if token < 0:
            return
        with self._lock:
            self._pending[token][1] = 1
            moved = False
            for first, (end, done) in list(self._pending.items()):
                if not done:
                    break
                del self._pending[first]
                self._stored, moved = end, True
            if not moved:
                return
            if not self._pending and self._stored >= self._end and not self._buffer:
                os.ftruncate(self._fd, 0)  # O_APPEND: the next write starts at 0
                self._end = self._read = self._stored = 0
                self.active = False
            self._save(self._stored)

    def close(self) -> None:
        """Write the buffer out and keep what is not stored for the next start."""
        with self._lock:
            with contextlib.suppress(OSError):
                self._flush()
                os.fsync(self._fd)
            self._save(self._stored)
            for fd in (self._fd, self._pos_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
