"""An audit of the lab's audit hosts, side by side in one run (issue 14, performance):

1. pukara: ``pukara auditoria ejecutar`` (its Linux part) on the lab's audit hosts;
2. plain ``ansible-playbook playbooks/auditoria/linux.yml`` on the same hosts, the same key
   and the same inventory (target: pukara <= 1.2x this);
3. ``oscap xccdf eval`` (the shared rules, as auditoria.referencias runs it) on each host,
   one after the other, entered with ``lab.auditoria.nsenter_argv``.

Prints each wall time and the ratios. Needs root and the lab's audit hosts (lab/auditoria.py);
it brings them up and down itself under /tmp/pukara-lab-auditoria.lock: do not wrap it in
flock.

    python bench/auditoria.py [--rondas 1] [--orden-pukara "auditoria ejecutar ..."]

pukara audits an inventory of its own (site «aud», one asset per audit host, profile
«auditoria» from the lab's credenciales.toml) in a database of its own.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditoria import importar, referencias  # noqa: E402
from pukara.formats import number  # noqa: E402

LOCK = "/tmp/pukara-lab-auditoria.lock"  # noqa: S108  (the machine's lock for the audit hosts)
PLAYBOOK = ROOT / "playbooks" / "auditoria" / "linux.yml"
BIN = Path(sys.executable).parent


@contextmanager
def audit_lock() -> Iterator[None]:
    with open(LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def host_address(host: Any, index: int) -> str:
    """The host's IPv4 address: the lab's helper or the host's attribute if the lab gives one,
    else the contract's /30 per host in 198.19.0.0/24 (host .4n+2)."""
    try:
        from lab import auditoria as lab_auditoria
    except ImportError:
        lab_auditoria = None
    for name in ("address", "host_address", "ipv4"):
        helper = getattr(lab_auditoria, name, None)
        if callable(helper):
            return str(helper(host)).split("/", 1)[0]
    for name in ("v4", "address", "ipv4", "mgmt_ipv4"):
        value = getattr(host, name, None)
        if value:
            return str(value).split("/", 1)[0]
    return f"198.19.0.{4 * index + 2}"


def ansible_inventory(lab: Any, hosts: Sequence[Any]) -> dict[str, Any]:
    """The inventory pukara's own run builds, from the lab's profile «auditoria»."""
    import tomllib

    profile = tomllib.loads(Path(lab.credentials_file).read_text("utf-8"))["auditoria"]
    args = "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    if profile.get("known_hosts"):
        args += f" -o UserKnownHostsFile={profile['known_hosts']}"
    entries = {
        h.name: {
            "ansible_host": host_address(h, i),
            "ansible_user": profile["username"],
            "ansible_ssh_private_key_file": profile["key_file"],
            "ansible_ssh_common_args": args,
            "ansible_python_interpreter": profile.get("python_interpreter", "auto_silent"),
            "ansible_pipelining": True,
        }
        for i, h in enumerate(hosts)
    }
    return {"all": {"hosts": entries}}


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - started, done.returncode, (done.stderr or done.stdout)[-400:]


def pukara_inventory(db: Path, hosts: Sequence[Any], folder: Path) -> None:
    """The audit hosts as inventory assets of one site «aud», audited with profile auditoria."""
    from inventario import catalog, files
    from pukara.store import SQLiteStore

    sites = [
        "code,name,kind,country,city,timezone,parent,vpn_kit",
        "lima,Sede central,sede_central,PE,Lima,America/Lima,,no",
        "aud,Equipos de auditoría,centro_datos_principal,PE,Lima,America/Lima,lima,no",
    ]
    assets = ["name,kind,site,mgmt_ipv4,os,status,credential_profile"]
    assets += [
        f"{h.name},servidor_fisico,aud,{host_address(h, i)},Linux,activo,auditoria"
        for i, h in enumerate(hosts)
    ]
    store = SQLiteStore(db)
    try:
        for kind, rows in (("site", sites), ("asset", assets)):
            path = folder / f"{kind}.csv"
            path.write_text("\n".join(rows) + "\n", "utf-8")
            catalog.import_file(store, files.read_file(path, kind), dry_run=False)
    finally:
        store.close()


def run_pukara(command: str, db: Path, credentials: Path) -> tuple[float, int, str]:
    env = {**os.environ, "PUKARA_CREDENTIALS": str(credentials)}
    return timed([str(BIN / "pukara"), "--base-datos", str(db), *shlex.split(command)], env)


def run_pukara_library(
    hosts: Sequence[Any], folder: Path, credentials: Path
) -> tuple[float, int, str]:
    """pukara's Linux audit through its library (auditoria.linux.run, the core Ansible wrapper),
    for a checkout where ``auditoria ejecutar`` has not landed yet."""
    from auditoria import linux, politica
    from pukara.config import Settings

    os.environ["PUKARA_CREDENTIALS"] = str(credentials)
    data = folder / "datos"
    data.mkdir(mode=0o700, exist_ok=True)
    settings = Settings(data_dir=data, db=data / "pukara.db")
    targets = [linux.Target(h.name, host_address(h, i)) for i, h in enumerate(hosts)]
    started = time.perf_counter()
    run = linux.run(targets, settings, politica.load())
    seconds = time.perf_counter() - started
    errors = sum(1 for r in run.results if r.status.value == "error")
    return seconds, 1 if errors == len(run.results) else 0, f"{errors} resultados en error"


def run_ansible(inventory: dict[str, Any], folder: Path) -> tuple[float, int, str]:
    path = folder / "inventario.json"
    path.write_text(json.dumps(inventory), encoding="utf-8")
    path.chmod(0o600)
    playbook = shutil.which("ansible-playbook", path=str(BIN)) or "ansible-playbook"
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_FORKS": "10"}
    marker = json.dumps({"pukara_marca": secrets.token_hex(8)})  # the run's section marker
    return timed([playbook, "-i", str(path), "-e", marker, str(PLAYBOOK)], env)


def run_oscap(lab: Any, lab_auditoria: Any, hosts: Sequence[Any], folder: Path) -> float:
    started = time.perf_counter()
    for host in hosts:
        prefix = lab_auditoria.nsenter_argv(lab, host.code)
        run = referencias.run_openscap(host.name, folder / host.code, prefix=prefix)
        judged = [r for r in importar.openscap(run.arf, host.name) if r.check_id[:9] != "openscap:"]
        if not judged:
            raise SystemExit(f"{host.name}: OpenSCAP no evaluó ninguna regla compartida")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rondas", type=int, default=1, help="repeticiones (se toma la mejor)")
    parser.add_argument(
        "--orden-pukara",
        default="auditoria ejecutar --alcance aud --muestra todos --salida {salida}",
        help="la orden de pukara que audita los equipos (sin «pukara»)",
    )
    args = parser.parse_args()
    try:
        from lab import auditoria as lab_auditoria
        from lab import manage
    except ImportError:
        print("El laboratorio aún no tiene equipos de auditoría (lab/auditoria.py).")
        return 1
    if os.geteuid() != 0:
        print("Necesita root (el laboratorio).")
        return 1
    if not PLAYBOOK.exists():
        print(f"Falta el playbook {PLAYBOOK.relative_to(ROOT)}.")
        return 1
    import importlib.util

    library = None if importlib.util.find_spec("auditoria.cli_ejecutar") else "linux.run"
    if library:
        print("«auditoria ejecutar» aún no está: se mide pukara con auditoria.linux.run.")
    with audit_lock(), tempfile.TemporaryDirectory(prefix="pukara-bench-aud-") as tmp:
        folder = Path(tmp)
        lab = manage.Lab(folder / "estado", prefix="pkb")
        lab_auditoria.up(lab)
        try:
            hosts = list(lab_auditoria.HOSTS)
            inventory = ansible_inventory(lab, hosts)
            db = folder / "pukara.db"
            pukara_inventory(db, hosts, folder)
            (folder / "paquetes").mkdir()
            command = args.orden_pukara.format(salida=folder / "paquetes")
            best: dict[str, float] = {}
            for _ in range(max(1, args.rondas)):
                figures = {
                    "pukara": run_pukara(command, db, lab.credentials_file)
                    if library is None
                    else run_pukara_library(hosts, folder, lab.credentials_file),
                    "ansible-playbook": run_ansible(inventory, folder),
                }
                for name, (seconds, rc, tail) in figures.items():
                    if rc not in (0, 2, 3):  # 2/3: findings or partial, still a full run
                        print(f"{name} salió con {rc}: {tail}")
                        return 1
                    best[name] = min(best.get(name, seconds), seconds)
                oscap = run_oscap(lab, lab_auditoria, hosts, folder)
                best["oscap"] = min(best.get("oscap", oscap), oscap)
        finally:
            lab_auditoria.down(lab)
    print(f"Equipos de auditoría: {len(hosts)}")
    for name, seconds in best.items():
        print(f"  {name:<18} {number(seconds, 2)} s")
    print(
        f"pukara / ansible-playbook = {number(best['pukara'] / best['ansible-playbook'], 2)}x "
        f"(meta <= {number(1.2, 1)}x)"
    )
    print(f"pukara / oscap (todos los equipos) = {number(best['pukara'] / best['oscap'], 2)}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
