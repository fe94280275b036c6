"""The ECS fields a detection rule may name: what registros' parser and pukara's areas write,
plus the ECS core fields of the same field sets, each with its type in the cluster (and the
few string fields of monitoreo's state changes, ``monitoreo.state.current``...).

A rule naming any other field is refused when it is loaded: a typo (``user.nmae``) would
otherwise match nothing, silently, forever. Types decide how a condition is translated:
strings (``keyword``, ``text``) are compared case-insensitively on both stores (see
:mod:`registros.sigma_cluster`); ``ip``, ``long``, ``date`` and ``boolean`` as they are.
"""

from __future__ import annotations

import copy
from typing import Literal

from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.types import SigmaString

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
event.severity event.sequence event.duration event.risk_score
source.port destination.port client.port server.port source.nat.port destination.nat.port
source.bytes destination.bytes source.packets destination.packets network.bytes
network.packets network.iana_number
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


def fold(cond: ConditionFieldEqualsValueExpression) -> ConditionFieldEqualsValueExpression:
    """A string condition on a string field, as a condition on the field's lower-case twin
    with the value in lower case: Sigma matches strings case-insensitively, and this is how
    both stores do it alike (``|cased``, regular expressions and other types are unchanged).
    """
    value = cond.value
    if (
        not cond.field
        or type(value) is not SigmaString
        or FIELDS.get(cond.field) not in STRING_TYPES
    ):
        return cond
    lowered = copy.copy(value)
    lowered.s = [part.lower() if isinstance(part, str) else part for part in value.s]
    folded = copy.copy(cond)  # keeps the parent: a NOT above it still applies
    folded.field, folded.value = cond.field + FOLDED_SUFFIX, lowered
    return folded
