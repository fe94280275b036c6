"""One command's read-modify-write of entities, in one SQLite write transaction.

A :class:`Transaction` is what ``store.transaction(request_id)`` yields: it reads and writes
entities on the store's write connection inside ``BEGIN IMMEDIATE``, so two processes editing
the same record queue on the file lock and the second one reads what the first one wrote:
nothing is lost. Every write is a change-log entry signed by the store's actor and carrying
the command's ``request_id``; events given to :meth:`Transaction.event` are stored with the
entities (SQLite) or handed to the outbox once the transaction commits (cluster mode).
Nothing is written when the block raises.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from pukara.errors import StoreError
from pukara.store import changelog


def entity_key(values: Sequence[Any]) -> str:
    """The stored form of a natural key (a JSON list), as every store method writes it."""
    return orjson.dumps(list(values)).decode()


def key_prefix(values: Sequence[Any]) -> str:
    """The stored keys that start with ``values`` all start with this text."""
    return entity_key(values)[:-1] + ("," if values else "")


class Transaction:
    def __init__(
        self, conn: sqlite3.Connection, *, actor: str, request_id: str | None, stamp: str
    ) -> None:
        self._conn = conn
        self.actor = actor
        self.request_id = request_id
        self.stamp = stamp  # the time of every change this transaction writes
        self.events: list[dict[str, Any]] = []

    # -- reads, on the write connection: they see this transaction's own writes ----------
    def get(self, collection: str, key: Sequence[Any]) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT doc FROM entities WHERE collection = ? AND key = ?",
            (collection, entity_key(key)),
        ).fetchone()
        return None if row is None else _load(row[0])

    def scan(
        self,
        collection: str,
        prefix: Sequence[Any] = (),
        where: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Entities of ``collection`` whose key starts with ``prefix``, by key; ``where``:
        top-level fields that must be equal (``None`` matches a missing field)."""
        return list(scan(self._conn, collection, prefix, where))

    # -- writes -------------------------------------------------------------------------
    def put(self, collection: str, key: Sequence[Any], doc: Mapping[str, Any]) -> str | None:
        """Insert or replace one entity; returns ``"insert"``, ``"update"`` or None when the
        stored document is the same already."""
        if not key or any(v in (None, "") for v in key):
            raise StoreError(f"{collection}: falta la clave natural")
        try:
            text = orjson.dumps(dict(doc)).decode()
        except TypeError as e:
            raise StoreError(f"{collection}: valor no serializable a JSON: {e}") from e
        k = entity_key(key)
        new = orjson.loads(text)
        old = self._conn.execute(
            "SELECT doc FROM entities WHERE collection = ? AND key = ?", (collection, k)
        ).fetchone()
        before = _load(old[0]) if old else None
        if before == new:
            return None
        self._conn.execute(
            "INSERT INTO entities (collection, key, doc, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (collection, key) DO UPDATE"
            " SET doc = excluded.doc, updated_at = excluded.updated_at",
            (collection, k, text, self.stamp),
        )
        action = "update" if before is not None else "insert"
        self._log(collection, k, action, before, new)
        return action

    def insert(self, collection: str, key: Sequence[Any], doc: Mapping[str, Any]) -> None:
        """Put an entity that must not exist yet (an append-only record)."""
        if self.get(collection, key) is not None:
            raise StoreError(f"{collection}: ya existe {entity_key(key)}; no se reemplaza")
        self.put(collection, key, doc)

    def delete(self, collection: str, key: Sequence[Any]) -> bool:
        k = entity_key(key)
        old = self._conn.execute(
            "SELECT doc FROM entities WHERE collection = ? AND key = ?", (collection, k)
        ).fetchone()
        if old is None:
            return False
        self._conn.execute("DELETE FROM entities WHERE collection = ? AND key = ?", (collection, k))
        self._log(collection, k, "delete", _load(old[0]), None)
        return True

    def next_number(self, name: str) -> int:
        """The next value of the counter ``name`` (1, 2, ...), kept in this database."""
        meta = f"counter:{name}"
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (meta,)).fetchone()
        value = (int(row[0]) if row else 0) + 1
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (meta, str(value)),
        )
        return value

    def event(self, doc: Mapping[str, Any]) -> None:
        """An event to store with this transaction's changes (see the module's docstring)."""
        self.events.append(dict(doc))

    def _log(self, collection: str, key: str, action: str, before: Any, after: Any) -> None:
        changelog.append(
            self._conn, ts=self.stamp, collection=collection, key=key, action=action,
            before=before, after=after, actor=self.actor, request_id=self.request_id,
        )  # fmt: skip


def _load(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(text)
    return doc


def scan(
    conn: sqlite3.Connection,
    collection: str,
    prefix: Sequence[Any] = (),
    where: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    sql = "SELECT doc FROM entities WHERE collection = ?"
    params: list[Any] = [collection]
    if prefix:
        start = key_prefix(prefix)
        # every key with that prefix sorts between it and the same text with its last
        # character raised by one (the keys are compared as text, byte by byte)
        sql += " AND key >= ? AND key < ?"
        params += [start, start[:-1] + chr(ord(start[-1]) + 1)]
    for field, value in (where or {}).items():
        if value is None:
            sql += " AND json_extract(doc, ?) IS NULL"
            params.append(_path(field))
        else:
            sql += " AND json_extract(doc, ?) = ?"
            params += [_path(field), value]
    sql += " ORDER BY key"
    for (text,) in conn.execute(sql, params):
        yield _load(text)


def _path(field: str) -> str:
    return '$."' + field.replace('"', "") + '"'
