"""Configuration backup benchmark: ``pukara red respaldar`` beside OpenSSH in one run.

N lab routers (FRR in each site's namespace, plus headquarters' gw-lima), each reached over
SSH as the network user ``red`` whose login lands in vtysh:

- pukara: :func:`red.respaldo.run_backup` with 16 workers (netmiko, ``show version`` and
  ``show running-config``, cleaning, secrets marked, one git commit); a first run (every file
  new, one commit) and a second one (nothing changed, no commit);
- reference: OpenSSH's ``ssh`` with the same key and known_hosts, 16 processes at a time, each
  sending the same two commands to vtysh on stdin and keeping the output.

Prints wall time and CPU (user+system, this process and its children) of each, and the ratio
pukara / ssh (target <= 1.5x) against ssh's best time: before pukara, after it, and with
paramiko's key exchange (curve25519-sha256; OpenSSH 9.2 otherwise negotiates the costlier
sntrup761x25519, which paramiko lacks). Needs root: it brings up its own lab (prefix ``pkf``, sites at
indexes 3201 and up, like ``pukara lab arriba --sedes N``) and tears it down.

    python bench/red_respaldo.py [--sedes 150]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inventario.model import ASSETS, SITES
from lab import frr, manage
from lab.sites import LabSite, default_sites
from pukara.config import load_settings
from pukara.store import SQLiteStore
from red.equipos import select
from red.respaldo import run_backup

FIRST_INDEX = 3201
WORKERS = 16


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _sites(count: int) -> list[LabSite]:
    return [dataclasses.replace(s, index=FIRST_INDEX + i)
            for i, s in enumerate(default_sites(count))]  # fmt: skip


def _ssh(
    lab: manage.Lab, addresses: list[str], extra: tuple[str, ...] = ()
) -> tuple[float, float, int, int]:
    commands = b"show version\nshow running-config\n"
    argv = ["ssh", *extra, "-F", "none", "-i", str(lab.key), "-o", "BatchMode=yes", "-o",
            "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={lab.known_hosts}",
            "-o", "ConnectTimeout=20", "-l", "red"]  # fmt: skip

    def one(address: str) -> int:
        done = subprocess.run([*argv, address], input=commands, capture_output=True,
                              timeout=60, check=False)  # fmt: skip
        return len(done.stdout) if done.returncode == 0 and b"\nend" in done.stdout else -1

    cpu0, t0 = _cpu(), time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        sizes = list(pool.map(one, addresses))
    return (
        time.perf_counter() - t0,
        _cpu() - cpu0,
        sum(s > 0 for s in sizes),
        sum(max(s, 0) for s in sizes),
    )


def _print_ssh(
    lab: manage.Lab, addresses: list[str], when: str, extra: tuple[str, ...] = ()
) -> float:
    wall, cpu, ok, size = _ssh(lab, addresses, extra)
    print(f"OpenSSH ssh ({WORKERS} procesos, {when}): {ok}/{len(addresses)} equipos, {size} "
          f"bytes, {wall:.2f} s de reloj, {cpu:.2f} s de CPU")  # fmt: skip
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sedes", type=int, default=150)
    args = parser.parse_args()
    sites = _sites(args.sedes)
    work = Path(tempfile.mkdtemp(prefix="pukara-bench-red-"))
    lab = manage.Lab(work / "lab", prefix="pkf")
    t0 = time.perf_counter()
    manage.up(lab, sites)
    print(f"laboratorio: {len(sites)} sedes con FRR, más gw-lima, en "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    try:
        os.environ["PUKARA_CREDENTIALS"] = str(lab.credentials_file)
        data = work / "datos"
        data.mkdir(mode=0o700)
        settings = load_settings({"data_dir": data}, environ={})
        hq_v4, _ = frr.hq_address(sites)
        with SQLiteStore(settings.db) as store:
            store.upsert(SITES, [{"code": "lima", "kind": "sede_central"},
                                 *({"code": s.code, "kind": "embajada"} for s in sites)],
                         key=["code"])  # fmt: skip
            store.upsert(ASSETS, [
                {"name": "gw-lima", "kind": "router", "site": "lima", "mgmt_ipv4": str(hq_v4),
                 "os": "FRRouting", "status": "activo"},
                *({"name": s.hostname, "kind": "router", "site": s.code,
                   "mgmt_ipv4": str(s.v4), "os": "FRRouting", "status": "activo"}
                  for s in sites if not s.down),
            ], key=["name"])  # fmt: skip
            devices = select(store, [])
            addresses = [d.address for d in devices]
            # OpenSSH before and after pukara: the ratio is taken against the faster of the two
            ssh_walls = [_print_ssh(lab, addresses, "antes")]
            walls = []
            for label in (
                "primera corrida (todo nuevo, un commit)",
                "segunda corrida (sin cambios)",
            ):
                cpu0, t1 = _cpu(), time.perf_counter()
                run = run_backup(store, settings, devices, workers=WORKERS)
                wall, cpu = time.perf_counter() - t1, _cpu() - cpu0
                walls.append(wall)
                ok = len(run.devices) - len(run.failed)
                print(f"pukara red respaldar, {label}: {ok}/{len(devices)} equipos, "
                      f"{len(run.changed)} cambiados, commit {(run.commit or '-')[:12]}, "
                      f"{wall:.2f} s de reloj, {cpu:.2f} s de CPU")  # fmt: skip
                for failed in run.failed[:5]:
                    print(f"  falló {failed.device}: {failed.reason}")
            ssh_walls.append(_print_ssh(lab, addresses, "después"))
            # OpenSSH 9.2 negotiates sntrup761x25519 (post-quantum, more CPU), which paramiko
            # lacks; with the key exchange paramiko uses, for a like-for-like comparison
            ssh_walls.append(_print_ssh(lab, addresses, "con curve25519-sha256 como paramiko",
                                        ("-o", "KexAlgorithms=curve25519-sha256")))  # fmt: skip
            best = min(ssh_walls)
            print(f"razón pukara / ssh: primera corrida {walls[0] / best:.2f}x, segunda "
                  f"{walls[1] / best:.2f}x (meta <= 1,5x; ssh: el mejor de sus tres tiempos)")  # fmt: skip
    finally:
        manage.down(lab)
        shutil.rmtree(work, ignore_errors=True)  # the lab's key and credentials, the repository


if __name__ == "__main__":
    main()
