"""Component and index templates for pukara's data streams, with ECS types both engines load.

Only portable types (keyword, text, ip, date, date_nanos, long, float, boolean, object);
ECS's ``flattened`` becomes ``flat_object`` on OpenSearch. Strings not named here are keywords.
``@timestamp`` is ``date_nanos``, not ECS's ``date`` (milliseconds): pukara writes microseconds,
and two events of one millisecond must sort in the cluster as they do in SQLite.
"""

from __future__ import annotations

from typing import Any

from pukara.store.cluster.detection import DETECTION_COMPONENT, detection_component
from pukara.store.cluster.engine import EVENTS_PREFIX, LOGS_PREFIX, SearchEngine

COMPONENT_MAPPINGS = "pukara-ecs-mappings"
COMPONENT_SETTINGS = "pukara-ecs-settings"
TEMPLATE_VERSION = 3

_KEYWORD = {"type": "keyword", "ignore_above": 1024}
# a field that is not a keyword keeps its text form in ``<field>.text`` too: a wildcard
# (``source.ip=198.18.*``, ``source.port=22*``) reads that, as SQLite matches the text
TEXT_SUBFIELD = "text"
_AS_TEXT = {"fields": {TEXT_SUBFIELD: {"type": "keyword", "ignore_above": 1024}}}


def _fields() -> dict[str, Any]:
    kw, date = _KEYWORD, {"type": "date"}
    ip, long = {"type": "ip", **_AS_TEXT}, {"type": "long", **_AS_TEXT}
    return {
        "@timestamp": {"type": "date_nanos"},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 8191}},
        },
        "tags": kw,
        "ecs.version": kw,
        "event.id": kw,
        "event.dataset": kw,
        "event.module": kw,
        "event.kind": kw,
        "event.category": kw,
        "event.type": kw,
        "event.action": kw,
        "event.outcome": kw,
        "event.severity": long,
        "event.created": date,
        "event.duration": long,
        "event.original": {"type": "keyword", "index": False, "doc_values": False},
        "host.name": kw,
        "host.ip": ip,
        "source.ip": ip,
        "source.port": long,
        "destination.ip": ip,
        "destination.port": long,
        "user.name": kw,
        "related.ip": ip,
        "related.user": kw,
        "related.hosts": kw,
        "log.level": kw,
        "log.syslog.priority": long,
        "log.syslog.facility.code": long,
        "log.syslog.facility.name": kw,
        "log.syslog.severity.code": long,
        "log.syslog.severity.name": kw,
        "log.syslog.hostname": kw,
        "log.syslog.appname": kw,
        "log.syslog.procid": kw,
        "log.syslog.msgid": kw,
        "log.syslog.version": kw,
        "process.name": kw,
        "process.pid": long,
        "rule.id": kw,
        "rule.name": kw,
    }


def _dynamic() -> list[dict[str, Any]]:
    def as_text(kind: str) -> dict[str, Any]:
        return {"type": kind, **_AS_TEXT}

    return [
        {"strings_as_keyword": {"match_mapping_type": "string", "mapping": _KEYWORD}},
        {"longs": {"match_mapping_type": "long", "mapping": as_text("long")}},
        # JSON numbers with a fraction: double, not the engines' default float
        {"doubles": {"match_mapping_type": "double", "mapping": as_text("double")}},
        {"booleans": {"match_mapping_type": "boolean", "mapping": as_text("boolean")}},
    ]


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": m}`` -> ``{"a": {"properties": {"b": m}}}``, the form mappings take."""
    root: dict[str, Any] = {}
    for dotted, mapping in flat.items():
        parts = dotted.split(".") if dotted != "@timestamp" else [dotted]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = mapping
    return root


def mappings(flat_object_type: str) -> dict[str, Any]:
    properties = _nest(_fields())
    properties["log"]["properties"]["syslog"]["properties"]["structured_data"] = {
        "type": flat_object_type
    }
    return {
        "date_detection": False,
        "dynamic_templates": _dynamic(),
        "properties": properties,
    }


def installed(engine: SearchEngine) -> bool:
    """Whether pukara's index templates are in place at :data:`TEMPLATE_VERSION` (someone
    with the privileges installed them: a key that may only write can go on)."""
    for name in ("pukara-eventos", "pukara-logs"):
        meta = engine.index_template_meta(name)
        if meta is None or meta.get("version") != TEMPLATE_VERSION:
            return False
    return True


def install(engine: SearchEngine) -> None:
    """Put (or update) the templates; idempotent, cheap enough to run on every connect."""
    meta = {"managed_by": "pukara", "version": TEMPLATE_VERSION}
    engine.put_component_template(
        COMPONENT_MAPPINGS,
        {"template": {"mappings": mappings(engine.capabilities.flat_object_type)}, "_meta": meta},
    )
    engine.put_component_template(
        COMPONENT_SETTINGS,
        {
            "template": {
                "settings": {
                    "index.refresh_interval": "5s",
                    "index.number_of_shards": 1,
                    "index.auto_expand_replicas": "0-1",
                }
            },
            "_meta": meta,
        },
    )
    # the lower-case twins of the string fields Sigma rules search; composed after the ECS
    # mappings, whose fields it extends
    engine.put_component_template(DETECTION_COMPONENT, detection_component())
    for name, prefix in (("pukara-eventos", EVENTS_PREFIX), ("pukara-logs", LOGS_PREFIX)):
        engine.put_index_template(
            name,
            {
                "index_patterns": [prefix + "*"],
                "data_stream": {},
                "priority": 200,
                "composed_of": [COMPONENT_MAPPINGS, DETECTION_COMPONENT, COMPONENT_SETTINGS],
                "_meta": meta,
            },
        )
