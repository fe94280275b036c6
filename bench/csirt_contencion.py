"""Containment at scale: one block countermeasure on each of N lab hosts (50 by default).

N countermeasures (one per host, the same attacker address on each) are proposed and
approved, then activated with ``csirt.contramedidas.activate_many`` (what ``pukara csirt
contramedida activar ID...`` runs): claims in one transaction, one ansible-runner run of
``csirt/bloquear.yml`` over the N hosts, each host's verification read from the events, the
artifacts hashed, every record, event and timeline entry written. Beside it, plain
``ansible-playbook`` runs the same playbook with the same inventory and variables over the
same hosts (same forks, its own fresh SSH control directory as pukara's runs have). Then the
reverse: ``expire_due`` (``vencer``) against plain ``ansible-playbook csirt/desbloquear.yml``.
Runs alternate (plain, pukara, plain, pukara) and the best of each is kept. Target: pukara's
activation <= 1.2x plain ansible-playbook's wall time. Every host's ruleset ends as it began.

Needs root. It takes the lab lock (/tmp/pukara-lab.lock) itself: do not wrap it in flock.
It brings its own lab up (prefix ``pkw``) and takes it down.

    python bench/csirt_contencion.py [--sedes 50] [--rondas 2]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from csirt import contramedidas
from csirt.contramedidas_run import host_entry
from csirt.records import COUNTERMEASURE, INCIDENT, command
from lab import manage
from lab.sites import LabSite
from pukara import processes
from pukara.ansible import playbook_file
from pukara.config import Settings, load_settings
from pukara.events import format_timestamp, utc_now
from pukara.secrets import load_profile, usable_key_file
from pukara.store import SQLiteStore

ATTACKER = "198.51.100.7"  # only an element of each host's set: no packet is sent to it
INCIDENT_DOC = {"id": "01JBENCHCONTENCION00000000", "number": "INC-2026-9999",
                "status": "contencion", "title": "banco de contención"}  # fmt: skip


@contextmanager
def lab_lock() -> Iterator[None]:
    with open("/tmp/pukara-lab.lock", "a") as fh:  # noqa: S108  (the machine's lab lock)
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ruleset(lab: manage.Lab, site: LabSite) -> str:
    return subprocess.run(["ip", "netns", "exec", lab.ns(site), "nft", "list", "ruleset"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def plain(playbook: str, inventory: Path, forks: int) -> float:
    """``ansible-playbook`` as an operator runs it; wall seconds (its SSH masters ended)."""
    control = Path(tempfile.mkdtemp(prefix="pukara-ssh-ref-"))
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "True",
           "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)}  # fmt: skip
    env.pop("SSH_AUTH_SOCK", None)
    binary = str(Path(sys.executable).parent / "ansible-playbook")
    t0 = time.perf_counter()
    done = subprocess.run([binary, "-i", str(inventory), "-f", str(forks), str(playbook_file(playbook))],
                          env=env, capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - t0
    masters = [p for p in processes.snapshot().values() if p.cmdline.startswith(f"ssh: {control}/")]
    processes.end(masters, grace_s=2.0)
    shutil.rmtree(control, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"ansible-playbook {playbook} falló:\n{done.stdout[-2000:]}")
    return wall


def same(lab: manage.Lab, sites: list[LabSite], before: dict[str, str], when: str) -> None:
    changed = [s.code for s in sites if ruleset(lab, s) != before[s.code]]
    if changed:
        raise SystemExit(f"{when}: las reglas de {', '.join(changed)} no quedaron como antes")


def seed(store: SQLiteStore, sites: list[LabSite]) -> None:
    with store.transaction("banco: inventario") as tx:
        for s in sites:
            tx.put("asset", (f"gw-{s.code}",), {
                "name": f"gw-{s.code}", "kind": "router", "site": s.code, "mgmt_ipv4": str(s.v4),
                "preferred_family": "4", "credential_profile": "lab"})  # fmt: skip
        tx.put(INCIDENT, (INCIDENT_DOC["id"],), INCIDENT_DOC)


def propose_all(store: SQLiteStore, settings: Settings, sites: list[LabSite]) -> list[str]:
    with command(store, "ana") as cmd:
        ids = [contramedidas.propose(cmd, settings, INCIDENT_DOC, kind="bloquear_ip",
                                     host=f"gw-{s.code}", expires="2h", address=ATTACKER)["id"]
               for s in sites]  # fmt: skip
        for cm_id in ids:
            contramedidas.approve(cmd, settings, cm_id)
    return ids


def expire_all(store: SQLiteStore, ids: list[str]) -> None:
    past = format_timestamp(utc_now() - timedelta(minutes=1))
    with store.transaction("banco: vencen") as tx:
        for cm_id in ids:
            doc = tx.get(COUNTERMEASURE, (cm_id,)) or {}
            tx.put(COUNTERMEASURE, (cm_id,), {**doc, "expires_at": past})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sedes", type=int, default=50)
    parser.add_argument("--rondas", type=int, default=2)
    args = parser.parse_args()
    sites = [LabSite(index=2100 + i, code=f"w{i:02d}") for i in range(1, args.sedes + 1)]
    work = Path(tempfile.mkdtemp(prefix="pukara-banco-contencion-"))
    with lab_lock():
        lab = manage.Lab(work / "lab", prefix="pkw")
        try:
            t0 = time.perf_counter()
            manage.up(lab, sites)
            manage.wait_ready(lab)
            print(f"laboratorio: {len(sites)} sedes arriba en {time.perf_counter() - t0:.1f} s")
            run(lab, sites, work, args.rondas)
        finally:
            manage.down(lab)
            shutil.rmtree(work, ignore_errors=True)


def run(lab: manage.Lab, sites: list[LabSite], work: Path, rounds: int) -> None:
    os.environ["PUKARA_CREDENTIALS"] = str(lab.credentials_file)
    (work / "datos").mkdir(mode=0o700)
    settings = load_settings({"data_dir": work / "datos", "ansible_artifacts_keep": 10}, environ={})
    forks = min(len(sites), settings.concurrency)
    profile = load_profile("lab", path=lab.credentials_file, environ={})
    key = usable_key_file(profile)
    hosts: dict[str, Any] = {
        f"gw-{s.code}": {**host_entry(str(s.v4), profile, key, settings.timeout_s),
                         "pukara_address": ATTACKER, "pukara_family": "4"}
        for s in sites
    }  # fmt: skip
    inventory = work / "inventario.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    before = {s.code: ruleset(lab, s) for s in sites}
    times: dict[str, list[float]] = {k: [] for k in ("plain_on", "plain_off", "pk_on", "pk_off")}
    with SQLiteStore(settings.db, actor="ana") as store:
        seed(store, sites)
        for _ in range(rounds):
            times["plain_on"].append(plain("csirt/bloquear.yml", inventory, forks))
            times["plain_off"].append(plain("csirt/desbloquear.yml", inventory, forks))
            same(lab, sites, before, "tras ansible-playbook desbloquear")
            ids = propose_all(store, settings, sites)
            t0 = time.perf_counter()
            results = contramedidas.activate_many(store, settings, ids, analyst="ana")
            times["pk_on"].append(time.perf_counter() - t0)
            bad = [r for r in results if r.failed]
            if bad:
                raise SystemExit(f"{len(bad)} activaciones fallaron: {bad[0].error}")
            if not all(ATTACKER in ruleset(lab, s) for s in sites):
                raise SystemExit("algún equipo no quedó con el bloqueo")
            expire_all(store, ids)
            t0 = time.perf_counter()
            retired = contramedidas.expire_due(store, settings)
            times["pk_off"].append(time.perf_counter() - t0)
            if len(retired) != len(ids) or any(r.failed for r in retired):
                raise SystemExit("vencer no retiró todas las contramedidas")
            same(lab, sites, before, "tras vencer")
    best = {k: min(v) for k, v in times.items()}
    n = len(sites)
    print(f"activar {n} bloqueos (una contramedida por equipo, una ejecución de Ansible):")
    print(
        f"  ansible-playbook csirt/bloquear.yml    {best['plain_on']:6.2f} s  (rondas: "
        + ", ".join(f"{t:.2f}" for t in times["plain_on"])
        + ")"
    )
    print(
        f"  pukara activate_many                   {best['pk_on']:6.2f} s  (rondas: "
        + ", ".join(f"{t:.2f}" for t in times["pk_on"])
        + ")"
    )
    print(
        f"  razón pukara/ansible-playbook: {best['pk_on'] / best['plain_on']:.2f}x (meta <= 1.2x)"
    )
    print(f"retirar los {n} (vencer) frente a ansible-playbook csirt/desbloquear.yml:")
    print(
        f"  ansible-playbook {best['plain_off']:.2f} s, pukara vencer {best['pk_off']:.2f} s, "
        f"razón {best['pk_off'] / best['plain_off']:.2f}x"
    )
    print("reglas nftables de cada equipo al terminar: iguales a las del principio")


if __name__ == "__main__":
    main()
