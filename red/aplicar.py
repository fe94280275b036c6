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
   vtysh session), or the same list through Ansible; a ``%`` error line from vtysh fails the
   step. Nothing is saved yet.
6. ``verificar-despues``: SSH and SNMP still answer; every neighbour expected up is
   Established within ``settle_s`` (BGP needs a few seconds to come back after a reset): those
   Established before and those the golden config defines that the change sets, less those it
   removes on purpose; and no neighbour that had prefixes (received or sent, per address family) is left
   with none. When no neighbour is expected, the step says BGP went unchecked.
7. ``guardar``: ``write memory``, only once the post-check passed, so a change that breaks the
   device is never its startup configuration.
8. When 5 or 6 failed, ``revertir``: the commands from the now-running config back to the
   backup (hier_config again, through the same guard), applied the same way, and
   ``verificar-reversion``: the same post-check, reported as the rollback's own outcome; a
   rollback that passes it is saved too.

Ctrl-C or SIGTERM from step 5 on does not leave the device half-way: the step is recorded as
interrupted, the rollback runs (with both signals held off until it ends) and the interrupt
goes on. A device is changed by one run at a time (a lock per device under the data folder).

FRR has no commit-confirmed: a change that cuts the SSH path itself cannot be rolled back
from here, which is why :mod:`red.guardas` refuses removing the management access lines.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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


@dataclass(frozen=True, slots=True)
class Peer:
    """One neighbour in one address family of ``show bgp summary json``."""

    established: bool
    received: int  # pfxRcd
    sent: int  # pfxSnt


def peers(summary: str) -> dict[tuple[str, str], Peer]:
    """``(family, neighbour) -> Peer`` from ``show bgp summary json`` (every address family)."""
    try:
        data = json.loads(summary) if summary.strip().startswith("{") else {}
    except json.JSONDecodeError as e:
        raise DeviceError(f"«show bgp summary json» no devolvió JSON: {e.msg}") from None
    out: dict[tuple[str, str], Peer] = {}
    for name, family in data.items() if isinstance(data, dict) else ():
        found = family.get("peers", {}) if isinstance(family, dict) else {}
        for peer, state in found.items() if isinstance(found, dict) else ():
            if isinstance(state, dict):
                out[(str(name), str(peer))] = Peer(
                    state.get("state") == "Established",
                    _count(state.get("pfxRcd")),
                    _count(state.get("pfxSnt")),
                )
    return out


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def established(summary: str) -> set[str]:
    """Neighbours in state Established in ``show bgp summary json`` (every address family)."""
    return {peer for (_, peer), state in peers(summary).items() if state.established}


def prefix_drops(
    before: Mapping[tuple[str, str], Peer], after: Mapping[tuple[str, str], Peer], wanted: Any
) -> list[str]:
    """Neighbours of ``wanted`` that had prefixes (received or sent) and now have none."""
    out: list[str] = []
    for (family, peer), old in sorted(before.items()):
        new = after.get((family, peer), Peer(False, 0, 0))
        if peer not in wanted:
            continue
        if old.received and not new.received:
            out.append(f"{peer} ya no recibe prefijos en {family} ({old.received} → 0)")
        if old.sent and not new.sent:
            out.append(f"{peer} ya no anuncia prefijos en {family} ({old.sent} → 0)")
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
    peers: Mapping[tuple[str, str], Peer] = field(default_factory=dict)


class _HeldSignals:
    """SIGINT and SIGTERM held off while a rollback runs, delivered (as KeyboardInterrupt)
    when it ends. Python runs signal handlers in the main thread only: elsewhere a no-op."""

    def __enter__(self) -> _HeldSignals:
        self.pending = False
        self.saved: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._hold)
        return self

    def _hold(self, signum: int, frame: object) -> None:
        self.pending = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        if self.pending and exc[0] is None:
            raise KeyboardInterrupt


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
        hold_s: float = 6.0,
        lock_dir: Path | None = None,
    ) -> None:
        self.access = access
        self.push = push or self._push_netmiko
        self.settle_s = settle_s
        # the rollback's own bound: how long BGP may take to come back after the revert
        self.revert_settle_s = settle_s if revert_settle_s is None else revert_settle_s
        self.poll_s = poll_s
        # FRR applies a changed route-map or prefix-list after its route-map delay-timer (5 s):
        # the post-check looks at the prefixes only after that
        self.hold_s = hold_s
        self.lock_dir = lock_dir
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

    def _save(self, out: Outcome, device: Device) -> bool:
        """``write memory``: the step ``guardar``."""
        try:
            with self.access.session(device) as session:
                saved = session.command("write memory")
            if vtysh_errors(saved):
                raise DeviceError(f"«write memory» falló: {vtysh_errors(saved)[0]}")
        except Exception as e:
            self._step(out, "guardar", False, _reason(e))
            return False
        self._step(out, "guardar", True, "write memory")
        return True

    def check(
        self,
        device: Device,
        wanted: frozenset[str] | None = None,
        baseline: Mapping[tuple[str, str], Peer] | None = None,
        settle_s: float | None = None,
    ) -> Check:
        """SSH, SNMP and BGP; with ``wanted``, wait up to settle_s for those neighbours to be
        Established and (with ``baseline``) to have prefixes again where they had some,
        returning as soon as they do."""
        if wanted and self.hold_s:
            time.sleep(self.hold_s)
        bound = self.settle_s if settle_s is None else settle_s
        deadline = time.monotonic() + (bound if wanted else 0.0)
        problems: list[str] = []
        neighbours: frozenset[str] = frozenset()
        found: dict[tuple[str, str], Peer] = {}
        ssh = snmp = False
        while True:
            problems.clear()
            try:
                with self.access.session(device) as session:
                    found = peers(session.command("show bgp summary json"))
                neighbours = frozenset(p for (_, p), s in found.items() if s.established)
                ssh = True
            except Exception as e:  # a session that breaks is an answer too: "no"
                ssh, neighbours, found = False, frozenset(), {}
                problems.append(f"SSH: {_reason(e)}")
            missing = sorted((wanted or frozenset()) - neighbours)
            if missing:
                problems.append("BGP no establecido con " + ", ".join(missing))
            drops = prefix_drops(baseline or {}, found, wanted or frozenset()) if ssh else []
            if drops:
                problems.append("BGP: " + "; ".join(drops))
            if ssh and not missing and not drops:
                break
            if time.monotonic() + self.poll_s > deadline:
                break
            time.sleep(self.poll_s)
        try:
            self.access.snmp(device)
            snmp = True
        except Exception as e:
            problems.append(f"SNMP: {_reason(e)}")
        return Check(ssh, snmp, neighbours, "; ".join(problems), found)

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

    def _rollback(self, out: Outcome, device: Device, backup: str, before: Check) -> None:
        """Back to ``backup``, with SIGINT/SIGTERM held off until done (see the docstring)."""
        with _HeldSignals():
            self._revert(out, device, backup, before)

    def _revert(self, out: Outcome, device: Device, backup: str, before: Check) -> None:
        try:
            now = self.access.running(device)
            back = remediate(device.name, now, backup)
        except PukaraError as e:
            out.status, out.rollback_ok = "fallido", False
            self._step(out, "revertir", False, e.message)
            return
        out.rollback = back.commands
        try:
            guardas.check(device.name, load(now), device.address, back.commands)
        except UsageError as e:
            out.status, out.rollback_ok = "fallido", False
            self._step(out, "revertir", False, f"no reversible: {e.message}")
            return
        out.status = "revertido"
        if back.commands and not self._apply(out, device, back.commands, "revertir"):
            out.rollback_ok = False
            out.status = "fallido"
            return
        if not back.commands:
            self._step(out, "revertir", True, "la configuración ya es la respaldada")
        wanted = before.neighbours
        after = self.check(device, wanted, before.peers, self.revert_settle_s)
        out.rollback_ok = not after.problem
        self._step(out, "verificar-reversion", out.rollback_ok, after.problem or _verified(wanted))
        if out.rollback_ok and back.commands and not self._save(out, device):
            out.rollback_ok, out.status = False, "fallido"

    # -- one device ------------------------------------------------------------------------------

    def remediate_device(self, device: Device, *, simulate: bool = False) -> Outcome:
        """All the steps for one device; a failure is the outcome's, never raised."""
        out = Outcome(device.name)
        try:
            with self._locked(out, device, simulate) as locked:
                return self._remediate(out, device, simulate) if locked else out
        except Exception as e:  # one device's surprise is its result; the others go on
            out.status, out.reason = "fallido", f"error inesperado ({type(e).__name__})"
            self._step(out, "error", False, out.reason)
            return out

    @contextmanager
    def _locked(self, out: Outcome, device: Device, simulate: bool) -> Iterator[bool]:
        """``<lock_dir>/remediar-<name>.lock``, not waited for: a device another run is
        changing is this run's error for that device."""
        if simulate or self.lock_dir is None:
            yield True
            return
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_dir / f"remediar-{device.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                out.reason = f"otra remediación en curso en {device.name}"
                self._step(out, "bloquear", False, out.reason)
                yield False
                return
            yield True
        finally:
            os.close(fd)

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
        expected = frozenset() if self.forced is not None else _defined(intended)
        return self._change(out, device, running, out.remediation.commands, expected)

    def _change(
        self,
        out: Outcome,
        device: Device,
        running: str,
        commands: Sequence[str],
        expected: frozenset[str] = frozenset(),
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
        removed = guardas.removed_neighbours(load(running), commands)
        # up before, or defined by the golden config and set by this change (an as-errado
        # site's remote-as), less those it removes; a golden neighbour down before and left
        # alone (a site HQ cannot reach today) does not block a change to something else
        wanted = (before.neighbours | (expected & guardas.touched_neighbours(commands))) - removed
        stage = "aplicar"
        try:
            if self._apply(out, device, commands, "aplicar"):
                stage = "verificar-despues"
                after = self.check(device, wanted, before.peers)
                self._step(out, stage, not after.problem, after.problem or _verified(wanted))
                if not after.problem:
                    stage = "guardar"
                    if self._save(out, device):
                        out.status = "aplicado"
                        return out
                    out.reason = f"aplicado y verificado, pero no guardado: {out.steps[-1].detail}"
                    return out
                out.reason = f"verificación posterior: {after.problem}"
            else:
                out.reason = out.steps[-1].detail
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the CLI makes it one): finish first
            with _HeldSignals():
                out.reason = f"interrumpido en «{stage}»: se revierte lo enviado"
                self._step(out, stage, False, "interrumpido (Ctrl-C o SIGTERM)")
                self._revert(out, device, running, before)
            raise
        self._rollback(out, device, running, before)
        return out


def _reason(e: Exception) -> str:
    return e.message if isinstance(e, PukaraError) else f"error inesperado ({type(e).__name__})"


def _verified(wanted: frozenset[str]) -> str:
    if wanted:
        return "correcto: BGP establecido con " + ", ".join(sorted(wanted))
    return "SSH y SNMP responden; BGP sin verificar: ningún vecino establecido antes ni esperado"


def _defined(intended: str) -> frozenset[str]:
    """The neighbours the golden config defines, expected up after the change."""
    try:
        return guardas.golden_neighbours(load(intended))
    except UsageError:
        return frozenset()


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
        self._marking_key: bytes | None = None  # made on first live read, not before
        self._checked: dict[str, str | None] = {}

    def _key(self) -> bytes:
        if self._marking_key is None:
            self._marking_key = limpieza.load_key(self._respaldo.key_path(self.settings.data_dir))
        return self._marking_key

    def repo(self) -> repositorio.ConfigRepo:
        return repositorio.ConfigRepo(repositorio.default_path(self.settings.data_dir))

    def running(self, device: Device) -> str:
        from pukara import secrets

        profile = secrets.require_profile(device.credential_profile)
        return self._respaldo.fetch(
            device, profile, timeout_s=self.timeout_s, key=self._key(), checked=self._checked
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
        variables = {
            "pukara_commands": playbook_commands(commands),
            "pukara_pathspace": pathspace,
            "pukara_save": False,  # «guardar» comes after the post-check, as its own step
        }
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
