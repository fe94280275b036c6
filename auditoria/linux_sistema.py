"""Linux checks on files, packages, firewall, services and modules (18-25)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from auditoria import linux_secciones as sec
from auditoria.linux_secciones import Section, Verdict, error, failed, listing, passed, sections
from auditoria.politica import Policy

Raw = Mapping[str, str]
_FOUND = re.compile(r"^([0-7]{3,5}) (\S+) (\S+) (/.*)$")


def _found_files(section: Section | None, what: str) -> list[str] | Verdict:
    """The paths ``find -printf '%m %u %g %p'`` listed; an error only when find failed for
    a reason other than files that vanished while it ran."""
    if section is None:
        return error(f"falta la búsqueda de {what}")
    paths, problems = [], []
    for line in section.text.splitlines():
        m = _FOUND.match(line)
        if m:
            paths.append(m.group(4))
        elif line.strip() and "No such file or directory" not in line:
            problems.append(line.strip())
    if section.missing:
        return failed("find no existe en el equipo")
    if not section.ok and problems:
        return error(f"la búsqueda de {what} falló: {problems[0][:200]}")
    return paths


def setuid_baseline(raw: Raw, policy: Policy) -> Verdict:
    paths = _found_files(sections(raw["setuid"]).get("setuid_files"), "archivos setuid/setgid")
    if isinstance(paths, Verdict):
        return paths
    if not paths:
        return error("no se encontró ningún archivo setuid/setgid (ni su, ni passwd): "
                     "la búsqueda no es creíble")  # fmt: skip
    extra = sorted(set(paths) - policy.setuid_baseline)
    if extra:
        return failed(f"archivos setuid/setgid fuera de la línea base: {listing(extra)}")
    gone = len(policy.setuid_baseline - set(paths))
    note = f" ({gone} de la línea base no están en este equipo)" if gone else ""
    return passed(f"{len(paths)} archivos setuid/setgid, todos en la línea base{note}")


def world_writable_etc(raw: Raw, policy: Policy) -> Verdict:
    paths = _found_files(sections(raw["etc_world_writable"]).get("world_writable"),
                         "archivos escribibles por todos en /etc")  # fmt: skip
    if isinstance(paths, Verdict):
        return paths
    if paths:
        return failed(f"archivos de /etc escribibles por todos: {listing(paths)}")
    return passed("ningún archivo de /etc es escribible por todos")


_INST = re.compile(r"^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) ([^\[]*)")


_RELEASE_URI = re.compile(r"^'([^']+)/(?:In)?Release' (\S+) ")


def _sources_without_lists(uris: Section | None, files: Section | None) -> list[str]:
    """The sources (their dists/<suite> URI) whose Release file is not among the host's
    lists: apt's simulation only knows what it has lists for. Without both sections (an
    older collection) nothing is judged here."""
    if uris is None or files is None or not uris.ok or not files.ok:
        return []
    present = set(files.text.split())
    missing = []
    for m in map(_RELEASE_URI.match, uris.text.splitlines()):
        if m is None:
            continue
        name = m.group(2).removesuffix("_InRelease").removesuffix("_Release")
        if not {f"{name}_InRelease", f"{name}_Release"} & present:
            missing.append(m.group(1))
    return missing


def _stale_lists(ages: Section | None, max_days: int) -> str | None:
    """Why the host's package lists are too old to judge, or None. Output collected before
    this section existed is not judged here."""
    if ages is None:
        return None
    now: int | None = None
    times: list[tuple[int, str]] = []
    for line in ages.text.splitlines():
        first, _, rest = line.strip().partition(" ")
        if first == "now" and rest.strip().isdigit():
            now = int(rest.strip())
        elif first.isdigit() and rest:
            times.append((int(first), rest.strip()))
    if now is None or not times:
        return "no se pudo saber la edad de las listas de paquetes (apt)"
    newest, name = max(times)  # lists that apt refreshed together: the newest one counts
    days = (now - newest) / 86400
    if days > max_days:
        return (f"las listas de paquetes (apt) tienen {int(days)} días ({name}), más de "
                f"{max_days}: no se sabe de las actualizaciones de seguridad recientes")  # fmt: skip
    return None


def security_updates(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["apt_upgrades"])
    lists, simulation = found.get("apt_lists"), found.get("apt_simulation")
    if simulation is None or lists is None:
        return error("falta la simulación de apt")
    if simulation.missing:
        return failed("apt-get no existe en el equipo: no se puede saber si hay actualizaciones")
    if not simulation.ok:
        return error(f"apt-get -s falló: {simulation.text.strip().splitlines()[-1][:200]}")
    if not lists.text.strip().isdigit() or int(lists.text.strip()) == 0:
        return failed("el equipo no tiene listas de paquetes (apt): no se puede saber si hay "
                      "actualizaciones de seguridad")  # fmt: skip
    unlisted = _sources_without_lists(found.get("apt_release_uris"), found.get("apt_list_files"))
    if unlisted:
        return failed(f"{len(unlisted)} fuentes de apt sin listas en el equipo (nunca se "
                      "actualizaron): no se puede saber si traen actualizaciones de seguridad: "
                      f"{listing(unlisted)}")  # fmt: skip
    stale = _stale_lists(found.get("apt_lists_age"), policy.apt_lists_max_days)
    if stale:
        return failed(stale)
    pending = [m for m in map(_INST.match, simulation.text.splitlines()) if m]
    security = [f"{m.group(1)} {m.group(3)}" for m in pending
                if re.search(r"security", m.group(4), re.IGNORECASE)]  # fmt: skip
    if security:
        return failed(f"{len(security)} actualizaciones de seguridad pendientes: "
                      f"{listing(security)}")  # fmt: skip
    other = f" ({len(pending)} actualizaciones que no son de seguridad)" if pending else ""
    return passed(f"ninguna actualización de seguridad pendiente{other}")


_LIST_LINE = re.compile(r"^deb(?:-src)?\s+\[([^\]]*)\]")
_INSECURE_OPTS = ("trusted", "allow-insecure", "allow-weak", "allow-downgrade-to-insecure")
_APT_CONF = re.compile(
    r"(AllowInsecureRepositories|AllowUnauthenticated|AllowDowngradeToInsecureRepositories|"
    r"AllowWeakRepositories)\s*\"?\s*(true|yes|1|on)\b", re.IGNORECASE,
)  # fmt: skip


def _deb822(section: Section) -> list[str]:
    bad: list[str] = []
    for stanza in re.split(r"\n\s*\n", section.text):
        fields: dict[str, str] = {}
        for line in sec.active_lines(stanza):
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip().lower()
        if fields.get("enabled") == "no" or "types" not in fields:
            continue
        bad += [f"{k}: yes ({section.name})" for k in _INSECURE_OPTS
                if fields.get(k) in ("yes", "true")]  # fmt: skip
    return bad


def apt_signed_sources(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["apt_sources"])
    bad: list[str] = []
    entries = 0
    for section in sec.file_sections(found, "/etc/apt/sources.list"):
        if section.name.endswith(".sources"):
            entries += len(re.findall(r"^\s*Types\s*:", section.text, re.MULTILINE | re.I))
            bad += _deb822(section)
            continue
        for line in sec.active_lines(section.text):
            entries += line.startswith("deb")
            m = _LIST_LINE.match(line)
            if not m:
                continue
            options = dict(o.partition("=")[::2] for o in m.group(1).split())
            bad += [f"{k}={options[k]} ({section.name})" for k in _INSECURE_OPTS
                    if options.get(k, "").lower() in ("yes", "true")]  # fmt: skip
    for section in sec.file_sections(found, "/etc/apt/apt.conf"):
        text = "\n".join(sec.active_lines(re.sub(r"//.*", "", section.text)))
        bad += [f"{m.group(1)} {m.group(2)} ({section.name})" for m in _APT_CONF.finditer(text)]
    if bad:
        return failed(f"fuentes de apt sin firma verificada: {listing(bad)}")
    if entries == 0:
        return sec.not_applicable("el equipo no tiene ninguna fuente de paquetes configurada")
    return passed(f"{entries} fuentes de apt, todas con firma verificada")


def _input_drop(ruleset: list[Mapping[str, Any]]) -> set[str]:
    """The families whose input hook has a base chain with policy drop."""
    families: set[str] = set()
    for item in ruleset:
        chain = item.get("chain") if isinstance(item, Mapping) else None
        if isinstance(chain, Mapping) and (chain.get("hook"), chain.get("policy")) == (
            "input",
            "drop",
        ):
            families.add(str(chain.get("family")))
    return families


def firewall_default_deny(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["firewall"])
    ruleset = found.get("nft_ruleset")
    if ruleset is None:
        return error("falta la salida de nft list ruleset")
    if ruleset.missing:
        return failed("nft no existe en el equipo: no hay cortafuegos nftables")
    if not ruleset.ok:
        return error(f"nft list ruleset falló: {ruleset.text.strip()[:200]}")
    try:
        items = json.loads(ruleset.text).get("nftables", [])
    except (ValueError, AttributeError):
        return error("nft dio una salida JSON que no se puede leer")
    families = _input_drop(items)
    v4 = bool(families & {"inet", "ip"})
    v6 = bool(families & {"inet", "ip6"})
    disabled = [found.get(f"/proc/sys/net/ipv6/conf/{n}/disable_ipv6") for n in ("all", "default")]
    ipv6_off = all(s is None for s in disabled) or all(
        s is not None and s.text.strip() == "1" for s in disabled
    )
    if not v4:
        return failed("la entrada IPv4 no tiene política drop (nft: ninguna cadena input drop)")
    if not v6 and not ipv6_off:
        return failed("la entrada IPv6 no tiene política drop (solo IPv4 está filtrado)")
    if not v6:
        return passed("entrada IPv4 con política drop; IPv6 deshabilitado en el equipo")
    return passed("entrada IPv4 e IPv6 con política drop")


def _sockets(section: Section) -> list[tuple[str, str, int, str]]:
    """(protocol, address, port, process) of each socket in ``ss -H -tuln -p``."""
    out: list[tuple[str, str, int, str]] = []
    for line in section.text.splitlines():
        parts = line.split(None, 6)
        if len(parts) < 6 or parts[0] not in ("tcp", "udp"):
            continue
        address, _, port = parts[4].rpartition(":")
        if not port.isdigit():
            continue
        process = re.search(r'"([^"]+)"', parts[6]) if len(parts) > 6 else None
        address = address.strip("[]").split("%", 1)[0]
        out.append((parts[0], address, int(port), process.group(1) if process else "?"))
    return out


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _listening(raw: Raw) -> list[tuple[str, str, int, str]] | Verdict:
    section = sections(raw["listening"]).get("sockets")
    if section is None:
        return error("falta la lista de sockets (ss)")
    if section.missing:
        return failed("ss no existe en el equipo: no se pueden listar los servicios")
    if not section.ok:
        return error(f"ss falló: {section.text.strip()[:200]}")
    found = _sockets(section)
    if not found:
        return error("ss no mostró ningún socket (sshd debería estar escuchando)")
    return found


def listening_services(
    raw: Raw, policy: Policy, host: str = "", role: str | None = None
) -> Verdict:
    found = _listening(raw)
    if isinstance(found, Verdict):
        return found
    ports = policy.ports(host, role)
    extra = sorted({f"{proto}/{port} ({process})" for proto, address, port, process in found
                    if not (policy.ignore_loopback and _loopback(address))
                    and port not in (ports.tcp if proto == "tcp" else ports.udp)})  # fmt: skip
    name = policy.role_of(host, role)
    if extra:
        return failed(f"servicios escuchando fuera de lo aprobado para el rol {name}: "
                      f"{listing(extra)}")  # fmt: skip
    return passed(f"todos los servicios que escuchan están aprobados para el rol {name}")


def insecure_services(raw: Raw, policy: Policy) -> Verdict:
    found = _listening(raw)
    if isinstance(found, Verdict):
        return found
    bad = sorted(
        {
            f"{proto}/{port} ({process})"
            for proto, _, port, process in found
            if port in (policy.insecure_tcp if proto == "tcp" else policy.insecure_udp)
        }
    )
    dpkg = sections(raw["packages"]).get("dpkg")
    if dpkg is None or dpkg.missing or not dpkg.text.strip():
        return error("no se pudo leer la lista de paquetes instalados (dpkg-query)")
    installed = {
        w[0].split(":", 1)[0]
        for w in (line.split() for line in dpkg.text.splitlines())
        if len(w) >= 2 and w[1].startswith(("ii", "hi", "iU", "iF", "hU", "hF"))
    }
    packages = sorted(installed & policy.insecure_packages)
    if bad or packages:
        what = [*(f"escucha {b}" for b in bad), *(f"paquete {p}" for p in packages)]
        return failed(f"servicios inseguros: {listing(what)}")
    return passed("ni telnet, rsh, tftp ni ftp: ningún paquete ni puerto")


_DISABLE = re.compile(r"^(install\s+usb[-_]storage\s+/(usr/)?bin/(false|true)\b|"
                      r"blacklist\s+usb[-_]storage\b)")  # fmt: skip


def usb_storage(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["modprobe"])
    rules, loaded = found.get("usb_storage_rules"), found.get("loaded")
    if rules is None or loaded is None:
        return error("falta la configuración de modprobe")
    disabling = []
    for line in rules.text.splitlines():
        where, _, text = line.partition(":")
        _, _, text = text.partition(":")
        if _DISABLE.match(text.strip()):
            disabling.append(f"{text.strip()} ({where})")
    if loaded.ok and loaded.text.strip():
        return failed("el módulo usb_storage está cargado")
    if not disabling:
        return failed("usb-storage no está deshabilitado (ni install /bin/false ni blacklist)")
    return passed(f"usb-storage deshabilitado: {disabling[0]}")
