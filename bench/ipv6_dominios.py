"""`ipv6 dominios` over 1,000 lab domains (every check but TLS) against dig doing the same lookups.

The floor: for each domain, one dig to the lab's validating resolver for what pukara resolves
(SOA with DNSSEC, NS, MX, TXT, A and AAAA of the apex and of www, A and AAAA of each NS and MX)
and one dig per name server address for N2/N4's authoritative SOA (IPv6 over UDP and TCP,
IPv4 over UDP), 16 processes at a time. pukara runs C1 and every domain in one event loop.
Target: the whole run in under 2 minutes, C1 passing, and against the ground truth
(:func:`lab.internet.expected`) no false pass, at most one false fail, and no result missing
or without a row. The TLS checks
(W6c, W6p, M2s) are left out of that comparison, since the run does not do TLS. The rate is
printed next to internet.nl's published batch rate (about 166 domains a minute on 4 cores,
TLS included, so the comparison is not like for like). A ``dig`` that hangs past its timeout
is counted as a timeout, never an abort.

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
from ipv6.modelo import CheckResult
from lab import internet, manage
from lab import internet_zonas as z

TARGET_S = 120.0
INTERNET_NL_PER_MIN = 166.0  # internet.nl's batch, 4 cores (documentation/Batch-resources.md)
DIG_TIMEOUT_S = 60.0
TLS_CHECKS = ("W6c", "W6p", "M2s")  # not run with tls=False: not compared
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

    def one(argv: list[str]) -> int | None:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=False,
                                 timeout=DIG_TIMEOUT_S)  # fmt: skip
        except subprocess.TimeoutExpired:
            return None
        return out.stdout.count("\n")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        counts = list(pool.map(one, jobs))
    lines = sum(c for c in counts if c is not None)
    timeouts = sum(c is None for c in counts)
    print(f"dig: {len(jobs)} invocaciones, {lines} líneas de respuesta, "
          f"{timeouts} sin respuesta en {DIG_TIMEOUT_S:.0f} s")  # fmt: skip
    return time.perf_counter() - t0, len(jobs)


def compare(truth: dict[tuple[str, str], str], names: list[str],
            results: list[CheckResult]) -> dict[str, Counter[tuple[str, str, str]]]:  # fmt: skip
    """Differences from the truth by kind: false_pass, false_fail, other, missing, extra.

    Each counter's keys are (check, got, expected); TLS checks are not compared.
    """
    want = {k: v for k, v in truth.items() if k[0] in names and k[1] not in TLS_CHECKS}
    got = {(r.subject, r.check): r.status.value for r in results if r.check not in TLS_CHECKS}
    kinds: dict[str, Counter[tuple[str, str, str]]] = {
        k: Counter() for k in ("false_pass", "false_fail", "other", "missing", "extra")
    }
    for key in want.keys() | got.keys():
        status, expected = got.get(key, "(ninguno)"), want.get(key, "(sin fila)")
        if status == expected:
            continue
        if key not in got:
            kind = "missing"
        elif key not in want:
            kind = "extra"
        else:
            kind = {"pass": "false_pass", "fail": "false_fail"}.get(status, "other")
        kinds[kind][(key[1], status, expected)] += 1
    return kinds


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
    per_min = len(names) / took * 60
    print(f"ritmo: {per_min:.0f} dominios/min; internet.nl publica ~{INTERNET_NL_PER_MIN:.0f} "
          f"dominios/min en 4 núcleos con TLS ({per_min / INTERNET_NL_PER_MIN:.1f}x)")  # fmt: skip
    kinds = compare(internet.expected(), names, results)
    for kind, wrong in kinds.items():
        print(f"diferencias con la verdad ({kind}): {sum(wrong.values())} {dict(wrong)}")
    false_pass, false_fail = sum(kinds["false_pass"].values()), sum(kinds["false_fail"].values())
    holes = sum(kinds["missing"].values()) + sum(kinds["extra"].values())
    ok = (took < TARGET_S and c1.status.value == "pass" and false_pass == 0 and false_fail <= 1
          and holes == 0)  # fmt: skip
    print("OBJETIVO CUMPLIDO" if ok else f"OBJETIVO NO CUMPLIDO (< {TARGET_S:.0f} s, C1 pass, "
          "0 falsos aprobados, a lo sumo 1 falso fallo, ninguna fila que falte o sobre)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
