"""The fields detection rules may name, and what the cluster needs to search them as Sigma
means: every string field with a lower-case twin (``user.name.lc``, a keyword subfield with a
lowercase normalizer), so that case-insensitive matching is an exact term on both stores.

The list: what registros' parser and pukara's areas write, plus the ECS core fields of the
same field sets, each with its type in the cluster (and the few string fields of monitoreo's
state changes, ``monitoreo.state.current``...). Plain data, in the core so that the index
templates (:mod:`pukara.store.cluster.templates`) can compose :func:`detection_component`;
registros' rules are checked against it (a rule naming another field is refused) and
translated with it (:mod:`registros.sigma_sqlite`, :mod:`registros.sigma_cluster`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

FieldType = Literal["keyword", "text", "ip", "long", "date", "boolean"]

# longest string a keyword field indexes in the cluster (ignore_above): a longer value is not
# searchable there, so the SQLite side ignores it too and both give the same hits
KEYWORD_LIMIT = 1024
TEXT_LIMIT = 8191  # message: its keyword subfields

_KEYWORDS = """
ecs.version tags labels.site labels.asset
event.id event.dataset event.module event.kind event.category event.type event.action
event.outcome event.provider event.code event.reason event.timezone event.hash
event.reference
host.name host.hostname host.domain host.id host.type host.os.family host.os.name
host.os.version
agent.name agent.type agent.version
observer.name observer.hostname observer.type observer.vendor observer.product
observer.version observer.ingress.interface.name observer.egress.interface.name
source.domain source.address source.mac destination.domain destination.address
destination.mac client.domain server.domain
network.transport network.protocol network.direction network.type network.community_id
network.iana_number
user.name user.id user.domain user.full_name user.roles
user.effective.name user.effective.id user.target.name user.target.id
user.changes.name
group.name group.id
process.name process.executable process.command_line process.working_directory
process.title process.args process.parent.name process.parent.executable
process.user.name
file.path file.name file.directory file.extension file.type
related.user related.hosts related.hash
log.level log.logger log.file.path log.source.address
log.syslog.facility.name log.syslog.severity.name log.syslog.hostname log.syslog.appname
log.syslog.procid log.syslog.msgid log.syslog.version
service.name service.type
rule.id rule.name rule.ruleset rule.category
url.original url.domain url.path
error.message error.code error.type
interface.name
monitoreo.site monitoreo.target monitoreo.entity monitoreo.state.previous
monitoreo.state.current
"""

_IPS = "host.ip source.ip destination.ip client.ip server.ip related.ip observer.ip"
_IPS += " source.nat.ip destination.nat.ip"

_LONGS = """
event.severity event.sequence event.duration
source.port destination.port client.port server.port source.nat.port destination.nat.port
source.bytes destination.bytes source.packets destination.packets network.bytes
network.packets
process.pid process.parent.pid process.exit_code
log.syslog.priority log.syslog.facility.code log.syslog.severity.code
log.file.line http.response.status_code host.uptime
"""

_DATES = "@timestamp event.created event.ingested event.start event.end"

FIELDS: dict[str, FieldType] = {
    **dict.fromkeys(_KEYWORDS.split(), "keyword"),
    **dict.fromkeys(_IPS.split(), "ip"),
    **dict.fromkeys(_LONGS.split(), "long"),
    **dict.fromkeys(_DATES.split(), "date"),
    "message": "text",
    "error.stack_trace": "text",
}

# fields ECS (or pukara) fills with a list: a condition holds when one element matches, as in
# the cluster, where a list is a multi-valued field
MULTI_VALUED = frozenset(
    {
        "tags", "event.category", "event.type", "related.user", "related.hosts",
        "related.hash", "related.ip", "host.ip", "user.roles", "process.args", "observer.ip",
    }
)  # fmt: skip

STRING_TYPES = frozenset({"keyword", "text"})


def field_type(name: str) -> FieldType | None:
    return FIELDS.get(name)


def string_limit(name: str) -> int:
    """The ignore_above of the field's (or its keyword subfield's) index in the cluster."""
    return TEXT_LIMIT if FIELDS.get(name) == "text" else KEYWORD_LIMIT


FOLDED_SUFFIX = ".lc"  # the lower-case twin of a string field (a view column, a subfield)
DETECTION_COMPONENT = "pukara-ecs-deteccion"
NORMALIZER = "pukara_minusculas"


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for dotted, mapping in flat.items():
        *parents, leaf = dotted.split(".") if dotted != "@timestamp" else [dotted]
        node = root
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = mapping
    return root


def _typed(name: str, kind: str) -> dict[str, Any]:
    """A field that is not a string, as the ECS component maps it (templates.py): composed
    after it, this one must not take away ``@timestamp``'s microseconds (``date_nanos``) nor
    the ``text`` form of an address, a number or a boolean that wildcards read."""
    if name == "@timestamp":
        return {"type": "date_nanos"}
    if kind in ("ip", "long", "boolean"):
        text = {"type": "keyword", "ignore_above": KEYWORD_LIMIT}
        return {"type": kind, "fields": {"text": text}}
    return {"type": kind}


def detection_mappings() -> dict[str, Any]:
    """Mappings of every field a rule may name (:data:`registros.sigma_fields.FIELDS`).

    String fields get their lower-case ``lc`` twin: ``message`` stays ``text`` with its
    ``keyword`` subfield (8191) and gains ``lc`` (8191); every other string field is a
    ``keyword`` (ignore_above 1024) with ``lc`` (1024), normalised by :data:`NORMALIZER`
    (defined in :func:`detection_settings`). ``ip``, ``long`` and ``date`` fields are mapped
    as such, so that one the ECS component leaves out is not a dynamic keyword (on which a
    CIDR or a range would silently match nothing).
    """
    flat: dict[str, Any] = {}
    sub = FOLDED_SUFFIX.lstrip(".")
    for name, kind in FIELDS.items():
        if kind not in STRING_TYPES:
            flat[name] = _typed(name, kind)
            continue
        limit = TEXT_LIMIT if kind == "text" else KEYWORD_LIMIT
        folded = {"type": "keyword", "ignore_above": limit, "normalizer": NORMALIZER}
        if kind == "text":
            flat[name] = {
                "type": "text",
                "fields": {"keyword": {"type": "keyword", "ignore_above": limit}, sub: folded},
            }
        else:
            flat[name] = {"type": "keyword", "ignore_above": limit, "fields": {sub: folded}}
    return {"properties": _nest(flat)}


def detection_settings() -> dict[str, Any]:
    return {
        "analysis": {
            "normalizer": {
                NORMALIZER: {"type": "custom", "char_filter": [], "filter": ["lowercase"]}
            }
        }
    }


def detection_component() -> dict[str, Any]:
    """The component template to compose into both index templates, after the ECS one."""
    return {
        "template": {"settings": detection_settings(), "mappings": detection_mappings()},
        "_meta": {"managed_by": "pukara", "purpose": "detecciones Sigma"},
    }
