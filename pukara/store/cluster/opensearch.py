"""The OpenSearch adapter, on OpenSearch's own client (``opensearch-py``, the ``opensearch``
extra). It only translates calls and errors; retries and decisions live above it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from opensearchpy import OpenSearch
from opensearchpy import exceptions as oe

from pukara.errors import ConfigError
from pukara.store.cluster.detect import Connection
from pukara.store.cluster.engine import (
    Capabilities,
    EngineInfo,
    EngineRefused,
    EngineUnavailable,
    ItemResult,
)
from pukara.store.cluster.retention import DELETE_TIMEOUT_S

_T = TypeVar("_T")
RETRYABLE = frozenset({429, 500, 502, 503, 504})


def item_results(response: Mapping[str, Any]) -> list[ItemResult]:
    """One result per action of a ``_bulk`` response, in order (same shape on both engines)."""
    out: list[ItemResult] = []
    for item in response.get("items", []):
        (_, result), = item.items()  # fmt: skip
        error = result.get("error")
        if isinstance(error, Mapping):
            reason = str(error.get("reason") or "")
            cause = error.get("caused_by")
            if isinstance(cause, Mapping) and cause.get("reason"):
                reason = f"{reason}: {cause['reason']}" if reason else str(cause["reason"])
            out.append(ItemResult(int(result.get("status", 0)), error.get("type"), reason))
        elif error:
            out.append(ItemResult(int(result.get("status", 0)), None, str(error)))
        else:
            out.append(ItemResult(int(result.get("status", 0))))
    return out


def _error_text(e: oe.TransportError) -> str:
    info = e.info
    if isinstance(info, Mapping):
        error = info.get("error")
        if isinstance(error, Mapping):
            return f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
        if error:
            return str(error)
    return str(e.error)


class OpenSearchEngine:
    def __init__(self, conn: Connection, info: EngineInfo) -> None:
        self.info = info
        major, minor, _ = info.version
        self.capabilities = Capabilities(
            shard_doc=(major, minor) >= (3, 3), lifecycle=None, flat_object_type="flat_object"
        )
        kwargs: dict[str, Any] = {
            "timeout": conn.timeout_s,
            "max_retries": 0,  # pukara's own loop retries, with its own backoff
            "retry_on_timeout": False,
            "http_compress": False,
        }
        if conn.username is not None and conn.password is not None:
            kwargs["http_auth"] = (conn.username, conn.password.reveal())
        elif conn.api_key is not None:
            kwargs["headers"] = conn.auth_header()
        if any(u.startswith("https:") for u in conn.urls):
            # verified as detection does: es_ca, or the system's CAs (not certifi's)
            kwargs.update(use_ssl=True, ssl_context=conn.ssl_context())
        try:
            self._client = OpenSearch(hosts=list(conn.urls), **kwargs)
        except oe.ImproperlyConfigured as e:
            raise ConfigError(f"{conn.where}: cliente de OpenSearch mal configurado: {e}") from None
        self._where = conn.where
        self._timeout_s = conn.timeout_s
        if self._has_ism():
            self.capabilities = Capabilities(
                self.capabilities.shard_doc, "ism", self.capabilities.flat_object_type
            )

    def _call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return fn(*args, **kwargs)
        except (oe.ConnectionError, oe.ConnectionTimeout) as e:
            raise EngineUnavailable(f"{self._where}: el clúster no responde ({e.error})") from None
        except oe.TransportError as e:
            status = e.status_code if isinstance(e.status_code, int) else 0
            text = f"{self._where}: HTTP {status}: {_error_text(e)}"
            if status in RETRYABLE:
                raise EngineUnavailable(text, status) from None
            raise EngineRefused(text, status) from None

    def _has_ism(self) -> bool:
        try:
            plugins = self._call(self._client.cat.plugins, params={"format": "json"})
        except (EngineUnavailable, EngineRefused):
            return False
        return any(p.get("component") == "opensearch-index-management" for p in plugins)

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(self._client.cluster.put_component_template, name=name, body=dict(body))

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(self._client.indices.put_index_template, name=name, body=dict(body))

    def index_template_meta(self, name: str) -> dict[str, Any] | None:
        try:
            found = self._call(self._client.indices.get_index_template, name=name)
        except EngineRefused as e:
            if e.status == 404:
                return None
            raise
        for item in found.get("index_templates") or []:
            if item.get("name") == name:
                return dict(item.get("index_template", {}).get("_meta") or {})
        return None

    def lifecycle_policy(self, name: str) -> dict[str, Any] | None:
        request = self._client.transport.perform_request
        try:
            found = self._call(request, "GET", f"/_plugins/_ism/policies/{name}")
        except EngineRefused as e:
            if e.status in (400, 404):  # no such policy (or no ISM)
                return None
            raise
        policy = found.get("policy") if isinstance(found, Mapping) else None
        return dict(policy) if isinstance(policy, Mapping) else None

    def put_lifecycle_policy(self, name: str, body: Mapping[str, Any]) -> None:
        """An ISM policy; one that exists is replaced at the version read (ISM's rule)."""
        path = f"/_plugins/_ism/policies/{name}"
        request = self._client.transport.perform_request
        try:
            self._call(request, "PUT", path, body=dict(body))
        except EngineRefused as e:
            if e.status != 409:
                raise
            current = self._call(request, "GET", path)
            params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
            self._call(request, "PUT", path, params=params, body=dict(body))

    def bulk(self, ndjson: bytes) -> list[ItemResult]:
        response = self._call(self._client.bulk, body=ndjson)
        return item_results(response)

    def search(self, index: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        if index is None:
            result: dict[str, Any] = self._call(self._client.search, body=dict(body))
        else:
            result = self._call(
                self._client.search, index=index, body=dict(body),
                params={"ignore_unavailable": "true", "allow_no_indices": "true"},
            )  # fmt: skip
        return result

    def count(self, index: str, body: Mapping[str, Any]) -> int:
        result = self._call(
            self._client.count, index=index, body=dict(body),
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )  # fmt: skip
        return int(result["count"])

    def field_types(self, index: str, fields: Sequence[str]) -> dict[str, set[str]]:
        if not fields:
            return {}
        params = {"fields": ",".join(fields), "ignore_unavailable": "true",
                  "allow_no_indices": "true"}  # fmt: skip
        result = self._call(self._client.field_caps, index=index, params=params)
        return {name: set(caps) for name, caps in result.get("fields", {}).items()}

    def open_pit(self, index: str, keep_alive: str) -> str:
        result = self._call(self._client.create_pit, index=index, params={"keep_alive": keep_alive})
        return str(result["pit_id"])

    def close_pit(self, pit_id: str) -> None:
        self._call(self._client.delete_pit, body={"pit_id": [pit_id]})

    def delete_by_query(self, index: str, body: Mapping[str, Any]) -> int:
        result = self._call(
            self._client.delete_by_query, index=index, body=dict(body),
            params={"ignore_unavailable": "true", "allow_no_indices": "true",
                    "conflicts": "proceed", "refresh": "true", "wait_for_completion": "true",
                    "slices": "auto", "request_timeout": max(self._timeout_s, DELETE_TIMEOUT_S)},
        )  # fmt: skip
        failures = result.get("failures") or []
        if failures:
            raise EngineRefused(
                f"{self._where}: el borrado por consulta falló en {len(failures)} documentos: "
                f"{failures[0]}", 0,
            )  # fmt: skip
        return int(result.get("deleted", 0))

    def refresh(self, index: str) -> None:
        self._call(
            self._client.indices.refresh, index=index,
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )  # fmt: skip

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self._client.cluster.health)
        return result

    def data_streams(self, pattern: str) -> list[dict[str, Any]]:
        try:
            result = self._call(self._client.indices.get_data_stream, name=pattern)
        except EngineRefused as e:
            if e.status == 404:
                return []
            raise
        streams: list[dict[str, Any]] = result.get("data_streams", [])
        return streams

    def delete_index(self, names: Sequence[str]) -> None:
        if names:
            self._call(self._client.indices.delete, index=",".join(names))

    def rollover(self, stream: str) -> None:
        self._call(self._client.indices.rollover, alias=stream)

    def close(self) -> None:
        self._client.close()
