"""One audit run: scope from the inventory, a recorded sample, the checks, waivers, the bundle.

Population (what ``--alcance`` selects from the inventory):

- Linux servers: active server assets (physical, blade, VM, NAS) with a management address
  whose credential profile is the audit one (``auditoria``) or that carry the tag ``auditoria``;
- network devices: the sites' gateways (active routers and firewalls with a management address);
- pukara's own records: host ``pukara`` (with ``todos``, or when named).

``--alcance`` takes ``todos``, site codes and asset names (repeated or comma-separated).
``--muestra N`` draws N hosts of the servers and devices by simple random sampling
(``random.Random(seed).sample`` over the sorted names; the seed is recorded, so anyone can
draw the same sample again); ``todos`` audits the whole population (a census). Population,
method, seed and the selected hosts all go into the run and its bundle.

Every selected host gets one result per check of its kind: a check that said nothing for a
host becomes an ERROR for it, never a silent gap. When no Linux server (or no network device)
was selected, each Linux (or network) check writes one ERROR for the host ``<alcance vacío>``
(an empty scope is never a pass: the run ends with 3). Ctrl-C keeps what was observed as an
*incomplete* run in the store and writes no bundle (``auditoria exportar`` can seal it later,
marked incomplete); the command ends with 130.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pwd
import random
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pukara
from auditoria import almacen, excepciones
from auditoria.almacen import AuditRun
from auditoria.modelo import Check, Kind, Result, Status
from pukara.errors import Interrupted, UsageError
from pukara.events import new_event_id

if TYPE_CHECKING:
    from pukara.config import Settings
    from pukara.store import Store

AUDIT_PROFILE = "auditoria"
AUDIT_TAG = "auditoria"
RECORDS_HOST = "pukara"
SERVER_KINDS = frozenset({"servidor_fisico", "blade", "maquina_virtual", "nas"})
GATEWAY_KINDS = frozenset({"router", "firewall"})
ALL = "todos"
EMPTY_SCOPE_HOST = "<alcance vacío>"  # the host of a check that had no host to run on
SCOPED_KINDS = {  # the kinds whose empty population is an error, not a silent pass
    Kind.LINUX: "ningún servidor Linux",
    Kind.NETWORK: "ningún equipo de red",
}


@dataclass(frozen=True, slots=True)
class Member:
    """One host of the population."""

    name: str
    kind: Kind
    address: str = ""
    profile: str = ""
    site: str = ""
    asset: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sample:
    population: tuple[str, ...]
    method: str  # "censo" or "aleatoria simple"
    seed: int | None
    size: int
    selected: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "population": list(self.population),
            "population_size": len(self.population),
            "method": self.method,
            "seed": self.seed,
            "size": self.size,
            "selected": list(self.selected),
        }


def _address(asset: Mapping[str, Any]) -> str:
    return str(asset.get("mgmt_ipv4") or asset.get("mgmt_ipv6") or "")


def _active(asset: Mapping[str, Any]) -> bool:
    return (asset.get("status") or "activo") == "activo" and bool(_address(asset))


def classify(asset: Mapping[str, Any]) -> Kind | None:
    """The audit kind of an inventory asset, or None when it is not audited."""
    if not _active(asset):
        return None
    kind = asset.get("kind")
    if kind in SERVER_KINDS and (
        asset.get("credential_profile") == AUDIT_PROFILE or AUDIT_TAG in (asset.get("tags") or [])
    ):
        return Kind.LINUX
    if kind in GATEWAY_KINDS:
        return Kind.NETWORK
    return None


def _terms(scopes: Iterable[str]) -> list[str]:
    out = [t.strip() for s in scopes for t in s.split(",") if t.strip()]
    return out or [ALL]


def population(assets: Iterable[Mapping[str, Any]], scopes: Sequence[str]) -> list[Member]:
    """The hosts ``scopes`` select, by name; an unknown site or asset is a usage error."""
    terms = _terms(scopes)
    everything = ALL in terms
    members: dict[str, Member] = {}
    sites: set[str] = set()
    names: set[str] = set()
    for asset in assets:
        sites.add(str(asset.get("site") or ""))
        names.add(str(asset.get("name")))
        kind = classify(asset)
        if kind is None:
            continue
        name, site = str(asset["name"]), str(asset.get("site") or "")
        if everything or name in terms or site in terms:
            members[name] = Member(
                name, kind, _address(asset), str(asset.get("credential_profile") or ""), site,
                dict(asset),
            )  # fmt: skip
    unknown = [t for t in terms if t not in (ALL, RECORDS_HOST) and t not in sites | names]
    if unknown:
        raise UsageError(
            f"--alcance: «{unknown[0]}» no es una sede ni un activo del inventario "
            "(use códigos de sede, nombres de activo o «todos»)"
        )
    if everything or RECORDS_HOST in terms:
        members[RECORDS_HOST] = Member(RECORDS_HOST, Kind.RECORDS)
    return [members[n] for n in sorted(members)]


def parse_sample(text: str) -> int | None:
    """``--muestra``: a positive whole number, or ``todos`` (None: the whole population)."""
    value = text.strip().lower()
    if value == ALL:
        return None
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"--muestra: «{text}» no es un número entero positivo ni «todos»")
    return int(value)


def draw(members: Sequence[Member], size: int | None, seed: int | None) -> Sample:
    """Simple random sample of the servers and devices (pukara's records always stay in)."""
    hosts = sorted(m.name for m in members if m.kind is not Kind.RECORDS)
    if size is None or size >= len(hosts):
        return Sample(tuple(hosts), "censo", None, len(hosts), tuple(hosts))
    chosen_seed = seed if seed is not None else secrets.randbelow(2**32)
    selected = sorted(random.Random(chosen_seed).sample(hosts, size))  # noqa: S311 (sampling)
    return Sample(tuple(hosts), "aleatoria simple", chosen_seed, size, tuple(selected))


@dataclass(slots=True)
class Runners:
    """The check runners (auditoria.linux, auditoria.equipos, auditoria.propios) and the
    check and catalogue versions, looked up when first used."""

    checks: Callable[[], Mapping[str, Check]]
    versions: Callable[[], Mapping[str, Any]]
    linux: Callable[..., Any]
    network: Callable[..., list[Result]]
    records: Callable[..., list[Result]]


def _module(name: str) -> Any:
    return importlib.import_module(name)


def _linux(
    store: Store, targets: Sequence[Member], settings: Settings, observed_at: str, cancel: Any
) -> Any:
    linux = _module("auditoria.linux")
    policy = _module("auditoria.politica").load(settings)
    items = [linux.Target(name=m.name, address=m.address, profile=m.profile) for m in targets]
    return linux.run(items, settings, policy, observed_at=observed_at, cancel=cancel, store=store)


def _network(
    store: Store, devices: Sequence[Member], settings: Settings, observed_at: str
) -> list[Result]:
    """Checks 28-32 on the gateways red knows how to reach (a gateway it cannot, an unknown
    platform or no address, gets its ERROR results from :func:`complete_results`)."""
    red = _module("red.equipos")
    policy = _module("auditoria.politica").load(settings)
    sites = {str(s["code"]): s for s in store.entities("site")}
    known = red.from_assets(
        [m.asset for m in devices], sites, default_profile=settings.red_credenciales
    )
    return list(_module("auditoria.equipos").run(known, settings, policy, observed_at))


def _records(store: Store, settings: Settings, observed_at: str) -> list[Result]:
    return list(_module("auditoria.propios").run(store, settings, observed_at))


def content_hashes() -> dict[str, str]:
    """SHA-256 of the shipped audit content: check and policy data, playbooks."""
    out: dict[str, str] = {}
    for package, folder, suffix in (
        ("auditoria", "datos", ".toml"),
        ("playbooks", "auditoria", ".yml"),
    ):
        root = resources.files(package).joinpath(folder)
        if not root.is_dir():
            continue
        for item in sorted(root.iterdir(), key=lambda p: p.name):
            if item.name.endswith(suffix):
                out[f"{package}/{folder}/{item.name}"] = hashlib.sha256(
                    item.read_bytes()
                ).hexdigest()
    return out


def _versions() -> dict[str, Any]:
    return {
        "pukara": pukara.__version__,
        "catalogue": _module("auditoria.catalogo").catalogue_version(),
        "checks": _module("auditoria.comprobaciones").checks_version(),
        "content": content_hashes(),
    }


def default_runners() -> Runners:
    return Runners(
        checks=lambda: _module("auditoria.comprobaciones").load(),
        versions=_versions,
        linux=_linux,
        network=_network,
        records=_records,
    )


def known_checks() -> Mapping[str, Check]:
    """The shipped checks, for reports: a run stored by a pukara whose check data is not
    installed here still reports (without themes or control ids), it does not fail."""
    try:
        module = _module("auditoria.comprobaciones")
    except ModuleNotFoundError as e:
        if e.name != "auditoria.comprobaciones":
            raise
        return {}
    checks: Mapping[str, Check] = module.load()
    return checks


def operator() -> str:
    """The operating-system user running the audit (the uid when it has no name)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _valid_until(observed_at: str, check: Check | None) -> str:
    start = datetime.fromisoformat(observed_at.replace("Z", "+00:00"))
    days = check.valid_days if check else 0
    return (start + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def complete_results(
    results: Sequence[Result], selected: Sequence[Member], checks: Mapping[str, Check],
    observed_at: str, failures: Mapping[Kind, str] | None = None,
) -> list[Result]:  # fmt: skip
    """``results`` plus an ERROR for each (check, selected host) that got none (its message:
    the kind's entry in ``failures`` when its runner broke)."""
    failures = failures or {}
    seen = {(r.check_id, r.host) for r in results}
    out = list(results)
    for member in selected:
        for check in sorted(checks.values(), key=lambda c: c.id):
            if check.kind is member.kind and (check.id, member.name) not in seen:
                out.append(
                    Result(
                        check.id, member.name, Status.ERROR,
                        failures.get(
                            check.kind, "la comprobación no devolvió resultado para este equipo"
                        ),
                        observed_at, _valid_until(observed_at, check),
                    )
                )  # fmt: skip
    return sorted(out, key=lambda r: (r.check_id, r.host, r.source))


def empty_scope_results(
    members: Sequence[Member], selected: Sequence[Member], checks: Mapping[str, Check],
    observed_at: str,
) -> list[Result]:  # fmt: skip
    """One ERROR per Linux or network check when no host of its kind was selected (host
    :data:`EMPTY_SCOPE_HOST`): an empty scope is never a pass, and never silent."""
    out: list[Result] = []
    for kind, nobody in SCOPED_KINDS.items():
        if any(m.kind is kind for m in selected):
            continue
        why = (
            "ninguno salió en la muestra"
            if any(m.kind is kind for m in members)
            else "revise --alcance, y el perfil de credenciales o la etiqueta «auditoria» de "
            "los activos"
        )
        for check in sorted(checks.values(), key=lambda c: c.id):
            if check.kind is kind:
                out.append(
                    Result(
                        check.id, EMPTY_SCOPE_HOST, Status.ERROR,
                        f"alcance vacío: {nobody} en el alcance ({why})",
                        observed_at, _valid_until(observed_at, check),
                    )
                )  # fmt: skip
    return out


def _section(text: str, name: str) -> str:
    marker = f"@@ {name} rc="
    at = text.find(marker)
    if at < 0:
        return ""
    body = text[text.find("\n", at) + 1 :]
    end = body.find("\n@@ ")
    return (body if end < 0 else body[:end]).strip()


def host_identity(raw: Mapping[str, str], fallback: str) -> dict[str, str]:
    """Machine id, hostname and OS release from the linux playbook's ``host_identity`` task."""
    text = raw.get("host_identity", "")
    release: dict[str, str] = {}
    for line in _section(text, "/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        release[key.strip()] = value.strip().strip('"')
    return {
        "hostname": _section(text, "hostname") or fallback,
        "machine_id": _section(text, "/etc/machine-id"),
        "os_release": release.get("PRETTY_NAME", ""),
        "os_id": release.get("ID", ""),
        "os_version": release.get("VERSION_ID", ""),
    }


@dataclass(slots=True)
class Outcome:
    run: AuditRun
    bundle: Path | None

    @property
    def exit_code(self) -> int:
        bad = {Status.FAIL, Status.ERROR}
        return 3 if any(r.status in bad for r in self.run.results) else 0


@dataclass(slots=True)
class _Progress:
    results: list[Result] = field(default_factory=list)
    events: list[Mapping[str, Any]] = field(default_factory=list)
    raw: dict[str, Mapping[str, str]] = field(default_factory=dict)
    failures: dict[Kind, str] = field(default_factory=dict)  # kind -> why its run broke


def _stamp(now: Callable[[], datetime]) -> str:
    return now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _guarded(progress: _Progress, kind: Kind, call: Callable[[], None]) -> None:
    """Run one kind's checks; an unexpected error there becomes that kind's reason for the
    ERROR results of its hosts (see :func:`complete_results`), and the other kinds go on."""
    try:
        call()
    except (KeyboardInterrupt, Interrupted):
        raise
    except Exception as e:
        progress.failures[kind] = f"error inesperado al comprobar: {type(e).__name__}: {e}"


def _execute(
    store: Store, settings: Settings, selected: Sequence[Member], runners: Runners,
    now: Callable[[], datetime], cancel: Any, progress: _Progress,
) -> None:  # fmt: skip
    """Each kind is stamped when its observation starts (servers, devices, records)."""
    servers = [m for m in selected if m.kind is Kind.LINUX]
    devices = [m for m in selected if m.kind is Kind.NETWORK]

    def linux() -> None:
        done = runners.linux(store, servers, settings, _stamp(now), cancel)
        progress.results.extend(done.results)
        progress.events.extend(done.events)
        progress.raw.update({str(k): dict(v) for k, v in done.raw.items()})

    def network() -> None:
        progress.results.extend(runners.network(store, devices, settings, _stamp(now)))

    def records() -> None:
        progress.results.extend(runners.records(store, settings, _stamp(now)))

    if servers:
        _guarded(progress, Kind.LINUX, linux)
    if devices:
        _guarded(progress, Kind.NETWORK, network)
    if any(m.kind is Kind.RECORDS for m in selected):
        _guarded(progress, Kind.RECORDS, records)


def run(
    store: Store,
    settings: Settings,
    *,
    scopes: Sequence[str] = (ALL,),
    sample_size: int | None = None,
    seed: int | None = None,
    waivers_path: Path | None = None,
    out_dir: Path | None = None,
    key: Any = None,
    runners: Runners | None = None,
    cancel: Any = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Outcome:
    """Audit what ``scopes`` select; store the run and write its signed bundle (``key``: an
    Ed25519 private key; None writes no bundle)."""
    runners = runners or default_runners()
    checks = runners.checks()
    waivers = excepciones.load(waivers_path, set(checks)) if waivers_path else []
    assets = list(store.entities("asset"))
    members = population(assets, scopes)
    sample = draw(members, sample_size, seed)
    chosen = set(sample.selected) | {RECORDS_HOST}
    selected = [m for m in members if m.name in chosen]
    if not selected:
        raise UsageError(
            "el alcance no contiene ningún equipo que auditar (un alcance vacío nunca aprueba): "
            "revise --alcance y el inventario"
        )
    started = now()
    started_at = _stamp(lambda: started)
    run_id = new_event_id()
    versions = dict(runners.versions())
    progress = _Progress()
    interrupted = False
    try:
        _execute(store, settings, selected, runners, now, cancel, progress)
    except (KeyboardInterrupt, Interrupted):
        interrupted = True
    today: date = now().date()
    # a cut run keeps what was observed and no more: its gaps are the interruption's, and
    # filling them with errors would bury older real evidence in latest_results
    results = progress.results
    if not interrupted:
        results = complete_results(
            progress.results, selected, checks, started_at, progress.failures
        )
        results = sorted(
            results + empty_scope_results(members, selected, checks, started_at),
            key=lambda r: (r.check_id, r.host, r.source),
        )
    results = excepciones.apply(results, waivers, today)
    hosts = {
        m.name: host_identity(progress.raw.get(m.name, {}), m.name)
        for m in selected
        if m.kind is Kind.LINUX
    }
    hosts |= {
        m.name: {"hostname": m.name, "address": m.address}
        for m in selected
        if m.kind is not Kind.LINUX
    }
    audit = AuditRun(
        id=run_id,
        started_at=started_at,
        finished_at=_stamp(now),
        operator=operator(),
        complete=not interrupted,
        scope={
            "requested": _terms(scopes),
            "hosts": {m.name: m.kind.value for m in members},
            "waivers": [excepciones.as_dict(w) for w in waivers],
        },
        sampling=sample.as_dict(),
        versions=versions,
        hosts=hosts,
        results=tuple(results),
        job_events=tuple(progress.events),
        raw=progress.raw,
    )
    almacen.save_run(store, audit)
    if interrupted:
        raise Interrupted(
            f"Auditoría {run_id} interrumpida: se guardaron {len(progress.results)} resultados "
            "como ejecución incompleta y no se escribió paquete (puede sellarse con «auditoria "
            f"exportar {run_id}», marcado incompleto)"
        )
    bundle = None
    if key is not None and out_dir is not None:
        from auditoria import paquete

        bundle = paquete.write(audit, key, out_dir)
    return Outcome(audit, bundle)
