"""`ipv6 dominios` over 1,000 lab domains (every check but TLS) against dig doing the same lookups.

The floor: for each domain, one dig to the lab's validating resolver for what pukara resolves
(SOA with DNSSEC, NS, MX, TXT, A and AAAA of the apex and of www, A and AAAA of each NS and MX)
and one dig per name server address for N2/N4's authoritative SOA (IPv6 over UDP and TCP,
IPv4 over UDP), 16 processes at a time. pukara runs C1 and every domain in one event loop.
Target: the whole run in under 2 minutes.

Needs root; brings up its own internet lab (prefix ``pkdb``) and tears it down:

    flock /tmp/pukara-lab.lock flock /tmp/pukara-lab-internet.lock \\
        .venv/bin/python bench/ipv6_dominios.py [--dominios 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipv6 import dominios
from lab import internet, manage
from lab import internet_zonas as z

TARGET_S = 120.0
LAB_ULA = ("fd70:756b:6172::/48",)


def _jobs(resolver: str, names: list[str]) -> list[list[str]]:
    profiles = {p.name: p for p in z.profiles(len(names))}
    base = ["dig", "+time=2", "+tries=2", "+short"]
    jobs = []
    for d in names:
        p = profiles[d]
        hosts = [f"{n}.{z.PARENT}" for n in p.ns]
        hosts += [] if p.mail == "null" else [z.mx_name(p.mail)]
        queries = [d, "SOA", "+dnssec", d, "NS", d, "MX", d, "TXT"]
        for name in (d, f"www.{d}", *hosts):
            queries += [name, "A", name, "AAAA"]
        jobs.append([*base, f"@{resolver}", *queries])
        for n in p.ns:
            host = z.NS[n]
            if host.v6:
                jobs.append([*base, "+norec", f"@{host.v6}", d, "SOA"])
                jobs.append([*base, "+norec", "+tcp", f"@{host.v6}", d, "SOA"])
            if host.v4:
                jobs.append([*base, "+norec", f"@{host.v4}", d, "SOA"])
    return jobs


def _floor(resolver: str, names: list[str]) -> tuple[float, int]:
    jobs = _jobs(resolver, names)

    def one(argv: list[str]) -> int:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        return out.stdout.count("\n")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        lines = sum(pool.map(one, jobs))
    print(f"dig: {len(jobs)} invocaciones, {lines} líneas de respuesta")
    return time.perf_counter() - t0, len(jobs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dominios", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pukara-bench-dominios-") as tmp:
        lab = manage.Lab(Path(tmp) / "lab", prefix="pkdb")
        t0 = time.perf_counter()
        try:
            internet.up(lab, args.dominios)
            print(f"laboratorio de internet arriba en {time.perf_counter() - t0:.1f} s")
            return _measure(lab)
        finally:
            internet.down(lab)


def _measure(lab: manage.Lab) -> int:
    resolver = internet.resolver(lab)[0]
    names = internet.domains(lab)
    floor_s, floor_jobs = _floor(resolver, names)
    print(f"dig (16 procesos, {floor_jobs} invocaciones): {floor_s:.1f} s, "
          f"{len(names) / floor_s:.1f} dominios/s")  # fmt: skip
    t0 = time.perf_counter()
    c1, results = dominios.run(dominios.read_names(names), resolver=resolver,
                               anchors=internet.anchors(lab), global_prefixes=LAB_ULA,
                               concurrency=64, tls=False)  # fmt: skip
    took = time.perf_counter() - t0
    checks = sorted({r.check for r in results})
    print(f"pukara ipv6 dominios: {len(names)} dominios en {took:.1f} s, "
          f"{len(names) / took:.1f} dominios/s ({took / floor_s:.2f}x dig); C1 {c1.status.value}; "
          f"pruebas: {' '.join(checks)}")  # fmt: skip
    truth = internet.expected()
    wrong = Counter(
        (r.check, r.status.value, truth[(r.subject, r.check)])
        for r in results
        if (r.subject, r.check) in truth and truth[(r.subject, r.check)] != r.status.value
    )
    print(f"diferencias con la verdad de referencia: {sum(wrong.values())} {dict(wrong)}")
    ok = took < TARGET_S and c1.status.value == "pass"
    print("OBJETIVO CUMPLIDO" if ok else f"OBJETIVO NO CUMPLIDO (< {TARGET_S:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
