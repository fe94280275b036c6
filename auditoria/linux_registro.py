"""Linux checks on time, logs, audit rules, monitoring and capacity (1-4, 26, 27)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from auditoria import linux_secciones as sec
from auditoria.linux_secciones import Section, Verdict, error, failed, listing, passed, sections
from auditoria.politica import Addresses, Policy

Raw = Mapping[str, str]

# chronyc -n sources: "^* 198.19.0.1  2  6  377  12  +21us[ +30us] +/- 1ms"
_SOURCE = re.compile(r"^([\^=#])([*+\-?x~ ])\s+(\S+)\s")
_LEAP = re.compile(r"^Leap status\s*:\s*(.+)$", re.MULTILINE)


def _chrony(found: Mapping[str, Section], policy: Policy) -> Verdict:
    tracking, sources = found.get("chronyc_tracking"), found.get("chronyc_sources")
    if tracking is None or sources is None:
        return error("la salida de chronyc está incompleta")
    if not (tracking.ok and sources.ok):
        why = (tracking.text or sources.text).strip().splitlines()
        return failed(f"chronyd no responde ({why[0] if why else 'sin salida'})")
    listed = [(m.group(2), m.group(3)) for m in map(_SOURCE.match, sources.text.splitlines()) if m]
    if not listed:
        return failed("chrony no tiene ninguna fuente de hora")
    foreign = [name for _, name in listed if not policy.ntp_servers.covers(name)]
    if foreign:
        return failed(f"chrony usa fuentes no aprobadas: {listing(foreign)}")
    selected = [name for state, name in listed if state == "*"]
    leap = _LEAP.search(tracking.text)
    if not selected:
        return failed("chrony no está sincronizado con ninguna fuente (ninguna marcada «*»)")
    if leap is None or leap.group(1).strip() != "Normal":
        status = leap.group(1).strip() if leap else "desconocido"
        return failed(f"chrony no está sincronizado (Leap status: {status})")
    return passed(f"sincronizado con {selected[0]}, servidor aprobado")


def _timesyncd(found: Mapping[str, Section], policy: Policy) -> Verdict | None:
    section = found.get("timesyncd")
    if section is None or not section.ok:
        return None
    values = dict(line.split("=", 1) for line in section.text.splitlines() if "=" in line)
    server = values.get("ServerAddress", "").strip()
    if not server:
        return failed("systemd-timesyncd no tiene servidor de hora")
    if not policy.ntp_servers.covers(server):
        return failed(f"systemd-timesyncd usa un servidor no aprobado: {server}")
    if "NTPMessage" not in values:
        return failed(f"systemd-timesyncd no ha recibido respuesta de {server}")
    return passed(f"systemd-timesyncd sincronizado con {server}, servidor aprobado")


def ntp_sync(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["time_sync"])
    tracking = found.get("chronyc_tracking")
    if tracking is not None and not tracking.missing:
        return _chrony(found, policy)
    other = _timesyncd(found, policy)
    if other is not None:
        return other
    return failed("no hay servicio de hora: chronyc no existe y systemd-timesyncd no responde")


_LEGACY = re.compile(r"^\S+\s+@{1,2}(?:\([^)]*\))?\[?([^\]\s:;]+)\]?")
_ACTION = re.compile(r"action\s*\(([^)]*)\)", re.IGNORECASE | re.DOTALL)
_PARAM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def forward_targets(files: list[Section]) -> list[str]:
    """Where rsyslog forwards: legacy ``*.* @@host:port`` and ``action(type="omfwd" ...)``."""
    targets: list[str] = []
    for section in files:
        text = "\n".join(sec.active_lines(section.text))
        for line in text.splitlines():
            legacy = _LEGACY.match(line)
            if legacy:
                targets.append(legacy.group(1))
        for action in _ACTION.finditer(text):
            params = {k.lower(): v for k, v in _PARAM.findall(action.group(1))}
            if params.get("type", "").lower() == "omfwd" and params.get("target"):
                targets.append(params["target"])
    return targets


def syslog_remote(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["syslog"])
    files = sec.file_sections(found, "/etc/rsyslog")
    if not files:
        return failed("rsyslog no está instalado (no hay /etc/rsyslog.conf)")
    targets = forward_targets(files)
    approved = [t for t in targets if policy.syslog_collectors.covers(t)]
    process = found.get("rsyslogd_process")
    if not approved:
        if targets:
            return failed(f"rsyslog reenvía solo a colectores no aprobados: {listing(targets)}")
        return failed("rsyslog no reenvía los registros a ningún colector")
    if process is None or not process.ok:
        return failed(f"rsyslog reenviaría a {approved[0]}, pero rsyslogd no está en marcha")
    return passed(f"rsyslog reenvía al colector aprobado {approved[0]}")


def log_permissions(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["log_files"])
    listing_ = found.get("world_access")
    if listing_ is None:
        return error("falta la lista de permisos de /var/log")
    writable, readable = [], []
    for line in listing_.text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) != 4 or not re.fullmatch(r"[0-7]{3,4}", parts[0]):
            continue
        mode, path = int(parts[0], 8), parts[3]
        if mode & 0o002:
            writable.append(path)
        elif mode & 0o004 and path not in policy.log_world_readable:
            readable.append(path)
    if writable:
        return failed(f"archivos de /var/log escribibles por todos: {listing(writable)}")
    if readable:
        return failed(f"archivos de /var/log legibles por todos: {listing(readable)}")
    if not listing_.ok:
        return error(f"no se pudo recorrer /var/log: {listing_.text.strip()[:200]}")
    rotate = found.get("logrotate_binary")
    if rotate is None or not rotate.ok or "/etc/logrotate.conf" not in found:
        return failed("logrotate no está instalado o no tiene /etc/logrotate.conf")
    return passed("ningún archivo de /var/log es accesible por todos fuera de lo aprobado; "
                  "logrotate presente")  # fmt: skip


_IDENTITY = ("/etc/passwd", "/etc/shadow", "/etc/group")
_PRIVILEGED = ("/usr/bin/sudo", "/usr/bin/su")


def _watched(rules: list[str], path: str) -> bool:
    pattern = re.compile(rf"(?:^-w\s+|-F\s*(?:path|dir)=){re.escape(path)}(?:\s|/?$)")
    return any(pattern.search(rule) for rule in rules)


def _privileged_exec(rules: list[str]) -> bool:
    for rule in rules:
        executes = re.search(r"perm=\w*x|-p\s+\w*x", rule)
        if executes and any(p in rule for p in _PRIVILEGED):
            return True
        if "execve" in rule and re.search(r"euid=0", rule) and rule.startswith("-a"):
            return True
    return False


def auditd_rules(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["audit_rules"])
    binary = found.get("auditd_binary")
    if binary is None or not binary.ok:
        return failed("auditd no está instalado")
    rules = [line for _, line in sec.lines_of(sec.file_sections(found, "/etc/audit/"))]
    missing = [p for p in (*_IDENTITY, "/etc/sudoers") if not _watched(rules, p)]
    if missing:
        return failed(f"las reglas de auditd no vigilan {listing(missing)}")
    if not _privileged_exec(rules):
        return failed("las reglas de auditd no registran la ejecución de órdenes privilegiadas "
                      "(sudo, su)")  # fmt: skip
    return passed("auditd vigila sudoers, las cuentas y la ejecución de sudo/su")


_COMMUNITY = re.compile(r"^(ro|rw)community6?$")


def _listen_addresses(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        words = line.split()
        if words[0].lower() in ("agentaddress", "agentaddress6") and len(words) > 1:
            for item in " ".join(words[1:]).split(","):
                item = re.sub(r"^(udp6?|tcp6?|dtlsudp|tlstcp):", "", item.strip(), flags=re.I)
                bracket = re.match(r"^\[([^\]]+)\]", item)
                host = bracket.group(1) if bracket else item.split(":", 1)[0]
                out.append("" if host.isdigit() else host)
    return out


def _loopback_only(addresses: list[str]) -> bool:
    def loopback(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).is_loopback
        except ValueError:
            return text == "localhost"

    return bool(addresses) and all(a and loopback(a) for a in addresses)


def _open(source: str) -> bool:
    return source.lower() in ("default", "0.0.0.0/0", "::/0", "0.0.0.0", "::")  # noqa: S104


def _snmp_access(lines: list[str], collectors: Addresses) -> tuple[list[str], bool]:
    """(communities open to anyone, whether the collector has access)."""
    opened: list[str] = []
    access = False
    for line in lines:
        words = line.split()
        key = words[0].lower()
        if key in ("rouser", "rwuser") and len(words) > 1:
            access = True
        elif _COMMUNITY.match(key) and len(words) > 1:
            source = words[2] if len(words) > 2 and not words[2].startswith("-") else "default"
            if _open(source):
                opened.append(f"{words[0]} (origen {source})")
            elif collectors.covers(source.split("/", 1)[0]):
                access = True
        elif key == "com2sec" and len(words) > 3:
            source = words[-2]
            if _open(source):
                opened.append(f"com2sec {words[-3]} (origen {source})")
            elif collectors.covers(source.split("/", 1)[0]):
                access = True
    return opened, access


def monitoring_agent(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["snmpd"])
    files = sec.file_sections(found, "/etc/snmp/")
    process = found.get("snmpd_process")
    if not files:
        return failed("snmpd no está instalado (no hay /etc/snmp/snmpd.conf)")
    if process is None or not process.ok:
        return failed("snmpd no está en marcha")
    lines = [line for _, line in sec.lines_of(files)]
    if _loopback_only(_listen_addresses(lines)):
        return failed("snmpd solo escucha en loopback: el colector no puede consultarlo")
    opened, access = _snmp_access(lines, policy.monitoring_collectors)
    if opened:
        return failed(f"snmpd tiene comunidades abiertas a cualquier origen: {listing(opened)}")
    if not access:
        return failed("snmpd no da acceso al colector (ni usuario v3 ni comunidad limitada a él)")
    return passed("snmpd en marcha y configurado para el colector")


_SKIP_FS = frozenset({"tmpfs", "devtmpfs", "squashfs", "iso9660", "ramfs", "proc", "sysfs"})


def _usage(section: Section | None) -> list[tuple[str, int]]:
    """(mount point, use %) of each real filesystem in ``df -P -T`` (or ``-i``) output."""
    out: list[tuple[str, int]] = []
    if section is None:
        return out
    for line in section.text.splitlines()[1:]:
        parts = line.split(None, 6)
        if len(parts) < 7 or parts[1] in _SKIP_FS or not parts[5].rstrip("%").isdigit():
            continue
        out.append((parts[6], int(parts[5].rstrip("%"))))
    return out


def _memory(section: Section | None) -> int | None:
    if section is None:
        return None
    values = {}
    for line in section.text.splitlines():
        m = re.match(r"^(\w+):\s+(\d+)", line)
        if m:
            values[m.group(1)] = int(m.group(2))
    total, available = values.get("MemTotal"), values.get("MemAvailable")
    if not total or available is None:
        return None
    return round((total - available) * 100 / total)


def disk_capacity(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["capacity"])
    disks = _usage(found.get("df"))
    if not disks:
        return error("df no dio ningún sistema de archivos")
    memory = _memory(found.get("/proc/meminfo"))
    if memory is None:
        return error("no se pudo leer el uso de memoria (/proc/meminfo)")
    full = [f"{m} {p}%" for m, p in disks if p > policy.disk_max_percent]
    if full:
        return failed(f"sistemas de archivos sobre el {policy.disk_max_percent}%: {listing(full)}")
    inodes = [f"{m} {p}%" for m, p in _usage(found.get("df_inodes"))
              if p > policy.inode_max_percent]  # fmt: skip
    if inodes:
        return failed(f"inodos sobre el {policy.inode_max_percent}%: {listing(inodes)}")
    if memory > policy.memory_max_percent:
        return failed(f"memoria en uso {memory}%, sobre el {policy.memory_max_percent}%")
    top = max(p for _, p in disks)
    return passed(f"disco hasta {top}% y memoria {memory}%, bajo los umbrales de la política")
