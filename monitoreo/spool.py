"""Events reach the store from a thread of their own, through a local spool when it fails.

The probing loop never waits for the store. When a write fails (database locked or
unreachable, cluster down) the batch is appended to a JSON-lines spool file, flushed to disk;
once the store answers again the spool is replayed in order and emptied. What is left when
the process ends stays in the spool and is replayed by the next run: nothing is lost.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from pukara.errors import StoreError
from pukara.store import Store


class SpoolingWriter:
    def __init__(self, store: Store, path: Path, *, retry_s: float = 1.0) -> None:
        self.store = store
        self.path = path
        self.retry_s = retry_s
        self.last_error: str | None = None
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="pukara-spool", daemon=True)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread.start()

    def put(self, events: Sequence[Mapping[str, Any]]) -> None:
        if events:
            self._queue.put([dict(e) for e in events])

    def pending(self) -> int:
        """Events waiting in the spool file."""
        try:
            with self.path.open("rb") as fh:
                return sum(1 for _ in fh)
        except FileNotFoundError:
            return 0

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued (to the store or the spool) and stop."""
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _append(self, batch: list[dict[str, Any]]) -> None:
        with self.path.open("ab") as fh:
            for doc in batch:
                fh.write(orjson.dumps(doc) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _flush_spool(self) -> bool:
        """Replay the spool into the store; True when it is empty afterwards."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return True
        docs = [orjson.loads(line) for line in data.splitlines() if line.strip()]
        try:
            self.store.write_events(docs)
        except StoreError as e:
            self.last_error = str(e)
            return False
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return True

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if self.path.exists():
            self._append(batch)
            self._flush_spool()
            return
        try:
            self.store.write_events(batch)
            self.last_error = None
        except StoreError as e:
            self.last_error = str(e)
            self._append(batch)

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=self.retry_s)
            except queue.Empty:
                if self.path.exists():
                    self._flush_spool()
                continue
            if batch is None:
                if self.path.exists():
                    self._flush_spool()
                return
            self._write(batch)
