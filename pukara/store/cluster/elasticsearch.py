"""The Elasticsearch adapter, on Elastic's own client (``elasticsearch>=8.19,<9``, the
``elasticsearch`` extra), which speaks to Elasticsearch 8 and, in compatibility mode, 9.
It only translates calls and errors; retries and decisions live above it, as for OpenSearch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import elasticsearch as es
from elasticsearch import Elasticsearch

from pukara.store.cluster.detect import Connection
from pukara.store.cluster.engine import (
    Capabilities,
    EngineInfo,
    EngineRefused,
    EngineUnavailable,
    ItemResult,
)
from pukara.store.cluster.opensearch import RETRYABLE, item_results
from pukara.store.cluster.retention import DELETE_TIMEOUT_S

_T = TypeVar("_T")
_LENIENT = {"ignore_unavailable": True, "allow_no_indices": True}


def _error_text(e: es.ApiError) -> str:
    body = e.body
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
        if error:
            return str(error)
    return str(e.message)


def _body(response: Any) -> dict[str, Any]:
    body = getattr(response, "body", response)
    return dict(body) if isinstance(body, Mapping) else {}


class ElasticsearchEngine:
    def __init__(self, conn: Connection, info: EngineInfo) -> None:
        self.info = info
        # _shard_doc since 7.12; ILM is in every distribution since 6.6 (basic licence)
        self.capabilities = Capabilities(shard_doc=True, lifecycle="ilm",
                                         flat_object_type="flattened")  # fmt: skip
        kwargs: dict[str, Any] = {
            "request_timeout": conn.timeout_s,
            "max_retries": 0,  # pukara's own loop retries, with its own backoff
            "retry_on_timeout": False,
            "http_compress": False,
        }
        if conn.api_key is not None:
            kwargs["api_key"] = conn.api_key.reveal()
        elif conn.username is not None and conn.password is not None:
            kwargs["basic_auth"] = (conn.username, conn.password.reveal())
        if any(u.startswith("https:") for u in conn.urls):
            kwargs["ssl_context"] = conn.ssl_context()  # verified: es_ca or the system's CAs
        self._client = Elasticsearch(list(conn.urls), **kwargs)
        self._where = conn.where
        self._timeout_s = conn.timeout_s

    def _call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return fn(*args, **kwargs)
        except es.ApiError as e:
            status = int(e.status_code) if isinstance(e.status_code, int) else 0
            text = f"{self._where}: HTTP {status}: {_error_text(e)}"
            if status in RETRYABLE:
                raise EngineUnavailable(text, status) from None
            raise EngineRefused(text, status) from None
        except es.TransportError as e:  # connection refused, timeout, TLS
            raise EngineUnavailable(
                f"{self._where}: el clúster no responde ({e.message})"
            ) from None

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(self._client.cluster.put_component_template, name=name, body=dict(body))

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(self._client.indices.put_index_template, name=name, body=dict(body))

    def index_template_meta(self, name: str) -> dict[str, Any] | None:
        try:
            found = _body(self._call(self._client.indices.get_index_template, name=name))
        except EngineRefused as e:
            if e.status == 404:
                return None
            raise
        for item in found.get("index_templates") or []:
            if item.get("name") == name:
                return dict(item.get("index_template", {}).get("_meta") or {})
        return None

    def lifecycle_policy(self, name: str) -> dict[str, Any] | None:
        try:
            found = _body(self._call(self._client.ilm.get_lifecycle, name=name))
        except EngineRefused as e:
            if e.status == 404:
                return None
            raise
        policy = (found.get(name) or {}).get("policy")
        return dict(policy) if isinstance(policy, Mapping) else None

    def put_lifecycle_policy(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(self._client.ilm.put_lifecycle, name=name, body=dict(body))

    def bulk(self, ndjson: bytes) -> list[ItemResult]:
        # the client sends bytes as they are (its NDJSON serializer forwards them)
        response = self._call(self._client.bulk, operations=cast(Any, ndjson))
        return item_results(_body(response))

    def search(self, index: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        if index is None:
            return _body(self._call(self._client.search, body=dict(body)))
        return _body(self._call(self._client.search, index=index, body=dict(body), **_LENIENT))

    def count(self, index: str, body: Mapping[str, Any]) -> int:
        answer = self._call(self._client.count, index=index, body=dict(body), **_LENIENT)
        return int(_body(answer)["count"])

    def field_types(self, index: str, fields: Sequence[str]) -> dict[str, set[str]]:
        if not fields:
            return {}
        answer = _body(
            self._call(self._client.field_caps, index=index, fields=list(fields), **_LENIENT)
        )
        return {name: set(caps) for name, caps in answer.get("fields", {}).items()}

    def open_pit(self, index: str, keep_alive: str) -> str:
        answer = self._call(self._client.open_point_in_time, index=index, keep_alive=keep_alive,
                            ignore_unavailable=True)  # fmt: skip
        return str(_body(answer)["id"])

    def close_pit(self, pit_id: str) -> None:
        self._call(self._client.close_point_in_time, id=pit_id)

    def delete_by_query(self, index: str, body: Mapping[str, Any]) -> int:
        options = {
            "conflicts": "proceed", "refresh": True, "wait_for_completion": True, "slices": "auto"
        }  # fmt: skip
        timeout = max(self._timeout_s, DELETE_TIMEOUT_S)
        call = self._client.options(request_timeout=timeout).delete_by_query
        answer = _body(self._call(call, index=index, body=dict(body), **options, **_LENIENT))
        failures = answer.get("failures") or []
        if failures:
            raise EngineRefused(
                f"{self._where}: el borrado por consulta falló en {len(failures)} documentos: "
                f"{failures[0]}",
                0,
            )
        return int(answer.get("deleted", 0))

    def refresh(self, index: str) -> None:
        self._call(self._client.indices.refresh, index=index, **_LENIENT)

    def health(self) -> dict[str, Any]:
        return _body(self._call(self._client.cluster.health))

    def data_streams(self, pattern: str) -> list[dict[str, Any]]:
        try:
            answer = _body(self._call(self._client.indices.get_data_stream, name=pattern))
        except EngineRefused as e:
            if e.status == 404:
                return []
            raise
        streams: list[dict[str, Any]] = answer.get("data_streams", [])
        return streams

    def delete_index(self, names: Sequence[str]) -> None:
        if names:
            self._call(self._client.indices.delete, index=",".join(names))

    def rollover(self, stream: str) -> None:
        self._call(self._client.indices.rollover, alias=stream)

    def close(self) -> None:
        self._client.close()
