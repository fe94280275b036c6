"""Monitoring benchmarks, each beside its reference tool in the same script.

1. 1,000 lab targets x 3 probes at the pacing of ``fping -c 3 -i 1 -p 20`` (timeout 1 s for
   both, as the lab's delays exceed fping's default of the period): wall and CPU of both,
   and each target's median against fping's. Targets: wall <= 1.2x fping's; medians within
   0.5 ms of fping's.
2. One-shot sweep of 150 lab sites with delays of 20 to 300 ms: one probe each, 1 ms apart.
   Target: done within the largest delay + 200 ms. fping ``-c 1 -i 1`` beside it.
3. One SNMP counter cycle over 150 lab sites (sysUpTime, WAN ifHC* counters, ifHighSpeed,
   ifCounterDiscontinuityTime, tunnel state): requests per device counted by pukara and
   checked on the agents' own snmpInPkts. Target: <= 2 round trips per device. net-snmp's
   ``snmpget`` of the same OIDs with 16 parallel processes beside it.

Needs root: it brings up its own labs (prefixes ``pke`` and ``pkn``) and tears them down.

    python bench/monitor_bench.py [--objetivos 1000] [--sedes 150]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab import manage
from lab.sites import LabSite
from monitoreo.device import IF_DISCONTINUITY, IF_HC_IN, IF_HC_OUT, IF_HIGH_SPEED, Poller
from monitoreo.prober import ProbeOptions, Target, probe
from monitoreo.sites import Site


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _sites(first: int, count: int, prefix: str, *, jitter: bool = False) -> list[LabSite]:
    out = []
    for i in range(count):
        delay = round(20 + 280 * i / max(count - 1, 1), 1)
        out.append(LabSite(index=first + i, code=f"{prefix}{i:04d}", delay_ms=delay,
                           jitter_ms=round(delay * 0.05, 1) if jitter else 0.0))  # fmt: skip
    return out


def _fping(args: list[str], addresses: list[str]) -> tuple[float, float, dict[str, list[float]]]:
    cpu0, t0 = _cpu_children(), time.perf_counter()
    done = subprocess.run(["fping", *args, *addresses], capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
    samples: dict[str, list[float]] = {}
    for line in done.stderr.splitlines():
        host, _, rest = line.partition(" : ")
        samples[host.strip()] = [float(x) for x in rest.split() if x != "-"]
    return wall, cpu, samples


def _pukara(
    addresses: list[str], options: ProbeOptions
) -> tuple[float, float, dict[str, list[float]]]:
    targets = [Target(a, a) for a in addresses]
    cpu0, t0 = _cpu_self(), time.perf_counter()
    results = probe(targets, options)
    wall, cpu = time.perf_counter() - t0, _cpu_self() - cpu0
    return wall, cpu, {r.target.address: [x for x in r.rtts_ms if x is not None] for r in results}


def bench_probes(count: int, workdir: Path) -> None:
    sites = _sites(1001, count, "e")
    lab = manage.Lab(workdir / "eco", prefix="pke")
    t0 = time.perf_counter()
    manage.up(lab, sites, services_on=False)
    print(f"laboratorio de eco: {count} sedes en {time.perf_counter() - t0:.1f} s")
    try:
        addresses = [str(s.v4) for s in sites]
        _pukara(addresses[:5], ProbeOptions(1, 1, 20, 1000))  # warm up
        fw, fc, fs = _fping(["-C", "3", "-q", "-i", "1", "-p", "20", "-t", "1000"], addresses)
        pw, pc, ps = _pukara(addresses, ProbeOptions(3, 1, 20, 1000))
        # fping prints 3 decimals below 1 ms, 2 below 10, 1 below 100 and none above (sprint_tm):
        # medians are compared where fping's output has 0.1 ms resolution (under 100 ms)
        pairs = [(statistics.median(ps[a]), statistics.median(fs[a]))
                 for a in addresses if ps.get(a) and fs.get(a)]  # fmt: skip
        signed = [p - f for p, f in pairs]
        fine = sorted(abs(p - f) for p, f in pairs if f < 100)
        got_f = sum(len(v) for v in fs.values())
        got_p = sum(len(v) for v in ps.values())
        print(f"\n1) {count} objetivos x 3 sondeos, -i 1 -p 20 -t 1000")
        print(f"   fping : {fw:.3f} s de reloj, {fc:.3f} s de CPU, {got_f} respuestas")
        print(f"   pukara: {pw:.3f} s de reloj, {pc:.3f} s de CPU, {got_p} respuestas")
        print(f"   sesgo medio (pukara - fping, sin redondear): {statistics.fmean(signed):+.3f} ms")
        print(f"   razón de tiempo pukara/fping: {pw / fw:.3f}x (meta <= 1.2x)")
        print(
            f"   |mediana pukara - mediana fping|, {len(fine)} objetivos < 100 ms:"
            f" media {statistics.fmean(fine):.3f} ms,"
            f" p95 {fine[int(0.95 * len(fine))]:.3f} ms, máx {fine[-1]:.3f} ms (meta <= 0.5 ms)"
        )

        picks = sorted({round(i * (count - 1) / 149) for i in range(min(150, count))})
        sweep = [sites[i] for i in picks]
        addrs = [str(s.v4) for s in sweep]
        biggest = max(s.delay_ms for s in sweep)
        fw, _, _ = _fping(["-C", "1", "-q", "-i", "1", "-t", "1000"], addrs)
        pw, pc, ps = _pukara(addrs, ProbeOptions(1, 1, 20, 1000))
        print(
            f"\n2) barrido de {len(addrs)} sedes, retardos de {sweep[0].delay_ms:g} a {biggest:g} ms"
        )
        print(
            f"   pukara: {pw * 1000:.0f} ms ({sum(1 for v in ps.values() if v)} respondieron,"
            f" CPU {pc:.3f} s);"
            f" meta <= {biggest + 200:.0f} ms; fping -c 1 -i 1: {fw * 1000:.0f} ms"
        )
        _one_shot(addrs, workdir)
    finally:
        manage.down(lab)


def _best_wall(argv: list[str], env: dict[str, str] | None = None, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, env=env)
        best = min(best, time.perf_counter() - t0)
    return best


def _one_shot(addrs: list[str], workdir: Path) -> None:
    """The same sweep as a user runs it: whole processes, start-up included."""
    pukara = str(Path(sys.executable).parent / "pukara")
    db = str(workdir / "barrido.db")
    fw = _best_wall(["fping", "-C", "1", "-q", "-i", "1", "-t", "1000", *addrs])
    # bytecode cached, as an installed pukara runs (this machine sets PYTHONDONTWRITEBYTECODE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    pw = _best_wall([pukara, "--base-datos", db, "monitoreo", "sondear", "--no-guardar", "-q",
                     "-f", "csv", "-c", "1", "-i", "1", "-p", "20", "-t", "1000", *addrs],
                    env)  # fmt: skip
    print(
        f"   proceso completo (mejor de 3): pukara monitoreo sondear {pw * 1000:.0f} ms,"
        f" fping {fw * 1000:.0f} ms; razón {pw / fw:.2f}x (meta <= 1.2x)"
    )


def _snmpget(job: tuple[str, str, list[str]]) -> None:
    community, address, oids = job
    subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "2", "-r", "1", "-Oqv", address, *oids],
                   capture_output=True, check=False)  # fmt: skip


def _in_pkts(community: str, address: str) -> int:
    out = subprocess.run(["snmpget", "-v2c", "-c", community, "-Oqv", address, "1.3.6.1.2.1.11.1.0"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return int(out.stdout.strip() or 0)


def bench_snmp(count: int, workdir: Path) -> None:
    sites = _sites(3401, count, "n")
    sites = [LabSite(s.index, s.code, s.delay_ms, tunnel=True) for s in sites]
    lab = manage.Lab(workdir / "snmp", prefix="pkn")
    t0 = time.perf_counter()
    manage.up(lab, sites)
    print(
        f"\nlaboratorio SNMP: {count} sedes con snmpd y túnel en {time.perf_counter() - t0:.1f} s"
    )
    os.environ["PUKARA_CREDENTIALS"] = str(lab.credentials_file)
    try:
        community = tomllib.loads(lab.credentials_file.read_text())["lab"]["community"]
        targets = [Site(s.code, s.code, "UTC", str(s.v4), s.hostname, None, 10.0, 99.0, 5.0, 500.0,
                        True, "kbcs0", str(s.lan), "lab") for s in sites]  # fmt: skip
        poller = Poller()
        loop = asyncio.new_event_loop()
        sample = [str(s.v4) for s in sites[:10]]
        for name in ("primer ciclo (aprende índices)", "ciclo estable"):
            before = {a: _in_pkts(community, a) for a in sample}
            cpu0, t0 = _cpu_self(), time.perf_counter()
            polls = loop.run_until_complete(poller.cycle(targets))
            wall, cpu = time.perf_counter() - t0, _cpu_self() - cpu0
            after = {a: _in_pkts(community, a) for a in sample}
            agent = [after[a] - before[a] - 1 for a in sample]  # minus the "before" query itself
            ok = sum(1 for p in polls if p.error is None and p.counters is not None)
            print(
                f"3) {name}: {wall:.3f} s de reloj, {cpu:.3f} s de CPU, {ok}/{len(polls)} equipos;"
                f" solicitudes por equipo (pukara) máx {max(p.requests for p in polls)},"
                f" según snmpInPkts de 10 agentes máx {max(agent)} (meta <= 2)"
            )
        loop.run_until_complete(poller.close())
        loop.close()
        oids = ["1.3.6.1.2.1.1.3.0"] + [
            f"{c}.2" for c in (IF_HC_IN, IF_HC_OUT, IF_HIGH_SPEED, IF_DISCONTINUITY)
        ]
        cpu0, t0 = _cpu_children(), time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(_snmpget, [(community, str(s.v4), oids) for s in sites]))
        wall = time.perf_counter() - t0
        print(
            f"   net-snmp snmpget x16 (v2c, mismos OID): {wall:.3f} s de reloj,"
            f" {_cpu_children() - cpu0:.3f} s de CPU"
        )
    finally:
        manage.down(lab)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objetivos", type=int, default=1000)
    parser.add_argument("--sedes", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pukara-bench-") as tmp:
        bench_probes(args.objetivos, Path(tmp))
        bench_snmp(args.sedes, Path(tmp))


if __name__ == "__main__":
    main()
