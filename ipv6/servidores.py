"""`pukara ipv6 servidores`: IPv6 readiness of the inventory's Linux servers (S1-S4).

S1-S3 read what playbooks/ipv6/servidores.yml gathers over SSH (run by pukara.ansible with
the ``auditoria`` credential profile unless told otherwise; the inventory, key handling and
event watching are auditoria.linux_run's). S4 is a TCP connect scan from this machine of the
ports S2 found listening, to the host's own IPv4 and IPv6 addresses (the inventory's and the
ones the host reports): the open sets must be the same. A closed port gets a retry before it
counts. Every host's scan runs on one event loop (at most :data:`SCAN_CONCURRENCY`
connection attempts at once), so hosts behind a DROP cost one timeout, not one each. A host
that cannot be reached gets its four results NOT_TESTED, and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditoria.linux import Target
from auditoria.linux_run import HostOutput, Watch, inventory, settle
from auditoria.linux_secciones import listing
from inventario.model import ASSETS, SERVER_KINDS
from ipv6 import servidores_reglas as rules
from ipv6.modelo import CheckResult, Status
from pukara.config import Settings
from pukara.errors import Interrupted, UsageError
from pukara.store import Store

PLAYBOOK = "ipv6/servidores.yml"
DEFAULT_PROFILE = "auditoria"
CHECKS = ("S1", "S2", "S3", "S4")
RETIRED = "dado_de_baja"


@dataclass(frozen=True, slots=True)
class Server:
    """One server to read: its Ansible target, site and the inventory's IPv6 address (the
    one S4 scans first; without it, the host's own global one on the interface of
    ``target.address``)."""

    target: Target
    site: str = ""
    ipv6: str | None = None


@dataclass
class ServerReport:
    name: str
    address: str
    site: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None  # the host could not be read at all

    @property
    def failed(self) -> bool:
        return self.error is not None or any(c.status is Status.FAIL for c in self.checks)


# --- targets -------------------------------------------------------------------------------


def _ip(value: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value or "").strip()))
    except ValueError:
        return None


def from_assets(assets: Iterable[Mapping[str, Any]], profile: str) -> list[Server]:
    """Each server of the inventory (not retired, with a management address: IPv4 first, so
    a host with IPv6 off is still read)."""
    out = []
    for a in assets:
        if a.get("kind") not in SERVER_KINDS or a.get("status") == RETIRED:
            continue
        v6 = _ip(a.get("mgmt_ipv6"))
        address = _ip(a.get("mgmt_ipv4")) or v6
        if address:
            target = Target(str(a["name"]), address, profile)
            out.append(Server(target, str(a.get("site") or ""), v6))
    return sorted(out, key=lambda s: (s.site, s.target.name))


def select(store: Store, wanted: Sequence[str], profile: str) -> list[Server]:
    """Servers by name or site code (empty: all); an unknown one is a UsageError naming it."""
    servers = from_assets(store.entities(ASSETS), profile)
    if not wanted:
        return servers
    chosen: dict[str, Server] = {}
    unknown = []
    for item in wanted:
        key = item.strip().lower()
        hits = [s for s in servers if key in (s.target.name.lower(), s.site.lower())]
        chosen.update((s.target.name, s) for s in hits)
        if not hits:
            unknown.append(item)
    if unknown:
        raise UsageError("sin servidor con ese nombre ni en esa sede: "
                         + ", ".join(f"«{u}»" for u in unknown)
                         + " (servidor físico, blade, máquina virtual o NAS activo con "
                         "dirección de gestión en el inventario)")  # fmt: skip
    return sorted(chosen.values(), key=lambda s: (s.site, s.target.name))


# --- S4 ------------------------------------------------------------------------------------


_NO_ROUTE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL})


SCAN_CONCURRENCY = 256  # connection attempts at once, over every host of the run


async def _open(address: str, port: int, timeout_s: float, retries: int,
                gate: asyncio.Semaphore) -> str:  # fmt: skip
    """``open``, ``closed`` (refused or no answer: a firewall's drop) or ``unreachable`` (this
    machine has no route there: the scan says nothing about the host)."""
    state = "closed"
    for _ in range(retries + 1):
        try:
            async with gate:
                _, writer = await asyncio.wait_for(asyncio.open_connection(address, port),
                                                   timeout_s)  # fmt: skip
        except TimeoutError:
            state = "closed"
            continue
        except OSError as e:
            state = "unreachable" if e.errno in _NO_ROUTE else "closed"
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return "open"
    return state


async def _states(address: str, ports: Sequence[int], timeout_s: float, retries: int,
                  gate: asyncio.Semaphore) -> dict[int, str]:  # fmt: skip
    got = await asyncio.gather(*(_open(address, p, timeout_s, retries, gate) for p in ports))
    return dict(zip(ports, got, strict=True))


@dataclass(frozen=True, slots=True)
class ScanJob:
    """S4 of one host, to run with the others on one event loop (:func:`scan_all`)."""

    subject: str
    listeners: tuple[rules.Listener, ...]
    v4: tuple[str, ...]
    v6: tuple[str, ...]
    timeout_s: float = 3.0
    retries: int = 1


def scan_all(jobs: Sequence[ScanJob], concurrency: int = SCAN_CONCURRENCY) -> list[CheckResult]:
    """S4 of every job, all hosts at once on one event loop, at most ``concurrency``
    connection attempts in flight; results in the order of ``jobs``."""

    async def every() -> list[CheckResult]:
        gate = asyncio.Semaphore(max(1, concurrency))
        return list(await asyncio.gather(*(_scan(job, gate) for job in jobs)))

    return asyncio.run(every()) if jobs else []


def check_scan(subject: str, listeners: Sequence[rules.Listener], v4: Sequence[str],
               v6: Sequence[str], *, timeout_s: float = 3.0, retries: int = 1) -> CheckResult:  # fmt: skip
    """S4: the TCP ports listening off loopback, connected to over the host's first IPv4
    and first IPv6 address; both open sets must be equal."""
    job = ScanJob(subject, tuple(listeners), tuple(v4), tuple(v6), timeout_s, retries)
    return scan_all([job])[0]


async def _scan(job: ScanJob, gate: asyncio.Semaphore) -> CheckResult:
    subject, v4, v6 = job.subject, job.v4, job.v6
    timeout_s, retries = job.timeout_s, job.retries
    ports = rules.scan_ports(job.listeners)
    evidence: dict[str, Any] = {"ports": ports, "v4_address": v4[0] if v4 else None,
                                "v6_address": v6[0] if v6 else None}  # fmt: skip
    if not ports:
        return rules.result(subject, "S4", Status.NOT_APPLICABLE,
                            "ningún puerto TCP escucha fuera de loopback", evidence)  # fmt: skip
    if not v4 or not v6:
        family = "IPv6" if not v6 else "IPv4"
        return rules.result(subject, "S4", Status.NOT_TESTED,
                            f"el equipo no tiene dirección {family} global que escanear",
                            evidence)  # fmt: skip

    states4, states6 = await asyncio.gather(_states(v4[0], ports, timeout_s, retries, gate),
                                            _states(v6[0], ports, timeout_s, retries, gate))  # fmt: skip
    for family, states, address in (("IPv4", states4, v4[0]), ("IPv6", states6, v6[0])):
        if set(states.values()) == {"unreachable"}:
            return rules.result(subject, "S4", Status.NOT_TESTED,
                                f"esta máquina no tiene ruta {family} hasta {address}: no se "
                                "pudo escanear", {**evidence, "v4_states": states4,
                                                  "v6_states": states6})  # fmt: skip
    open4 = [p for p, state in states4.items() if state == "open"]
    open6 = [p for p, state in states6.items() if state == "open"]
    evidence.update(v4_open=open4, v6_open=open6)
    only4, only6 = sorted(set(open4) - set(open6)), sorted(set(open6) - set(open4))
    if only4 or only6:
        parts = []
        if only4:
            parts.append("solo por IPv4: " + listing(f"tcp/{p}" for p in only4))
        if only6:
            parts.append("solo por IPv6: " + listing(f"tcp/{p}" for p in only6))
        return rules.result(subject, "S4", Status.FAIL, "puertos abiertos distintos; "
                            + "; ".join(parts), {**evidence, "only_v4": only4,
                                                 "only_v6": only6})  # fmt: skip
    if not open4:
        return rules.result(subject, "S4", Status.WARN, "ningún puerto que escucha responde "
                            "desde esta máquina por ninguna familia", evidence)  # fmt: skip
    return rules.result(subject, "S4", Status.PASS,
                        f"los mismos {len(open4)} puertos TCP abiertos por IPv4 y por IPv6",
                        evidence)  # fmt: skip


# --- evaluation ----------------------------------------------------------------------------


def evaluate(target: Target, host: HostOutput, *, site: str = "", ipv6: str | None = None,
             scan: bool = True, timeout_s: float = 3.0) -> ServerReport:  # fmt: skip
    """The four results of one host from what the playbook gave."""
    report, job = prepare(target, host, site=site, ipv6=ipv6, scan=scan, timeout_s=timeout_s)
    if job is not None:
        report.checks.append(scan_all([job])[0])
    return report


def prepare(target: Target, host: HostOutput, *, site: str = "", ipv6: str | None = None,
            scan: bool = True, timeout_s: float = 3.0) -> tuple[ServerReport, ScanJob | None]:  # fmt: skip
    """S1-S3 of one host, and either its S4 (not-tested) in the report or the scan to run."""
    report = ServerReport(target.name, target.address, site)
    if host.unreachable is not None:
        report.error = host.unreachable
        report.checks = [rules.result(target.name, c, Status.NOT_TESTED,
                                      f"no se pudo leer el equipo: {host.unreachable}",
                                      {"address": target.address}) for c in CHECKS]  # fmt: skip
        return report, None
    raw = host.raw
    s2, listeners = rules.check_listeners(target.name, raw)
    checks = [rules.check_kernel(target.name, raw), s2, rules.check_firewall(target.name, raw)]
    for check in checks:
        key = {"S1": "ipv6_kernel", "S2": "ipv6_listeners", "S3": "ipv6_firewall"}[check.check]
        if key in host.errors and check.status is Status.NOT_TESTED:
            checks[checks.index(check)] = rules.result(
                target.name, check.check, Status.NOT_TESTED, host.errors[key],
                {"task": key})  # fmt: skip
    v4, v6 = rules.host_addresses(raw, near=target.address)
    for first in (target.address, ipv6):
        if first and ":" in first:
            v6 = [first, *[a for a in v6 if a != first]]
        elif first:
            v4 = [first, *[a for a in v4 if a != first]]
    if not scan:
        checks.append(rules.result(target.name, "S4", Status.NOT_TESTED,
                                   "sin escaneo externo (--sin-escaneo)"))  # fmt: skip
    elif s2.status is Status.NOT_TESTED:
        checks.append(
            rules.result(
                target.name,
                "S4",
                Status.NOT_TESTED,
                "sin servicios que escuchan (S2) no hay puertos que escanear",
            )
        )
    else:
        report.checks = checks
        return report, ScanJob(target.name, tuple(listeners), tuple(v4), tuple(v6), timeout_s)
    report.checks = checks
    return report, None


def run(
    targets: Sequence[Server],
    settings: Settings,
    *,
    store: Store | None = None,
    scan: bool = True,
    cancel: Callable[[], bool] | None = None,
) -> list[ServerReport]:
    """Run the playbook over the servers and evaluate S1-S4 for each, in the given order."""
    from pukara.ansible import run_playbook
    from pukara.errors import AnsibleError

    names_seen: set[str] = set()
    for server in targets:
        target = server.target
        if target.name in names_seen:
            raise UsageError(f"el servidor {target.name} está dos veces en el alcance")
        names_seen.add(target.name)
    plain = [s.target for s in targets]
    inv, names, problems = inventory(plain, settings.timeout_s)
    nonce = secrets.token_hex(16)  # the run's section marker: no host text can open a section
    watch = Watch(names, rules.KEYS, cancel, nonce)
    done = None
    if names:
        try:
            done = run_playbook(PLAYBOOK, inv, settings=settings, store=store, on_event=watch,
                                extravars={"pukara_marca": nonce},
                                timeout_s=max(300, int(settings.timeout_s * 30)))  # fmt: skip
        except AnsibleError:
            if watch.cancelled:
                raise Interrupted("revisión IPv6 de servidores interrumpida") from None
            raise
    hosts = {t.name: watch.hosts.get(t.name, HostOutput()) for t in plain}
    for name, problem in problems.items():
        hosts[name].unreachable = problem
    settle(hosts, rules.KEYS, done.status if done else "sin ejecutar")
    timeout = min(settings.timeout_s, 3.0)
    prepared = [prepare(s.target, hosts[s.target.name], site=s.site, ipv6=s.ipv6, scan=scan,
                        timeout_s=timeout) for s in targets]  # fmt: skip
    jobs = [job for _, job in prepared if job is not None]
    scanned = dict(zip((j.subject for j in jobs), scan_all(jobs), strict=True))
    for report, job in prepared:
        if job is not None:
            report.checks.append(scanned[job.subject])
    return [report for report, _ in prepared]


def records(reports: Sequence[ServerReport]) -> list[dict[str, Any]]:
    """One flat row per server and check (JSON/CSV)."""
    return [
        {"host.name": r.name, "site": r.site, "address": r.address, "check": c.check,
         "title": rules.TITLES[c.check], "status": c.status.value, "message": c.message,
         "evidence": dict(c.evidence)}
        for r in reports for c in r.checks
    ]  # fmt: skip


def counts(reports: Sequence[ServerReport]) -> dict[str, int]:
    out = {"servers": len(reports), "errors": sum(1 for r in reports if r.error)}
    for status in Status:
        out[status.value] = sum(1 for r in reports for c in r.checks if c.status is status)
    return out
