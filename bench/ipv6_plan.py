"""The address-plan linter over 10,000 prefixes: reading the CSV and every rule, under 1 s.

Builds a plan of one /32 allocation, sites of /48 with their /64 LANs, a reserved /64 of /127
links and one of /128 loopbacks each, plus one seeded fault per rule (P01-P13); times
``read_plan`` + ``check`` (best of N runs) and checks that every seeded fault is found and
that the clean part alone gives no finding (a false positive fails the bench).

The floor, timed side by side in the same run: the same rows read with :mod:`csv`, parsed
with plain :mod:`ipaddress`, sorted and swept once for nesting (each prefix's enclosing
prefix), which is the least any overlap check has to do; pukara's time is printed as a ratio
of it.

    python bench/ipv6_plan.py [--prefijos 10000] [--veces 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import ipaddress
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipv6 import plan
from ipv6.plan_reglas import RULES
from tests.unit.ipv6_plan_case import FAULTS

TARGET_S = 1.0


def build(total: int, *, faults: bool = True) -> tuple[str, list[str]]:
    """A plan of about ``total`` clean rows (and the seeded faults) and its inventory's sites."""
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
    if not faults:
        return "\n".join(rows) + "\n", [*sites, "lima", "emb-ar"]
    sites += ["lima", "emb-ar", "emb-bo", "emb-cl"]
    rows += [row for rule, (row, _) in sorted(FAULTS.items()) if row]
    return "\n".join(rows) + "\n", [c for c in sites if c != "emb-bo"]


def floor(text: str) -> tuple[int, int]:
    """Plain ``ipaddress``: parse every row, sort, sweep for nesting; (parsed, nested)."""
    nets: list[ipaddress.IPv6Network] = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            nets.append(ipaddress.IPv6Network(row["prefix"]))
        except ValueError:
            continue
    nets.sort(key=lambda n: (n.network_address, n.prefixlen))
    stack: list[ipaddress.IPv6Network] = []
    nested = 0
    for net in nets:
        while stack and not net.subnet_of(stack[-1]):
            stack.pop()
        nested += bool(stack)
        stack.append(net)
    return len(nets), nested


def _best(times: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(times):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefijos", type=int, default=10_000)
    parser.add_argument("--veces", type=int, default=3)
    args = parser.parse_args()
    text, sites = build(args.prefijos)
    clean_text, clean_sites = build(args.prefijos, faults=False)
    with tempfile.TemporaryDirectory() as tmp:
        path, clean_path = Path(tmp) / "plan.csv", Path(tmp) / "limpio.csv"
        path.write_text(text, "utf-8")
        clean_path.write_text(clean_text, "utf-8")
        best = _best(args.veces, lambda: plan.check(plan.read_plan(path), sites))
        floor_s = _best(args.veces, lambda: floor(text))
        entries = plan.read_plan(path)
        findings = plan.check(entries, sites)
        false_positives = plan.check(plan.read_plan(clean_path), clean_sites)
    missing = sorted(set(RULES) - {f.rule for f in findings})
    parsed, nested = floor(text)
    ok = best < TARGET_S and not missing and not false_positives
    print(
        f"plan IPv6: {len(entries)} prefijos leídos y verificados en {best:.3f} s (mejor de "
        f"{args.veces}); {len(findings)} hallazgos; reglas sembradas sin detectar: "
        f"{', '.join(missing) or 'ninguna'}"
    )
    print(
        f"piso (csv + ipaddress + orden y barrido de anidamiento, mismas filas): {parsed} "
        f"prefijos, {nested} anidados, en {floor_s:.3f} s; pukara {best / floor_s:.1f}x el piso"
    )
    print(
        f"parte limpia ({clean_text.count(chr(10)) - 1} filas): {len(false_positives)} hallazgos"
        + "".join(f"\n  falso positivo: línea {f.line} {f.rule} {f.message}"
                  for f in false_positives[:10])
    )  # fmt: skip
    verdict = "cumple" if ok else "NO cumple"
    print(f"meta < {TARGET_S:g} s, todas las reglas sembradas, 0 falsos positivos: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
