"""ECS-shaped event documents (https://www.elastic.co/docs/reference/ecs).

Events are nested dicts, as ECS and Elasticsearch expect; code refers to fields by their
dotted names (``host.name``) through :func:`get_field`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

ECS_VERSION = "8.17.0"


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits.

    Ids made later sort later, so they index well; a write keyed on ``event.id`` is idempotent,
    which makes replaying a spool after a crash safe.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(ts: datetime) -> str:
    """ISO 8601 in UTC with microseconds and ``Z``: fixed width, so text order is time order."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: pukara only records UTC-aware timestamps")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; a value without zone is rejected."""
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        raise ValueError(f"timestamp without time zone: {text!r}")
    return ts.astimezone(UTC)


def set_field(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``doc['a']['b'] = value`` for ``dotted == 'a.b'``, creating objects as needed."""
    *parents, leaf = dotted.split(".")
    node = doc
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"field {part!r} of {dotted!r} is not an object")
        node = child
    node[leaf] = value


def get_field(doc: Mapping[str, Any], dotted: str) -> Any:
    """Read a dotted field from a nested document; ``@timestamp`` and flat keys work too."""
    if dotted in doc:
        return doc[dotted]
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def make_event(
    dataset: str,
    *,
    timestamp: datetime | None = None,
    message: str | None = None,
    kind: str = "event",
    outcome: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an ECS event.

    Args:
        dataset: ``area.what``, e.g. ``monitoreo.sondeo``; the module is the part before the dot.
        timestamp: defaults to now (UTC).
        message: human-readable summary (Spanish).
        kind: ECS ``event.kind`` (event, alert, state, metric).
        outcome: ECS ``event.outcome`` (success, failure, unknown).
        fields: more ECS fields by dotted name, e.g. ``{"host.name": "lima-fw1"}``.

    Example:
        >>> make_event("monitoreo.sondeo", fields={"host.name": "s001"})["host"]
        {'name': 's001'}
    """
    doc: dict[str, Any] = {
        "@timestamp": format_timestamp(timestamp or utc_now()),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "id": new_event_id(),
            "dataset": dataset,
            "module": dataset.split(".", 1)[0],
            "kind": kind,
        },
    }
    if outcome:
        doc["event"]["outcome"] = outcome
    if message:
        doc["message"] = message
    for dotted, value in (fields or {}).items():
        if value is not None:
            set_field(doc, dotted, value)
    return doc
