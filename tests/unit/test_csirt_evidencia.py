"""Evidence items: content-addressed, read-only, atomic, once per content; custody opened."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from csirt import custodia, evidencia
from csirt.records import CUSTODY, EVIDENCE, INCIDENT, command
from pukara.config import Settings
from pukara.errors import UsageError
from pukara.store import SQLiteStore


def _incident(store: SQLiteStore, number: str = "INC-2026-0001") -> dict[str, Any]:
    with command(store, "ana") as cmd:
        doc = {"id": f"01J{number[-4:]}", "number": number, "title": "prueba"}
        cmd.put(INCIDENT, doc)
    return doc


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bytes_stored_by_hash_read_only_with_custody(
    settings: Settings, store: SQLiteStore
) -> None:
    inc = _incident(store)
    with command(store, "ana") as cmd:
        doc = evidencia.add_bytes(
            cmd,
            settings,
            inc,
            "ss.txt",
            b"LISTEN 0 128\n",
            kind="conexiones",
            host="gw1",
            purpose="triage",
        )
    root = settings.data_dir / "evidencia"
    sha = hashlib.sha256(b"LISTEN 0 128\n").hexdigest()
    blob = root / "sha256" / sha[:2] / sha[2:4] / sha
    assert (
        doc["sha256"] == sha
        and doc["size"] == 13
        and doc["stored_path"] == f"sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    )
    assert blob.read_bytes() == b"LISTEN 0 128\n"
    assert _mode(blob) == 0o400
    assert _mode(blob.parent) == _mode(blob.parent.parent) == _mode(root / "sha256") == 0o500
    assert _mode(root) == 0o700
    assert store.get(EVIDENCE, (doc["id"],)) == doc
    [entry] = custodia.history(store, doc["id"])
    assert entry["action"] == "agregada" and entry["analyst"] == "ana"
    assert entry["sha256_before"] == entry["sha256_after"] == sha
    assert entry["purpose"] == "triage" and entry["seq"] == 1
    # one change-log line per record, with the command's request id
    changes = list(store.changes(collection=CUSTODY))
    assert len(changes) == 1
    events = list(store.search_events(dataset="csirt.evidencia"))
    assert [e["file"]["hash"]["sha256"] for e in events] == [sha]


def test_same_content_twice_two_records_one_blob(
    settings: Settings, store: SQLiteStore, tmp_path: Path
) -> None:
    a, b = _incident(store, "INC-2026-0001"), _incident(store, "INC-2026-0002")
    src = tmp_path / "captura.pcap"
    src.write_bytes(os.urandom(3 * evidencia.CHUNK + 17))  # several chunks
    with command(store, "ana") as cmd:
        one = evidencia.add_file(cmd, settings, a, src, host="ws1", purpose="análisis")
    with command(store, "luis") as cmd:
        two = evidencia.add_file(cmd, settings, b, src, host="ws1", purpose="análisis")
    assert one["id"] != two["id"] and one["sha256"] == two["sha256"]
    assert one["name"] == "captura.pcap" and one["size"] == src.stat().st_size
    blobs = [p for p in (settings.data_dir / "evidencia" / "sha256").rglob("*") if p.is_file()]
    assert len(blobs) == 1 and blobs[0].read_bytes() == src.read_bytes()
    assert not list((settings.data_dir / "evidencia" / "tmp").iterdir())
    lines = list(custodia.read_lines(settings.data_dir / "evidencia" / custodia.FILE_NAME))
    assert len(lines) == 2


class _Breaks(io.BufferedIOBase):
    """A source that gives some data, then the user presses Ctrl-C."""

    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 3:
            raise KeyboardInterrupt
        return b"x" * evidencia.CHUNK


def test_interrupted_copy_leaves_no_file_and_no_record(
    settings: Settings, store: SQLiteStore
) -> None:
    inc = _incident(store)
    with pytest.raises(KeyboardInterrupt), command(store, "ana") as cmd:
        evidencia.add_stream(
            cmd,
            settings,
            inc,
            _Breaks(),
            name="disco.img",
            kind="imagen",
            host="ws1",
            purpose="copia",
        )
    root = settings.data_dir / "evidencia"
    assert [p for p in root.rglob("*") if p.is_file()] == []
    assert list(store.entities(EVIDENCE)) == [] and list(store.entities(CUSTODY)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "Tipo Malo"), ("host", "  "), ("purpose", ""), ("acquired_at", "ayer")],
)
def test_bad_input_is_refused_and_nothing_written(
    settings: Settings, store: SQLiteStore, field: str, value: str
) -> None:
    inc = _incident(store)
    args: dict[str, Any] = {"kind": "archivo", "host": "ws1", "purpose": "p"}
    args[field] = value
    with pytest.raises(UsageError), command(store, "ana") as cmd:
        evidencia.add_bytes(cmd, settings, inc, "a.txt", b"a", **args)
    assert list(store.entities(EVIDENCE)) == [] and list(store.entities(CUSTODY)) == []
    blobs = settings.data_dir / "evidencia" / "sha256"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]
