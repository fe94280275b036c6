"""Start-up time of `pukara --help` and of each area's `--help`, against a bare interpreter.

Each command runs as a real subprocess of this venv's interpreter (``python -m cli ...``, what
the `pukara` script does), best of N runs, and is compared with ``python -c pass`` run the
same way. Target: each under 150 ms over the bare interpreter, so that a one-shot command
such as ``monitoreo sondear`` is not dominated by imports. Also prints the
``-X importtime`` total of ``import cli``.

    python bench/startup.py [--veces 5]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AREAS = ["inventario", "red", "monitoreo", "ipv6", "auditoria", "csirt", "lab", "cambios"]
TARGET_MS = 150.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "100"
    return env


def best_ms(args: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *args], capture_output=True, env=_env(), cwd=ROOT, check=False
        )
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} terminó con {done.returncode}: {done.stderr!r}")
        best = min(best, elapsed)
    return best


def import_time_ms() -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import cli"],
        capture_output=True, text=True, env=_env(), cwd=ROOT, check=True,
    )  # fmt: skip
    last = done.stderr.strip().splitlines()[-1]
    match = re.search(r"\|\s*(\d+)\s*\|\s*cli$", last)
    return int(match.group(1)) / 1000 if match else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--veces", type=int, default=5, help="Ejecuciones por orden (la mejor).")
    opts = parser.parse_args()
    bare = best_ms(["-c", "pass"], opts.veces)
    print(f"Arranque (mejor de {opts.veces}); python -c pass: {bare:.1f} ms")
    print(f"import cli (-X importtime): {import_time_ms():.1f} ms")
    print(f"{'orden':<28}{'total (ms)':>12}{'sobre python (ms)':>20}{'meta':>8}{'razón':>8}")
    worst = 0.0
    for label, args in [("pukara --help", [])] + [(f"pukara {a} --help", [a]) for a in AREAS]:
        total = best_ms(["-m", "cli", *args, "--help"], opts.veces)
        over = total - bare
        worst = max(worst, over)
        verdict = "sí" if over < TARGET_MS else "NO"
        print(f"{label:<28}{total:>12.1f}{over:>20.1f}{verdict:>8}{total / bare:>7.2f}x")
    print(f"Peor: {worst:.1f} ms sobre el intérprete (meta < {TARGET_MS:.0f} ms)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
