"""`ipv6 equipos` over 150 lab devices against net-snmp's ``snmpbulkwalk`` of the same objects.

The reference walks, for each agent, the IP-MIB and IPV6-MIB subtrees D1-D4 read (4.25,
4.30.1.5, 4.34.1.3/4/7, 4.35.1.4 and 55.1) and does D5's GET of sysUpTime over the agent's
IPv6 address, 16 processes at a time. pukara runs its SNMP part (D1-D5 without SSH: one
event loop, one multi-column walk per agent) on the same agents. Target: <= 2x net-snmp's
wall time. Then the whole command with SSH (D5's banner and D6's vtysh over netmiko), for
information: SSH logins cost what they cost and net-snmp has nothing to compare them with.

Needs root; brings up its own lab (prefix ``pk6b``, indexes 3801-3950) and tears it down:

    flock /tmp/pukara-lab.lock python bench/ipv6_equipos.py [--sedes 150]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipv6 import equipos
from lab import manage
from lab.sites import V6_BLOCK, LabSite
from pukara.secrets import CredentialProfile, Secret, require_profile

SUBTREES = ("1.3.6.1.2.1.4.25", "1.3.6.1.2.1.4.30.1.5", "1.3.6.1.2.1.4.34.1.3",
            "1.3.6.1.2.1.4.34.1.4", "1.3.6.1.2.1.4.34.1.7", "1.3.6.1.2.1.4.35.1.4",
            "1.3.6.1.2.1.55.1")  # fmt: skip
TARGET = 2.0


def _reference(sites: list[LabSite], env: dict[str, str]) -> tuple[float, int]:
    """snmpbulkwalk of every (agent, subtree) and snmpget over IPv6, 16 processes at a time."""
    jobs = [["snmpbulkwalk", "-On", "-Cr20", "-t", "2", "-r", "1", str(s.v4), t]
            for s in sites for t in SUBTREES]  # fmt: skip
    jobs += [["snmpget", "-On", "-t", "2", "-r", "1", f"udp6:[{s.v6}]", "1.3.6.1.2.1.1.3.0"]
             for s in sites]  # fmt: skip

    def one(argv: list[str]) -> int:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        return out.stdout.count("\n")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        lines = sum(pool.map(one, jobs))
    return time.perf_counter() - t0, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sedes", type=int, default=150)
    args = parser.parse_args()
    sites = [LabSite(index=3800 + i, code=f"q{i:03d}") for i in range(1, args.sedes + 1)]
    with tempfile.TemporaryDirectory(prefix="pukara-bench-ipv6-") as tmp:
        work = Path(tmp)
        lab = manage.Lab(work / "lab", prefix="pk6b")
        t0 = time.perf_counter()
        try:
            manage.up(lab, sites)
            print(f"laboratorio de {len(sites)} sedes arriba en {time.perf_counter() - t0:.1f} s")
            return _measure(lab, sites, work)
        finally:
            manage.down(lab)


def _measure(lab: manage.Lab, sites: list[LabSite], work: Path) -> int:
    raw = tomllib.loads(lab.credentials_file.read_text())["lab"]
    conf = work / "snmp"
    conf.mkdir(mode=0o700)
    (conf / "snmp.conf").write_text(f"defVersion 2c\ndefCommunity {raw['community']}\n")
    env = {**os.environ, "MIBS": "", "SNMPCONFPATH": str(conf), "HOME": str(conf)}
    os.environ["PUKARA_CREDENTIALS"] = str(lab.credentials_file)  # "red" for the CLI

    def loader(name: str) -> CredentialProfile:  # v2c only, as the reference walks
        if name == "v2":
            return CredentialProfile("v2", {"community": Secret(raw["community"])})
        return require_profile(name)

    devices = [equipos.Device(s.hostname, s.code, "router", str(s.v4), str(s.v6), "frr", "v2",
                              "red") for s in sites]  # fmt: skip
    extra = [V6_BLOCK]
    ref_wall, lines = _reference(sites, env)
    t0 = time.perf_counter()
    reports = equipos.collect(devices, timeout_s=2.0, concurrency=64, extra=extra, ssh=False,
                              profiles=equipos._Profiles(loader))  # fmt: skip
    wall = time.perf_counter() - t0
    # without SSH, D5 cannot pass (it needs SNMP and SSH): it is not-tested with SNMP "ok"
    passed = sum(
        1
        for r in reports
        if all(c.status == "pass" for c in r.checks[:4])
        and r.checks[4].status == "not-tested"
        and r.checks[4].evidence["snmp"] == "ok"
    )
    t0 = time.perf_counter()
    full = equipos.collect(devices, timeout_s=5.0, concurrency=32, extra=extra, ssh=True,
                           profiles=equipos._Profiles(loader))  # fmt: skip
    full_wall = time.perf_counter() - t0
    full_ok = sum(1 for r in full if all(c.status == "pass" for c in r.checks))
    ratio = wall / ref_wall
    print(f"ipv6 equipos sobre {len(sites)} equipos del laboratorio (SNMP v2c)")
    print(f"  snmpbulkwalk/snmpget x16 procesos: {ref_wall:6.2f} s ({len(sites) * 8} "
          f"procesos, {lines} valores)")  # fmt: skip
    print(f"  pukara D1-D5 sin SSH:              {wall:6.2f} s ({passed}/{len(sites)} equipos "
          "con D1-D4 en cumple y SNMP por IPv6)")  # fmt: skip
    print(f"  razón pukara/net-snmp: {ratio:.2f}x (meta <= {TARGET:g}x)")
    print(f"  pukara D1-D6 con SSH (banner y vtysh): {full_wall:6.2f} s ({full_ok}/{len(sites)} "
          "equipos con todo en cumple; sin referencia)")  # fmt: skip
    return 0 if ratio <= TARGET and passed == len(sites) else 1


if __name__ == "__main__":
    sys.exit(main())
