"""What pukara needs from a search engine, and the names every adapter shares.

An adapter wraps one engine's official client (``opensearch-py`` for OpenSearch,
``elasticsearch`` 8.19 for Elasticsearch 8 and 9) and only translates: it never retries,
classifies or decides; the shared code above it does (bulk outcomes, backoff, dead letters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pukara.errors import PukaraError

Distribution = Literal["opensearch", "elasticsearch"]

# data streams: pukara-eventos-<dataset> for what pukara's areas record, pukara-logs-<name>
# for the logs registros takes in (dataset registros.<name>)
EVENTS_PREFIX = "pukara-eventos-"
LOGS_PREFIX = "pukara-logs-"
LOGS_MODULE = "registros"
ALL_STREAMS = f"{EVENTS_PREFIX}*,{LOGS_PREFIX}*"


def stream_name(dataset: str) -> str:
    """The data stream an event of ``dataset`` goes to (lower case, as the engines demand)."""
    module, _, rest = dataset.lower().partition(".")
    if module == LOGS_MODULE and rest:
        return LOGS_PREFIX + rest
    return EVENTS_PREFIX + dataset.lower()


@dataclass(frozen=True, slots=True)
class EngineInfo:
    distribution: Distribution
    version: tuple[int, int, int]
    cluster_name: str

    @property
    def label(self) -> str:  # "OpenSearch 2.19.1"
        name = "OpenSearch" if self.distribution == "opensearch" else "Elasticsearch"
        return f"{name} {'.'.join(map(str, self.version))}"


@dataclass(frozen=True, slots=True)
class Capabilities:
    shard_doc: bool  # PIT sort tiebreaker _shard_doc (ES >= 7.12, OpenSearch >= 3.3)
    lifecycle: Literal["ilm", "ism", None]  # who can roll over and delete on its own
    flat_object_type: str  # "flattened" (ES) or "flat_object" (OpenSearch)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One document's outcome in a bulk response, as the engine gave it."""

    status: int
    error_type: str | None = None  # e.g. "mapper_parsing_exception", "cluster_block_exception"
    reason: str | None = None


class EngineUnavailable(PukaraError):
    """The whole request failed: connection refused, timeout, 429 or 5xx for the request.

    The shared code keeps the events and tries again; ``status`` is None without a response.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EngineRefused(PukaraError):
    """A request the engine will refuse however often it is sent (4xx other than 429)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class SearchEngine(Protocol):
    info: EngineInfo
    capabilities: Capabilities

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None: ...

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None: ...

    def index_template_meta(self, name: str) -> dict[str, Any] | None:
        """The ``_meta`` of the index template ``name`` ({} without one), None if absent."""
        ...

    def put_lifecycle_policy(self, name: str, body: Mapping[str, Any]) -> None:
        """Create or replace an ILM (Elasticsearch) or ISM (OpenSearch) policy."""
        ...

    def lifecycle_policy(self, name: str) -> dict[str, Any] | None:
        """The ILM or ISM policy ``name`` as the engine has it (its ``policy``), or None."""
        ...

    def bulk(self, ndjson: bytes) -> list[ItemResult]:
        """Send one ``_bulk`` body; one result per action, in order."""
        ...

    def search(self, index: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        """``_search``; ``index`` None when the body carries a point in time."""
        ...

    def count(self, index: str, body: Mapping[str, Any]) -> int: ...

    def field_types(self, index: str, fields: Sequence[str]) -> dict[str, set[str]]:
        """The mapped types of ``fields`` over ``index`` (``_field_caps``); absent ones left out."""
        ...

    def open_pit(self, index: str, keep_alive: str) -> str: ...

    def close_pit(self, pit_id: str) -> None: ...

    def delete_by_query(self, index: str, body: Mapping[str, Any]) -> int:
        """Delete what ``body``'s query matches, refreshed after; how many went."""
        ...

    def refresh(self, index: str) -> None: ...

    def health(self) -> dict[str, Any]: ...

    def data_streams(self, pattern: str) -> list[dict[str, Any]]: ...

    def delete_index(self, names: Sequence[str]) -> None: ...

    def rollover(self, stream: str) -> None: ...

    def close(self) -> None: ...
