"""Linux server checks 1-27: one playbook collects raw outputs, evaluators judge them.

``playbooks/auditoria/linux.yml`` runs read-only commands on every host, one task per raw
output (the task's name is its key). Each check of ``datos/comprobaciones_linux.toml`` reads
one or more keys and gives one :class:`~auditoria.modelo.Result` per host, with the raw output
kept as evidence. A host that could not be reached, or whose collection failed, gets an ERROR
result for every check, never a pass; a command missing on the host is judged (fail or
not-applicable, with the reason).

Example::

    from auditoria import linux, politica
    targets = [linux.Target("srv-aud1", "198.19.0.2")]
    done = linux.run(targets, settings, politica.load(settings))
    for r in done.results: ...
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from auditoria import linux_acceso as acc
from auditoria import linux_registro as reg
from auditoria import linux_sistema as sis
from auditoria.linux_secciones import Verdict
from auditoria.linux_secretos import mask
from auditoria.modelo import Check, ControlLink, Kind, Relation, Result, Status
from auditoria.politica import Policy
from pukara.config import Settings
from pukara.errors import AnsibleError, ConfigError, Interrupted, PukaraError, remote_reason
from pukara.store import Store
from pukara.text import clean

PLAYBOOK = "auditoria/linux.yml"
DEFAULT_PROFILE = "auditoria"
EVIDENCE_CHARS = 12_000  # of each raw output kept in a result's evidence (the rest: in ``raw``)


@dataclass(frozen=True, slots=True)
class Target:
    """One Linux server to audit.

    Attributes:
        name: the host's name in the results (the inventory asset's name or its hostname).
        address: the IP address or DNS name Ansible connects to over SSH.
        profile: the credential profile (``pukara.secrets``) with ``username``, ``key_file``
            and ``known_hosts``; the lab's is ``auditoria``.
        role: the host's role for ``listening_services`` (a table of the policy's
            ``[listening.roles]``); None: the policy's ``[listening.hosts]``, else ``default``.
    """

    name: str
    address: str
    profile: str = DEFAULT_PROFILE
    role: str | None = None


@dataclass
class LinuxRun:
    """What :func:`run` gives: results (27 per host), Ansible's job events, raw outputs."""

    results: list[Result]
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> key -> output
    job_id: str | None = None


Evaluator = Callable[[Mapping[str, str], Policy, Target], Verdict]


def _plain(fn: Callable[[Mapping[str, str], Policy], Verdict]) -> Evaluator:
    return lambda raw, policy, target: fn(raw, policy)


# check id -> (raw keys it reads, evaluator), in the agreed order 1-27
EVALUATORS: dict[str, tuple[tuple[str, ...], Evaluator]] = {
    "ntp_sync": (("time_sync",), _plain(reg.ntp_sync)),
    "syslog_remote": (("syslog",), _plain(reg.syslog_remote)),
    "log_permissions": (("log_files",), _plain(reg.log_permissions)),
    "auditd_rules": (("audit_rules",), _plain(reg.auditd_rules)),
    "password_quality": (("pam_password",), _plain(acc.password_quality)),
    "password_hashing": (("login_defs",), _plain(acc.password_hashing)),
    "account_lockout": (("pam_auth",), _plain(acc.account_lockout)),
    "ssh_root_login": (("sshd",), _plain(acc.ssh_root_login)),
    "ssh_password_auth": (("sshd",), _plain(acc.ssh_password_auth)),
    "ssh_crypto": (("sshd",), _plain(acc.ssh_crypto)),
    "ssh_idle_timeout": (("sshd",), _plain(acc.ssh_idle_timeout)),
    "shell_timeout": (("shell_profile",), _plain(acc.shell_timeout)),
    "login_banner": (("sshd",), _plain(acc.login_banner)),
    "unique_ids": (("accounts",), _plain(acc.unique_ids)),
    "uid0_only_root": (("accounts",), _plain(acc.uid0_only_root)),
    "sudo_nopasswd": (("sudoers",), _plain(acc.sudo_nopasswd)),
    "dormant_accounts": (("accounts", "lastlog"), _plain(acc.dormant_accounts)),
    "setuid_baseline": (("setuid",), _plain(sis.setuid_baseline)),
    "world_writable_etc": (("etc_world_writable",), _plain(sis.world_writable_etc)),
    "security_updates": (("apt_upgrades",), _plain(sis.security_updates)),
    "apt_signed_sources": (("apt_sources",), _plain(sis.apt_signed_sources)),
    "firewall_default_deny": (("firewall",), _plain(sis.firewall_default_deny)),
    "listening_services": (
        ("listening",),
        lambda raw, policy, t: sis.listening_services(raw, policy, t.name, t.role),
    ),
    "insecure_services": (("listening", "packages"), _plain(sis.insecure_services)),
    "usb_storage": (("modprobe",), _plain(sis.usb_storage)),
    "monitoring_agent": (("snmpd",), _plain(reg.monitoring_agent)),
    "disk_capacity": (("capacity",), _plain(reg.disk_capacity)),
}
KEYS = ("host_identity", *sorted({k for keys, _ in EVALUATORS.values() for k in keys}))


def checks_file() -> Path:
    return Path(str(resources.files("auditoria"))) / "datos" / "comprobaciones_linux.toml"


def load_checks(path: Path | None = None) -> dict[str, Check]:
    """The Linux checks' metadata, in the order of :data:`EVALUATORS`."""
    file = path or checks_file()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"no se pudo leer {file}: {e}") from e
    table = data.get("checks") or {}
    found: dict[str, Check] = {}
    for check_id in EVALUATORS:
        entry = table.get(check_id)
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{file}: falta la comprobación [checks.{check_id}]")
        try:
            links = tuple(
                ControlLink(str(x["edition"]), str(x["control"]), Relation(x["relation"]),
                            str(x["rationale"]))
                for x in entry["links"]
            )  # fmt: skip
            found[check_id] = Check(check_id, str(entry["title"]), Kind(entry["kind"]), links,
                                    int(entry["valid_days"]), int(entry.get("version", 1)))  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{file}: [checks.{check_id}] mal formada: {e}") from e
    return found


def identity(raw: Mapping[str, str]) -> dict[str, Any]:
    """The host's identity from its ``host_identity`` output, for the bundle's manifest:
    ``{"hostname": ..., "machine_id": ..., "os_release": {"ID": "debian", ...}}`` (values
    the host did not give are None or empty)."""
    from auditoria.linux_secciones import sections

    found = sections(raw.get("host_identity", ""))
    name, machine, release = (found.get(k) for k in ("hostname", "/etc/machine-id",
                                                     "/etc/os-release"))  # fmt: skip
    fields: dict[str, str] = {}
    for line in release.text.splitlines() if release else []:
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            fields[key] = value.strip().strip('"')
    return {
        "hostname": name.text.strip() if name and name.ok else None,
        "machine_id": machine.text.strip() if machine and machine.ok else None,
        "os_release": fields,
    }


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _valid_until(observed_at: str, days: int) -> str:
    moment = datetime.strptime(observed_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return utc_text(moment + timedelta(days=days))


def _mask_raw(raw: Mapping[str, str]) -> dict[str, str]:
    return {key: mask(text) for key, text in raw.items()}


def _evidence(raw: Mapping[str, str], keys: Sequence[str]) -> dict[str, Any]:
    """The raw outputs a check read: cleaned, cut to EVIDENCE_CHARS, with their SHA-256."""
    outputs: dict[str, str] = {}
    digests: dict[str, str] = {}
    cut: list[str] = []
    for key in keys:
        text = raw.get(key)
        if text is None:
            continue
        text = mask(text)  # already masked when collected; evidence never holds a secret
        digests[key] = hashlib.sha256(text.encode()).hexdigest()
        if len(text) > EVIDENCE_CHARS:
            cut.append(key)
            text = text[:EVIDENCE_CHARS] + f"\n[… {len(text) - EVIDENCE_CHARS} caracteres más]"
        outputs[key] = text
    evidence: dict[str, Any] = {"playbook": PLAYBOOK, "raw": outputs, "sha256": digests}
    if cut:
        evidence["truncated"] = cut
    return evidence


def evaluate_host(
    target: Target,
    raw: Mapping[str, str],
    policy: Policy,
    *,
    observed_at: str,
    checks: Mapping[str, Check] | None = None,
    task_errors: Mapping[str, str] | None = None,
    unreachable: str | None = None,
) -> list[Result]:
    """One result per Linux check for one host, from its raw outputs (key -> output)."""
    known = checks or load_checks()
    errors = task_errors or {}
    results: list[Result] = []
    for check_id, (keys, evaluate) in EVALUATORS.items():
        missing = [k for k in keys if k not in raw]
        if unreachable is not None:
            verdict = Verdict(Status.ERROR, f"equipo inalcanzable: {unreachable}")
        elif missing:
            why = "; ".join(f"{k}: {errors[k]}" for k in missing if k in errors)
            verdict = Verdict(Status.ERROR, f"no se recogió {', '.join(missing)}"
                                            + (f" ({why})" if why else ""))  # fmt: skip
        else:
            try:
                verdict = evaluate(raw, policy, target)
            except PukaraError as e:
                verdict = Verdict(Status.ERROR, str(e))
            except Exception as e:  # a raw output no evaluator expected: never a pass
                verdict = Verdict(Status.ERROR, f"salida inesperada ({type(e).__name__}: {e})")
        results.append(Result(
            check_id=check_id, host=target.name, status=verdict.status,
            message=clean(verdict.message).replace("\n", " ")[:500],
            observed_at=observed_at,
            valid_until=_valid_until(observed_at, known[check_id].valid_days),
            evidence=_evidence(raw, keys),
        ))  # fmt: skip
    return results


def run(
    targets: Sequence[Target],
    settings: Settings,
    policy: Policy,
    *,
    observed_at: str | None = None,
    cancel: Callable[[], bool] | None = None,
    store: Store | None = None,
    timeout_s: int | None = None,
) -> LinuxRun:
    """Audit ``targets`` with the playbook through ``pukara.ansible.run_playbook``.

    Every target gets one result per check, in target order. Credentials come from each
    target's profile; a profile that cannot be used makes that host's results ERROR, as does
    a host that cannot be reached. ``cancel`` is asked at each Ansible event; when it says
    True the run stops and :class:`~pukara.errors.Interrupted` is raised. ``store``: where
    pukara.ansible keeps Ansible's events (``ansible.evento``) as it does for every run.
    Each target's ``profile`` is the credential profile; callers give the setting
    ``auditoria_credenciales`` (default ``auditoria``) unless the asset names its own.
    """
    from auditoria import linux_run

    if not targets:
        return LinuxRun(results=[])
    observed = observed_at or utc_text(datetime.now(UTC))
    checks = load_checks()
    try:
        collected = linux_run.collect(targets, settings, policy, store=store, cancel=cancel,
                                      timeout_s=timeout_s)  # fmt: skip
    except (Interrupted, KeyboardInterrupt):
        raise
    except AnsibleError as e:
        reason = remote_reason(str(e))
        failed = [r for t in targets for r in evaluate_host(
            t, {}, policy, observed_at=observed, checks=checks,
            unreachable=f"la recolección no se pudo hacer: {reason}")]  # fmt: skip
        return LinuxRun(results=failed)
    results: list[Result] = []
    for target in targets:
        host = collected.hosts[target.name]
        results += evaluate_host(
            target, host.raw, policy, observed_at=observed, checks=checks,
            task_errors=host.errors, unreachable=host.unreachable,
        )  # fmt: skip
    raw = {t.name: _mask_raw(collected.hosts[t.name].raw) for t in targets}
    return LinuxRun(results=results, events=collected.events, raw=raw, job_id=collected.job_id)
