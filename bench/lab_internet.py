"""Time of bringing the internet lab up with 1,000 domains (knot signs every signed zone,
the DS go into test., unbound starts with the lab trust anchor), and of taking it down.

Needs root and the internet lab's lock; it leaves nothing up:
    flock /tmp/pukara-lab-internet.lock .venv/bin/python bench/lab_internet.py [--dominios 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab import internet, manage  # noqa: E402
from lab import internet_zonas as z  # noqa: E402
from pukara.formats import number  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dominios", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pukara-internet-") as tmp:
        lab = manage.Lab(Path(tmp) / "lab", prefix="pkb")
        start = time.perf_counter()
        try:
            state = internet.up(lab, args.dominios)
            up_s = time.perf_counter() - start
            kinds = [p.dnssec for p in z.profiles(args.dominios)]
            last = internet.domains(lab)[-1]
            answer = subprocess.run(
                ["dig", "+dnssec", "+time=2", "+tries=1", f"@{internet.RESOLVER_V4}", last, "SOA"],
                capture_output=True, text=True, check=False,
            ).stdout  # fmt: skip
            status = answer.split("status: ", 1)[-1].split(",", 1)[0]
        finally:
            mid = time.perf_counter()
            internet.down(lab)
            down_s = time.perf_counter() - mid
    print(
        f"laboratorio de internet: {number(state['domains'])} dominios "
        f"({number(kinds.count('signed'))} firmados, {number(kinds.count('bogus'))} con DS falso)"
    )
    print(
        f"  arriba: {number(up_s, 1)} s   abajo: {number(down_s, 1)} s   "
        f"{last} por el resolutor: {status}"
    )


if __name__ == "__main__":
    main()
