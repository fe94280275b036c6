"""A parsed syslog line as an ECS event: what happened (sshd, sudo, su, useradd/usermod,
cron, the kernel's firewall lines), who and from where.

The categories follow Filebeat's ``system/auth`` pipeline and ECS's allowed values
(research logs.md §6.2-6.3). Addresses are read with :mod:`ipaddress`, never pasted: a text
that is not an address goes to ``source.domain`` (or is dropped), so ``source.ip`` always
holds an address the engines index as ``ip``.

The document carries, besides the fields of :func:`registros.syslog.fields`:
``event.original`` (the line as received, always; see :func:`registros.syslog.decode` for a
line that was not UTF-8), ``event.created`` (receive time), ``@timestamp`` (the device's
time when the line gave one, else the receive time). ``source.ip``/``source.port`` name
the sender of the datagram or connection unless the line names the remote party (an sshd
login), in which case the sender is in ``log.source.address``. ``labels.site`` is the
inventory's site of the sending host (:mod:`registros.hosts`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any

from pukara.events import ECS_VERSION, new_event_id
from registros import syslog

PARSE_FAILURE = "registros_parse_failure"

_IP = r"(?P<ip>[0-9A-Fa-f:.%]+|[\w.\-]+)"
_SSH = [
    (re.compile(r"Accepted (?P<method>[\w/\-]+) for (?P<user>\S+) from " + _IP
                + r" port (?P<port>\d+)"), "ssh_login", "success", ["authentication", "session"]),
    (re.compile(r"Failed (?P<method>[\w/\-]+) for (?:invalid user )?(?P<user>\S*) from " + _IP
                + r" port (?P<port>\d+)"), "ssh_login", "failure", ["authentication"]),
    (re.compile(r"Invalid user (?P<user>\S*) from " + _IP + r"(?: port (?P<port>\d+))?"),
     "ssh_login", "failure", ["authentication"]),
    (re.compile(r"error: maximum authentication attempts exceeded for (?:invalid user )?"
                r"(?P<user>\S*) from " + _IP + r" port (?P<port>\d+)"),
     "ssh_login", "failure", ["authentication"]),
    (re.compile(r"(?:Connection closed|Disconnected) by (?:invalid user |authenticating user )"
                r"(?P<user>\S*) " + _IP + r" port (?P<port>\d+)"),
     "ssh_login", "failure", ["authentication"]),
    (re.compile(r"Did not receive identification string from " + _IP
                + r"(?: port (?P<port>\d+))?"), "ssh_connection", "failure", ["network"]),
]  # fmt: skip
_PAM_FAIL = re.compile(r"pam_unix\((?P<svc>[\w\-]+):auth\): authentication failure;.*?"
                       r"(?:rhost=(?P<ip>\S*))?\s+user=(?P<user>\S+)")  # fmt: skip
_PAM_SESSION = re.compile(r"pam_unix\((?P<svc>[\w\-]+):session\): session (?P<what>opened|closed)"
                          r" for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?(?: by (?P<by>[^\s(]*))?")  # fmt: skip
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?:(?P<fail>\d+ incorrect password attempts?|user NOT"
                   r" in sudoers|command not allowed)\s*; )?TTY=(?P<tty>\S+) ; PWD=(?P<pwd>.*?) ;"
                   r" USER=(?P<target>\S+) ;(?: .*?)?COMMAND=(?P<cmd>.*)$")  # fmt: skip
_SU = re.compile(r"^(?P<fail>FAILED SU )?\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)")
_NEW_USER = re.compile(r"new user: name=(?P<user>[^,]+), UID=(?P<uid>\d+), GID=(?P<gid>\d+)")
_NEW_GROUP = re.compile(r"new group: name=(?P<group>[^,]+), GID=(?P<gid>\d+)")
_DEL_USER = re.compile(r"delete user '(?P<user>[^']+)'")
_DEL_GROUP = re.compile(r"(?:removed group|group) '(?P<group>[^']+)' (?:removed|deleted)")
_MOD_UID = re.compile(r"change user '(?P<user>[^']+)' UID from '(?P<old>\d+)' to '(?P<uid>\d+)'")
_MOD_GROUP = re.compile(r"add '(?P<user>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'")
_MOD_OTHER = re.compile(r"(?:change|lock|unlock) user '(?P<user>[^']+)'")
_CRON = re.compile(r"^\((?P<user>[^)]+)\) CMD \((?P<cmd>.*)\)\s*$")
_FIREWALL = re.compile(
    r"(?:\[\s*\d+\.\d+\]\s*)?(?P<prefix>[^=]{0,64}?)\s*IN=(?P<in>\S*) OUT=(?P<out>\S*)"
)
_FW_PAIR = re.compile(r"\b(SRC|DST|PROTO|SPT|DPT|LEN|TTL)=(\S+)")
_DENY = re.compile(r"drop|deny|denied|reject|block|bloque|rechaz|descart", re.IGNORECASE)
_KV_MAP = {
    "srcip": "source.ip", "src": "source.ip", "src_ip": "source.ip",
    "dstip": "destination.ip", "dst": "destination.ip", "dst_ip": "destination.ip",
    "srcport": "source.port", "spt": "source.port", "sport": "source.port",
    "dstport": "destination.port", "dpt": "destination.port", "dport": "destination.port",
    "user": "user.name", "srcuser": "user.name", "policyid": "rule.id", "rule": "rule.name",
}  # fmt: skip


@lru_cache(maxsize=1 << 16)
def address(text: str | None) -> str | None:
    """``text`` as a canonical IP address, or None when it is not one (a zone is dropped)."""
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)  # a dual-stack socket's view of an IPv4 sender
    return str(ip)


def _port(text: str | None) -> int | None:
    if text and text.isdigit() and int(text) <= 65535:
        return int(text)
    return None


class _Doc:
    """Dotted fields gathered before the document is built, and the related.* sets."""

    def __init__(self) -> None:
        self.f: dict[str, Any] = {}
        self.users: list[str] = []
        self.ips: list[str] = []
        self.tags: list[str] = []

    def user(self, dotted: str, name: str | None) -> None:
        if name and name not in ("-", "(unknown)"):
            self.f[dotted] = name
            if name not in self.users:
                self.users.append(name)

    def ip(self, dotted: str, text: str | None, *, domain: str | None = None) -> None:
        ip = address(text)
        if ip is not None:
            self.f[dotted] = ip
            if ip not in self.ips:
                self.ips.append(ip)
        elif domain and text and re.fullmatch(r"[\w.\-]{1,253}", text):
            self.f[domain] = text

    def event(self, action: str, outcome: str | None, category: list[str], kind: list[str]) -> None:
        self.f.update({"event.action": action, "event.category": category, "event.type": kind})
        if outcome:
            self.f["event.outcome"] = outcome


CLASSIFY_MAX = 4096  # characters of a message the classification reads


def classify(message: str, appname: str | None, doc: _Doc) -> None:
    """Fill ``doc`` with what the message says happened (nothing when it is not known)."""
    app = (appname or "").lower()
    if app.startswith("sshd") and _sshd(message, doc):
        return
    if _pam(message, doc):
        return
    if app == "sudo" and (m := _SUDO.match(message)) is not None:
        failed = m.group("fail") is not None
        doc.event("sudo", "failure" if failed else "success", ["process"] if not failed
                  else ["authentication", "process"], ["start"] if not failed else ["info"])  # fmt: skip
        doc.user("user.name", m.group("user"))
        doc.user("user.effective.name", m.group("target"))
        doc.f["process.command_line"] = m.group("cmd").strip()
        doc.f["process.working_directory"] = m.group("pwd")
        return
    if app == "su" and (m := _SU.match(message)) is not None:
        failed = m.group("fail") is not None
        doc.event("su", "failure" if failed else "success", ["authentication", "session"],
                  ["info"] if failed else ["start"])  # fmt: skip
        doc.user("user.name", m.group("user"))
        doc.user("user.effective.name", m.group("target"))
        return
    if app in _IAM_TOOLS and _iam(message, doc):
        return
    if app in ("cron", "crond") and (m := _CRON.match(message)) is not None:
        doc.event("cron_command", None, ["process"], ["start"])
        doc.user("user.name", m.group("user"))
        doc.f["process.command_line"] = m.group("cmd")
        return
    if " SRC=" in message and (m := _FIREWALL.match(message)) is not None:
        _firewall(m, message, doc)
        return
    if app == "kernel":
        doc.f.update({"event.category": ["host"], "event.type": ["info"]})


_IAM_TOOLS = ("useradd", "usermod", "userdel", "groupadd", "groupdel", "adduser", "deluser")


def _sshd(message: str, doc: _Doc) -> bool:
    for rx, action, outcome, category in _SSH:
        m = rx.search(message)
        if m is not None:
            kind = ["info"] if action == "ssh_login" else ["connection", "denied"]
            doc.event(action, outcome, category, kind)
            groups = m.groupdict()
            doc.user("user.name", groups.get("user"))
            doc.ip("source.ip", m.group("ip"), domain="source.domain")
            if (port := _port(groups.get("port"))) is not None:
                doc.f["source.port"] = port
            return True
    return False


def _pam(message: str, doc: _Doc) -> bool:
    m = _PAM_FAIL.search(message)
    if m is not None:
        doc.event(f"{m.group('svc')}_auth", "failure", ["authentication"], ["info"])
        doc.user("user.name", m.group("user"))
        doc.ip("source.ip", m.group("ip"))
        return True
    m = _PAM_SESSION.search(message)
    if m is not None:
        opened = m.group("what") == "opened"
        doc.event(f"{m.group('svc')}_session", "success", ["session"],
                  ["start"] if opened else ["end"])  # fmt: skip
        doc.user("user.name", m.group("user"))
        by = m.group("by")
        if by:
            doc.user("user.effective.name", by)  # who opened it (su: the caller)
        return True
    return False


def _iam(message: str, doc: _Doc) -> bool:
    if (m := _NEW_USER.search(message)) is not None:
        doc.event("user_created", "success", ["iam"], ["user", "creation"])
        doc.user("user.name", m.group("user"))
        doc.f["user.id"] = m.group("uid")
        doc.f["group.id"] = m.group("gid")
        if m.group("uid") == "0":
            doc.tags.append("registros_uid_0")
    elif (m := _NEW_GROUP.search(message)) is not None:
        doc.event("group_created", "success", ["iam"], ["group", "creation"])
        doc.f["group.name"], doc.f["group.id"] = m.group("group"), m.group("gid")
    elif (m := _DEL_USER.search(message)) is not None:
        doc.event("user_deleted", "success", ["iam"], ["user", "deletion"])
        doc.user("user.name", m.group("user"))
    elif (m := _DEL_GROUP.search(message)) is not None:
        doc.event("group_deleted", "success", ["iam"], ["group", "deletion"])
        doc.f["group.name"] = m.group("group")
    elif (m := _MOD_UID.search(message)) is not None:
        doc.event("user_changed", "success", ["iam"], ["user", "change"])
        doc.user("user.name", m.group("user"))
        doc.f["user.id"] = m.group("uid")
        if m.group("uid") == "0":
            doc.tags.append("registros_uid_0")
    elif (m := _MOD_GROUP.search(message)) is not None:
        doc.event("user_added_to_group", "success", ["iam"], ["group", "change"])
        doc.user("user.name", m.group("user"))
        doc.f["group.name"] = m.group("group")
    elif (m := _MOD_OTHER.search(message)) is not None:
        doc.event("user_changed", "success", ["iam"], ["user", "change"])
        doc.user("user.name", m.group("user"))
    else:
        return False
    return True


def _firewall(m: re.Match[str], message: str, doc: _Doc) -> None:
    pairs = dict(_FW_PAIR.findall(message))
    prefix = m.group("prefix").strip().rstrip(":").strip()
    denied = bool(_DENY.search(prefix))
    doc.event(prefix.lower() if prefix else "firewall", None, ["network"],
              ["connection", "denied"] if denied else ["connection", "allowed"])  # fmt: skip
    doc.f["observer.type"] = "firewall"
    if prefix:
        doc.f["rule.name"] = prefix
    if m.group("in"):
        doc.f["observer.ingress.interface.name"] = m.group("in")
    if m.group("out"):
        doc.f["observer.egress.interface.name"] = m.group("out")
    doc.ip("source.ip", pairs.get("SRC"))
    doc.ip("destination.ip", pairs.get("DST"))
    if "PROTO" in pairs:
        doc.f["network.transport"] = pairs["PROTO"].lower()
    for key, dotted in (("SPT", "source.port"), ("DPT", "destination.port")):
        if (port := _port(pairs.get(key))) is not None:
            doc.f[dotted] = port
    if "source.ip" in doc.f:
        doc.f["network.type"] = "ipv6" if ":" in doc.f["source.ip"] else "ipv4"


def _kv(kv: dict[str, str], doc: _Doc) -> None:
    for key, dotted in _KV_MAP.items():
        value = kv.get(key)
        if not value or dotted in doc.f:
            continue
        if dotted.endswith(".ip"):
            doc.ip(dotted, value)
        elif dotted.endswith(".port"):
            if (port := _port(value)) is not None:
                doc.f[dotted] = port
        elif dotted == "user.name":
            doc.user(dotted, value)
        else:
            doc.f[dotted] = value
    action = (kv.get("action") or "").lower()
    if action:
        denied = bool(_DENY.search(action))
        doc.event(action, None, ["network"],
                  ["connection", "denied" if denied else "allowed"])  # fmt: skip
        doc.f["observer.type"] = "firewall"
    if kv.get("proto", "").isalpha():
        doc.f["network.transport"] = kv["proto"].lower()


@lru_cache(maxsize=4096)
def _stamp(ts: datetime) -> str:
    """:func:`pukara.events.format_timestamp`, faster (lines of one read share their time)."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return (f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:"
            f"{ts.second:02d}.{ts.microsecond:06d}Z")  # fmt: skip


@lru_cache(maxsize=1024)
def _path(dotted: str) -> tuple[tuple[str, ...], str]:
    *parents, leaf = dotted.split(".")
    return tuple(parents), leaf


Resolver = Callable[[str | None, str | None], tuple[str, str | None, tzinfo | None] | None]


def _fields(parsed: syslog.Parsed, sender: tuple[str, int] | None, sender_ip: str | None) -> _Doc:
    doc = _Doc()
    if parsed.failure is None:
        # a known line (sshd, sudo, pam, a firewall) is far shorter: the patterns see no more
        # than this, so a 64 KiB line costs what a short one does
        classify(parsed.message[:CLASSIFY_MAX], parsed.appname, doc)
        if parsed.kv:
            _kv(parsed.kv, doc)
    else:
        doc.f["error.message"] = parsed.failure
    if sender is not None and sender_ip is not None:
        if "source.ip" in doc.f:  # the line named the remote party; the sender is the log's
            doc.f["log.source.address"] = sender_ip
        else:
            doc.ip("source.ip", sender_ip)
            doc.f["source.port"] = sender[1]
    return doc


def event(
    raw: bytes,
    *,
    received: datetime,
    reference: datetime | None = None,
    sender: tuple[str, int] | None = None,
    dataset: str = "registros.syslog",
    resolve: Resolver | None = None,
    year: int | None = None,
    site: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The ECS document of one received or imported line; never raises on its content.

    Args:
        reference: what a date without year is read against (default: ``received``).
        sender: the address and port the line came from (None for a file).
        resolve: ``(hostname, sender_ip) -> (asset name, site, site zone)`` from the inventory.
        site: the site of a file's lines (``--sede``), when the inventory does not say.
        event_id: a fixed id (a file's line); a new UUIDv7 otherwise.

    A timestamp without zone is read in the zone of the sender's site when the inventory
    knows it (UTC otherwise).
    """
    try:
        return _event(raw, received, reference, sender, dataset, resolve, year, site, event_id)
    except Exception as e:  # a parser's defect: the line is kept as a parse failure
        text, original, tags = syslog.decode(raw)
        out: dict[str, Any] = {
            "@timestamp": _stamp(received),
            "ecs": {"version": ECS_VERSION},
            "event": {"id": event_id or new_event_id(), "kind": "event", "dataset": dataset,
                      "module": "registros", "created": _stamp(received), "original": original},
            "message": text,
            "error": {"message": f"no se pudo leer la línea ({type(e).__name__})"},
            "tags": [*tags, PARSE_FAILURE],
        }  # fmt: skip
        if site:
            out["labels"] = {"site": site}
        return out


def _event(
    raw: bytes,
    received: datetime,
    reference: datetime | None,
    sender: tuple[str, int] | None,
    dataset: str,
    resolve: Resolver | None,
    year: int | None,
    site: str | None,
    event_id: str | None,
) -> dict[str, Any]:
    text, original, tags = syslog.decode(raw)
    sender_ip = address(sender[0]) if sender else None
    parsed = syslog.parse(text, received=reference or received, year=year)
    host = resolve(parsed.hostname, sender_ip) if resolve else None
    if host is not None and host[2] is not None and parsed.local_time:
        parsed = syslog.parse(text, received=reference or received, year=year, zone=host[2])
    parsed.tags[:0] = tags
    doc = _fields(parsed, sender, sender_ip)
    host_name = host[0] if host else parsed.hostname or sender_ip
    out: dict[str, Any] = {
        "@timestamp": _stamp(parsed.timestamp or received),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "id": event_id or new_event_id(),
            "kind": "event",
            "dataset": dataset,
            "module": "registros",
            "created": _stamp(received),
            "original": original,
        },
        "message": parsed.message,
    }
    for key, value in syslog.fields(parsed).items():  # log.*, process.*, event.code/sequence
        if key == "event":
            out["event"].update(value)
        else:
            out[key] = value
    if host_name:
        out["host"] = {"name": host_name}
        if host_name not in doc.f.get("related.hosts", []):
            doc.f["related.hosts"] = [host_name]
    if (host and host[1]) or site:
        out["labels"] = {"site": (host[1] if host and host[1] else site)}
    if doc.users:
        doc.f["related.user"] = doc.users
    if doc.ips:
        doc.f["related.ip"] = doc.ips
    for dotted, value in doc.f.items():  # set_field, faster: it runs ~20 times a line
        # (the fields this module writes are known not to clash; the split of each name is kept)
        parents, leaf = _path(dotted)
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    all_tags = parsed.tags + doc.tags
    if all_tags:
        out["tags"] = all_tags
    return out
