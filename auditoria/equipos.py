"""Checks 28–32 on the inventory's network devices, over SNMP, TCP and SSH.

Devices are red's (:func:`red.equipos.select`): routers, firewalls and switches with a known
platform. What each check observes, kept raw as its evidence:

- ``net_snmp_v3_only``: one GET (sysUpTime, hrSystemDate) with each v2c community of the
  device's profiles and one with each v3 authPriv user. It passes when every community is
  refused (no answer: net-snmp drops a request whose community it does not know) and v3
  answers; v1 shares v2c's communities in net-snmp, so a refused v2c community is refused for
  v1 too; when v3 does not answer either, nothing was observed: an ERROR, never a FAIL.
  A profile without a community is tried with ``public``.
- ``net_ssh_only``: a TCP connection to port 23 must be refused (reset or silently dropped, as
  the lab's gateways do: see ``lab.manage.refused_telnet``) and port 22 must greet with an
  ``SSH-2.0`` banner.
- ``net_clock``: the device's hrSystemDate (HOST-RESOURCES-MIB DateAndTime, with its UTC
  offset) against this machine's clock at the middle of the request; the offset must not
  exceed the policy's ``clock_max_offset_s`` (:data:`DEFAULT_MAX_OFFSET_S` without one).
- ``net_syslog``: ``show running-config`` through the device's CLI (red's profile, red's
  :func:`red.respaldo.show`) has a ``log syslog`` line.
- ``net_config_saved``: FRR keeps no startup configuration of its own: what it boots from and
  what ``write memory`` writes is the integrated ``frr.conf``. FRR's own ``frr-reload.py
  --test`` reads that file the way vtysh does (``vtysh -m -f``) and lists the lines the
  running configuration would have to lose or gain to equal it; no line either way = saved.
  It runs in the device's own shell, so it needs the device's system login (the asset's own
  ``credential_profile`` when its ``device_type`` is a host one, ``linux``, as the lab's
  gateways); a device without it is an ERROR for this check, never a pass. Under a pathspace
  (``/etc/frr/<ps>/frr.conf``, as each lab router has) it is given ``--pathspace``.

A device that answers nothing (no SNMP, no SSH port) is an ERROR for each of its checks; the
run goes on with the others. Configuration lines kept as evidence have their secrets masked
as red's backups do (:func:`red.limpieza.mask_secrets`).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from auditoria.modelo import Result, Status
from pukara import oids
from pukara.config import Settings
from pukara.errors import AuthError, DeviceError, PukaraError
from pukara.secrets import CredentialProfile, Secret, require_profile
from red.equipos import NetDevice

CHECKS = ("net_snmp_v3_only", "net_ssh_only", "net_clock", "net_syslog", "net_config_saved")
HR_SYSTEM_DATE = "1.3.6.1.2.1.25.1.2.0"
DEFAULT_MAX_OFFSET_S = 5.0
DEFAULT_COMMUNITY = "public"
TELNET, SSH = 23, 22
WORKERS = 16
TCP_TIMEOUT_S = 2.0
SSH_TIMEOUT_S = 20.0
END = "pukara-fin"
# runs in the device's shell: FRR's own comparison of the running config with frr.conf
SAVED_SCRIPT = (
    'ps=; for d in /etc/frr/*/; do [ -f "${d}frr.conf" ] && ps=$(basename "$d"); done; '
    'if [ -f /etc/frr/frr.conf ] || [ -z "$ps" ]; then '
    "/usr/lib/frr/frr-reload.py --test --log-level error /etc/frr/frr.conf; "
    'else /usr/lib/frr/frr-reload.py --test --log-level error --pathspace "$ps" '
    '"/etc/frr/$ps/frr.conf"; fi; '
    f'echo "{END} rc=$?"'
)
_RC = re.compile(rf"{END} rc=(\d+)")
_SYSLOG = re.compile(r"^log syslog\b")


@dataclass(slots=True)
class Observed:
    """What one device answered, raw: the evidence of its five results."""

    snmp: dict[str, Any] = field(default_factory=dict)  # label -> {version, answered, ...}
    telnet: dict[str, Any] = field(default_factory=dict)
    ssh: dict[str, Any] = field(default_factory=dict)
    running: dict[str, Any] = field(default_factory=dict)  # {log_lines} or {error}
    saved: dict[str, Any] = field(default_factory=dict)  # {rc, output} or {error}
    clock: dict[str, Any] = field(default_factory=dict)

    def reachable(self) -> bool:
        """Anything answered: an SNMP reply, the SSH port, or telnet's port (open or reset)."""
        answered = any(v.get("answered") for v in self.snmp.values())
        ports = self.ssh.get("outcome") == "open" or self.telnet.get("outcome") in (
            "open",
            "refused",
        )
        return answered or ports


# --- observation ---------------------------------------------------------------------------


def tcp(address: str, port: int, timeout_s: float = TCP_TIMEOUT_S) -> dict[str, Any]:
    """One TCP connection: ``open`` (with the first line the server sent), ``refused`` (a
    reset), ``dropped`` (no answer in ``timeout_s``) or ``error``."""
    out: dict[str, Any] = {"port": port}
    try:
        with socket.create_connection((address, port), timeout=timeout_s) as sock:
            out["outcome"] = "open"
            try:
                out["banner"] = sock.recv(256).decode("ascii", "replace").strip()
            except OSError:
                out["banner"] = ""
    except ConnectionRefusedError:
        out["outcome"] = "refused"
    except TimeoutError:
        out["outcome"] = "dropped"
    except OSError as e:
        out.update(outcome="error", detail=e.strerror or str(e))
    return out


def date_and_time(raw: bytes) -> datetime:
    """HOST-RESOURCES-MIB DateAndTime (8 or 11 octets) as an aware datetime; without the
    zone octets it is read as UTC. ValueError when the octets cannot be a date."""
    if len(raw) not in (8, 11):
        raise ValueError(f"DateAndTime de {len(raw)} octetos (se esperan 8 u 11)")
    year = int.from_bytes(raw[0:2], "big")
    zone = UTC
    if len(raw) == 11:
        sign = {ord("+"): 1, ord("-"): -1}.get(raw[8])
        if sign is None:
            raise ValueError("DateAndTime con un signo de zona que no es + ni -")
        zone = timezone(sign * timedelta(hours=raw[9], minutes=raw[10]))
    second = min(raw[6], 59)  # 60: a leap second
    return datetime(year, raw[2], raw[3], raw[4], raw[5], second, raw[7] * 100_000, tzinfo=zone)


def _profiles(device: NetDevice) -> list[str]:
    named = str(device.asset.get("credential_profile") or "")
    return [p for p in dict.fromkeys([named, device.credential_profile]) if p]


def _snmp_credentials(device: NetDevice) -> tuple[list[Any], list[str]]:
    """v3 and v2c credentials of the device's profiles; errors of the profiles that fail."""
    from pukara.snmp import SnmpCredential, credentials_from_profile

    creds: list[SnmpCredential] = []
    problems: list[str] = []
    for name in _profiles(device):
        try:
            creds += credentials_from_profile(require_profile(name))
        except PukaraError as e:
            problems.append(e.message)
    if not any(c.version == "2c" for c in creds):
        creds.append(SnmpCredential("sin-comunidad", "2c", community=Secret(DEFAULT_COMMUNITY)))
    return creds, problems


def _value(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


async def _ask(address: str, creds: Sequence[Any], timeout_s: float) -> dict[str, Any]:
    from pukara.snmp import Session, engines

    out: dict[str, Any] = {}
    engine_for = engines(list(creds))
    try:
        for cred in creds:
            entry: dict[str, Any] = {"version": "v3" if cred.version == "3" else "v2c"}
            session = Session(engine_for[cred.label], cred, address)
            before = time.time()
            try:
                await session.open(timeout_s, 0)
                reply = await session.get([oids.SYS_UPTIME, HR_SYSTEM_DATE])
            except DeviceError as e:  # AuthError: the agent refused our credential
                entry.update(answered=False, error=e.message, rejected=isinstance(e, AuthError))
            else:
                after = time.time()
                entry.update(answered=True, reply={k: _value(v) for k, v in reply.items()},
                             asked_at=before, answered_at=after)  # fmt: skip
            out[cred.label] = entry
    finally:
        for engine in engine_for.values():
            engine.close_dispatcher()
    return out


def _clock(snmp: Mapping[str, Any]) -> dict[str, Any]:
    """The device's clock from the first v3 (then v2c) answer carrying hrSystemDate."""
    answers = sorted((v for v in snmp.values() if v.get("answered")),
                     key=lambda v: v["version"] != "v3")  # fmt: skip
    for entry in answers:
        raw = entry["reply"].get(HR_SYSTEM_DATE)
        if not isinstance(raw, str):
            continue
        ours = (entry["asked_at"] + entry["answered_at"]) / 2
        try:
            theirs = date_and_time(bytes.fromhex(raw))
        except ValueError as e:
            return {"error": f"hrSystemDate ilegible ({raw}): {e}", "hrSystemDate": raw}
        return {
            "hrSystemDate": raw,
            "device_time": theirs.isoformat(),
            "our_time": datetime.fromtimestamp(ours, UTC).isoformat(),
            "offset_s": round(theirs.timestamp() - ours, 3),
            "via": entry["version"],
        }
    return {"error": "ninguna respuesta SNMP trajo hrSystemDate"}


def _running(device: NetDevice, key: bytes) -> dict[str, Any]:
    from red import limpieza, respaldo

    try:
        _, running = respaldo.show(device, require_profile(device.credential_profile),
                                   timeout_s=SSH_TIMEOUT_S)  # fmt: skip
    except PukaraError as e:
        return {"error": e.message}
    lines = [x.rstrip() for x in running.replace("\r", "").splitlines()]
    logging = [x for x in lines if x.startswith("log ")]
    return {
        "lines": len(lines),
        "log_lines": limpieza.mask_secrets("\n".join(logging), device.platform, key).splitlines(),
        "profile": device.credential_profile,
    }


def _host_profile(device: NetDevice) -> CredentialProfile | None:
    from inventario.ssh_discovery import DRIVERS

    named = str(device.asset.get("credential_profile") or "")
    if not named or str(device.asset.get("device_type") or "") not in DRIVERS:
        return None
    return require_profile(named)


def _saved(device: NetDevice, key: bytes) -> dict[str, Any]:
    from netmiko import ConnectHandler

    from inventario.ssh_discovery import SshTarget, connect_args, ssh_errors
    from red import limpieza

    try:
        profile = _host_profile(device)
        if profile is None:
            return {"error": (
                "sin acceso al frr.conf guardado: el activo no tiene perfil del sistema del "
                "equipo (credential_profile con device_type linux)"
            )}  # fmt: skip
        target = SshTarget(device.address, "linux", profile)
        with (
            ssh_errors(profile, SSH_TIMEOUT_S),
            ConnectHandler(**connect_args(target, SSH_TIMEOUT_S)) as conn,
        ):
            out = conn.send_command(SAVED_SCRIPT, read_timeout=SSH_TIMEOUT_S * 3)
    except PukaraError as e:
        return {"error": e.message}
    text = str(out).replace("\r", "")
    found = _RC.search(text)
    body = limpieza.mask_secrets(text[: found.start()] if found else text, device.platform, key)
    return {
        "rc": int(found.group(1)) if found else None,
        "output": body.strip().splitlines(),
        "profile": profile.name,
    }


def observe(device: NetDevice, timeout_s: float, key: bytes) -> Observed:
    """Everything the five checks need from one device (errors recorded, never raised)."""
    seen = Observed()
    creds, problems = _snmp_credentials(device)
    seen.snmp = asyncio.run(_ask(device.address, creds, timeout_s))
    if problems:
        seen.snmp["perfiles"] = {"answered": False, "error": "; ".join(problems)}
    seen.clock = _clock(seen.snmp)
    seen.telnet = tcp(device.address, TELNET)
    seen.ssh = tcp(device.address, SSH)
    if seen.ssh.get("outcome") == "open":
        seen.running = _running(device, key)
        seen.saved = _saved(device, key)
    else:
        why = f"el puerto SSH no responde ({seen.ssh.get('outcome')})"
        seen.running = {"error": why}
        seen.saved = {"error": why}
    return seen


# --- judgement -----------------------------------------------------------------------------


def judge_snmp(seen: Observed) -> tuple[Status, str]:
    v2c = {k: v for k, v in seen.snmp.items() if v.get("version") == "v2c"}
    v3 = {k: v for k, v in seen.snmp.items() if v.get("version") == "v3"}
    took = [k for k, v in v2c.items() if v.get("answered")]
    if took:
        return Status.FAIL, f"el agente responde a SNMP v2c con comunidad ({', '.join(took)})"
    if not v3:
        return Status.ERROR, "sin usuario SNMPv3 en los perfiles del equipo: v3 no se pudo probar"
    if any(v.get("answered") for v in v3.values()):
        return Status.PASS, "v2c rechazado y SNMPv3 authPriv responde"
    errors = "; ".join(str(v.get("error")) for v in v3.values())
    if all(v.get("rejected") for v in v3.values()):
        return Status.ERROR, f"el agente rechazó la credencial SNMPv3 del perfil: {errors}"
    # no answer at all (v2c nor v3) is a device we could not observe, not a finding
    return Status.ERROR, f"ni v2c ni SNMPv3 responden, no se pudo observar: {errors}"


def judge_ssh(seen: Observed) -> tuple[Status, str]:
    telnet, ssh = seen.telnet.get("outcome"), seen.ssh
    if telnet == "open":
        return Status.FAIL, "el puerto telnet (23) acepta conexiones"
    if telnet == "error":
        return Status.ERROR, f"telnet no se pudo probar: {seen.telnet.get('detail')}"
    if ssh.get("outcome") != "open":
        return Status.FAIL, f"telnet rechazado, pero SSH (22) no responde ({ssh.get('outcome')})"
    if not str(ssh.get("banner", "")).startswith("SSH-2.0-"):
        return Status.FAIL, f"el puerto 22 no saluda como SSH 2: {ssh.get('banner')!r}"
    return (
        Status.PASS,
        f"telnet {'descartado' if telnet == 'dropped' else 'rechazado'}; SSH responde",
    )


def judge_clock(seen: Observed, max_offset_s: float) -> tuple[Status, str]:
    if "offset_s" not in seen.clock:
        return Status.ERROR, f"reloj no leído: {seen.clock.get('error')}"
    offset = float(seen.clock["offset_s"])
    if abs(offset) <= max_offset_s:
        return Status.PASS, f"desfase {offset:+.1f} s (máximo {max_offset_s:g} s)"
    return Status.FAIL, f"desfase {offset:+.1f} s supera el máximo de {max_offset_s:g} s"


def judge_syslog(seen: Observed) -> tuple[Status, str]:
    if "error" in seen.running:
        return Status.ERROR, f"configuración activa no leída: {seen.running['error']}"
    if any(_SYSLOG.match(line) for line in seen.running.get("log_lines", [])):
        return Status.PASS, "la configuración activa registra en syslog (log syslog)"
    return Status.FAIL, "la configuración activa no tiene «log syslog»"


def judge_saved(seen: Observed) -> tuple[Status, str]:
    if "error" in seen.saved:
        return Status.ERROR, f"configuración guardada no comparada: {seen.saved['error']}"
    rc, lines = seen.saved.get("rc"), [x for x in seen.saved.get("output", []) if x.strip()]
    if rc != 0:
        said = lines[-1] if lines else "sin salida"
        return Status.ERROR, f"frr-reload.py --test terminó con {rc}: {said}"
    if not lines:
        return Status.PASS, "la configuración activa es la guardada (frr.conf)"
    changes = [x for x in lines if x.strip() and not set(x.strip()) <= {"="}
               and x.strip() not in ("Lines To Delete", "Lines To Add")]  # fmt: skip
    return Status.FAIL, f"la configuración activa difiere de la guardada en {len(changes)} líneas"


def max_offset(policy: object) -> float:
    """The policy's ``clock_max_offset_s`` (attribute or key), else the default."""
    value = policy.get("clock_max_offset_s") if isinstance(policy, Mapping) else (
        getattr(policy, "clock_max_offset_s", None)
    )  # fmt: skip
    return float(value) if isinstance(value, int | float) else DEFAULT_MAX_OFFSET_S


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _judged(judge: Callable[[], tuple[Status, str]]) -> tuple[Status, str]:
    """One check's verdict; a judge's unexpected error is that check's ERROR, not the device's."""
    try:
        return judge()
    except Exception as e:
        return Status.ERROR, f"error inesperado al juzgar: {type(e).__name__}: {e}"


def results_for(
    device: NetDevice, seen: Observed, valid_days: Mapping[str, int], observed_at: str,
    max_offset_s: float,
) -> list[Result]:  # fmt: skip
    """The five results of one device from what it answered."""
    start = datetime.fromisoformat(observed_at.replace("Z", "+00:00"))
    evidence: dict[str, dict[str, Any]] = {
        "net_snmp_v3_only": {"snmp": {k: _no_times(v) for k, v in seen.snmp.items()}},
        "net_ssh_only": {"telnet": seen.telnet, "ssh": seen.ssh},
        "net_clock": {"clock": seen.clock, "max_offset_s": max_offset_s},
        "net_syslog": {"running_config": seen.running},
        "net_config_saved": {"frr_reload_test": seen.saved},
    }
    if not seen.reachable():
        why = "equipo inalcanzable: ni SNMP ni el puerto SSH responden"
        verdicts = dict.fromkeys(CHECKS, (Status.ERROR, why))
    else:
        judges: dict[str, Callable[[], tuple[Status, str]]] = {
            "net_snmp_v3_only": lambda: judge_snmp(seen), "net_ssh_only": lambda: judge_ssh(seen),
            "net_clock": lambda: judge_clock(seen, max_offset_s),
            "net_syslog": lambda: judge_syslog(seen), "net_config_saved": lambda: judge_saved(seen),
        }  # fmt: skip
        verdicts = {check: _judged(judge) for check, judge in judges.items()}
    out = []
    for check in CHECKS:
        status, message = verdicts[check]
        until = _stamp(start + timedelta(days=valid_days.get(check, 1)))
        out.append(Result(check, device.name, status, message, observed_at, until,
                          {"address": device.address, **evidence[check]}))  # fmt: skip
    return out


def _no_times(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("asked_at", "answered_at")}


def run(
    devices: Sequence[NetDevice], settings: Settings, policy: object,
    observed_at: str | None = None,
) -> list[Result]:  # fmt: skip
    """Checks 28–32 on each device, one result per check and device, in device order.

    ``observed_at`` (UTC, ``Z``) stamps every result; None: each device's own start time.
    """
    from auditoria import comprobaciones
    from pukara.runner import run_many
    from red import limpieza, respaldo

    checks = comprobaciones.load()
    days = {c: checks[c].valid_days for c in CHECKS if c in checks}
    key = limpieza.load_key(respaldo.key_path(settings.data_dir))
    limit = max_offset(policy)
    timeout_s = min(settings.timeout_s, 5.0)

    def one(device: NetDevice) -> dict[str, Any]:
        stamp = observed_at or _stamp(datetime.now(UTC))
        seen = observe(device, timeout_s, key)
        return {"results": results_for(device, seen, days, stamp, limit)}

    done = run_many(one, devices, action="auditar-equipos", workers=WORKERS,
                    name=lambda d: d.name)  # fmt: skip
    out: list[Result] = []
    for device, result in zip(devices, done.results, strict=False):
        if result.failed:  # an unexpected error of one device: its checks are errors
            stamp = observed_at or _stamp(datetime.now(UTC))
            seen = Observed()
            for r in results_for(device, seen, days, stamp, limit):
                out.append(Result(r.check_id, r.host, Status.ERROR,
                                  f"error al observar el equipo: {result.error}", r.observed_at,
                                  r.valid_until, r.evidence))  # fmt: skip
        else:
            out.extend(result.data["results"])
    return out
