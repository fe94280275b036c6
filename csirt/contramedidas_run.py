"""One countermeasure playbook run: inventory, checked extravars, verification, artifacts.

The host is the inventory asset's management address, reached with its credential profile
(user, key file by path, known_hosts), as pukara's other Ansible runs reach it. Values that
reach the playbook are parsed again here (the stored record could have been edited) and go
as extravars only; the playbooks assert them once more. The last task of each playbook is a
read-only check of its effect: ``verified`` is that task's ``ok``; ``reached`` says whether
any task ran on the host at all (one that never reached it changed nothing).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csirt import permitidos
from pukara.ansible import run_playbook
from pukara.config import Settings
from pukara.errors import PukaraError, SecretsError, UsageError, remote_reason
from pukara.secrets import CredentialProfile, require_profile, usable_key_file
from pukara.store import Store

VERIFY_PREFIX = "Verificar"  # the name of each playbook's read-only check of its effect
BEFORE_TASK = "Informar el estado previo de la cuenta"
ARTIFACTS = ("rc", "status", "stdout")
# actions Ansible runs on the controller only: their ``ok`` says nothing of the host
LOCAL_ACTIONS = frozenset({"assert", "debug", "set_fact", "fail", "meta", "include_vars"})


@dataclass
class Outcome:
    run: dict[str, Any]  # the record kept in the countermeasure's ``runs``
    ok: bool
    verified: bool
    error: str | None = None
    original: Mapping[str, Any] | None = None  # an account's state before it was disabled
    bundle: bytes = b""  # the artifacts as a tar, for the evidence store
    extra: dict[str, Any] = field(default_factory=dict)

    def keep_evidence(self, cmd: Any, settings: Settings, cm: Mapping[str, Any]) -> None:
        """The run's artifacts as evidence of the incident, once ``csirt.evidencia`` is there."""
        try:
            add_bytes = importlib.import_module("csirt.evidencia").add_bytes
        except (ImportError, AttributeError):
            return
        incident = cmd.get("csirt.incidente", (cm["incident_id"],))
        if incident is None or not self.bundle:
            return
        add_bytes(
            cmd, settings, incident, f"ansible-{self.run['job_id']}.tar", self.bundle,
            kind="ansible", host=cm["target"]["host"],
            purpose=f"artefactos de {self.run['playbook']} (contramedida {cm['id']})",
        )  # fmt: skip


def known_hosts_path(text: str) -> str:
    """The profile's known_hosts as ssh gets it inside one argument: a plain absolute path
    (as triage checks it), never anything that could add an ssh option."""
    from csirt.evidencia_triage import check_log_path

    try:
        return check_log_path(text)
    except UsageError:
        raise SecretsError(
            "el perfil de credenciales tiene un known_hosts que no es una ruta absoluta simple "
            "(letras, cifras y . _ - / + @): no se conecta con él"
        ) from None


def host_entry(
    address: str, profile: CredentialProfile, key: Path, timeout_s: float = 10
) -> dict[str, Any]:
    """One host's connection variables, as pukara's other runs log in (one key, checked)."""
    known = profile.get("known_hosts")
    python = profile.get("python_interpreter")
    args = "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    if known:
        args += f" -o UserKnownHostsFile={known_hosts_path(known.reveal())}"
    return {
        "ansible_host": address,
        "ansible_user": profile.require("username").reveal(),
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_timeout": max(1, round(timeout_s)),
        "ansible_ssh_common_args": args,
        "ansible_python_interpreter": python.reveal() if python else "auto_silent",
        # modules through the open SSH session, not copied first: fewer round trips per task
        "ansible_pipelining": True,
    }


def host_inventory(
    name: str, address: str, profile: CredentialProfile, key: Path, timeout_s: float = 10
) -> dict[str, Any]:
    """Ansible's inventory for one host."""
    return {"all": {"hosts": {name: host_entry(address, profile, key, timeout_s)}}}


def extravars(cm: Mapping[str, Any], playbook: str, address: str) -> dict[str, Any]:
    """What the playbook gets, each value parsed again (never pasted into a shell)."""
    target = cm["target"]
    if cm["kind"] == "bloquear_ip":
        net, family = permitidos.parse_address(target["address"])
        return {"pukara_address": net, "pukara_family": family}
    if cm["kind"] == "aislar_host":
        if playbook.endswith("liberar.yml"):
            return {}
        from csirt.contramedidas import route_source

        return {"pukara_mgmt_sources": [permitidos.parse_address(route_source(address))[0]]}
    account = permitidos.parse_account(target["account"])
    if playbook.endswith("deshabilitar_cuenta.yml"):
        return {"pukara_account": account}
    original = cm.get("original") or {}
    shell, expire = str(original.get("shell", "")), str(original.get("expire", ""))
    if not permitidos.SHELL.match(shell) or not (expire == "" or expire.isdigit()):
        raise permitidos.Refused(
            f"la contramedida {cm['id']} no guarda un estado previo válido de la cuenta "
            f"{account}: no se sabe cómo devolverla"
        )
    locked = bool(original.get("locked"))
    return {"pukara_account": account,
            "pukara_original": {"shell": shell, "expire": expire, "locked": locked}}  # fmt: skip


def artifacts_digest(folder: Path | None) -> tuple[dict[str, str], str, bytes]:
    """SHA-256 of rc, status, stdout and each job event; the manifest's; a tar of them."""
    files: dict[str, str] = {}
    out = io.BytesIO()
    if folder is None or not folder.is_dir():
        return files, hashlib.sha256(b"").hexdigest(), b""
    names = [n for n in ARTIFACTS if (folder / n).is_file()]
    names += sorted(f"job_events/{p.name}" for p in (folder / "job_events").glob("*.json"))
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name in names:
            data = (folder / name).read_bytes()
            files[name] = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(f"{folder.name}/{name}")
            info.size, info.mode = len(data), 0o400
            tar.addfile(info, io.BytesIO(data))
    manifest = "".join(f"{digest}  {name}\n" for name, digest in files.items())
    return files, hashlib.sha256(manifest.encode()).hexdigest(), out.getvalue()


class _Watch:
    """The run's events per host: the verification task, failures, the prior state."""

    def __init__(self) -> None:
        self.verified: set[str] = set()
        self.reached: set[str] = set()
        self.errors: dict[str, list[str]] = {}
        self.original: dict[str, Mapping[str, Any]] = {}

    def __call__(self, raw: Mapping[str, Any]) -> None:
        data = raw.get("event_data") or {}
        host, task, res = (
            str(data.get("host") or ""),
            str(data.get("task") or ""),
            data.get("res") or {},
        )
        event = raw.get("event")
        action = str(data.get("task_action") or "").rsplit(".", 1)[-1]
        if event in ("runner_on_ok", "runner_on_failed") and host and action not in LOCAL_ACTIONS:
            self.reached.add(host)  # a task that ran on the host, not only on the controller
        if event == "runner_on_ok" and task.startswith(VERIFY_PREFIX):
            self.verified.add(host)
        elif event == "runner_on_ok" and task == BEFORE_TASK:
            self.original[host] = dict(res.get("pukara_account_before") or {})
        elif event in ("runner_on_failed", "runner_on_unreachable"):
            msg = str(res.get("msg") or res.get("stderr") or "falló").strip().splitlines()
            what = "inalcanzable" if event == "runner_on_unreachable" else f"falló «{task}»"
            text = f"{what}: {remote_reason(msg[0][:300] if msg else 'falló')}"
            self.errors.setdefault(host, []).append(text)


def _prepare(
    store: Store, settings: Settings, cm: Mapping[str, Any], playbook: str,
    keys: dict[str, str | None],
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """The record's host name and inventory entry, its variables parsed again."""
    asset = permitidos.asset_of(store, cm["target"]["host"])
    address = permitidos.management_address(asset)
    variables = extravars(cm, playbook, address)
    profile_name = asset.get("credential_profile")
    if not profile_name:
        raise SecretsError(
            f"el equipo {asset['name']} no tiene perfil de credenciales (credential_profile) "
            "en el inventario"
        )
    profile = require_profile(str(profile_name))
    entry = host_entry(address, profile, usable_key_file(profile, keys), settings.timeout_s)
    return str(asset["name"]), {**entry, **variables}


def run_countermeasures(
    store: Store, settings: Settings, cms: Sequence[Mapping[str, Any]], playbook: str, *,
    check: bool = False,
) -> dict[str, Outcome | PukaraError]:  # fmt: skip
    """Run ``playbook`` once for every record of ``cms`` (one host each, no host twice): what
    happened to each, by record id. A record that cannot start (its target no longer parses,
    no credentials) is that record's error, and the others still run; a host that fails is
    its own failed Outcome. Raises only when Ansible itself cannot run.

    Each host's values are its inventory variables (a batch has one value per host), parsed
    here again and asserted by the playbook; none is ever pasted into a shell.
    """
    out: dict[str, Outcome | PukaraError] = {}
    hosts: dict[str, dict[str, Any]] = {}
    which: dict[str, str] = {}  # record id -> host
    keys: dict[str, str | None] = {}
    for cm in cms:
        try:
            host, entry = _prepare(store, settings, cm, playbook, keys)
        except PukaraError as e:
            out[cm["id"]] = e
            continue
        hosts[host], which[cm["id"]] = entry, host
    if not hosts:
        return out
    watch = _Watch()
    run = run_playbook(
        playbook, {"all": {"hosts": hosts}}, settings=settings, store=store, on_event=watch,
        check=check, timeout_s=300, forks=min(len(hosts), settings.concurrency),
    )  # fmt: skip
    files, manifest, bundle = artifacts_digest(run.artifact_dir)
    finished = run.status in ("successful", "failed")
    for cm_id, host in which.items():
        ok = finished and host not in run.failed_hosts and not watch.errors.get(host)
        verified = ok and host in watch.verified and not check
        error = None
        if not ok:
            error = (
                "; ".join(watch.errors.get(host, []))
                or f"Ansible terminó {run.status} (rc {run.rc})"
            )
        elif not verified and not check:
            error = "el playbook terminó sin la verificación de su efecto"
        record = {
            "playbook": playbook, "job_id": run.ident, "status": run.status, "rc": run.rc,
            "host_ok": ok, "artifacts_sha256": manifest, "files_sha256": files,
            "verified": verified, "check": check, "reached": host in watch.reached,
            "changed": bool((run.stats.get("changed") or {}).get(host)),
            "bundle_sha256": hashlib.sha256(bundle).hexdigest() if bundle else None,
            "address": hosts[host]["ansible_host"], "error": error,
        }  # fmt: skip
        out[cm_id] = Outcome(record, ok, verified, error, watch.original.get(host), bundle)
    return out
