"""Configuration backups: each device's config over SSH, cleaned, one git commit per run.

Device type: netmiko has no FRR driver, and FRR's ``vtysh`` is an IOS-like shell, so
``cisco_ios`` is used: its session preparation (``terminal width 511``, ``terminal length 0``,
reading the ``host#`` prompt) works on vtysh (an unknown ``terminal width`` is answered with
an error line that netmiko ignores), as do its configuration mode (``configure terminal``,
``host(config)#``, ``end``) and ``write memory``. No driver had to be added.

Connection arguments and the mapping of SSH errors are inventario's (host keys checked
strictly against the profile's ``known_hosts``: an unknown or changed key is that device's
error). Every SSH operation has its own timeout (20 s by default).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmiko import ConnectHandler

from inventario.ssh_discovery import SshTarget, connect_args, ssh_errors
from monitoreo.notify import Hooks
from pukara.config import Settings
from pukara.errors import DeviceError, Interrupted, PukaraError, os_reason
from pukara.events import make_event, utc_now
from pukara.files import make_private_dirs
from pukara.results import Result, Status
from pukara.runner import Reporter, run_many
from pukara.secrets import CredentialProfile, require_profile
from pukara.store import Store
from red import limpieza
from red.equipos import NetDevice
from red.repositorio import ConfigRepo, default_path

DATASET = "red.respaldo"
DEVICE_TYPES = {"frr": "cisco_ios"}
COMMANDS = {"frr": ("show version", "show running-config")}
TIMEOUT_S = 20.0
WORKERS = 16
KEY_NAME = "clave-secretos"
# paramiko logs a failed handshake with its traceback; the device's error result says it
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def key_path(data_dir: Path) -> Path:
    """The key that marks secrets: in the data directory, beside (never in) the repository."""
    return Path(data_dir) / "red" / KEY_NAME


def prompt_pattern(base_prompt: str) -> str:
    """The end of a command's output: the prompt alone on the last line (``gw-a#``).

    Not netmiko's default for a known prompt (the bare name), which ``hostname gw-a`` in the
    configuration matches too: a read that stops there truncates the configuration. netmiko's
    ``cisco_ios`` keeps only the first 16 characters of the prompt (IOS abbreviates it; vtysh
    does not), so the rest of the name may follow.
    """
    return rf"(?m)^{re.escape(base_prompt.strip())}\S*[>#]\s*$"


def complete(running: str) -> bool:
    """A whole configuration listing: its last line is ``end``."""
    lines = [line.strip() for line in running.replace("\r", "").splitlines() if line.strip()]
    return bool(lines) and lines[-1] == "end"


def show(
    device: NetDevice,
    profile: CredentialProfile,
    *,
    timeout_s: float = TIMEOUT_S,
    checked: dict[str, str | None] | None = None,
) -> tuple[str, str]:
    """``show version`` and ``show running-config`` as the device sent them (secrets in them:
    never stored or shown; :func:`fetch` gives the text a backup keeps)."""
    device_type = DEVICE_TYPES.get(device.platform)
    if device_type is None:
        raise DeviceError(f"plataforma «{device.platform}» sin respaldo")
    target = SshTarget(device.address, device_type, profile)
    with (
        ssh_errors(profile, timeout_s),
        ConnectHandler(**connect_args(target, timeout_s, checked)) as conn,
    ):
        # the prompt is known from the session's preparation: no extra round trip to find it
        expect = prompt_pattern(conn.base_prompt)
        version, running = [
            conn.send_command(cmd, read_timeout=timeout_s, auto_find_prompt=False,
                              expect_string=expect)
            for cmd in COMMANDS[device.platform]
        ]  # fmt: skip
    if not isinstance(version, str) or not isinstance(running, str):
        raise DeviceError("respuesta inesperada del equipo")
    if not complete(running):
        raise DeviceError("la configuración llegó incompleta (sin «end» al final)")
    return version, running


def fetch(
    device: NetDevice,
    profile: CredentialProfile,
    *,
    timeout_s: float = TIMEOUT_S,
    key: bytes,
    checked: dict[str, str | None] | None = None,
) -> str:
    """The device's configuration as stored: the cleaned ``show version`` header and config.

    ``key`` marks the secrets (:func:`red.limpieza.load_key` of :func:`key_path`).
    """
    version, running = show(device, profile, timeout_s=timeout_s, checked=checked)
    return limpieza.stored_text(device.name, device.platform, version, running, key)


@dataclass(frozen=True, slots=True)
class DeviceBackup:
    device: str
    site: str
    path: str
    status: str  # "ok" (unchanged), "changed", "error"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class BackupRun:
    devices: list[DeviceBackup]
    commit: str | None
    notify_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[DeviceBackup]:
        return [d for d in self.devices if d.status == "error"]

    @property
    def changed(self) -> list[DeviceBackup]:
        return [d for d in self.devices if d.status == "changed"]


class _Profiles:
    """Credential profiles by name, each read once (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, CredentialProfile | Exception] = {}

    def get(self, name: str) -> CredentialProfile:
        with self._lock:
            if name not in self._cache:
                try:
                    self._cache[name] = require_profile(name)
                except Exception as e:  # the same error for every device of that profile
                    self._cache[name] = e
            found = self._cache[name]
        if isinstance(found, Exception):
            raise found
        return found


def message_for(changed: Sequence[DeviceBackup], failed: Sequence[DeviceBackup]) -> str:
    names = ", ".join(d.device for d in changed)
    title = f"Respaldo: {names}" if len(names) <= 60 else f"Respaldo: {len(changed)} equipos"
    body = ["", "Cambiaron:", *(f"  {d.path}" for d in changed)]
    if failed:
        body += ["", "Sin respaldo en esta corrida:", *(f"  {d.device}" for d in failed)]
    return "\n".join([title, *body]) + "\n"


class BackupBusy(PukaraError):
    """Another ``red respaldar`` holds the run lock."""


def lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / "red" / "respaldo.lock"


@contextlib.contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    """One backup run at a time per data directory (non-blocking: a second run is an error)."""
    path = lock_path(data_dir)
    try:
        make_private_dirs(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise PukaraError(
            f"{path}: no se puede crear el cerrojo del respaldo: {os_reason(e)}"
        ) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise PukaraError(f"{path}: no se puede tomar el cerrojo: {os_reason(e)}") from e
            holder = os.read(fd, 32).decode(errors="replace").strip()
            who = f" (proceso {holder})" if holder.isdecimal() else ""
            raise BackupBusy(
                f"otro respaldo en curso{who}: espere a que termine ({path})"
            ) from None
        with contextlib.suppress(OSError):  # the PID is a courtesy; the flock is the lock
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing drops the flock


def run_backup(
    store: Store,
    settings: Settings,
    devices: Sequence[NetDevice],
    *,
    progress: Reporter | None = None,
    workers: int = WORKERS,
    timeout_s: float = TIMEOUT_S,
    fetcher: Callable[..., str] = fetch,
) -> BackupRun:
    """Back every device up; one commit naming the devices that changed (None if none did).

    A device that fails (credentials, timeout, host key, a site or name that cannot be a path
    of the repository, anything unexpected) is that device's error and the others go on.
    Ctrl-C: nothing is committed and Interrupted is raised. One run at a time per data
    directory: a second one is :class:`BackupBusy` ("otro respaldo en curso").
    """
    # a malformed alert_webhook/alert_command is said before any device is touched
    hooks = Hooks.from_settings(settings.alert_webhook, settings.alert_command)
    with run_lock(settings.data_dir):
        return _run(store, settings, devices, hooks, progress, workers, timeout_s, fetcher)


def _run(
    store: Store,
    settings: Settings,
    devices: Sequence[NetDevice],
    hooks: Hooks,
    progress: Reporter | None,
    workers: int,
    timeout_s: float,
    fetcher: Callable[..., str],
) -> BackupRun:
    repo = ConfigRepo(default_path(settings.data_dir))
    key = limpieza.load_key(key_path(settings.data_dir))
    profiles = _Profiles()
    checked: dict[str, str | None] = {}  # each key file checked once
    by_name = {d.name: d for d in devices}

    def one(device: NetDevice) -> Mapping[str, Any]:
        problem = device.path_problem
        if problem is not None:  # said before connecting, and only this device's error
            raise DeviceError(problem)
        profile = profiles.get(device.credential_profile)
        return {"text": fetcher(device, profile, timeout_s=timeout_s, key=key, checked=checked)}

    outcome = run_many(
        one, devices, action="respaldar", workers=workers, name=lambda d: d.name,
        reporter=progress,
    )  # fmt: skip
    if outcome.interrupted:
        raise Interrupted("respaldo interrumpido: no se guardó nada en el repositorio")
    texts = {by_name[r.target].path: str(r.data["text"]).encode() for r in outcome.ok}
    changed_paths = set(repo.changed_paths(texts))
    commit = None
    if changed_paths:
        pending = [_device_result(by_name[r.target], r, changed_paths) for r in outcome.results]
        commit = repo.commit(
            {p: texts[p] for p in sorted(changed_paths)},
            message_for([d for d in pending if d.status == "changed"],
                        [d for d in pending if d.status == "error"]),
            author=settings.analyst, when=utc_now(),
        )  # fmt: skip
    if commit is None:  # the repository already held these contents: nothing changed
        changed_paths = set()
    results = [_device_result(by_name[r.target], r, changed_paths) for r in outcome.results]
    changed = [d for d in results if d.status == "changed"]
    store.write_events([_event(d, commit) for d in results])
    errors: list[str] = []
    if changed and hooks:
        errors = hooks.send(_notice(changed, commit))
    return BackupRun(results, commit, errors)


def _device_result(device: NetDevice, result: Result, changed: set[str]) -> DeviceBackup:
    if result.status is not Status.OK:
        return DeviceBackup(device.name, device.site, device.path, "error", result.error)
    status = "changed" if device.path in changed else "ok"
    return DeviceBackup(device.name, device.site, device.path, status)


def _event(d: DeviceBackup, commit: str | None) -> dict[str, Any]:
    text = {"ok": "sin cambios", "changed": "configuración cambiada", "error": "falló"}[d.status]
    return make_event(
        DATASET,
        message=f"respaldo de {d.device}: {text}" + (f" ({d.reason})" if d.reason else ""),
        outcome="failure" if d.status == "error" else "success",
        fields={
            "event.action": "respaldo", "host.name": d.device, "red.site": d.site,
            "red.respaldo.path": d.path, "red.respaldo.changed": d.status == "changed",
            "red.respaldo.commit": commit if d.status == "changed" else None,
            "error.message": d.reason,
        },
    )  # fmt: skip


def _notice(changed: Sequence[DeviceBackup], commit: str | None) -> dict[str, Any]:
    names = [d.device for d in changed]
    return make_event(
        DATASET,
        message=f"cambió la configuración de {len(names)} equipo(s): {', '.join(names)}",
        kind="alert",
        fields={
            "event.action": "configuracion-cambiada", "red.respaldo.commit": commit,
            "red.respaldo.devices": names, "host.name": names[0] if len(names) == 1 else None,
        },
    )  # fmt: skip
