"""Triage collection: ``playbooks/csirt/triage.yml`` run over SSH, each artifact an evidence item.

The host is an asset or a site of the inventory (read through the store: an asset by name or
management address, a site as its assets) or an IP address, parsed; it reaches Ansible only
as ``ansible_host`` in an inventory given as data, never in a command line. The playbook only
reads, and runs each command without a shell: ``ss -tanp``, ``ps -eo ...``, ``last -F -w``,
and copies the first authentication log that exists (``/var/log/auth.log``,
``/var/log/secure`` or the paths given) with Ansible's ``fetch``, which checks the copy.

The playbook runs before the command's transaction opens (it stores its own events); then
every artifact becomes an item (:func:`csirt.evidencia.add_bytes` / ``add_file``) whose
custody opens as ``adquirida``, with the Ansible job id in its purpose and place, the time
the host answered as its acquisition time, and for the log the SHA-256 that ``stat`` computed
on the host as the hash before.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csirt import evidencia
from csirt.records import Command
from pukara.config import Settings
from pukara.errors import SecretsError, UsageError, remote_reason
from pukara.files import make_private_dirs
from pukara.secrets import CredentialProfile, require_profile, usable_key_file
from pukara.store import Store
from pukara.text import clean_line

PLAYBOOK = "csirt/triage.yml"
ASSETS = "asset"  # inventario's collections, read through the store
SITES = "site"
RETIRED = "dado_de_baja"  # an asset's status once it is gone (inventario.model.RETIRED)
DEFAULT_AUTH_LOGS = ("/var/log/auth.log", "/var/log/secure")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+@-]+$")  # nothing Jinja or a shell would read
# the playbook's tasks whose output is an artifact: task -> (kind, file name, what ran)
COMMANDS = {
    "Conexiones TCP": ("conexiones", "ss-tanp.txt", "ss -tanp"),
    "Procesos": ("procesos", "ps.txt", "ps -eo pid,ppid,user,lstart,stat,args"),
    "Sesiones": ("sesiones", "last.txt", "last -F -w"),
}
LOG_TASK = "Registro de autenticación (copia)"
SUMMARY_TASK = "Triage para pukara"


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # the asset's name, or the address
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    profile: str


@dataclass
class HostTriage:
    target: Target
    items: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # Spanish: what could not be collected
    error: str | None = None  # the host could not be reached or the playbook failed on it


def check_log_path(text: str) -> str:
    path = text.strip()
    if not _SAFE_PATH.match(path) or "/../" in f"{path}/" or "//" in path:
        raise UsageError(
            f"ruta de registro inválida «{clean_line(text)}»: use una ruta absoluta con letras, "
            "cifras y . _ - / + @ (p. ej. /var/log/auth.log)"
        )
    return path


def _address(asset: Mapping[str, Any]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    order = ("mgmt_ipv6", "mgmt_ipv4") if asset.get("preferred_family") == "6" else (
        "mgmt_ipv4", "mgmt_ipv6")  # fmt: skip
    for key in order:
        if asset.get(key):
            try:
                return ipaddress.ip_address(str(asset[key]))
            except ValueError:
                continue
    return None


def _addresses(asset: Mapping[str, Any]) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    out = set()
    for key in ("mgmt_ipv4", "mgmt_ipv6"):
        try:
            out.add(ipaddress.ip_address(str(asset.get(key) or "")))
        except ValueError:
            continue
    return out


def _asset_target(
    asset: Mapping[str, Any],
    profile: str | None,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None,
) -> Target:
    name = clean_line(str(asset["name"]))
    address = address or _address(asset)
    if address is None:
        raise UsageError(f"el activo «{name}» no tiene dirección de gestión en el inventario")
    chosen = profile or asset.get("credential_profile")
    if not chosen:
        raise UsageError(
            f"el activo «{name}» no tiene perfil de credenciales: indique --credencial"
        )
    return Target(name, address, str(chosen))


def resolve(store: Store, ref: str, profile: str | None = None) -> list[Target]:
    """The hosts ``ref`` names: an asset (name or management address), a site (its assets
    with a management address), or an IP address (with ``profile``)."""
    text = clean_line(ref).strip()
    if not text:
        raise UsageError("falta el equipo (--equipo): un activo, una sede o una dirección IP")
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(text)
    except ValueError:
        literal = None
    assets = [a for a in store.entities(ASSETS) if a.get("status") != RETIRED]
    for asset in assets:
        if literal is None and text.casefold() == str(asset.get("name", "")).casefold():
            return [_asset_target(asset, profile)]
        if literal is not None and literal in _addresses(asset):
            return [_asset_target(asset, profile, literal)]
    site = store.get(SITES, [text.lower()]) if literal is None else None
    if site is not None:
        members = [a for a in assets if a.get("site") == site["code"] and _address(a)]
        if not members:
            raise UsageError(f"la sede «{text}» no tiene activos con dirección de gestión")
        return [_asset_target(a, profile) for a in sorted(members, key=lambda a: a["name"])]
    if literal is None:
        raise UsageError(
            f"«{text}» no es un activo ni una sede del inventario, ni una dirección IP"
        )
    if not profile:
        raise UsageError(f"{literal} no está en el inventario: indique el perfil con --credencial")
    return [Target(str(literal), literal, profile)]


def _inventory(
    targets: Sequence[Target], keys: Mapping[str, Path], profiles: Mapping[str, CredentialProfile],
    timeout_s: float,
) -> dict[str, Any]:  # fmt: skip
    """One host per target (``h0``, ``h1``...: no name of the inventory reaches Ansible as a
    host name), each with its profile's user, key and known hosts, and nothing else."""
    hosts: dict[str, Any] = {}
    for i, t in enumerate(targets):
        p = profiles[t.profile]
        known = p.get("known_hosts")
        python = p.get("python_interpreter")
        args = "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
        if known:
            args += f" -o UserKnownHostsFile={check_log_path(known.reveal())}"
        hosts[f"h{i}"] = {
            "ansible_host": str(t.address),
            "ansible_user": p.require("username").reveal(),
            "ansible_ssh_private_key_file": str(keys[t.profile]),
            "ansible_ssh_timeout": max(1, round(timeout_s)),
            "ansible_ssh_common_args": args,
            "ansible_python_interpreter": python.reveal() if python else "auto_silent",
        }
    return {"all": {"hosts": hosts}}


@dataclass
class _Seen:
    """What the playbook's events said, per inventory host."""

    outputs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    times: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def __call__(self, raw: Mapping[str, Any]) -> None:
        data = raw.get("event_data") or {}
        host, task = data.get("host"), data.get("task")
        if not host:
            return
        res = data.get("res") or {}
        event = raw.get("event")
        if event == "runner_on_ok" and task in (*COMMANDS, LOG_TASK, SUMMARY_TASK):
            self.outputs[(host, task)] = dict(res)
            self.times[(host, task)] = str(raw.get("created") or data.get("end") or "")
        elif event in ("runner_on_failed", "runner_on_unreachable") and host not in self.errors:
            msg = str(res.get("msg") or "falló").strip().splitlines()[0][:300]
            what = "inalcanzable" if event == "runner_on_unreachable" else "falló"
            self.errors[host] = f"Ansible: {what}: {remote_reason(msg)}"


@dataclass
class Collected:
    """The playbook's run: its job id and what each host gave (before anything is stored)."""

    job_id: str
    status: str
    folder: Path  # where the copied logs are, removed by :func:`collect`
    seen: _Seen
    targets: list[Target]


def run(
    store: Store,
    settings: Settings,
    targets: Sequence[Target],
    *,
    auth_logs: Sequence[str] = DEFAULT_AUTH_LOGS,
    timeout_s: float | None = None,
) -> Collected:
    """Run the triage playbook over ``targets``; nothing is recorded as evidence yet."""
    from pukara.ansible import run_playbook

    logs = [check_log_path(p) for p in auth_logs] or list(DEFAULT_AUTH_LOGS)
    timeout = settings.timeout_s if timeout_s is None else timeout_s
    profiles: dict[str, CredentialProfile] = {}
    keys: dict[str, Path] = {}
    checked: dict[str, str | None] = {}
    for t in targets:
        if t.profile not in profiles:
            try:
                profiles[t.profile] = require_profile(t.profile)
                keys[t.profile] = usable_key_file(profiles[t.profile], checked)
            except SecretsError as e:
                raise UsageError(f"equipo {t.name}: {e}") from e
    incoming = evidencia.evidence_root(settings) / "tmp"
    make_private_dirs(incoming)
    folder = Path(tempfile.mkdtemp(prefix="triage-", dir=incoming))
    seen = _Seen()
    try:
        done = run_playbook(
            PLAYBOOK, _inventory(targets, keys, profiles, timeout), settings=settings,
            store=store, extravars={"triage_dest": check_log_path(str(folder)),
                                    "triage_auth_logs": logs},
            timeout_s=int(timeout * 20 + 60), on_event=seen,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Collected(done.ident, done.status, folder, seen, list(targets))


def record(cmd: Command, settings: Settings, incident: Mapping[str, Any],
           collected: Collected) -> list[HostTriage]:  # fmt: skip
    """Each artifact of ``collected`` as an evidence item of ``incident`` (custody
    ``adquirida``); the copied logs' folder is removed afterwards, however it ends."""
    try:
        return [_record_host(cmd, settings, incident, collected, f"h{i}", t)
                for i, t in enumerate(collected.targets)]  # fmt: skip
    finally:
        shutil.rmtree(collected.folder, ignore_errors=True)


def _record_host(
    cmd: Command, settings: Settings, incident: Mapping[str, Any], collected: Collected,
    host: str, target: Target,
) -> HostTriage:  # fmt: skip
    seen = collected.seen
    out = HostTriage(target)
    number = incident.get("number") or incident["id"]
    purpose = f"triage del incidente {number} (trabajo de Ansible {collected.job_id})"
    if host in seen.errors and (host, SUMMARY_TASK) not in seen.outputs:
        out.error = seen.errors[host]
        return out
    origin = f"{target.name} ({target.address})"
    for task, (kind, name, what) in COMMANDS.items():
        res = seen.outputs.get((host, task))
        if res is None or int(res.get("rc", -1)) != 0:
            why = _why(res)
            out.missing.append(f"«{what}»: {why}")
            continue
        text = str(res.get("stdout") or "")
        data = (text + "\n").encode() if text else b""
        out.items.append(evidencia.add_bytes(
            cmd, settings, incident, name, data, kind=kind, host=target.name, purpose=purpose,
            acquired_at=_time(seen.times.get((host, task))), action="adquirida",
            where=f"{origin}, salida de «{what}», trabajo de Ansible {collected.job_id}",
        ))  # fmt: skip
    _record_log(cmd, settings, incident, collected, host, target, out, purpose, origin)
    return out


def _record_log(
    cmd: Command, settings: Settings, incident: Mapping[str, Any], collected: Collected,
    host: str, target: Target, out: HostTriage, purpose: str, origin: str,
) -> None:  # fmt: skip
    seen = collected.seen
    summary = (seen.outputs.get((host, SUMMARY_TASK)) or {}).get("msg") or {}
    stat_info = summary.get("auth_log") or {} if isinstance(summary, dict) else {}
    path = collected.folder / host / "auth.log"
    if not stat_info.get("path"):
        out.missing.append("registro de autenticación: no existe ninguna de las rutas buscadas")
        return
    fetched = seen.outputs.get((host, LOG_TASK)) or {}
    if not path.is_file() or fetched.get("failed"):
        out.missing.append(f"registro de autenticación {stat_info['path']}: "
                           f"{_why(fetched)}")  # fmt: skip
        return
    # stat hashed the log on the host just before the copy; a live log only grows meanwhile,
    # so the copy must start with those bytes
    remote, size = str(stat_info.get("checksum") or ""), int(stat_info.get("size") or 0)
    hashed = f"; SHA-256 en el equipo al empezar {remote}, {size} bytes" if remote else ""
    item = evidencia.add_file(
        cmd, settings, incident, path, kind="registro_auth", host=target.name, purpose=purpose,
        acquired_at=_time(seen.times.get((host, LOG_TASK))), action="adquirida",
        name=Path(str(stat_info["path"])).name,
        where=f"{origin}:{stat_info['path']}, copiado por Ansible (trabajo {collected.job_id}"
        f"{hashed})",
    )  # fmt: skip
    out.items.append(item)
    if remote and remote != item["sha256"] and not _starts_with_hashed(path, size, remote):
        out.missing.append(
            f"registro de autenticación {stat_info['path']}: se reescribió en el equipo durante "
            f"la copia (SHA-256 allí {remote} con {size} bytes; la copia no empieza así)"
        )


def _starts_with_hashed(path: Path, size: int, remote: str) -> bool:
    """Whether the copy starts with the bytes stat hashed on the host.

    Ansible's stat takes the size first and reads the file for its checksum after, so on a
    live log the hash may cover ``size`` bytes plus whole lines written in between: the
    prefix of ``size`` bytes is tried, then each longer one that ends at a line end.
    """
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        left = size
        while left > 0 and (chunk := f.read(min(left, evidencia.CHUNK))):
            h.update(chunk)
            left -= len(chunk)
        if h.hexdigest() == remote:
            return True
        while chunk := f.read(evidencia.CHUNK):
            start = 0
            while (end := chunk.find(b"\n", start)) != -1:
                h.update(chunk[start : end + 1])
                if h.copy().hexdigest() == remote:
                    return True
                start = end + 1
            h.update(chunk[start:])
    return False


def _why(res: Mapping[str, Any] | None) -> str:
    if res is None:
        return "no se ejecutó"
    text = str(res.get("stderr") or res.get("msg") or "").strip().splitlines()
    rc = res.get("rc")
    detail = clean_line(text[0])[:200] if text else ""
    return f"salió con {rc}" + (f" ({detail})" if detail else "") if rc is not None else (
        detail or "falló")  # fmt: skip


def _time(text: str | None) -> str | None:
    if not text:
        return None
    from datetime import UTC, datetime

    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).isoformat()
