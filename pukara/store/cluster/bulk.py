"""The bulk path shared by both engines: NDJSON bodies, per-item outcomes, backoff.

Each event is sent with ``op_type`` create and ``_id`` = ``event.id`` into its data stream,
so a resend of an event the engine already has answers 409 and counts as stored. What each
item's answer means is decided here, once, for OpenSearch and Elasticsearch alike (the
classification of Filebeat's ``applyItemStatus`` and Logstash's dead-letter queue):

=================================================  =========  ===============================
answer                                             outcome    what the shipper does
=================================================  =========  ===============================
200, 201                                           stored     acknowledge
409 (create of an ``_id`` already there)           duplicate  acknowledge, count as duplicate
429 (the engine cannot keep up)                    throttled  keep, back off with jitter
403, or any block (``cluster_block_exception``,    blocked    keep, back off, warn loudly
read-only index, ES's disk flood stage, a 429)
404 (index missing: template deleted, auto-create  missing    keep, warn loudly, put the
off), 408, 401 for one item                                   templates again, back off
400 (mapping, parsing, illegal argument), 413,     dead       to the dead letters with the
other 4xx                                                     engine's reason
5xx, anything else                                 retry      keep, back off
=================================================  =========  ===============================

A whole request that fails (connection refused, timeout, 429/502/503/504 for the request)
keeps every event of it; nothing is dropped on any path.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from enum import StrEnum

import orjson

from pukara.store.cluster.engine import ItemResult
from pukara.store.outbox import OutboxItem

# bench/cluster_bulk.py, doubling from 500: 1,000 was the knee here (2,000 no faster)
MAX_DOCS = 1_000
MAX_BYTES = 5 * 1024 * 1024
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 60.0


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    THROTTLED = "throttled"
    BLOCKED = "blocked"
    MISSING = "missing"  # the cluster lacks the index or template: fixed there, not in the event
    DEAD = "dead"
    RETRY = "retry"


KEEP = frozenset({Outcome.THROTTLED, Outcome.BLOCKED, Outcome.MISSING, Outcome.RETRY})
ACK = frozenset({Outcome.STORED, Outcome.DUPLICATE})


def action(item: OutboxItem) -> bytes:
    return orjson.dumps({"create": {"_index": item.stream, "_id": item.event_id}})


def body(items: Iterable[OutboxItem]) -> bytes:
    """The ``_bulk`` NDJSON for ``items``: one create action and the stored document each."""
    parts: list[bytes] = []
    for item in items:
        parts += (action(item), b"\n", item.doc, b"\n")
    return b"".join(parts)


def _is_block(result: ItemResult) -> bool:
    text = f"{result.error_type or ''} {result.reason or ''}".lower()
    return "cluster_block" in text or "read-only" in text or "read_only" in text


def classify(result: ItemResult) -> Outcome:
    """What one item's answer means (see the table of this module)."""
    status = result.status
    if status in (200, 201):
        return Outcome.STORED
    if status == 409:
        return Outcome.DUPLICATE
    if status == 403 or _is_block(result):  # before 429: ES's flood-stage block is a 429
        return Outcome.BLOCKED
    if status == 429:
        return Outcome.THROTTLED
    if status == 404:
        return Outcome.MISSING
    if status in (401, 408):
        return Outcome.RETRY
    if 400 <= status < 500:
        return Outcome.DEAD
    return Outcome.RETRY


class Backoff:
    """Exponential waits with jitter: ``base``, doubling, capped at ``cap`` seconds; each wait
    is drawn between half of the step and the whole of it, so shippers that failed together
    do not come back together."""

    def __init__(
        self,
        base: float = BACKOFF_BASE_S,
        cap: float = BACKOFF_CAP_S,
        rng: random.Random | None = None,
    ) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)

    def next(self) -> float:
        step = min(self.cap, self.base * float(1 << min(self.failures, 32)))
        self.failures += 1
        return step / 2 + self._rng.uniform(0, step / 2)

    def reset(self) -> None:
        self.failures = 0
