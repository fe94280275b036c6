"""``pukara inventario descubrir``: targets resolved and checked first, then SNMP, SSH and
Ansible each over the targets they apply to, every answer stored as an observation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventario import ansible_facts, observations, snmp_discovery, ssh_discovery
from inventario.model import ASSETS, RETIRED, SERVER_KINDS, SITES, management_address
from pukara.config import Settings
from pukara.errors import DeviceError, Interrupted, SecretsError, UsageError
from pukara.results import Result, RunResult, Status
from pukara.runner import Reporter
from pukara.secrets import CredentialProfile, require_profile
from pukara.snmp import SnmpCredential, credentials_from_profile
from pukara.store import Store
from pukara.targets import ASSET, IN_SERVICE, NAME, SITE, classify
from pukara.text import count

METHODS = ("snmp", "ssh", "ansible")
MAX_ADDRESSES = 4096


@dataclass(frozen=True, slots=True)
class Target:
    address: str
    asset: dict[str, Any] | None = None
    swept: bool = False  # an address of a prefix, not a known asset: silence is no failure


@dataclass(slots=True)
class Report:
    runs: dict[str, RunResult] = field(default_factory=dict)
    changed: int = 0
    unchanged: int = 0

    @property
    def results(self) -> list[tuple[str, Result]]:
        return [(m, r) for m, run in self.runs.items() for r in run.results]

    @property
    def failed(self) -> bool:
        return any(r.failed for _, r in self.results)


def _network(spec: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(spec, strict=False)
    except ValueError:
        return None


def _exclusions(exclude: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for spec in exclude:
        net = _network(spec)
        if net is None:
            raise UsageError(f"--excluir {spec}: no es una dirección ni un prefijo IP")
        out.append(net)
    return out


def _expand(
    spec: str, assets: Sequence[dict[str, Any]], sites: Collection[str]
) -> list[tuple[str, dict[str, Any] | None]]:
    """One target spec -> (address, asset) pairs, read as every area reads it (pukara.targets)."""
    names = {str(a["name"]).casefold(): str(a["name"]) for a in assets}
    spec = names.get(spec.casefold(), spec)  # an asset name in any case
    try:
        found = classify(spec, sites=sites, assets=set(names.values()))
    except ValueError as e:
        raise UsageError(f"objetivo «{spec}»: {e}") from None
    if found.kind == SITE:
        here = [a for a in assets if a.get("site") == found.value and a.get("status") in IN_SERVICE]
        pairs: list[tuple[str, dict[str, Any] | None]] = [
            (addr, a) for a in here if (addr := management_address(a))
        ]
        if not pairs:
            raise UsageError(
                f"la sede «{spec}» no tiene equipos en servicio con dirección de gestión"
            )
        return pairs
    if found.kind == ASSET:
        asset = next(a for a in assets if a["name"] == spec)
        if asset.get("status") == RETIRED:
            since = f" desde el {asset['retired_on']}" if asset.get("retired_on") else ""
            raise UsageError(f"el activo «{spec}» está dado de baja{since}; no se descubre "
                             "(devuélvalo a otro estado para hacerlo)")  # fmt: skip
        address = management_address(asset)
        if not address:
            raise UsageError(f"el activo «{spec}» no tiene dirección de gestión")
        return [(address, asset)]
    if found.kind == NAME:
        raise UsageError(f"objetivo «{spec}»: el descubrimiento no resuelve nombres; indique su IP")
    net = ipaddress.ip_network(found.value)
    if net.num_addresses > MAX_ADDRESSES:
        raise UsageError(f"{spec}: más de {MAX_ADDRESSES} direcciones; divida el prefijo")
    hosts = [net.network_address] if net.num_addresses == 1 else list(net.hosts())
    return [(str(ip), None) for ip in hosts]


def _sweeps(specs: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The prefixes of more than one address among the specs."""
    nets = [n for spec in specs if "/" in spec and (n := _network(spec)) is not None]
    return [n for n in nets if n.num_addresses > 1]


def resolve(store: Store, specs: Sequence[str], exclude: Sequence[str]) -> list[Target]:
    """Addresses, prefixes, site codes or asset names -> targets; errors before any probe.

    Without specs: every asset in service that has a management address.
    """
    assets = list(store.entities(ASSETS))
    site_codes = {str(s["code"]) for s in store.entities(SITES)}
    by_address = {a: x for x in assets for a in (x.get("mgmt_ipv4"), x.get("mgmt_ipv6")) if a}
    excluded = _exclusions(exclude)
    if specs:
        pairs = [pair for spec in specs for pair in _expand(spec, assets, site_codes)]
    else:
        in_service = [a for a in assets if a.get("status") in IN_SERVICE]
        pairs = [(addr, a) for a in in_service if (addr := management_address(a)) is not None]
    sweeps = _sweeps(specs)
    chosen: dict[str, Target] = {}
    for address, asset in pairs:
        ip = ipaddress.ip_address(address)
        if not any(ip in net for net in excluded):
            known = asset or by_address.get(str(ip))
            swept = known is None and any(ip in net for net in sweeps)
            chosen.setdefault(str(ip), Target(str(ip), known, swept))
    return list(chosen.values())


NO_ANSWER = "sin respuesta"


def _silent(result: Result) -> bool:
    """No agent answered at all: every credential tried timed out (pukara.snmp's words)."""
    parts = (result.error or "").split("; ")
    return result.failed and all(p.startswith("sin respuesta SNMP") for p in parts)


class _Profiles:
    """Credential profiles loaded once each; a bad one is an error for its targets only."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._cache: dict[str, CredentialProfile | DeviceError] = {}
        self._environ = environ

    def get(self, name: str) -> CredentialProfile:
        if name not in self._cache:
            try:
                self._cache[name] = require_profile(name, self._environ)
            except SecretsError as e:  # unknown profile, unreadable file or bad name
                self._cache[name] = DeviceError(str(e))
        found = self._cache[name]
        if isinstance(found, DeviceError):
            raise found
        return found

    def known(self, name: str) -> bool:
        try:
            self.get(name)
        except DeviceError:
            return False
        return True


def _ordered(*groups: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for group in groups:
        for name in group:
            if name and name not in out:
                out.append(name)
    return out


def _snmp_targets(
    targets: Sequence[Target],
    profiles: _Profiles,
    cli: Sequence[str],
    remembered: Mapping[str, str],
) -> tuple[list[snmp_discovery.SnmpTarget], list[Result]]:
    ready, failed = [], []
    for t in targets:
        last = remembered.get(t.address)  # a profile since removed is simply not tried first
        names = _ordered([last if last and profiles.known(last) else None],
                         [(t.asset or {}).get("credential_profile")], cli)  # fmt: skip
        creds: list[SnmpCredential] = []
        try:
            for name in names:
                creds.extend(credentials_from_profile(profiles.get(name)))
        except DeviceError as e:
            failed.append(Result(t.address, Status.FAILED, error=str(e)))
            continue
        # the profile that worked last time first; then SNMPv3 before v2c: a v3 request to a
        # v2c-only agent costs one exchange (a Report), a v2c one to a v3-only agent a timeout
        mine = remembered.get(t.address)
        creds.sort(key=lambda c: (c.profile != mine, c.version != "3"))
        if not creds:
            failed.append(Result(t.address, Status.FAILED, error=(
                "sin credenciales SNMP: indique --credencial PERFIL con community o snmp_user"
            )))  # fmt: skip
            continue
        ready.append(snmp_discovery.SnmpTarget(t.address, creds))
    return ready, failed


def _profile_for(t: Target, profiles: _Profiles, cli: Sequence[str]) -> CredentialProfile:
    names = _ordered([(t.asset or {}).get("credential_profile")], cli)
    if not names:
        raise DeviceError("sin perfil de credenciales (credential_profile o --credencial)")
    profile = profiles.get(names[0])
    if not profile.get("username"):
        raise DeviceError(f"el perfil «{profile.name}» no tiene username")
    return profile


@dataclass(slots=True)
class _Run:
    store: Store
    settings: Settings
    targets: Sequence[Target]
    profiles: _Profiles
    cli_profiles: Sequence[str]
    timeout_s: float
    reporter: Reporter | None
    report: Report = field(default_factory=Report)

    def keep(self, method: str, results: Sequence[Result], interrupted: bool = False) -> None:
        # an address of a sweep that nothing answers on is no device: «sin respuesta», skipped,
        # neither a failure (exit 3) nor an observation
        swept = {t.address for t in self.targets if t.swept}
        results = [
            Result(r.target, Status.SKIPPED, error=NO_ANSWER, started_at=r.started_at,
                   finished_at=r.finished_at) if r.target in swept and _silent(r) else r
            for r in results
        ]  # fmt: skip
        self.report.runs[method] = RunResult(f"descubrir-{method}", results, interrupted)
        answered = [r for r in results if r.status is not Status.SKIPPED]
        changed, same = observations.record(self.store, method, answered)
        self.report.changed += changed
        self.report.unchanged += same

    def snmp(self) -> None:
        remembered = observations.remembered_credentials(self.store)
        ready, failed = _snmp_targets(self.targets, self.profiles, self.cli_profiles, remembered)
        done: list[Result] = list(failed)
        rep = self.reporter

        def advance(result: Result) -> None:
            done.append(result)
            if rep:
                rep.advance(result)

        if rep:
            rep.start(len(self.targets), "SNMP")
            for result in failed:
                rep.advance(result)
        try:
            snmp_discovery.discover(ready, concurrency=self.settings.concurrency,
                                    timeout_s=self.timeout_s, on_result=advance)  # fmt: skip
        except KeyboardInterrupt:
            self.keep("snmp", done, interrupted=True)
            raise Interrupted(
                f"descubrimiento interrumpido; "
                f"{count(len(done), 'resultado SNMP guardado', 'resultados SNMP guardados')}"
            ) from None
        finally:
            if rep:
                rep.finish()
        order = {t.address: i for i, t in enumerate(self.targets)}
        self.keep("snmp", sorted(done, key=lambda r: order.get(r.target, 0)))

    def _with_profile(
        self, wanted: Callable[[dict[str, Any]], bool]
    ) -> tuple[list[tuple[Target, CredentialProfile]], list[Result]]:
        ready, failed = [], []
        for t in self.targets:
            if not wanted(t.asset or {}):
                continue
            try:
                ready.append((t, _profile_for(t, self.profiles, self.cli_profiles)))
            except DeviceError as e:
                failed.append(Result(t.address, Status.FAILED, error=str(e)))
        return ready, failed

    def ssh(self) -> None:
        ready, failed = self._with_profile(lambda a: bool(a.get("device_type")))
        if not (ready or failed):
            return
        targets = [ssh_discovery.SshTarget(t.address, str((t.asset or {})["device_type"]), p)
                   for t, p in ready]  # fmt: skip
        result = ssh_discovery.discover(targets, workers=self.settings.concurrency,
                                        timeout_s=self.timeout_s * 2, reporter=self.reporter)  # fmt: skip
        self.keep("ssh", [*failed, *result.results], result.interrupted)
        if result.interrupted:
            raise Interrupted("descubrimiento SSH interrumpido; resultados parciales guardados")

    def ansible(self) -> None:
        ready, failed = self._with_profile(
            lambda a: a.get("kind") in SERVER_KINDS or a.get("device_type") == "linux"
        )
        if not (ready or failed):
            return
        hosts = [ansible_facts.AnsibleTarget(str((t.asset or {})["name"]), t.address, p)
                 for t, p in ready]  # fmt: skip
        result = ansible_facts.discover(hosts, settings=self.settings, store=self.store,
                                        timeout_s=self.timeout_s * 2)  # fmt: skip
        self.keep("ansible", [*failed, *result.results])


def run(
    store: Store,
    settings: Settings,
    targets: Sequence[Target],
    *,
    methods: Sequence[str] = METHODS,
    profiles: Sequence[str] = (),
    timeout_s: float | None = None,
    reporter: Reporter | None = None,
    environ: Mapping[str, str] | None = None,
) -> Report:
    """Discover over every applicable method; observations stored per method as it ends.

    ``timeout_s`` is the wait per SNMP request (SSH and Ansible get twice as long); by
    default the configured ``timeout_s``.
    """
    wait = settings.timeout_s if timeout_s is None else timeout_s
    for name in profiles:  # one the user typed is checked before anything is probed
        require_profile(name, environ)
    job = _Run(store, settings, targets, _Profiles(environ), profiles, wait, reporter)
    for method in METHODS:
        if method in methods:
            getattr(job, method)()
    return job.report
