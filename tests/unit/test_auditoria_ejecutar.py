"""The audit run's orchestration on a real SQLite store and real files.

The check runners here are small stand-ins with the agreed signatures (the real ones run
Ansible, SNMP and SSH against the lab: tests/integration/test_auditoria_done.py); what is
tested is what ejecutar itself decides: scope, sample, missing results, waivers, bundle, exit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from auditoria import almacen, claves, ejecutar, paquete
from auditoria.ejecutar import Member, Runners
from auditoria.modelo import Check, ControlLink, Kind, Relation, Result, Status
from pukara.config import Settings, load_settings
from pukara.errors import Interrupted, UsageError
from pukara.store import SQLiteStore

LINK = (ControlLink("2022", "A.8.5", Relation.SUPPORTS, "x"),)
CHECKS = {
    "ssh_root_login": Check("ssh_root_login", "root", Kind.LINUX, LINK, 30),
    "ntp_sync": Check("ntp_sync", "hora", Kind.LINUX, LINK, 30),
    "net_ssh_only": Check("net_ssh_only", "ssh", Kind.NETWORK, LINK, 30),
    "rec_asset_owners": Check("rec_asset_owners", "dueños", Kind.RECORDS, LINK, 30),
}
IDENTITY = "@@ hostname rc=0\n{h}\n@@ /etc/machine-id rc=0\nid-{h}\n@@ /etc/os-release rc=0\n"
IDENTITY += 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


def asset(
    name: str, kind: str, site: str, profile: str = "auditoria", **extra: Any
) -> dict[str, Any]:
    return {"name": name, "kind": kind, "site": site, "mgmt_ipv4": "198.19.0.2",
            "status": "activo", "credential_profile": profile, "tags": [], **extra}  # fmt: skip


ASSETS = [
    asset("srv-aud1", "servidor_fisico", "dc1"),
    asset("srv-aud2", "maquina_virtual", "dc1"),
    asset("srv-aud3", "maquina_virtual", "dc2"),
    asset("srv-otro", "servidor_fisico", "dc1", profile="servidores"),  # not an audit target
    asset("gw-lima", "router", "lima", profile="red"),
    asset("pc-1", "pc", "lima"),
]


@dataclass
class LinuxRun:
    results: list[Result]
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, dict[str, str]] = field(default_factory=dict)


def runners(*, interrupt: bool = False, skip: str = "", ntp: Status = Status.FAIL) -> Runners:
    def linux(
        store: Any, targets: Sequence[Member], settings: Settings, at: str, cancel: Any
    ) -> LinuxRun:
        out = LinuxRun([])
        for t in targets:
            out.raw[t.name] = {"host_identity": IDENTITY.format(h=t.name)}
            out.events.append({"event": "runner_on_ok", "host": t.name})
            out.results.append(Result("ntp_sync", t.name, ntp, "NTP", at, at))
            if t.name != skip:
                out.results.append(Result("ssh_root_login", t.name, Status.PASS, "no", at, at))
        if interrupt:
            raise KeyboardInterrupt
        return out

    def network(store: Any, devices: Sequence[Member], settings: Settings, at: str) -> list[Result]:
        return [Result("net_ssh_only", d.name, Status.PASS, "ssh", at, at) for d in devices]

    def records(store: Any, settings: Settings, at: str) -> list[Result]:
        return [Result("rec_asset_owners", "pukara", Status.PASS, "ok", at, at)]

    return Runners(lambda: CHECKS, lambda: {"pukara": "0.1.0"}, linux, network, records)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "a.db")
    s.upsert("asset", ASSETS, key=["name"])
    return s


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"data_dir": tmp_path / "datos"}, environ={})


def test_population_follows_scope_and_rejects_unknown_terms() -> None:
    everything = ejecutar.population(ASSETS, ["todos"])
    assert [(m.name, m.kind) for m in everything] == [
        ("gw-lima", Kind.NETWORK), ("pukara", Kind.RECORDS), ("srv-aud1", Kind.LINUX),
        ("srv-aud2", Kind.LINUX), ("srv-aud3", Kind.LINUX),
    ]  # fmt: skip
    assert [m.name for m in ejecutar.population(ASSETS, ["dc1"])] == ["srv-aud1", "srv-aud2"]
    assert [m.name for m in ejecutar.population(ASSETS, ["srv-aud3,lima"])] == [
        "gw-lima",
        "srv-aud3",
    ]
    with pytest.raises(UsageError, match="«dc9» no es una sede ni un activo"):
        ejecutar.population(ASSETS, ["dc1", "dc9"])


def test_sample_is_reproducible_from_its_seed() -> None:
    members = ejecutar.population(ASSETS, ["todos"])
    first = ejecutar.draw(members, 2, 42)
    assert first.method == "aleatoria simple" and first.seed == 42
    assert first.population == ("gw-lima", "srv-aud1", "srv-aud2", "srv-aud3")
    assert len(first.selected) == 2
    assert ejecutar.draw(members, 2, 42).selected == first.selected
    census = ejecutar.draw(members, None, None)
    assert census.method == "censo" and census.selected == census.population
    assert ejecutar.draw(members, 2, None).seed is not None  # a drawn seed is recorded
    with pytest.raises(UsageError, match="--muestra"):
        ejecutar.parse_sample("0")
    assert ejecutar.parse_sample("Todos") is None


def test_run_stores_results_fills_gaps_applies_waivers_and_seals(
    tmp_path: Path, store: SQLiteStore, settings: Settings
) -> None:
    waivers = tmp_path / "exc.toml"
    waivers.write_text(
        '[[waiver]]\nid = "EXC-1"\ncheck = "ntp_sync"\nhost = "srv-aud1"\n'
        'justification = "NTP en reemplazo"\napprover = "OSI"\nexpires = 2099-01-01\n'
    )
    out = tmp_path / "salida"
    out.mkdir()
    key = claves.signing_key(settings.data_dir)
    outcome = ejecutar.run(
        store, settings, scopes=["todos"], waivers_path=waivers, out_dir=out, key=key,
        runners=runners(skip="srv-aud2"),
    )  # fmt: skip
    by = {(r.check_id, r.host): r for r in outcome.run.results}
    assert by[("ntp_sync", "srv-aud1")].status is Status.WAIVED
    assert by[("ntp_sync", "srv-aud2")].status is Status.FAIL
    gap = by[("ssh_root_login", "srv-aud2")]  # the runner said nothing: an error, not a pass
    assert gap.status is Status.ERROR and "no devolvió resultado" in gap.message
    assert len(outcome.run.results) == 3 * 2 + 1 + 1
    assert outcome.exit_code == 3
    assert outcome.run.hosts["srv-aud1"]["machine_id"] == "id-srv-aud1"
    assert outcome.run.hosts["srv-aud1"]["os_release"] == "Debian GNU/Linux 12 (bookworm)"
    assert outcome.run.operator
    assert outcome.run.sampling["method"] == "censo"
    assert outcome.bundle is not None and paquete.verify(outcome.bundle, key.public_key()).ok
    assert {(r.check_id, r.host) for r in almacen.latest_results(store)} == set(by)
    # the bundle regenerated from the store is byte-identical
    again = tmp_path / "otra"
    again.mkdir()
    copy = paquete.write(almacen.load_run(store, outcome.run.id), key, again)
    for path in outcome.bundle.rglob("*"):
        if path.is_file():
            assert (copy / path.relative_to(outcome.bundle)).read_bytes() == path.read_bytes()


def test_all_passing_exits_zero(store: SQLiteStore, settings: Settings) -> None:
    outcome = ejecutar.run(
        store, settings, scopes=["lima,srv-aud1"], runners=runners(ntp=Status.PASS)
    )
    assert [r.status for r in outcome.run.results] == [Status.PASS] * 3
    assert outcome.exit_code == 0 and outcome.bundle is None


@pytest.mark.parametrize(
    ("assets", "scopes", "empty"),
    [
        # todos over an inventory without audit servers: pukara's records alone never pass
        ([a for a in ASSETS if not a["name"].startswith("srv-aud")], ["todos"],
         {"ssh_root_login", "ntp_sync"}),
        (ASSETS, ["lima"], {"ssh_root_login", "ntp_sync"}),  # a gateway, no server
        (ASSETS, ["dc1,pukara"], {"net_ssh_only"}),  # servers, no gateway
    ],
)  # fmt: skip
def test_an_empty_linux_or_network_scope_is_an_error_per_check(
    tmp_path: Path, settings: Settings, assets: list[dict[str, Any]], scopes: list[str],
    empty: set[str],
) -> None:  # fmt: skip
    store = SQLiteStore(tmp_path / "b.db")
    store.upsert("asset", assets, key=["name"])
    outcome = ejecutar.run(store, settings, scopes=scopes, runners=runners(ntp=Status.PASS))
    lines = [r for r in outcome.run.results if r.host == ejecutar.EMPTY_SCOPE_HOST]
    assert {r.check_id for r in lines} == empty and len(lines) == len(empty)
    assert {r.status for r in lines} == {Status.ERROR}
    assert all(r.message.startswith("alcance vacío: ") for r in lines)
    assert outcome.exit_code == 3


def test_ctrl_c_keeps_an_incomplete_run_and_writes_no_bundle(
    tmp_path: Path, store: SQLiteStore, settings: Settings
) -> None:
    out = tmp_path / "salida"
    out.mkdir()
    key = claves.signing_key(settings.data_dir)
    with pytest.raises(Interrupted, match=r"^Auditoría \S+ interrumpida") as info:
        ejecutar.run(store, settings, out_dir=out, key=key, runners=runners(interrupt=True))
    assert info.value.exit_code == 130
    assert not list(out.iterdir())
    saved = almacen.load_run(store, str(almacen.list_runs(store)[-1]["id"]))
    assert not saved.complete
    assert saved.results == ()  # nothing observed before the cut, nothing invented


def test_empty_scope_is_refused(store: SQLiteStore, settings: Settings) -> None:
    with pytest.raises(UsageError, match="alcance vacío nunca aprueba"):
        ejecutar.run(store, settings, scopes=["pc-1"], runners=runners())


def test_an_unexpected_error_in_one_kind_is_its_hosts_errors_and_the_run_goes_on(
    store: SQLiteStore, settings: Settings
) -> None:
    base = runners(ntp=Status.PASS)

    def network(store: Any, devices: Sequence[Member], settings: Settings, at: str) -> list[Result]:
        raise KeyError("platform")  # e.g. red.from_assets on an odd asset

    broken = Runners(base.checks, base.versions, base.linux, network, base.records)
    outcome = ejecutar.run(store, settings, scopes=["todos"], runners=broken)
    by = {(r.check_id, r.host): r for r in outcome.run.results}
    gap = by[("net_ssh_only", "gw-lima")]
    assert gap.status is Status.ERROR and "error inesperado al comprobar: KeyError" in gap.message
    assert by[("ssh_root_login", "srv-aud1")].status is Status.PASS  # linux ran before
    assert by[("rec_asset_owners", "pukara")].status is Status.PASS  # records ran after
    assert outcome.exit_code == 3
    assert almacen.load_run(store).id == outcome.run.id  # stored, not lost
