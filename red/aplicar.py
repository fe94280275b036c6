"""Apply a remediation safely: pre-check, change, post-check, automatic rollback.

For each device, in order, each step an event (``red.remediacion``):

1. ``leer``: the running config, fetched live (the cleaned text a backup stores).
2. ``calcular``: the commands to the golden config (:mod:`red.remediacion`), then the guard
   (:mod:`red.guardas`); a refused change stops here and nothing is sent.
3. ``verificar-antes``: the device answers SSH and SNMP, and which BGP neighbours are
   Established (``show bgp summary json``). A device that fails it is not touched.
4. ``respaldar``: that running config is committed to the backup repository: the configuration
   backed up just before the change, and the target of a rollback.
5. ``aplicar``: the commands in configuration mode (netmiko's ``send_config_set`` on the
   vtysh session, then ``write memory``), or the same list through Ansible; a ``%`` error line
   from vtysh fails the step.
6. ``verificar-despues``: SSH and SNMP still answer, and every neighbour Established before is
   Established again within ``settle_s`` (BGP needs a few seconds to come back after a reset).
7. When 5 or 6 failed, ``revertir``: the commands from the now-running config back to the
   backup (hier_config again), applied the same way, and ``verificar-reversion``: the same
   post-check, reported as the rollback's own outcome.

FRR has no commit-confirmed: a change that cuts the SSH path itself cannot be rolled back
from here, which is why :mod:`red.guardas` refuses removing the management access lines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pukara.errors import AuthError, DeviceError, DeviceTimeout, PukaraError, UsageError
from pukara.events import make_event
from red import guardas, limpieza, repositorio
from red.equipos import NetDevice
from red.remediacion import Remediation, load, remediate

DATASET = "red.remediacion"
DEVICE_TYPES = {"frr": "cisco_ios"}  # vtysh speaks IOS's prompt and config-mode dialect
_VTYSH_ERROR = ("% ", "%Unknown", "%Invalid")


Device = NetDevice  # what this module takes; tests pass look-alikes


class Session(Protocol):
    """An open CLI session on a device (netmiko's, in configuration mode when asked)."""

    def command(self, text: str) -> str: ...
    def configure(self, commands: Sequence[str]) -> str: ...


class Access(Protocol):
    """How this module reaches devices; :class:`Live` is the real one."""

    def running(self, device: Device) -> str: ...
    def intended(self, device: Device) -> str: ...
    def save(self, device: Device, text: str) -> None: ...
    def session(self, device: Device) -> Any: ...  # a context manager yielding a Session
    def snmp(self, device: Device) -> None: ...


Pusher = Callable[[Device, Sequence[str]], None]


@dataclass(slots=True)
class Step:
    name: str
    ok: bool
    detail: str = ""


@dataclass(slots=True)
class Outcome:
    """One device's remediation. ``status``: sin_cambios, simulado, aplicado, rechazado,
    fallido (nothing changed, or the change failed and could not be reverted), revertido."""

    device: str
    status: str = "fallido"
    remediation: Remediation | None = None
    rollback: tuple[str, ...] = ()
    steps: list[Step] = field(default_factory=list)
    reason: str = ""
    rollback_ok: bool | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("fallido", "revertido", "rechazado")

    def as_dict(self) -> dict[str, Any]:
        rem = self.remediation
        return {
            "device": self.device,
            "status": self.status,
            "reason": self.reason,
            "commands": list(rem.commands) if rem else [],
            "diff": list(rem.diff) if rem else [],
            "skipped": list(rem.skipped) if rem else [],
            "rollback": list(self.rollback),
            "rollback_ok": self.rollback_ok,
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
        }


def established(summary: str) -> set[str]:
    """Neighbours in state Established in ``show bgp summary json`` (every address family)."""
    try:
        data = json.loads(summary) if summary.strip().startswith("{") else {}
    except json.JSONDecodeError as e:
        raise DeviceError(f"«show bgp summary json» no devolvió JSON: {e.msg}") from None
    out: set[str] = set()
    for family in data.values() if isinstance(data, dict) else ():
        peers = family.get("peers", {}) if isinstance(family, dict) else {}
        for peer, state in peers.items():
            if isinstance(state, dict) and state.get("state") == "Established":
                out.add(str(peer))
    return out


def vtysh_errors(output: str) -> list[str]:
    """The error lines vtysh printed while taking commands (``% Unknown command: ...``).

    ``% Warning:`` lines are not errors: ``write memory`` by a user of the frrvty group (the
    lab's network user, a real router's operators) saves the file and then warns it cannot
    give it to the frr user.
    """
    lines = [line.strip() for line in output.splitlines()]
    return [ln for ln in lines if ln.startswith("%") and not ln.startswith("% Warning")]


@dataclass(frozen=True, slots=True)
class Check:
    ssh: bool
    snmp: bool
    neighbours: frozenset[str]
    problem: str = ""


class Remediator:
    """Runs the steps of the module docstring over an :class:`Access`."""

    def __init__(
        self,
        access: Access,
        *,
        push: Pusher | None = None,
        settle_s: float = 45.0,
        poll_s: float = 2.0,
        revert_settle_s: float | None = None,
        on_event: Callable[[dict[str, Any]], object] | None = None,
        commands: Sequence[str] | None = None,
    ) -> None:
        self.access = access
        self.push = push or self._push_netmiko
        self.settle_s = settle_s
        # the rollback's own bound: how long BGP may take to come back after the revert
        self.revert_settle_s = settle_s if revert_settle_s is None else revert_settle_s
        self.poll_s = poll_s
        self.on_event = on_event or (lambda _doc: None)
        self.forced = tuple(commands) if commands is not None else None

    # -- steps ---------------------------------------------------------------------------------

    def _step(self, out: Outcome, name: str, ok: bool, detail: str = "") -> None:
        out.steps.append(Step(name, ok, detail))
        self.on_event(
            make_event(
                DATASET,
                message=f"{out.device}: {name}: {detail}" if detail else f"{out.device}: {name}",
                outcome="success" if ok else "failure",
                fields={
                    "event.action": name,
                    "host.name": out.device,
                    "pukara.red.status": out.status,
                },
            )
        )

    def _push_netmiko(self, device: Device, commands: Sequence[str]) -> None:
        with self.access.session(device) as session:
            output = session.configure(commands)
            errors = vtysh_errors(output)
            if errors:
                raise DeviceError(f"el equipo rechazó órdenes: {'; '.join(errors[:3])}")
            saved = session.command("write memory")
            if vtysh_errors(saved):
                raise DeviceError(f"«write memory» falló: {vtysh_errors(saved)[0]}")

    def check(
        self, device: Device, wanted: frozenset[str] | None = None, settle_s: float | None = None
    ) -> Check:
        """SSH, SNMP and BGP; with ``wanted``, wait up to settle_s for those neighbours
        (returning as soon as they are all Established)."""
        bound = self.settle_s if settle_s is None else settle_s
        deadline = time.monotonic() + (bound if wanted else 0.0)
        problems: list[str] = []
        neighbours: frozenset[str] = frozenset()
        ssh = snmp = False
        while True:
            problems.clear()
            try:
                with self.access.session(device) as session:
                    neighbours = frozenset(established(session.command("show bgp summary json")))
                ssh = True
            except Exception as e:  # a session that breaks is an answer too: "no"
                ssh, neighbours = False, frozenset()
                problems.append(f"SSH: {_reason(e)}")
            missing = sorted((wanted or frozenset()) - neighbours)
            if missing:
                problems.append("BGP no establecido con " + ", ".join(missing))
            if ssh and not missing:
                break
            if time.monotonic() + self.poll_s > deadline:
                break
            time.sleep(self.poll_s)
        try:
            self.access.snmp(device)
            snmp = True
        except Exception as e:
            problems.append(f"SNMP: {_reason(e)}")
        return Check(ssh, snmp, neighbours, "; ".join(problems))

    def _apply(self, out: Outcome, device: Device, commands: Sequence[str], name: str) -> bool:
        try:
            self.push(device, commands)
        except PukaraError as e:
            self._step(out, name, False, e.message)
            return False
        except Exception as e:  # whatever broke half-way, the device is checked and reverted
            self._step(out, name, False, f"error inesperado ({type(e).__name__})")
            return False
        self._step(out, name, True, f"{len(commands)} órdenes")
        return True

    def _rollback(self, out: Outcome, device: Device, backup: str, wanted: frozenset[str]) -> None:
        try:
            now = self.access.running(device)
            back = remediate(device.name, now, backup)
        except PukaraError as e:
            out.status, out.rollback_ok = "fallido", False
            self._step(out, "revertir", False, e.message)
            return
        out.rollback = back.commands
        out.status = "revertido"
        if back.commands and not self._apply(out, device, back.commands, "revertir"):
            out.rollback_ok = False
            out.status = "fallido"
            return
        if not back.commands:
            self._step(out, "revertir", True, "la configuración ya es la respaldada")
        after = self.check(device, wanted, self.revert_settle_s)
        out.rollback_ok = not after.problem
        self._step(out, "verificar-reversion", out.rollback_ok, after.problem or "correcto")

    # -- one device ------------------------------------------------------------------------------

    def remediate_device(self, device: Device, *, simulate: bool = False) -> Outcome:
        """All the steps for one device; a failure is the outcome's, never raised."""
        out = Outcome(device.name)
        try:
            return self._remediate(out, device, simulate)
        except Exception as e:  # one device's surprise is its result; the others go on
            out.status, out.reason = "fallido", f"error inesperado ({type(e).__name__})"
            self._step(out, "error", False, out.reason)
            return out

    def _remediate(self, out: Outcome, device: Device, simulate: bool) -> Outcome:
        try:
            running = self.access.running(device)
            self._step(out, "leer", True)
            intended = self.access.intended(device)
            if self.forced is None:
                out.remediation = remediate(device.name, running, intended)
            else:
                out.remediation = Remediation(device.name, self.forced, ())
            guardas.check(device.name, load(running), device.address, out.remediation.commands)
        except UsageError as e:
            out.status, out.reason = "rechazado", e.message
            self._step(out, "calcular", False, e.message)
            return out
        except PukaraError as e:
            out.reason = e.message
            self._step(out, "leer", False, e.message)
            return out
        self._step(out, "calcular", True, f"{len(out.remediation.commands)} órdenes")
        if out.remediation.empty or simulate:
            out.status = "sin_cambios" if out.remediation.empty else "simulado"
            return out
        return self._change(out, device, running, out.remediation.commands)

    def _change(
        self, out: Outcome, device: Device, running: str, commands: Sequence[str]
    ) -> Outcome:
        before = self.check(device)
        if not (before.ssh and before.snmp):
            out.reason = f"verificación previa: {before.problem}"
            self._step(out, "verificar-antes", False, before.problem)
            return out
        self._step(out, "verificar-antes", True, _neighbours(before.neighbours))
        try:
            self.access.save(device, running)
        except PukaraError as e:
            out.reason = f"respaldo previo: {e.message}"
            self._step(out, "respaldar", False, e.message)
            return out
        self._step(out, "respaldar", True)
        if self._apply(out, device, commands, "aplicar"):
            after = self.check(device, before.neighbours)
            self._step(out, "verificar-despues", not after.problem, after.problem or "correcto")
            if not after.problem:
                out.status = "aplicado"
                return out
            out.reason = f"verificación posterior: {after.problem}"
        else:
            out.reason = out.steps[-1].detail
        self._rollback(out, device, running, before.neighbours)
        return out


def _reason(e: Exception) -> str:
    return e.message if isinstance(e, PukaraError) else f"error inesperado ({type(e).__name__})"


def _neighbours(names: frozenset[str]) -> str:
    return "BGP establecido con " + ", ".join(sorted(names)) if names else "sin vecinos BGP"


# -- the real access: netmiko sessions and SNMP ------------------------------------------------


class _Netmiko:
    def __init__(self, conn: Any, timeout_s: float) -> None:
        self.conn = conn
        self.timeout_s = timeout_s

    def command(self, text: str) -> str:
        return str(self.conn.send_command(text, read_timeout=self.timeout_s * 4))

    def configure(self, commands: Sequence[str]) -> str:
        return str(
            self.conn.send_config_set(
                list(commands), read_timeout=self.timeout_s * 4, exit_config_mode=True
            )
        )


@contextmanager
def netmiko_session(device: Device, timeout_s: float) -> Iterator[Session]:
    """A netmiko session on the device's CLI, with inventario's connect arguments and errors."""
    from netmiko import ConnectHandler
    from netmiko.exceptions import (
        NetmikoAuthenticationException,
        NetmikoBaseException,
        NetmikoTimeoutException,
    )
    from paramiko.ssh_exception import SSHException

    from inventario.ssh_discovery import SshTarget, _connect_args, _ssh_error
    from pukara import secrets

    device_type = DEVICE_TYPES.get(device.platform)
    if device_type is None:
        raise DeviceError(f"{device.name}: plataforma «{device.platform}» sin sesión conocida")
    profile = secrets.require_profile(device.credential_profile)
    target = SshTarget(device.address, device_type, profile)
    try:
        with ConnectHandler(**_connect_args(target, timeout_s)) as conn:
            yield _Netmiko(conn, timeout_s)
    except NetmikoAuthenticationException as e:
        key = profile.get("key_file")
        what = f"la llave {Path(key.reveal()).expanduser()}" if key else "la contraseña"
        raise AuthError(f"SSH rechazó la autenticación de «{profile.name}» ({what})") from e
    except NetmikoTimeoutException as e:
        cause = e.__context__
        if isinstance(cause, SSHException):
            raise _ssh_error(cause) from e
        raise DeviceTimeout(f"SSH sin respuesta en {timeout_s:g} s") from e
    except SSHException as e:
        raise _ssh_error(e) from e
    except NetmikoBaseException as e:  # ReadTimeout: the prompt never came back, and the like
        first = str(e).strip().splitlines()[:1]
        raise DeviceError(f"sesión SSH: {first[0] if first else type(e).__name__}") from e
    except OSError as e:
        raise DeviceError(f"error de conexión SSH: {e}") from e


def snmp_answers(address: str, profiles: Sequence[str], timeout_s: float) -> None:
    """The device's agent answers sysUpTime with a credential of ``profiles``."""
    import asyncio

    from pukara import secrets
    from pukara.oids import SYS_UPTIME
    from pukara.snmp import Session as SnmpSession
    from pukara.snmp import credentials_from_profile, engines

    creds = []
    for name in dict.fromkeys(profiles):
        try:
            creds += credentials_from_profile(secrets.require_profile(name))
        except PukaraError:
            continue
    if not creds:
        raise DeviceError("sin credencial SNMP en los perfiles " + ", ".join(profiles))

    async def ask() -> None:
        errors: list[str] = []
        engine_for = engines(creds)
        try:
            for cred in creds:
                session = SnmpSession(engine_for[cred.label], cred, address)
                try:
                    await session.open(timeout_s, 1)
                    await session.get([SYS_UPTIME])
                    return
                except DeviceError as e:
                    errors.append(e.message)
        finally:
            for engine in engine_for.values():
                engine.close_dispatcher()
        raise DeviceError("; ".join(errors))

    asyncio.run(ask())


def snmp_profiles(device: Device, override: str = "") -> list[str]:
    """The credential profiles the SNMP check tries, in order: ``override`` alone when given,
    else the asset's own inventory profile (the one monitoreo polls it with), then the
    device's CLI profile (``red_credenciales``) in case that one holds SNMP fields too."""
    if override:
        return [override]
    named = str(device.asset.get("credential_profile") or "")
    return [p for p in dict.fromkeys([named, device.credential_profile]) if p]


class Live:
    """The real :class:`Access`: respaldo's fetch and repository, intencion's golden config.

    :mod:`red.respaldo` (netmiko) and :mod:`red.intencion` (jinja2) are imported when a
    command makes one of these, not when this module is.
    """

    def __init__(
        self, store: Any, settings: Any, *, timeout_s: float = 20.0, snmp_profile: str = ""
    ) -> None:
        from red import intencion, respaldo

        self.snmp_profile = snmp_profile
        self.store = store
        self.settings = settings
        self.timeout_s = timeout_s
        self._respaldo = respaldo
        self._intencion = intencion
        self._key = limpieza.load_key(respaldo.key_path(settings.data_dir))
        self._checked: dict[str, str | None] = {}

    def repo(self) -> repositorio.ConfigRepo:
        return repositorio.ConfigRepo(repositorio.default_path(self.settings.data_dir))

    def running(self, device: Device) -> str:
        from pukara import secrets

        profile = secrets.require_profile(device.credential_profile)
        return self._respaldo.fetch(
            device, profile, timeout_s=self.timeout_s, key=self._key, checked=self._checked
        )

    def backed_up(self, device: Device) -> str:
        """The latest backup of ``device`` (``--simular`` without touching the device)."""
        data = self.repo().read(device.path)
        if data is None:
            raise DeviceError(f"{device.name}: sin respaldo en el repositorio ({device.path})")
        return data.decode()

    def intended(self, device: Device) -> str:
        return self._intencion.render(device, self.store)

    def save(self, device: Device, text: str) -> None:
        from pukara.events import utc_now

        self.repo().commit(
            {device.path: text.encode()},
            f"Remediación: respaldo de {device.name} antes del cambio",
            author=self.settings.analyst,
            when=utc_now(),
        )

    def session(self, device: Device) -> Any:
        return netmiko_session(device, self.timeout_s)

    def snmp(self, device: Device) -> None:
        profiles = snmp_profiles(device, self.snmp_profile)
        snmp_answers(device.address, profiles, min(self.timeout_s, 5.0))


class Offline(Live):
    """``--simular`` from the backups: the running config is the latest backup."""

    def running(self, device: Device) -> str:
        return self.backed_up(device)


# -- the same push through Ansible ---------------------------------------------------------------

PLAYBOOK = "red/remediar.yml"
ANSIBLE_ACCOUNT = "operador"  # the site's Linux account the playbook logs in as
_NOT_CONFIG = ("configure", "write", "copy", "do ")


def playbook_commands(commands: Sequence[str]) -> list[str]:
    """The command list as the playbook takes it, refused before it gets there if unsafe."""
    out: list[str] = []
    for command in commands:
        line = command.strip()
        if not line or "\n" in line or "\r" in line or len(line) > 400:
            raise UsageError(f"orden inválida para el playbook: {line[:60]!r}")
        if "<secreto" in line or "{{" in line:
            raise UsageError(f"orden con un marcador de secreto: «{line}»")
        if line == "end" or line.startswith(_NOT_CONFIG):
            raise UsageError(f"«{line}» no es una orden del modo de configuración")
        out.append(line)
    if not out:
        raise UsageError("no hay órdenes que enviar")
    return out


def _host_entry(address: str, account: str, profile: Any, key: Path) -> dict[str, Any]:
    """The host's connection variables: one key, host keys checked, as csirt's runs log in."""
    args = "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    known = profile.get("known_hosts")
    if known:
        path = Path(known.reveal()).expanduser()
        if not path.is_absolute() or any(c.isspace() for c in str(path)):
            raise DeviceError(f"perfil «{profile.name}»: known_hosts debe ser una ruta absoluta")
        args += f" -o UserKnownHostsFile={path}"
    python = profile.get("python_interpreter")
    return {
        "ansible_host": address,
        "ansible_user": account,
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": args,
        "ansible_python_interpreter": python.reveal() if python else "auto_silent",
        "ansible_pipelining": True,
    }


def ansible_pusher(
    settings: Any,
    store: Any,
    *,
    account: str = ANSIBLE_ACCOUNT,
    profile_name: str = "",
    pathspace: str = "",
) -> Pusher:
    """A :data:`Pusher` that runs playbooks/red/remediar.yml on the device's Linux account.

    The key and known_hosts come from ``profile_name`` (by default the asset's inventory
    profile, the one inventario and csirt log in with, else the device's); the user is
    ``account``.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_.-]{0,31}", account):
        raise UsageError(f"cuenta Linux inválida para Ansible: {account!r}")

    def push(device: Device, commands: Sequence[str]) -> None:
        from pukara import secrets
        from pukara.ansible import run_playbook

        name = profile_name or str(
            device.asset.get("credential_profile") or device.credential_profile
        )
        profile = secrets.require_profile(name)
        entry = _host_entry(device.address, account, profile, secrets.usable_key_file(profile))
        entry["ansible_ssh_timeout"] = max(1, round(settings.timeout_s))
        variables = {"pukara_commands": playbook_commands(commands), "pukara_pathspace": pathspace}
        run = run_playbook(
            PLAYBOOK,
            {"all": {"hosts": {device.name: {**entry, **variables}}}},
            settings=settings,
            store=store,
            timeout_s=300,
            forks=1,
        )
        if run.status != "successful" or device.name in run.failed_hosts:
            raise DeviceError(f"el playbook {PLAYBOOK} terminó {run.status} (rc {run.rc})")

    return push
