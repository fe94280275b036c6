"""`pukara auditoria verificar` on a generated bundle of 500 hosts (issue 14: under 5 s).

The bundle is what a 500-server audit writes: 27 Linux checks per host (13,500 results with
their evidence), each host's raw collections (``--crudo-kb`` of command output, default 40)
and its Ansible job events (one per task, with stdout), sealed with a fresh Ed25519 key.
Timed: the whole command as a user runs it (a new process: start-up, every SHA-256, the
signature), and beside it the reference, coreutils' ``sha256sum -c`` over the same files
(hashes only, no signature, no manifest parsing); the ratio is printed.

    python bench/auditoria_verificar.py [--equipos 500] [--crudo-kb 40]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditoria import claves, paquete  # noqa: E402
from auditoria.almacen import AuditRun  # noqa: E402
from auditoria.modelo import Result, Status  # noqa: E402
from pukara.formats import number  # noqa: E402

CHECKS = (
    "ntp_sync",
    "syslog_remote",
    "log_permissions",
    "auditd_rules",
    "password_quality",
    "password_hashing",
    "account_lockout",
    "ssh_root_login",
    "ssh_password_auth",
    "ssh_crypto",
    "ssh_idle_timeout",
    "shell_timeout",
    "login_banner",
    "unique_ids",
    "uid0_only_root",
    "sudo_nopasswd",
    "dormant_accounts",
    "setuid_baseline",
    "world_writable_etc",
    "security_updates",
    "apt_signed_sources",
    "firewall_default_deny",
    "listening_services",
    "insecure_services",
    "usb_storage",
    "monitoring_agent",
    "disk_capacity",
)
TASKS = ("host_identity", "time_sync", "logging", "auth", "ssh", "accounts", "files", "packages",
         "network", "services", "capacity")  # fmt: skip
LIMIT_S = 5.0


def generated(hosts: int, raw_kb: int) -> AuditRun:
    rnd = random.Random(14)
    statuses = [Status.PASS] * 6 + [Status.FAIL, Status.NOT_APPLICABLE]
    results, raw, jobs = [], {}, []
    line = "-rw-r----- 1 root adm 48213 Dec  1 10:00 /var/log/auth.log\n"
    for n in range(hosts):
        host = f"srv-{n:04d}"
        at = f"2026-12-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z"
        for check in CHECKS:
            status = rnd.choice(statuses)
            results.append(Result(check, host, status, f"{check}: {status.value} en {host}", at,
                                  "2026-12-31T10:00:00Z", {"salida": line * 3}))  # fmt: skip
        per_task = raw_kb * 1024 // len(TASKS)
        raw[host] = {t: (f"@@ {t} rc=0\n" + line * (per_task // len(line))) for t in TASKS}
        for seq, task in enumerate(TASKS):
            jobs.append({"counter": len(jobs) + 1, "event": "runner_on_ok", "host": host,
                         "task": task, "stdout": raw[host][task][:2000], "seq": seq})  # fmt: skip
    return AuditRun(
        id="0193a1b2-0000-7000-8000-000000000500",
        started_at="2026-12-01T10:00:00Z",
        finished_at="2026-12-01T10:12:00Z",
        operator="bench",
        complete=True,
        scope={"requested": ["todos"]},
        sampling={"method": "censo", "population_size": hosts},
        versions={"pukara": "bench"},
        hosts={h: {"hostname": h, "machine_id": hashlib.md5(h.encode()).hexdigest()} for h in raw},  # noqa: S324
        results=tuple(results),
        raw=raw,
        job_events=tuple(jobs),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipos", type=int, default=500)
    parser.add_argument("--crudo-kb", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pukara-bench-verificar-") as tmp:
        base = Path(tmp)
        data = base / "datos"
        key = claves.signing_key(data)
        t0 = time.perf_counter()
        run = generated(args.equipos, args.crudo_kb)
        bundle = paquete.write(run, key, base)
        written = time.perf_counter() - t0
        files = [p for p in bundle.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        env = {**os.environ, "PUKARA_DATA_DIR": str(data)}
        argv = [sys.executable, "-c", "import cli; cli.run()", "auditoria", "verificar",
                str(bundle)]  # fmt: skip
        subprocess.run(argv, env=env, check=True, capture_output=True, cwd=ROOT)  # warm cache
        t0 = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
        ours = time.perf_counter() - t0
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        sums = base / "SHA256SUMS"
        sums.write_text(
            "".join(
                f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(bundle)}\n"
                for p in files
            )
        )
        t0 = time.perf_counter()
        subprocess.run(["sha256sum", "--quiet", "-c", str(sums)], cwd=bundle, check=True)
        reference = time.perf_counter() - t0
    print(f"paquete: {number(args.equipos)} equipos, {number(len(run.results))} resultados, "
          f"{number(len(files))} archivos, {number(size / 1e6, 1)} MB (escrito en "
          f"{number(written, 2)} s)")  # fmt: skip
    print(f"pukara auditoria verificar: {number(ours, 2)} s (límite {number(LIMIT_S, 0)} s)")
    print(f"sha256sum -c (solo hashes): {number(reference, 2)} s")
    print(f"razón pukara / sha256sum: {number(ours / reference, 2)}")
    return 0 if ours < LIMIT_S else 3


if __name__ == "__main__":
    sys.exit(main())
