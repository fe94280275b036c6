"""The audit policy for Linux servers: what the checks compare each host against.

The shipped default is ``auditoria/datos/politica.toml``; the ministry gives its own file with
the setting ``auditoria_politica`` (``[auditoria] politica`` in pukara.toml), which replaces it
whole. A malformed file is refused with a Spanish message naming the file, the line and the
field, before any host is contacted.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pukara import tomlfile
from pukara.config import Settings
from pukara.errors import ConfigError

_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9_-]+)*$")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


DEFAULT_LIST_AGE_DAYS = 7  # [updates] max_list_age_days, when a ministry policy predates it


@dataclass(frozen=True, slots=True)
class Addresses:
    """Approved servers: networks (an IP is a /32 or /128) and names (lower case)."""

    networks: tuple[Network, ...]
    names: tuple[str, ...]

    def covers(self, value: str) -> bool:
        text = value.strip().strip("[]").lower()
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return text.rstrip(".") in self.names
        return any(ip in net for net in self.networks)


@dataclass(frozen=True, slots=True)
class Ports:
    tcp: frozenset[int]
    udp: frozenset[int]


@dataclass(frozen=True, slots=True)
class Policy:
    source: str  # the file it was read from
    ntp_servers: Addresses
    syslog_collectors: Addresses
    log_world_readable: frozenset[str]
    min_length: int
    history: int
    max_days: int
    hash_methods: frozenset[str]
    lockout_max_deny: int
    ssh_idle_max_s: int
    ssh_alive_count_max: int
    weak_ciphers: frozenset[str]
    weak_macs: frozenset[str]
    weak_kex: tuple[str, ...]  # names or prefixes ending in "-"
    weak_key_algorithms: frozenset[str]
    tmout_max_s: int
    privileged: frozenset[str]
    service_accounts: frozenset[str]
    dormant_days: int
    dormant_exempt: frozenset[str]
    setuid_baseline: frozenset[str]
    ignore_loopback: bool
    roles: Mapping[str, Ports]
    host_roles: tuple[tuple[str, str], ...]  # (pattern, role), in file order
    insecure_tcp: frozenset[int]
    insecure_udp: frozenset[int]
    insecure_packages: frozenset[str]
    monitoring_collectors: Addresses
    disk_max_percent: int
    inode_max_percent: int
    memory_max_percent: int
    apt_lists_max_days: int = 7  # package lists older than this: updates unknown

    def role_of(self, host: str, role: str | None = None) -> str:
        """The host's role: the one given, else the first pattern of ``[listening.hosts]``
        that matches its name, else ``default``."""
        if role:
            return role
        for pattern, name in self.host_roles:
            if fnmatch.fnmatchcase(host, pattern):
                return name
        return "default"

    def ports(self, host: str, role: str | None = None) -> Ports:
        name = self.role_of(host, role)
        if name not in self.roles:
            raise ConfigError(
                f"{self.source}: el equipo {host} tiene el rol «{name}», que no está en "
                "[listening.roles]"
            )
        return self.roles[name]


def default_path() -> Path:
    return Path(str(resources.files("auditoria"))) / "datos" / "politica.toml"


def load(settings: Settings | None = None, path: Path | None = None) -> Policy:
    """The policy: ``path``, else the setting ``auditoria_politica``, else the shipped one."""
    chosen = path or (getattr(settings, "auditoria_politica", None) if settings else None)
    file = Path(chosen) if chosen else default_path()
    text = tomlfile.read_text(file, "la política de auditoría")
    return parse(text, str(file))


def parse(text: str, source: str) -> Policy:
    data = tomlfile.loads(text, f"política de auditoría {source}")
    r = _Reader(data, text, source)
    roles = {name: Ports(r.ports(f"listening.roles.{name}", "tcp"),
                         r.ports(f"listening.roles.{name}", "udp"))
             for name in r.table("listening.roles")}  # fmt: skip
    if "default" not in roles:
        r.fail("listening.roles", "default", "falta el rol «default» ([listening.roles.default])")
    hosts = r.table("listening.hosts", required=False)
    for pattern, role in hosts.items():
        if not isinstance(role, str) or role not in roles:
            r.fail("listening.hosts", pattern, f"el rol {role!r} no está en [listening.roles]")
    return Policy(
        source=source,
        ntp_servers=r.addresses("ntp", "approved_servers"),
        syslog_collectors=r.addresses("syslog", "collectors"),
        log_world_readable=frozenset(r.strings("logs", "world_readable_allowed", empty=True)),
        min_length=r.integer("passwords", "min_length", 1, 128),
        history=r.integer("passwords", "history", 0, 100),
        max_days=r.integer("passwords", "max_days", 1, 99999),
        hash_methods=frozenset(s.upper() for s in r.strings("passwords", "hash_methods")),
        lockout_max_deny=r.integer("passwords", "lockout_max_deny", 1, 100),
        ssh_idle_max_s=r.integer("ssh", "idle_max_s", 1, 86400),
        ssh_alive_count_max=r.integer("ssh", "alive_count_max", 1, 100),
        weak_ciphers=frozenset(r.strings("ssh", "weak_ciphers", empty=True)),
        weak_macs=frozenset(r.strings("ssh", "weak_macs", empty=True)),
        weak_kex=tuple(r.strings("ssh", "weak_kex", empty=True)),
        weak_key_algorithms=frozenset(r.strings("ssh", "weak_key_algorithms", empty=True)),
        tmout_max_s=r.integer("shell", "tmout_max_s", 1, 86400),
        privileged=frozenset(r.strings("accounts", "privileged")),
        service_accounts=frozenset(r.strings("accounts", "service_accounts", empty=True)),
        dormant_days=r.integer("accounts", "dormant_days", 1, 3650),
        dormant_exempt=frozenset(r.strings("accounts", "dormant_exempt", empty=True)),
        setuid_baseline=frozenset(r.strings("setuid", "baseline", empty=True)),
        ignore_loopback=r.boolean("listening", "ignore_loopback"),
        roles=roles,
        host_roles=tuple((str(k), str(v)) for k, v in hosts.items()),
        insecure_tcp=frozenset(r.port_list("insecure", "tcp_ports")),
        insecure_udp=frozenset(r.port_list("insecure", "udp_ports")),
        insecure_packages=frozenset(r.strings("insecure", "packages", empty=True)),
        monitoring_collectors=r.addresses("monitoring", "collectors"),
        disk_max_percent=r.integer("capacity", "disk_max_percent", 1, 100),
        inode_max_percent=r.integer("capacity", "inode_max_percent", 1, 100),
        memory_max_percent=r.integer("capacity", "memory_max_percent", 1, 100),
        apt_lists_max_days=(
            r.integer("updates", "max_list_age_days", 1, 365)
            if "max_list_age_days" in r.table("updates")
            else DEFAULT_LIST_AGE_DAYS
        ),
    )


class _Reader:
    """Typed reads of the parsed TOML; every refusal names file, line and field."""

    def __init__(self, data: Mapping[str, Any], text: str, source: str) -> None:
        self.data, self.lines, self.source = data, text.splitlines(), source

    def _line(self, section: str, key: str) -> int | None:
        header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]")
        field = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        inside = False
        for number, line in enumerate(self.lines, 1):
            if line.lstrip().startswith("["):
                inside = bool(header.match(line))
                if inside and not key:
                    return number
            elif inside and field.match(line):
                return number
        return None

    def fail(self, section: str, key: str, why: str) -> Any:
        line = self._line(section, key) or self._line(section, "")
        where = f"{self.source}, línea {line}" if line else self.source
        name = f"{section}.{key}" if key else section
        raise ConfigError(f"política de auditoría {where}, campo «{name}»: {why}")

    def table(self, section: str, *, required: bool = True) -> dict[str, Any]:
        node: Any = self.data
        for part in section.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
            if node is None:
                if not required:
                    return {}
                return self.fail(section, "", f"falta la tabla [{section}]")  # type: ignore[no-any-return]
        if not isinstance(node, Mapping):
            self.fail(section, "", f"[{section}] debe ser una tabla")
        return dict(node)

    def value(self, section: str, key: str) -> Any:
        table = self.table(section)
        if key not in table:
            self.fail(section, "", f"falta el campo «{key}»")
        return table[key]

    def integer(self, section: str, key: str, low: int, high: int) -> int:
        value = self.value(section, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(section, key, f"debe ser un número entero entre {low} y {high}, no {value!r}")
        return int(value)

    def boolean(self, section: str, key: str) -> bool:
        value = self.value(section, key)
        if not isinstance(value, bool):
            self.fail(section, key, f"debe ser true o false, no {value!r}")
        return bool(value)

    def strings(self, section: str, key: str, *, empty: bool = False) -> list[str]:
        value = self.value(section, key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(section, key, "debe ser una lista de textos no vacíos")
        if not value and not empty:
            self.fail(section, key, "la lista no puede estar vacía")
        return [str(v) for v in value]

    def port_list(self, section: str, key: str) -> list[int]:
        value = self.value(section, key)
        ok = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536 for v in value
        )
        if not ok:
            self.fail(section, key, "debe ser una lista de puertos (enteros de 1 a 65535)")
        return [int(v) for v in value]

    def ports(self, section: str, key: str) -> frozenset[int]:
        return frozenset(self.port_list(section, key))

    def addresses(self, section: str, key: str) -> Addresses:
        networks: list[Network] = []
        names: list[str] = []
        for item in self.strings(section, key):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
                continue
            except ValueError:
                pass
            if not _NAME.match(item):
                self.fail(section, key, f"{item!r} no es una dirección IP, una red ni un nombre")
            names.append(item.lower().rstrip("."))
        return Addresses(tuple(networks), tuple(names))
