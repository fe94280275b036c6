"""Start-up time of `pukara --help` and of each area's `--help`, against a bare interpreter.

Each command runs as a real subprocess of this venv's interpreter (``python -m cli ...``, what
the `pukara` script does), best of N runs, and is compared with ``python -c pass`` run the
same way. Target: each under 150 ms (wall time) over the bare interpreter, so that a one-shot
command such as ``monitoreo sondear`` is not dominated by imports. The CPU time (user +
system) is printed beside it: on a busy machine it varies less than the wall time. Also
prints the ``-X importtime`` total of ``import cli``.

    python bench/startup.py [--veces 5]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AREAS = ["inventario", "red", "monitoreo", "ipv6", "auditoria", "csirt", "lab", "cambios"]
TARGET_MS = 150.0


# As an installed pukara runs: with its bytecode cached. A checkout run with
# PYTHONDONTWRITEBYTECODE would recompile every module on every start; the cache goes to a
# temporary directory (the first run fills it), not into the tree.
_PYCACHE = tempfile.mkdtemp(prefix="pukara-arranque-")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "100"
    return env


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_ms(args: list[str], runs: int) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system) of ``runs`` runs, in ms."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(runs):
        cpu = _children_cpu_s()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *args], capture_output=True, env=_env(), cwd=ROOT, check=False
        )
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} terminó con {done.returncode}: {done.stderr!r}")
        best = min(best, elapsed)
        best_cpu = min(best_cpu, (_children_cpu_s() - cpu) * 1000)
    return best, best_cpu


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
    bare, bare_cpu = best_ms(["-c", "pass"], opts.veces)
    print(f"Arranque (mejor de {opts.veces}); python -c pass: {bare:.1f} ms "
          f"(CPU {bare_cpu:.1f} ms)")  # fmt: skip
    print(f"{'orden':<26}{'total (ms)':>11}{'sobre python':>14}{'CPU sobre':>11}{'meta':>6}"
          f"{'razón':>8}")  # fmt: skip
    worst = 0.0
    for label, args in [("pukara --help", [])] + [(f"pukara {a} --help", [a]) for a in AREAS]:
        total, cpu = best_ms(["-m", "cli", *args, "--help"], opts.veces)
        over = total - bare
        worst = max(worst, over)
        verdict = "sí" if over < TARGET_MS else "NO"
        print(f"{label:<26}{total:>11.1f}{over:>14.1f}{cpu - bare_cpu:>11.1f}{verdict:>6}"
              f"{total / bare:>7.2f}x")  # fmt: skip
    print(f"import cli (-X importtime, bytecode en caché): {import_time_ms():.1f} ms")
    print(f"Peor: {worst:.1f} ms sobre el intérprete (meta < {TARGET_MS:.0f} ms)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    try:
        code = main()
    finally:
        shutil.rmtree(_PYCACHE, ignore_errors=True)
    sys.exit(code)
