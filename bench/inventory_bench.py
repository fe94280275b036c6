"""Inventory benchmarks, each beside a reference run in the same script.

1. SNMP discovery of N lab agents (system group, ENTITY-MIB, IF-MIB, IP-MIB) with pukara's
   asyncio pysnmp walker, against net-snmp's ``snmpbulkwalk`` fetching the same subtrees of
   the same agents with 16 parallel processes. Target: pukara <= 2x net-snmp's wall time.
   Then a mixed fleet: the same agents, half v3-only and half v2c-only; pukara is given both
   credentials, each ``snmpbulkwalk`` the right one. Target: <= 1.5x.
2. Import of 10,000 asset rows from CSV (checks, plan, one transaction, change log), beside a
   bare ``sqlite3.executemany`` of the same documents. Target: < 10 s.
3. ``pukara-inventario --list`` (Ansible dynamic inventory) for 2,000 hosts, whole process.
   Target: < 1 s.

Needs root (it brings up its own lab with prefix ``pkb`` and tears it down).

    python bench/inventory_bench.py [--sedes 150]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from inventario import catalog, files
from inventario.snmp_discovery import SnmpTarget, discover
from lab import manage
from lab.sites import LabSite
from pukara.secrets import Secret
from pukara.snmp import SnmpCredential
from pukara.store import SQLiteStore

SUBTREES = ("1.3.6.1.2.1.1", "1.3.6.1.2.1.47.1.1.1", "1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1",
            "1.3.6.1.2.1.4.34")  # fmt: skip


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _net_snmp_conf(folder: Path, lines: list[str]) -> dict[str, str]:
    """An environment whose snmp.conf holds the credential: no secret on the command line."""
    folder.mkdir(mode=0o700, exist_ok=True)
    conf = folder / "snmp.conf"
    conf.touch(mode=0o600)
    conf.write_text("\n".join(lines) + "\n")
    return {**os.environ, "MIBS": "", "SNMPCONFPATH": str(folder), "HOME": str(folder)}


def _reference(jobs: list[tuple[str, str, dict[str, str]]]) -> tuple[float, float, int]:
    """snmpbulkwalk of each (agent, subtree), 16 processes at a time: wall, CPU, values."""

    def walk(job: tuple[str, str, dict[str, str]]) -> int:
        out = subprocess.run(
            ["snmpbulkwalk", "-On", "-Cr20", "-t", "2", "-r", "2", job[0], job[1]],
            capture_output=True, text=True, check=False, env=job[2],
        )  # fmt: skip
        return out.stdout.count("\n")

    cpu0, t0 = _cpu(), time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        lines = sum(pool.map(walk, jobs))
    return time.perf_counter() - t0, _cpu() - cpu0, lines


def _pukara(targets: list[SnmpTarget]) -> tuple[float, float, int]:
    cpu0, t0 = _cpu(), time.perf_counter()
    results = discover(targets, concurrency=64, timeout_s=2.0)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    ok = sum(1 for r in results if not r.failed and r.data["facts"].get("serial"))
    return wall, cpu, ok


def bench_discovery(count: int, workdir: Path) -> None:
    sites = [LabSite(index=3100 + i, code=f"b{i:03d}") for i in range(1, count + 1)]
    lab = manage.Lab(workdir / "lab", prefix="pkb")
    manage.up(lab, sites)
    try:
        raw = tomllib.loads(lab.credentials_file.read_text())["lab"]
        v2c_env = _net_snmp_conf(
            workdir / "v2c", ["defVersion 2c", f"defCommunity {raw['community']}"]
        )
        v3_env = _net_snmp_conf(workdir / "v3", [
            "defVersion 3", "defSecurityLevel authPriv", f"defSecurityName {raw['snmp_user']}",
            "defAuthType SHA", f"defAuthPassphrase {raw['auth_key']}",
            "defPrivType AES", f"defPrivPassphrase {raw['priv_key']}",
        ])  # fmt: skip
        v2c = SnmpCredential("v2", "2c", community=Secret(raw["community"]))
        v3 = SnmpCredential("v3", "3", user=raw["snmp_user"], auth_key=Secret(raw["auth_key"]),
                            priv_key=Secret(raw["priv_key"]))  # fmt: skip
        addresses = [str(s.v4) for s in sites]

        jobs = [(a, t, v2c_env) for a in addresses for t in SUBTREES]
        ref_wall, ref_cpu, lines = _reference(jobs)
        wall, cpu, ok = _pukara([SnmpTarget(a, [v2c]) for a in addresses])
        print(f"Descubrimiento SNMP de {count} agentes del laboratorio (v2c)")
        print(f"  snmpbulkwalk x16 procesos: {ref_wall:6.2f} s de pared, {ref_cpu:6.2f} s de CPU "
              f"({len(jobs)} recorridos, {lines} valores)")  # fmt: skip
        print(f"  pukara (pysnmp asyncio):   {wall:6.2f} s de pared, {cpu:6.2f} s de CPU "
              f"({ok}/{count} agentes con serie y direcciones)")  # fmt: skip
        print(f"  razón pukara/net-snmp: {wall / ref_wall:.2f}x (meta <= 2x)")

        # The same agents, half v3-only and half v2c-only; pukara is given both credentials
        # (v3 first, as discovery orders them), net-snmp the right one for each agent.
        mixed = [replace(s, snmp_only="v3" if s.index % 2 else "v2c") for s in sites]
        manage.up(lab, mixed)
        jobs = [(str(s.v4), t, v3_env if s.snmp_only == "v3" else v2c_env)
                for s in mixed for t in SUBTREES]  # fmt: skip
        ref_wall, ref_cpu, lines = _reference(jobs)
        wall, cpu, ok = _pukara([SnmpTarget(a, [v3, v2c]) for a in addresses])
        print(f"Flota mixta: {count // 2 + count % 2} agentes solo v3 y {count // 2} solo v2c")
        print(f"  snmpbulkwalk x16, credencial justa: {ref_wall:6.2f} s de pared, "
              f"{ref_cpu:6.2f} s de CPU ({lines} valores)")  # fmt: skip
        print(f"  pukara, v3 y luego v2c:             {wall:6.2f} s de pared, "
              f"{cpu:6.2f} s de CPU ({ok}/{count} agentes con serie)")  # fmt: skip
        print(f"  razón pukara/net-snmp: {wall / ref_wall:.2f}x (meta <= 1.5x)")
    finally:
        manage.down(lab)


def bench_import(rows: int, workdir: Path) -> None:
    path = workdir / "activos.csv"
    sites = workdir / "sedes.csv"
    sites.write_text("code,name,kind,timezone\nlima,Lima,sede_central,America/Lima\n")
    lines = ["name,asset_tag,serial,kind,site,mgmt_ipv4,purchase_date,tags"]
    for i in range(rows):
        lines.append(f"pc-{i:05d},PAT-{i:06d},SN{i:08d},pc,lima,198.19.{i // 250}.{i % 250 + 1},"
                     f"2022-0{1 + i % 9}-1{i % 9},ejemplo|oficina")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    store = SQLiteStore(workdir / "import.db")
    catalog.import_file(store, files.read_file(sites), dry_run=False)
    t0 = time.perf_counter()
    result = catalog.import_file(store, files.read_file(path), dry_run=False)
    wall = time.perf_counter() - t0
    docs = list(catalog.assets(store))
    store.close()
    bare = sqlite3.connect(workdir / "bare.db")
    bare.execute(
        "CREATE TABLE entities (collection TEXT, key TEXT, doc TEXT, PRIMARY KEY (collection, key))"
    )
    t0 = time.perf_counter()
    with bare:
        bare.executemany("INSERT INTO entities VALUES ('asset', ?, ?)",
                         [(d["name"], json.dumps(d)) for d in docs])  # fmt: skip
    ref = time.perf_counter() - t0
    print(
        f"Importación de {rows} filas CSV: {wall:.2f} s ({len(result.changes)} altas; "
        f"meta < 10 s); sqlite3.executemany de los mismos documentos: {ref:.3f} s"
    )


def bench_ansible_list(hosts: int, workdir: Path) -> None:
    db = workdir / "ansible.db"
    store = SQLiteStore(db)
    sites = workdir / "s.csv"
    sites.write_text("code,name,kind,country,timezone\n" + "\n".join(
        f"m{i:03d},Misión {i},embajada,ES,Europe/Madrid" for i in range(100)) + "\n")  # fmt: skip
    assets = workdir / "a.csv"
    assets.write_text("name,kind,site,mgmt_ipv4,tags\n" + "\n".join(
        f"h{i:05d},servidor_fisico,m{i % 100:03d},198.19.{i // 250}.{i % 250 + 1},kbcs|wan"
        for i in range(hosts)) + "\n")  # fmt: skip
    for f in (sites, assets):
        catalog.import_file(store, files.read_file(f), dry_run=False)
    store.close()
    script = Path(sys.executable).with_name("pukara-inventario")
    env = {**os.environ, "PUKARA_DB": str(db)}
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        out = subprocess.run([str(script), "--list"], capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - t0)
    print(
        f"pukara-inventario --list con {hosts} equipos: mejor {min(times):.3f} s, "
        f"peor {max(times):.3f} s de 5 ({len(out.stdout) // 1024} KiB; meta < 1 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sedes", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pukara-bench-") as tmp:
        work = Path(tmp)
        bench_import(10_000, work)
        bench_ansible_list(2_000, work)
        bench_discovery(args.sedes, work)


if __name__ == "__main__":
    main()
