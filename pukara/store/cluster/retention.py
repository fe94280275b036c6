"""Retention in the cluster: whole backing indices go, not documents one by one.

Three ways, by what the engine has (``Capabilities.lifecycle``):

- Elasticsearch: an ILM policy (``ilm_policy``) rolls each stream over daily and deletes a
  backing index ``retention_days`` after its rollover; an index template for the raw
  datasets' streams names it (:func:`install_lifecycle`).
- OpenSearch with the Index State Management plugin: the same as an ISM policy
  (``ism_policy``), attached to the raw datasets' streams by its ``ism_template``.

As in SQLite, ``retention_days`` is for the raw datasets (``RAW_DATASETS``: rounds, links,
VPN); other events and the logs are not deleted by it.
- Neither (OpenSearch without the plugin, as the test cluster): pukara's own, run by
  ``almacen depurar`` through :meth:`ElasticStore.purge_events`: a stream's write index whose
  oldest event is older than :data:`ROLLOVER_AGE` is rolled over, and a backing index all of
  whose events are past the cut-off is deleted whole (:func:`drop_expired`); what is left
  past the cut-off in a younger index goes by a delete by query, so the purge is exact to
  the microsecond, as in SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pukara.events import utc_now
from pukara.store.cluster import dsl
from pukara.store.cluster.engine import SearchEngine, stream_name
from pukara.store.retention import RAW_DATASETS

POLICY = "pukara-retencion"
RAW_TEMPLATE = "pukara-eventos-crudos"  # the raw datasets' streams, with the ILM policy
# a delete by query over millions of events outlasts timeout_s: it waits this long (the
# client cutting it earlier leaves the task deleting on the server, and a retry races it)
DELETE_TIMEOUT_S = 6 * 3600.0
ROLLOVER_AGE = timedelta(days=1)  # a write index older than this is rolled over
# what retention_days applies to, as in SQLite (pukara.store.retention): the raw datasets
RAW_STREAMS = sorted({stream_name(d) for d in RAW_DATASETS})


def ilm_policy(retention_days: int) -> dict[str, Any]:
    """Elasticsearch ILM: roll over daily (or at 50 GB), delete ``retention_days`` later."""
    return {
        "policy": {
            "_meta": {"managed_by": "pukara"},
            "phases": {
                "hot": {
                    "actions": {"rollover": {"max_age": "1d", "max_primary_shard_size": "50gb"}}
                },
                "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}},
            },
        }
    }


def ism_policy(retention_days: int) -> dict[str, Any]:
    """OpenSearch ISM: the same life as :func:`ilm_policy`, attached by index pattern."""
    return {
        "policy": {
            "description": "pukara: rollover diario y borrado tras la retención",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [{"rollover": {"min_index_age": "1d"}}],
                    "transitions": [
                        {
                            "state_name": "delete",
                            "conditions": {"min_rollover_age": f"{retention_days}d"},
                        }
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [{"index_patterns": RAW_STREAMS, "priority": 200}],
        }
    }


def retention_of(policy: Mapping[str, Any]) -> str | None:
    """The retention (``30d``) of an ILM or ISM policy as the engine has it, or None."""
    phases = policy.get("phases")
    if isinstance(phases, Mapping):  # ILM
        age = (phases.get("delete") or {}).get("min_age")
        return str(age) if age else None
    for state in policy.get("states") or []:  # ISM
        for step in state.get("transitions") or []:
            age = (step.get("conditions") or {}).get("min_rollover_age")
            if age:
                return str(age)
    return None


def install_lifecycle(
    engine: SearchEngine,
    retention_days: int,
    on_warning: Callable[[str], None] | None = None,
) -> str | None:
    """Put the lifecycle policy where the engine has one (ILM or ISM); its name, or None
    when pukara's own retention (:func:`drop_expired`) is the one that applies. A policy
    already there with another retention is replaced only after ``on_warning`` says so."""
    if engine.capabilities.lifecycle is not None and on_warning is not None:
        current = engine.lifecycle_policy(POLICY)
        was = retention_of(current) if current is not None else None
        if was is not None and was != f"{retention_days}d":
            on_warning(
                f"la política de retención {POLICY} del clúster guarda {was}; se cambia a "
                f"{retention_days}d (retention_days de esta configuración)"
            )
    if engine.capabilities.lifecycle == "ilm":
        from pukara.store.cluster.detection import DETECTION_COMPONENT
        from pukara.store.cluster.templates import COMPONENT_MAPPINGS, COMPONENT_SETTINGS

        engine.put_lifecycle_policy(POLICY, ilm_policy(retention_days))
        engine.put_index_template(
            RAW_TEMPLATE,
            {
                "index_patterns": RAW_STREAMS,
                "data_stream": {},
                "priority": 210,  # over pukara-eventos (200)
                "composed_of": [COMPONENT_MAPPINGS, DETECTION_COMPONENT, COMPONENT_SETTINGS],
                "template": {"settings": {"index.lifecycle.name": POLICY}},
                "_meta": {"managed_by": "pukara"},
            },
        )
        return POLICY
    if engine.capabilities.lifecycle == "ism":
        engine.put_lifecycle_policy(POLICY, ism_policy(retention_days))
        return POLICY
    return None


@dataclass(frozen=True, slots=True)
class Dropped:
    """What :func:`drop_expired` did: backing indices deleted whole, with how many events."""

    indices: tuple[str, ...] = ()
    events: int = 0
    rolled_over: tuple[str, ...] = field(default=())


def _backing(stream: Mapping[str, Any]) -> list[str]:
    return [str(i["index_name"]) for i in stream.get("indices", [])]


def _oldest(engine: SearchEngine, index: str) -> datetime | None:
    body = {"size": 1, "_source": False, "sort": dsl.sort(False, shard_doc=False)[:1]}
    hits = engine.search(index, body)["hits"]["hits"]
    if not hits:
        return None
    ns = int(hits[0]["sort"][0])
    return dsl.from_ns(ns)


def drop_expired(
    engine: SearchEngine,
    index: str,
    query: Mapping[str, Any],
    *,
    now: datetime | None = None,
    rollover_age: timedelta = ROLLOVER_AGE,
) -> Dropped:
    """Delete every backing index of the streams ``index`` names whose events all match
    ``query`` (the purge's cut-off and datasets); returns them and how many events went.

    The write index is never deleted (a data stream forbids it, and events may be arriving):
    without ILM or ISM it is rolled over when its oldest event is older than ``rollover_age``,
    so that a later purge finds it whole. An empty backing index that is not the write index
    goes too.
    """
    now = now or utc_now()
    dropped: list[str] = []
    rolled: list[str] = []
    events = 0
    streams = engine.data_streams(index)
    if streams:
        engine.refresh(index)  # a count must see every event before an index is judged
    for stream in streams:
        name = str(stream["name"])
        backing = _backing(stream)
        if not backing:
            continue
        write = backing[-1]
        for idx in backing[:-1]:  # no longer written to: what is counted is what goes
            total = engine.count(idx, {"query": {"match_all": {}}})
            if total == 0 or engine.count(idx, {"query": query}) == total:
                dropped.append(idx)
                events += total
        # the write index is only rolled over (events may arrive while it is judged); the
        # next purge finds it whole
        oldest = _oldest(engine, write)
        old = oldest is not None and now - oldest > rollover_age
        if old and engine.capabilities.lifecycle is None:
            engine.rollover(name)
            rolled.append(name)
    engine.delete_index(dropped)
    return Dropped(tuple(dropped), events, tuple(rolled))
