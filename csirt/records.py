"""What the CSIRT keeps, and how one command writes it.

Every CSIRT record is an entity of the store, in one of the collections below, keyed as
shown. A command opens one :func:`command` block: a single write transaction (two analysts
editing one case queue on the file lock, and the second reads what the first wrote), one
request id shared by every change-log entry it writes, and the analyst who signs them. Each
mutation is also an ECS event (``csirt.<what>``) stored with it: :meth:`Command.emit`.

Times are UTC ISO 8601 text (``pukara.events.format_timestamp``); ids are ULIDs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pukara.events import format_timestamp, make_event, parse_timestamp, utc_now
from pukara.store import Store, Transaction

# collection -> the fields of its natural key, in order
INCIDENT = "csirt.incidente"  # (id,)
ALERT = "csirt.alerta"  # (source, source_ref): the dedup key, as TheHive's
OBSERVABLE = "csirt.observable"  # (type, value, incident_id): same value across cases adjoins
TASK = "csirt.tarea"  # (incident_id, id)
TIMELINE = "csirt.linea"  # (incident_id, id): the case's own events, phase changes included
COUNTERMEASURE = "csirt.contramedida"  # (id,)
EVIDENCE = "csirt.evidencia"  # (id,)
CUSTODY = "csirt.custodia"  # (evidence_id, seq): append-only

KEYS: dict[str, tuple[str, ...]] = {
    INCIDENT: ("id",),
    ALERT: ("source", "source_ref"),
    OBSERVABLE: ("type", "value", "incident_id"),
    TASK: ("incident_id", "id"),
    TIMELINE: ("incident_id", "id"),
    COUNTERMEASURE: ("id",),
    EVIDENCE: ("id",),
    CUSTODY: ("evidence_id", "seq"),
}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last_ulid = (0, 0)


def new_ulid(now: datetime | None = None) -> str:
    """A ULID: 48 bits of Unix milliseconds then 80 random bits, in Crockford base 32.

    Ids made later in one process sort later (the random part grows within a millisecond).
    """
    global _last_ulid
    ms = int(now.timestamp() * 1000) if now is not None else time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    last_ms, last_rand = _last_ulid
    if now is None and ms <= last_ms:
        ms, rand = last_ms, (last_rand + 1) % (1 << 80)
    _last_ulid = (ms, rand) if now is None else _last_ulid
    value = (ms & ((1 << 48) - 1)) << 80 | rand
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def key_of(collection: str, doc: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(doc[f] for f in KEYS[collection])


def now_text() -> str:
    return format_timestamp(utc_now())


def parse_time(text: str) -> datetime:
    return parse_timestamp(text)


@dataclass
class Command:
    """One CSIRT command's transaction: who does it, its request id and when."""

    tx: Transaction
    analyst: str
    request_id: str
    now: str  # the command's time, UTC text; every record it writes may use it

    def get(self, collection: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        return self.tx.get(collection, key)

    def put(self, collection: str, doc: Mapping[str, Any]) -> str | None:
        """Store ``doc`` under its natural key (see :data:`KEYS`)."""
        return self.tx.put(collection, key_of(collection, doc), doc)

    def insert(self, collection: str, doc: Mapping[str, Any]) -> None:
        self.tx.insert(collection, key_of(collection, doc), doc)

    def emit(
        self,
        what: str,
        action: str,
        message: str,
        *,
        incident: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        outcome: str | None = None,
    ) -> dict[str, Any]:
        """An ECS event ``csirt.<what>`` for this mutation, stored with the transaction."""
        extra: dict[str, Any] = {
            "event.action": action,
            "user.name": self.analyst,
            "csirt.request_id": self.request_id,
        }
        if incident is not None:
            extra["csirt.incident.id"] = incident["id"]
            extra["csirt.incident.number"] = incident.get("number")
        extra.update(fields or {})
        doc = make_event(
            f"csirt.{what}", timestamp=parse_timestamp(self.now), message=message,
            outcome=outcome, fields=extra,
        )  # fmt: skip
        self.tx.event(doc)
        return doc


@contextmanager
def command(store: Store, analyst: str | None = None) -> Iterator[Command]:
    """One command's write transaction; nothing is written when the block raises."""
    request_id = new_ulid()
    who = analyst or store.actor
    with store.transaction(request_id, actor=who) as tx:  # the change log signed by them too
        yield Command(tx, who, request_id, tx.stamp)
