"""`ipv6 equipos`: the inventory's network devices asked over SNMP and SSH, judged D1-D6.

Per device: one multi-column GETBULK walk of the IP-MIB and IPV6-MIB objects on its
management address (the credential ladder of its SNMP profile, v3 before v2c, as inventario
discovers), then a GET over SNMP and an SSH banner on its IPv6 address (D5), then the CLI
over SSH (D6, FRR's vtysh) with the network profile red logs in with. The SNMP part runs on
one event loop for all devices (:mod:`pukara.snmp`); the SSH part on a thread pool. A device
that fails never stops the run: its checks say not-tested with the reason.

Example result (one device)::

    DeviceReport(name="gw-emb-ar", site="emb-ar", role="router", error=None, checks=[
        Check("D1", "pass", "IPv6 activo en 1 interfaz(es)", {"source": "IPV6-MIB ..."}),
        Check("D2", "fail", "solo direcciones de enlace local (fe80::/10)", {...}), ...])
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

from inventario.model import ASSETS
from ipv6.equipos_reglas import (
    CHECKS,
    COLUMNS,
    FAIL,
    NOT_TESTED,
    PARTIAL,
    SCALARS,
    SYS_UPTIME,
    Check,
    Collected,
    evaluate,
    management_v6,
)
from pukara.errors import (
    AuthError,
    ConfigError,
    DeviceError,
    DeviceTimeout,
    PukaraError,
    UsageError,
)
from pukara.results import Result, Status
from pukara.runner import NullReporter, Reporter
from pukara.secrets import CredentialProfile, require_profile
from pukara.snmp import Session, SnmpCredential, credentials_from_profile
from pukara.store import Store

NETWORK_KINDS = ("router", "firewall", "switch")
RETIRED = "dado_de_baja"
PLATFORMS = {"frrouting": "frr", "frr": "frr"}  # the inventory's ``os`` -> CLI platform
CLI_DEVICE_TYPES = {"frr": "cisco_ios"}  # netmiko's driver for vtysh (as red uses it)
CLI_COMMANDS = {"frr": ("show interface brief", "show ipv6 route")}
HOST_DRIVERS = ("linux",)  # a device_type whose profile is a host shell, not the router CLI
SSH_WORKERS = 16
CLI_FAILED = "CLI no leída"  # how a cli_error that is the device's failure begins


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    site: str
    role: str  # router, firewall, switch
    address: str  # management address for SNMP and the CLI (IPv4 preferred)
    mgmt_ipv6: str | None
    platform: str  # "frr", or "" when pukara has no CLI commands for it
    snmp_profile: str | None  # the asset's credential profile, else the --credencial one
    cli_profile: str


@dataclass(frozen=True, slots=True)
class DeviceReport:
    name: str
    site: str
    role: str
    address: str
    checks: list[Check]
    error: str | None = None  # the device could not be fully asked (SNMP or CLI)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(c.status in (FAIL, PARTIAL) for c in self.checks)


def global_prefixes(values: Iterable[str]) -> list[ipaddress.IPv6Network]:
    """The setting ``ipv6_prefijos_globales`` parsed; a bad entry is a ConfigError naming it."""
    out: list[ipaddress.IPv6Network] = []
    for raw in values:
        try:
            out.append(ipaddress.IPv6Network(raw.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"ipv6_prefijos_globales: «{raw}» no es un prefijo IPv6 (p. ej. 2800:4f0::/32)"
            ) from None
    return out


def _ip(raw: Any, version: int | None = None) -> str | None:
    try:
        address = ipaddress.ip_address(str(raw or "").strip())
    except ValueError:
        return None
    return str(address) if version is None or address.version == version else None


def from_assets(assets: Iterable[Mapping[str, Any]], *, snmp_profile: str | None,
                cli_profile: str) -> list[Device]:  # fmt: skip
    """The network devices among ``assets``: router, firewall or switch, not retired, with a
    management address."""
    out: list[Device] = []
    for a in assets:
        if a.get("kind") not in NETWORK_KINDS or a.get("status") == RETIRED:
            continue
        v4, v6 = _ip(a.get("mgmt_ipv4"), 4), _ip(a.get("mgmt_ipv6"), 6)
        if not (v4 or v6):
            continue
        named = str(a.get("credential_profile") or "") or None
        host_login = str(a.get("device_type") or "") in HOST_DRIVERS
        out.append(Device(
            name=str(a["name"]), site=str(a.get("site") or ""), role=str(a["kind"]),
            address=v4 or str(v6), mgmt_ipv6=v6,
            platform=PLATFORMS.get(str(a.get("os") or "").strip().lower(), ""),
            snmp_profile=named or snmp_profile,
            cli_profile=cli_profile if host_login or not named else named,
        ))  # fmt: skip
    return sorted(out, key=lambda d: (d.site, d.name))


def select(store: Store, wanted: Sequence[str], *, snmp_profile: str | None,
           cli_profile: str) -> list[Device]:  # fmt: skip
    """Devices by name or site code (empty: all); an unknown one is a UsageError naming it."""
    devices = from_assets(store.entities(ASSETS), snmp_profile=snmp_profile,
                          cli_profile=cli_profile)  # fmt: skip
    if not wanted:
        return devices
    chosen: dict[str, Device] = {}
    unknown = []
    for item in wanted:
        hits = [d for d in devices if item.strip().lower() in (d.name.lower(), d.site)]
        chosen.update((d.name, d) for d in hits)
        if not hits:
            unknown.append(item)
    if unknown:
        raise UsageError(
            "sin equipo de red con ese nombre ni en esa sede: "
            + ", ".join(f"«{u}»" for u in unknown)
            + " (router, firewall o switch activo con dirección de gestión en el inventario)"
        )
    return sorted(chosen.values(), key=lambda d: (d.site, d.name))


class _Profiles:
    """Credential profiles by name, each read once (thread-safe); an error is kept too."""

    def __init__(self, loader: Callable[[str], CredentialProfile] = require_profile) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._cache: dict[str, CredentialProfile | PukaraError] = {}

    def get(self, name: str) -> CredentialProfile:
        with self._lock:
            if name not in self._cache:
                try:
                    self._cache[name] = self._loader(name)
                except PukaraError as e:
                    self._cache[name] = e
            found = self._cache[name]
        if isinstance(found, PukaraError):
            raise found
        return found


def _reason(e: BaseException) -> str:
    if isinstance(e, PukaraError):
        return e.message
    if isinstance(e, OSError):
        return f"error de red: {e.strerror or e}"
    return f"respuesta SNMP inesperada ({type(e).__name__}): {str(e)[:200]}"


@dataclass(slots=True)
class _Engines:
    by_label: dict[str, Any] = field(default_factory=dict)

    def get(self, cred: SnmpCredential) -> Any:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

        if cred.label not in self.by_label:  # one engine per profile and version
            self.by_label[cred.label] = SnmpEngine()
        return self.by_label[cred.label]


async def _walk(device: Device, creds: Sequence[SnmpCredential], engines: _Engines,
                timeout_s: float) -> tuple[Collected, SnmpCredential]:  # fmt: skip
    last: PukaraError = DeviceError("el perfil SNMP no tiene credenciales")
    for cred in creds:
        session = Session(engines.get(cred), cred, device.address)
        await session.open(timeout_s, 1)
        try:
            scalars, walked = await session.fetch(SCALARS, COLUMNS)
        except (AuthError, DeviceTimeout) as e:
            last = e
            continue
        return Collected(role=device.role, scalars=scalars, walked=walked,
                         mgmt_ipv6=device.mgmt_ipv6), cred  # fmt: skip
    raise last


async def _snmp_v6(address: str, cred: SnmpCredential, engines: _Engines,
                   timeout_s: float) -> str:  # fmt: skip
    try:
        session = Session(engines.get(cred), cred, address)
        await session.open(timeout_s, 0)
        values = await session.get([SYS_UPTIME])
    except Exception as e:  # whatever it is, it is this device's D5, never the run's
        return _reason(e)
    return "ok" if values.get(SYS_UPTIME) is not None else "el agente no dio sysUpTime"


async def _snmp_all(devices: Sequence[Device], profiles: _Profiles, timeout_s: float,
                    concurrency: int, extra: Sequence[ipaddress.IPv6Network],
                    reporter: Reporter) -> dict[str, Collected]:  # fmt: skip
    engines = _Engines()
    gate = asyncio.Semaphore(concurrency)

    async def one(device: Device) -> Collected:
        async with gate:
            found = await asked(device)
        failed = found.snmp_error is not None
        reporter.advance(Result(device.name, Status.FAILED if failed else Status.OK))
        return found

    async def asked(device: Device) -> Collected:
        try:
            if not device.snmp_profile:
                raise DeviceError("sin perfil SNMP (credential_profile del activo o "
                                  "--credencial)")  # fmt: skip
            creds = credentials_from_profile(profiles.get(device.snmp_profile))
            collected, cred = await _walk(device, creds, engines, timeout_s)
            address = management_v6(collected, extra)
            if address is None:
                return collected
            return replace(collected, snmp_v6=await _snmp_v6(address, cred, engines, timeout_s))
        except Exception as e:  # one device's failure is its result, never the run's
            return Collected(role=device.role, snmp_error=_reason(e),
                             mgmt_ipv6=device.mgmt_ipv6)  # fmt: skip

    try:
        found = await asyncio.gather(*(one(d) for d in devices))
    finally:
        for engine in engines.by_label.values():
            engine.close_dispatcher()
    return {d.name: c for d, c in zip(devices, found, strict=True)}


def ssh_banner(address: str, timeout_s: float, port: int = 22) -> str:
    """ "ok" when an SSH server greets on ``[address]:port``, else why not (Spanish)."""
    try:
        with socket.create_connection((address, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            greeting = sock.recv(256)
    except TimeoutError:
        return f"SSH sin respuesta en {timeout_s:g} s"
    except OSError as e:
        return f"SSH no conecta: {e.strerror or e}"
    return "ok" if greeting.startswith(b"SSH-") else "el puerto 22 no responde como SSH"


def read_cli(device: Device, profile: CredentialProfile, timeout_s: float,
             checked: dict[str, str | None]) -> dict[str, str]:  # fmt: skip
    """The CLI commands of the device's platform and what it printed for each."""
    from netmiko import ConnectHandler

    from inventario.ssh_discovery import SshTarget, connect_args, ssh_errors

    target = SshTarget(device.address, CLI_DEVICE_TYPES[device.platform], profile)
    out: dict[str, str] = {}
    with (
        ssh_errors(profile, timeout_s),
        ConnectHandler(**connect_args(target, timeout_s, checked)) as conn,
    ):
        # the prompt alone on the last line (a vtysh prompt may be longer than netmiko keeps)
        expect = rf"(?m)^{re.escape(conn.base_prompt.strip())}\S*[>#]\s*$"
        for command in CLI_COMMANDS[device.platform]:
            text = conn.send_command(command, read_timeout=timeout_s, auto_find_prompt=False,
                                     expect_string=expect)  # fmt: skip
            if not isinstance(text, str):
                raise DeviceError(f"respuesta inesperada a «{command}»")
            out[command] = text
    return out


def _ssh_part(device: Device, collected: Collected, profiles: _Profiles, timeout_s: float,
              extra: Sequence[ipaddress.IPv6Network], checked: dict[str, str | None]
              ) -> Collected:  # fmt: skip
    address = management_v6(collected, extra)
    ssh_v6 = ssh_banner(address, timeout_s) if address else None
    if not device.platform:
        return replace(collected, ssh_v6=ssh_v6,
                       cli_error="pukara no tiene comandos de CLI para su sistema (os)")  # fmt: skip
    try:
        cli = read_cli(device, profiles.get(device.cli_profile), timeout_s, checked)
    except PukaraError as e:
        return replace(collected, ssh_v6=ssh_v6, cli_error=f"{CLI_FAILED}: {e.message}")
    return replace(collected, ssh_v6=ssh_v6, cli=cli, platform=device.platform)


def collect(
    devices: Sequence[Device],
    *,
    timeout_s: float,
    concurrency: int,
    extra: Sequence[ipaddress.IPv6Network],
    ssh: bool = True,
    reporter: Reporter | None = None,
    profiles: _Profiles | None = None,
) -> list[DeviceReport]:
    """D1-D6 for every device, in the order given. ``ssh=False`` leaves SSH out (D5 then
    checks SNMP only, D6 is not-tested). Progress counts each device once per phase."""
    profiles = profiles or _Profiles()
    rep = reporter or NullReporter()
    rep.start(len(devices) * (2 if ssh else 1), "IPv6 en equipos")
    try:
        snmp = asyncio.run(_snmp_all(devices, profiles, timeout_s, concurrency, extra, rep))
        if ssh:
            snmp = _ssh_all(devices, snmp, profiles, timeout_s, extra, concurrency, rep)
        else:
            snmp = {n: replace(c, cli_error="sin SSH (--sin-ssh)") for n, c in snmp.items()}
    finally:
        rep.finish()
    reports = []
    for d in devices:
        c = snmp[d.name]
        cli_failed = c.cli_error is not None and c.cli_error.startswith(CLI_FAILED)
        error = c.snmp_error or (c.cli_error if cli_failed else None)
        reports.append(DeviceReport(d.name, d.site, d.role, d.address, evaluate(c, extra), error))
    return reports


def _ssh_all(devices: Sequence[Device], snmp: Mapping[str, Collected], profiles: _Profiles,
             timeout_s: float, extra: Sequence[ipaddress.IPv6Network], concurrency: int,
             reporter: Reporter) -> dict[str, Collected]:  # fmt: skip
    """The SSH part of every device on a thread pool; a device's failure is its own."""
    checked: dict[str, str | None] = {}

    def one(device: Device) -> Collected:
        base = snmp[device.name]
        try:
            return _ssh_part(device, base, profiles, timeout_s, extra, checked)
        except Exception as e:  # one device's failure is its result, never the run's
            return replace(base, cli_error=f"{CLI_FAILED}: {_reason(e)}")

    out: dict[str, Collected] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(SSH_WORKERS, concurrency))) as pool:
        futures = {pool.submit(one, d): d for d in devices}
        for future in as_completed(futures):
            found = future.result()
            out[futures[future].name] = found
            failed = found.cli_error is not None and found.cli_error.startswith(CLI_FAILED)
            reporter.advance(Result(futures[future].name, Status.FAILED if failed else Status.OK))
    return out


def records(reports: Iterable[DeviceReport]) -> list[dict[str, Any]]:
    """One flat record per device and check (English keys; evidence as a mapping)."""
    return [
        {
            "host.name": r.name, "site": r.site, "role": r.role, "address": r.address,
            "check": c.check, "title": CHECKS[c.check], "status": c.status,
            "message": c.message, "evidence": dict(c.evidence),
        }
        for r in reports
        for c in r.checks
    ]  # fmt: skip


def counts(reports: Iterable[DeviceReport]) -> dict[str, int]:
    out = {"devices": 0, "failed": 0, "errors": 0, "pass": 0, "fail": 0, "warn": 0,
           NOT_TESTED: 0}  # fmt: skip
    for r in reports:
        out["devices"] += 1
        out["failed"] += r.failed
        out["errors"] += r.error is not None
        for c in r.checks:
            out[c.status] = out.get(c.status, 0) + 1
    return out
