"""Running playbooks/auditoria/linux.yml: inventory, credentials and the events it gives.

The inventory names hosts ``h0``, ``h1``... (no inventory name reaches Ansible as a host
name); each logs in with its target's credential profile: user, key file by path (never
copied), known_hosts, strict host key checking. No secret goes into argv, the environment or
ansible-runner's private_data_dir: the key is a path, and pukara.ansible keeps the rest out.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditoria.linux_secretos import mask, mask_all
from pukara.config import Settings
from pukara.errors import Interrupted, SecretsError, UsageError, remote_reason
from pukara.secrets import CredentialProfile, require_profile, usable_key_file
from pukara.store import Store
from pukara.text import clean

if TYPE_CHECKING:
    from auditoria.linux import Target
    from auditoria.politica import Policy

_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+@-]+$")


@dataclass
class HostOutput:
    raw: dict[str, str] = field(default_factory=dict)  # key -> the task's stdout
    errors: dict[str, str] = field(default_factory=dict)  # key -> why the task failed
    unreachable: str | None = None


@dataclass
class Collected:
    hosts: dict[str, HostOutput]  # target name -> what it gave
    events: list[dict[str, Any]]
    job_id: str | None
    status: str


class _Cancelled(Exception):
    pass


class Watch:
    """ansible-runner's events: each task's stdout per host, failures, unreachable hosts."""

    def __init__(self, names: Mapping[str, str], keys: Sequence[str],
                 cancel: Callable[[], bool] | None, nonce: str) -> None:  # fmt: skip
        self.names, self.keys, self.cancel, self.nonce = names, set(keys), cancel, nonce
        self.hosts = {name: HostOutput() for name in names.values()}
        self.events: list[dict[str, Any]] = []
        self.cancelled = False

    def __call__(self, event: Mapping[str, Any]) -> None:
        if self.cancel is not None and self.cancel():
            self.cancelled = True
            raise _Cancelled
        if isinstance(event, dict):  # masked in place: pukara.ansible stores this same event
            for key in list(event):
                event[key] = mask_all(event[key])
        data = event.get("event_data") or {}
        name = self.names.get(str(data.get("host") or ""))
        kept = mask_all(copy.deepcopy(dict(event)))
        if name is not None:
            kept["pukara_host"] = name
        self.events.append(kept)
        if name is None:
            return
        host, task, kind = self.hosts[name], str(data.get("task") or ""), event.get("event")
        got = data.get("res")
        res: Mapping[str, Any] = got if isinstance(got, Mapping) else {}
        if kind == "runner_on_unreachable":
            host.unreachable = remote_reason(_first_line(res, "inalcanzable"))
        elif task in self.keys and kind == "runner_on_ok":
            host.raw[task] = headers(mask(clean(str(res.get("stdout") or ""))), self.nonce)
        elif task in self.keys and kind == "runner_on_failed":
            host.errors[task] = remote_reason(_first_line(res, "falló"))


def headers(text: str, nonce: str) -> str:
    """A task's output with this run's markers (``@@<nonce> name rc=N``) as plain section
    headers and any other line that looks like one (host text: a file name, a banner)
    escaped, so that no text from the host can open or replace a section."""
    mark = f"@@{nonce} "
    out: list[str] = []
    for line in text.split("\n"):
        if nonce and line.startswith(mark):
            out.append("@@ " + line[len(mark) :])
        elif line.startswith("@@"):
            out.append("\\" + line)
        else:
            out.append(line)
    return "\n".join(out)


def _first_line(res: Mapping[str, Any], default: str) -> str:
    text = str(res.get("msg") or res.get("stderr") or default).strip().splitlines()
    return text[0][:300] if text else default


def _entry(
    target: Target, profile: CredentialProfile, key: Path, timeout_s: float
) -> dict[str, Any]:
    known = profile.get("known_hosts")
    python = profile.get("python_interpreter")
    args = "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    if known:
        path = known.reveal()
        if not _SAFE_PATH.match(path):
            raise SecretsError(f"el perfil «{profile.name}» tiene un known_hosts que no es una "
                               "ruta absoluta simple: no se conecta con él")  # fmt: skip
        args += f" -o UserKnownHostsFile={path}"
    return {
        "ansible_host": target.address,
        "ansible_user": profile.require("username").reveal(),
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_timeout": max(1, round(timeout_s)),
        "ansible_ssh_common_args": args,
        "ansible_python_interpreter": python.reveal() if python else "auto_silent",
        "ansible_pipelining": True,
    }


def inventory(
    targets: Sequence[Target], timeout_s: float
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(Ansible inventory, inventory host -> target name, target name -> credential problem)."""
    hosts: dict[str, Any] = {}
    names: dict[str, str] = {}
    problems: dict[str, str] = {}
    checked: dict[str, str | None] = {}
    profiles: dict[str, CredentialProfile | str] = {}
    for i, target in enumerate(targets):
        if target.profile not in profiles:
            try:
                profiles[target.profile] = require_profile(target.profile)
            except SecretsError as e:
                profiles[target.profile] = str(e)
        profile = profiles[target.profile]
        try:
            if isinstance(profile, str):
                raise SecretsError(profile)
            key = usable_key_file(profile, checked)
            hosts[f"h{i}"] = _entry(target, profile, key, timeout_s)
            names[f"h{i}"] = target.name
        except SecretsError as e:
            problems[target.name] = f"credenciales: {e}"
    return {"all": {"hosts": hosts}}, names, problems


def settle(hosts: Mapping[str, HostOutput], keys: Sequence[str], status: str) -> None:
    """After the run: a host that answered some tasks and then stopped keeps what it gave
    (the rest is an error with the reason); one that gave nothing is unreachable."""
    for host in hosts.values():
        if host.unreachable is not None and host.raw:
            for key in keys:
                if key not in host.raw:
                    host.errors.setdefault(key, f"el equipo dejó de responder: {host.unreachable}")
            host.unreachable = None
        if host.unreachable is None and not host.raw and not host.errors:
            host.unreachable = f"el equipo no dio ninguna salida (ejecución: {status})"


def collect(
    targets: Sequence[Target],
    settings: Settings,
    policy: Policy,
    *,
    store: Store | None = None,
    cancel: Callable[[], bool] | None = None,
    timeout_s: int | None = None,
) -> Collected:
    """Run the playbook over ``targets``; what each host gave, by target name."""
    from auditoria.linux import KEYS, PLAYBOOK
    from pukara.ansible import run_playbook
    from pukara.errors import AnsibleError

    seen: set[str] = set()
    for target in targets:
        if target.name in seen:
            raise UsageError(f"el equipo {target.name} está dos veces en el alcance")
        seen.add(target.name)
    inv, names, problems = inventory(targets, settings.timeout_s)
    nonce = secrets.token_hex(16)
    watch = Watch(names, KEYS, cancel, nonce)
    done = None
    if names:
        try:
            done = run_playbook(
                PLAYBOOK, inv, settings=settings, store=store, on_event=watch,
                extravars={"pukara_dormant_days": policy.dormant_days, "pukara_marca": nonce},
                timeout_s=timeout_s or max(600, int(settings.timeout_s * 60)),
            )  # fmt: skip
        except AnsibleError:
            if watch.cancelled:
                raise Interrupted("auditoría Linux interrumpida") from None
            raise
    hosts = {t.name: watch.hosts.get(t.name, HostOutput()) for t in targets}
    for name, problem in problems.items():
        hosts[name].unreachable = problem
    settle(hosts, KEYS, done.status if done else "sin ejecutar")
    return Collected(hosts, watch.events, done.ident if done else None,
                     done.status if done else "sin ejecutar")  # fmt: skip
