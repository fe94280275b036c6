"""The address-plan linter over 10,000 prefixes: reading the CSV and every rule, under 1 s.

Builds a plan of one /32 allocation, sites of /48 with their /64 LANs, a reserved /64 of /127
links and one of /128 loopbacks each, plus one seeded fault per rule (P01-P13); times
``read_plan`` + ``check`` (best of N runs) and checks that every seeded fault is found.

    python bench/ipv6_plan.py [--prefijos 10000] [--veces 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipv6 import plan
from ipv6.plan_reglas import RULES
from tests.unit.ipv6_plan_case import FAULTS

TARGET_S = 1.0


def build(total: int) -> tuple[str, list[str]]:
    """A plan of about ``total`` clean rows and the sites of its inventory."""
    rows = ["prefix,kind,site,name", "2800:4f0::/32,allocation,,LACNIC"]
    sites: list[str] = []
    per_site = 50  # 1 block + 40 LANs + 2 reserved + 4 links + 3 loopbacks
    for s in range(max(1, total // per_site)):
        code = f"s{s}"
        sites.append(code)
        base = f"2800:4f0:{s + 0x100:x}"
        rows.append(f"{base}::/48,site,{code},Sede {s}")
        rows += [f"{base}:{n:x}::/64,lan,{code},LAN {n}" for n in range(1, 41)]
        rows.append(f"{base}:ff::/64,reserved-p2p,{code},Enlaces")
        rows += [f"{base}:ff::{2 * n:x}/127,p2p,{code},enlace {n}" for n in range(4)]
        rows.append(f"{base}:fe::/64,reserved-loopback,{code},Loopbacks")
        rows += [f"{base}:fe::{n + 1:x}/128,loopback,{code},lo {n}" for n in range(3)]
    # the seeded faults' rows speak of lima/emb-ar/emb-bo/emb-cl: give them their blocks
    rows += [
        "2800:4f0:10::/48,site,lima,Sede central", "2800:4f0:10:1::/64,lan,lima,Usuarios",
        "2800:4f0:10:ff::/64,reserved-p2p,lima,Enlaces",
        "2800:4f0:10:fe::/64,reserved-loopback,lima,Loopbacks",
        "2800:4f0:20::/48,site,emb-ar,Embajada en Argentina",
    ]  # fmt: skip
    sites += ["lima", "emb-ar", "emb-bo", "emb-cl"]
    rows += [row for rule, (row, _) in sorted(FAULTS.items()) if row]
    return "\n".join(rows) + "\n", [c for c in sites if c != "emb-bo"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefijos", type=int, default=10_000)
    parser.add_argument("--veces", type=int, default=3)
    args = parser.parse_args()
    text, sites = build(args.prefijos)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.csv"
        path.write_text(text, "utf-8")
        best = float("inf")
        for _ in range(args.veces):
            t0 = time.perf_counter()
            entries = plan.read_plan(path)
            findings = plan.check(entries, sites)
            best = min(best, time.perf_counter() - t0)
    missing = sorted(set(RULES) - {f.rule for f in findings})
    verdict = "cumple" if best < TARGET_S and not missing else "NO cumple"
    print(
        f"plan IPv6: {len(entries)} prefijos leídos y verificados en {best:.3f} s (mejor de "
        f"{args.veces}); {len(findings)} hallazgos; reglas sembradas sin detectar: "
        f"{', '.join(missing) or 'ninguna'}; meta < {TARGET_S:g} s: {verdict}"
    )
    return 0 if verdict == "cumple" else 1


if __name__ == "__main__":
    sys.exit(main())
