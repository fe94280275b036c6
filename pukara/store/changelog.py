"""A hash-chained log of entity changes.

Each row's hash covers its sequence number, time, collection, key, action, before and after
documents, the actor who made it (rows written since schema 2; older rows, whose actor is
NULL, hash as they always did, so they still verify), the request id of the command that made
it when it has one (schema 5: every change one command makes shares it) and the previous
row's hash; the head
(last seq and hash) is kept in ``meta`` in the same transaction. Verification walks the chain
and names the first broken link, so an edited, deleted, inserted or reordered row is caught.
It is tamper-evident, not tamper-proof: someone who can rewrite the whole file can rebuild
the chain (export the head elsewhere to catch that).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    ts: str
    collection: str
    key: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str
    actor: str | None = None  # None on entries written before schema 2
    request_id: str | None = None  # the command that made it (schema 5), when it said


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None  # Spanish


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(
    prev: str, seq: int, ts: str, coll: str, key: str, action: str, b: Any, a: Any, actor: Any,
    request_id: Any = None,
) -> str:  # fmt: skip
    fields = [seq, ts, coll, key, action, b, a]
    if actor is not None:  # a list one longer cannot hash like an old entry
        fields.append(actor)
        if request_id is not None:
            fields.append(request_id)
    body = canonical(fields)
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def _head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT value FROM meta WHERE key = 'changes_head'").fetchone()
    if row is None:
        return 0, GENESIS
    seq, digest = json.loads(row[0])
    return int(seq), str(digest)


def append(
    conn: sqlite3.Connection,
    *,
    ts: str,
    collection: str,
    key: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str,
    request_id: str | None = None,
) -> int:
    """Append one change made by ``actor`` (in the command ``request_id``, when given); the
    caller holds the write transaction."""
    if not actor:
        raise ValueError("every change needs its actor")
    last_seq, prev = _head(conn)
    seq = last_seq + 1
    digest = _digest(prev, seq, ts, collection, key, action, before, after, actor, request_id)
    conn.execute(
        "INSERT INTO changes"
        " (seq, ts, collection, key, action, before, after, prev_hash, hash, actor, request_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            ts,
            collection,
            key,
            action,
            None if before is None else canonical(before),
            None if after is None else canonical(after),
            prev,
            digest,
            actor,
            request_id,
        ),
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('changes_head', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (json.dumps([seq, digest]),),
    )
    return seq


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def verify(conn: sqlite3.Connection) -> ChainReport:
    """Walk the chain from the first row; report the first link that does not hold."""
    prev = GENESIS
    expected = 1
    checked = 0
    rows = conn.execute(
        "SELECT seq, ts, collection, key, action, before, after, prev_hash, hash, actor,"
        " request_id FROM changes ORDER BY seq"
    )
    for seq, ts, coll, key, action, before, after, prev_hash, digest, actor, rid in rows:
        if seq != expected:
            return ChainReport(False, checked, expected, f"falta el cambio n.º {expected}")
        if prev_hash != prev:
            return ChainReport(False, checked, seq, "el enlace con el cambio anterior no coincide")
        try:
            b, a = _load(before), _load(after)
        except json.JSONDecodeError:
            return ChainReport(False, checked, seq, "el contenido no es JSON válido")
        if actor is None and rid is not None:
            return ChainReport(False, checked, seq, "el contenido fue modificado")
        if _digest(prev, seq, ts, coll, key, action, b, a, actor, rid) != digest:
            return ChainReport(False, checked, seq, "el contenido fue modificado")
        prev, expected, checked = digest, expected + 1, checked + 1
    head_seq, head_hash = _head(conn)
    if head_seq != checked or head_hash != prev:
        missing = checked + 1 if head_seq > checked else head_seq
        return ChainReport(False, checked, missing, "la cabeza de la cadena no coincide")
    return ChainReport(True, checked)


COLUMNS = "seq, ts, collection, key, action, before, after, hash, actor, request_id"


def row_to_change(row: Any) -> Change:
    """A :data:`COLUMNS` row as a :class:`Change`."""
    seq, ts, coll, key, action, b, a, digest, actor, request_id = row
    return Change(seq, ts, coll, key, action, _load(b), _load(a), digest, actor, request_id)
