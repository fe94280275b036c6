"""Streaming reads: a point in time and ``search_after`` on ``[@timestamp, event.id]``.

A search opens a point in time (PIT) over the streams it reads, so that pages taken one after
another see one snapshot, and asks page after page, each after the sort keys of the last hit:
however many events match, only one page is in memory. ``_shard_doc`` closes the sort where
the engine has it (Elasticsearch, OpenSearch 3.3+); elsewhere ``[@timestamp, event.id]`` is
unique already, since ``event.id`` is the document's ``_id``. Two copies of one event (a retry
that reached a newer backing index after a rollover) sort next to each other and the second
is skipped, so a read never returns an event twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from pukara.errors import StoreError
from pukara.store.cluster import dsl
from pukara.store.cluster.engine import EngineRefused, EngineUnavailable, SearchEngine
from pukara.store.query import EventQuery

PAGE = 1_000  # hits per page
KEEP_ALIVE = "2m"  # how long the PIT lives between two pages


def _nothing_there(engine: SearchEngine, index: str, e: EngineRefused) -> bool:
    """Whether a refused PIT only means that no stream matches ``index`` yet (OpenSearch then
    answers 400 "invalid id", a named index 404)."""
    return e.status in (400, 404) and not engine.data_streams(index)


def search_hits(
    engine: SearchEngine,
    index: str,
    query: Mapping[str, Any],
    *,
    newest_first: bool = False,
    limit: int | None = None,
    page: int = PAGE,
) -> Iterator[dict[str, Any]]:
    """The ``_source`` of every hit of ``query`` over ``index``, in pukara's order, streamed.

    A stream that does not exist yet holds nothing: no events, not an error.
    """
    if limit is not None and limit <= 0:
        return
    try:
        pit = engine.open_pit(index, KEEP_ALIVE)
    except EngineRefused as e:
        if _nothing_there(engine, index, e):
            return
        raise
    held = [pit]  # the engine may hand a new id for the same PIT with each page
    try:
        yield from _pages(engine, held, query, newest_first, limit, page)
    except EngineRefused as e:
        if e.status == 404:  # the PIT lapsed: the caller waited too long between pages
            raise StoreError(
                f"la lectura del clúster se interrumpió: pasaron más de {KEEP_ALIVE} entre dos "
                f"páginas y el motor cerró la vista de la búsqueda; repítala ({e})"
            ) from None
        raise
    finally:
        # a PIT left open lapses by itself after KEEP_ALIVE: a failure to close it is no error
        with contextlib.suppress(EngineRefused, EngineUnavailable):
            engine.close_pit(held[0])


def _pages(
    engine: SearchEngine,
    held: list[str],
    query: Mapping[str, Any],
    newest_first: bool,
    limit: int | None,
    page: int,
) -> Iterator[dict[str, Any]]:
    sort = dsl.sort(newest_first, shard_doc=engine.capabilities.shard_doc)
    after: list[Any] | None = None
    last: tuple[Any, Any] | None = None
    sent = 0
    while True:
        size = page if limit is None else min(page, limit)
        body: dict[str, Any] = {
            "size": size,
            "query": query,
            "sort": sort,
            "pit": {"id": held[0], "keep_alive": KEEP_ALIVE},
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        answer = engine.search(None, body)
        held[0] = answer.get("pit_id") or held[0]
        hits = answer["hits"]["hits"]
        for hit in hits:
            keys = (hit["sort"][0], hit["sort"][1])
            if keys == last:  # a second copy of the same event
                continue
            last = keys
            yield hit["_source"]
            sent += 1
            if limit is not None and sent >= limit:
                return
        if len(hits) < size:
            return
        after = hits[-1]["sort"]


def field_types(engine: SearchEngine, index: str, q: EventQuery) -> dict[str, set[str]] | None:
    """The engine's types of the wildcard fields of ``q`` the templates do not name."""
    unnamed = dsl.unnamed(q)
    return engine.field_types(index, unnamed) if unnamed else None


def query_hits(
    engine: SearchEngine, q: EventQuery, *, page: int = PAGE
) -> Iterator[dict[str, Any]]:
    """The events of ``q``, streamed (see :func:`search_hits`)."""
    index = dsl.indices(q.datasets)
    yield from search_hits(
        engine,
        index,
        dsl.query(q, field_types(engine, index, q)),
        newest_first=q.newest_first,
        limit=q.limit,
        page=page,
    )
