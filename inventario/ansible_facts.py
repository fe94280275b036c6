"""Server facts through Ansible: ``playbooks/inventario/hechos.yml`` run by ansible-runner.

The playbook only reads. Its last task prints one ``pukara_facts`` dict per host, taken here
from the event stream and turned into pukara's facts: OS, CPU count and use, memory, disks
and whether IPv6 is on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inventario.model import valid_serial
from pukara.ansible import run_playbook
from pukara.config import Settings
from pukara.errors import SecretsError, remote_reason
from pukara.events import utc_now
from pukara.labels import ansible_status_label
from pukara.results import Result, RunResult, Status
from pukara.secrets import CredentialProfile, usable_key_file
from pukara.store import Store

PLAYBOOK = "inventario/hechos.yml"
FACTS_TASK = "Hechos para pukara"
_VIRTUAL_FS = frozenset({"tmpfs", "devtmpfs", "squashfs", "overlay", "proc", "sysfs", "nsfs",
                         "cgroup", "cgroup2", "autofs", "fuse.lxcfs", "iso9660"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class AnsibleTarget:
    name: str
    address: str
    profile: CredentialProfile


def cpu_used_pct(lines: Sequence[str]) -> float | None:
    """Busy share between two ``cpu`` lines of /proc/stat."""
    rows = [[int(x) for x in ln.split()[1:]] for ln in lines if ln.startswith("cpu ")]
    if len(rows) < 2:
        return None
    a, b = rows[0], rows[-1]
    total = sum(b) - sum(a)
    idle = (b[3] + (b[4] if len(b) > 4 else 0)) - (a[3] + (a[4] if len(a) > 4 else 0))
    return round(100.0 * (total - idle) / total, 1) if total > 0 else None


def load_average(text: Any) -> list[float] | None:
    """The 1, 5 and 15 minute load averages from a /proc/loadavg line."""
    try:
        values = [float(x) for x in str(text or "").split()[:3]]
    except ValueError:
        return None
    return values if len(values) == 3 else None


def _identities(mount: Mapping[str, Any]) -> set[str]:
    """What names a mount's file system: its UUID and its device (bind mounts share them)."""
    out = {f"device:{mount.get('device') or mount.get('mount')}"}
    uuid = str(mount.get("uuid") or "")
    if uuid and uuid.upper() != "N/A":
        out.add(f"uuid:{uuid}")
    return out


def real_mounts(mounts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Each real file system once: virtual ones dropped, bind mounts and repeats (same UUID
    or same device) folded into the mount with the shortest path (``/`` before ``/etc/hosts``)."""
    chosen: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    for m in sorted(mounts, key=lambda m: (len(str(m.get("mount"))), str(m.get("mount")))):
        if int(m.get("size_total") or 0) <= 0 or m.get("fstype") in _VIRTUAL_FS:
            continue
        names = _identities(m)
        if not names & seen:
            chosen.append(m)
        seen |= names
    return chosen


def to_facts(raw: Mapping[str, Any]) -> dict[str, Any]:
    disks: list[dict[str, Any]] = []
    for m in real_mounts(raw.get("mounts") or []):
        size = int(m.get("size_total") or 0)
        free = int(m.get("size_available") or 0)
        disks.append({"mount": m.get("mount"), "size_gb": round(size / 1e9, 1),
                      "used_pct": round(100.0 * (size - free) / size, 1)})  # fmt: skip
    total_mb = int(raw.get("memtotal_mb") or 0)
    used_mb = int(raw.get("mem_used_nocache_mb") or 0)
    addresses = [a for a in raw.get("ipv6_addresses") or [] if not a.lower().startswith("fe80")]
    version = raw.get("distribution_version") or ""
    facts: dict[str, Any] = {
        "name": raw.get("hostname") or None,
        "os": raw.get("system") or None,
        "os_version": raw.get("kernel") or None,
        "distribution": f"{raw.get('distribution') or ''} {version}".strip() or None,
        "serial": valid_serial(raw.get("serial")),
        "cpu_count": int(raw.get("vcpus") or 0) or None,
        "cpu_used_pct": cpu_used_pct(raw.get("cpu_stat") or []),
        "cpu_window_s": _window(raw.get("cpu_window_s")),
        "load_avg": load_average(raw.get("loadavg")),
        "memory_mb": total_mb or None,
        "memory_used_pct": round(100.0 * used_mb / total_mb, 1) if total_mb else None,
        "disks": sorted(disks, key=lambda d: str(d["mount"])),
        "disk_used_pct": max((d["used_pct"] for d in disks), default=None),
        "ipv6_enabled": str(raw.get("ipv6_disabled")).strip() == "0" and bool(addresses),
    }
    return {k: v for k, v in facts.items() if v not in (None, [], "")}


def _window(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _inventory(targets: Sequence[tuple[AnsibleTarget, Path]], timeout_s: float) -> dict[str, Any]:
    """Each host with its own profile's user and key, and nothing else to log in with.

    ``IdentitiesOnly`` keeps ssh to that one key file (no agent's, no default ``~/.ssh/id_*``),
    so a host whose profile's key is not authorised fails instead of getting in with another
    profile's key. The wait to connect is ``ansible_ssh_timeout``: Ansible puts its own
    ``ConnectTimeout`` (10 s by default) before the common arguments, and ssh keeps the first.
    """
    hosts: dict[str, Any] = {}
    for t, key in targets:
        known = t.profile.get("known_hosts")
        python = t.profile.get("python_interpreter")
        args = "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
        if known:
            args += f" -o UserKnownHostsFile={known.reveal()}"
        hosts[t.name] = {
            "ansible_host": t.address,
            "ansible_user": t.profile.require("username").reveal(),
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_timeout": max(1, round(timeout_s)),
            "ansible_ssh_common_args": args,
            "ansible_python_interpreter": python.reveal() if python else "auto_silent",
        }
    return {"all": {"hosts": hosts}}


REJECTED = "rechazó las credenciales"  # pukara.errors.remote_reason's words for a refused login


def take_event(
    raw: Mapping[str, Any], facts: dict[str, dict[str, Any]], errors: dict[str, str]
) -> None:
    """One ansible-runner event: a host's facts, or its error (odd facts included)."""
    data = raw.get("event_data") or {}
    host, res = data.get("host"), data.get("res") or {}
    if not host:
        return
    event = raw.get("event")
    if event == "runner_on_ok" and data.get("task") == FACTS_TASK:
        try:
            facts[host] = to_facts(res.get("pukara_facts") or {})
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
            # one host's odd facts are that host's error, never the whole run's
            errors[host] = f"Ansible: hechos ilegibles del equipo ({type(e).__name__}): {e}"
    elif event in ("runner_on_failed", "runner_on_unreachable") and host not in errors:
        msg = str(res.get("msg") or "falló").strip().splitlines()[0][:300]
        what = "inalcanzable" if event == "runner_on_unreachable" else "falló"
        errors[host] = f"Ansible: {what}: {remote_reason(msg)}"


def discover(
    targets: Sequence[AnsibleTarget], *, settings: Settings, store: Store | None, timeout_s: float
) -> RunResult:
    """Run the facts playbook over ``targets``; one Result per target address."""
    if not targets:
        return RunResult("descubrir-ansible", [])
    checked: dict[str, str | None] = {}
    ready: list[tuple[AnsibleTarget, Path]] = []
    refused: dict[str, str] = {}  # a bad key fails its profile's hosts, not the run
    for t in targets:
        try:
            ready.append((t, usable_key_file(t.profile, checked)))
        except SecretsError as e:
            refused[t.name] = f"Ansible: {e}"
    facts: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    started = utc_now()

    def on_event(raw: Mapping[str, Any]) -> None:
        take_event(raw, facts, errors)

    status = "failed"
    if ready:
        run = run_playbook(
            PLAYBOOK, _inventory(ready, timeout_s), settings=settings, store=store,
            timeout_s=int(timeout_s * 20 + 60), on_event=on_event,
        )  # fmt: skip
        status = run.status
    errors.update(refused)
    keys = {t.name: key for t, key in ready}
    results = []
    for t in targets:
        if t.name in facts:
            results.append(Result(t.address, Status.OK, data={"facts": facts[t.name],
                                  "credential": t.profile.name}, started_at=started,
                                  finished_at=utc_now()))  # fmt: skip
        else:
            reason = errors.get(t.name) or (
                f"Ansible terminó {ansible_status_label(status)} sin hechos del equipo"
            )
            if t.name in keys and REJECTED in reason:  # which key it was: a path, not the key
                reason += f" (perfil «{t.profile.name}», llave {keys[t.name]})"
            results.append(Result(t.address, Status.FAILED, error=reason))
    return RunResult("descubrir-ansible", results)
