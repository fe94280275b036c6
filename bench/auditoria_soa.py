"""`auditoria soa` for both editions (issue 14 target: under 10 s).

Builds the results of N hosts (default 500) on every check, stores them as one audit run in
a real SQLite store when ``auditoria.almacen`` is installed (else keeps them in memory), then
times what the command does for each edition: read the newest results, build the rows, write
the XLSX and the HTML. Prints each step, the total for both editions and its ratio to 10 s.

    python bench/auditoria_soa.py [--equipos 500]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditoria import aplicabilidad, catalogo, soa, soa_salida  # noqa: E402
from auditoria.modelo import Check, ControlLink, Kind, Relation, Result, Status  # noqa: E402
from pukara.formats import number  # noqa: E402

TARGET_S = 10.0


def checks() -> dict[str, Check]:
    """The shipped checks when their loader is installed, else 40 spread over the catalogue."""
    try:
        loaded: dict[str, Check] = importlib.import_module("auditoria.comprobaciones").load()
        return loaded
    except ImportError:
        pass
    c13, c22 = list(catalogo.load("2013").controls), list(catalogo.load("2022").controls)
    out = {}
    for n in range(40):
        links = (
            ControlLink("2013", c13[(n * 7) % len(c13)], Relation.SUPPORTS, "bench"),
            ControlLink("2022", c22[(n * 5) % len(c22)], Relation.SUPPORTS, "bench"),
            ControlLink("2022", c22[(n * 11) % len(c22)], Relation.PARTIALLY_SUPPORTS, "bench"),
        )
        out[f"check_{n}"] = Check(f"check_{n}", f"comprobación {n}", Kind.LINUX, links, 30)
    return out


def results(hosts: int, check_ids: list[str]) -> list[Result]:
    now = datetime.now(UTC)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    out = []
    for h in range(hosts):
        for n, cid in enumerate(check_ids):
            seen = now - timedelta(days=(h + n) % 45)
            status = (Status.PASS, Status.FAIL, Status.PASS, Status.ERROR)[(h * 3 + n) % 4]
            out.append(Result(cid, f"srv-{h:04d}", status, "bench", seen.strftime(fmt),
                              (seen + timedelta(days=30)).strftime(fmt), {"raw": "x" * 200}))  # fmt: skip
    return out


def timed(label: str, fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    took = time.perf_counter() - start
    print(f"  {label:<34} {number(took, 3)} s")
    return took, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipos", type=int, default=500)
    args = parser.parse_args()
    known = checks()
    data = results(args.equipos, sorted(known))
    print(
        f"{number(len(data))} resultados ({number(args.equipos)} equipos × {len(known)} comprobaciones)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        read: Callable[[], list[Result]] = lambda: data  # noqa: E731
        try:
            almacen = importlib.import_module("auditoria.almacen")
        except ImportError:
            print("  (sin auditoria.almacen: resultados en memoria)")
        else:
            from pukara.store import SQLiteStore

            store = SQLiteStore(Path(tmp) / "bench.db")
            stamp = data[0].observed_at
            run = almacen.AuditRun(id="bench", started_at=stamp, finished_at=stamp,
                                   operator="bench", complete=True, results=tuple(data))  # fmt: skip
            almacen.save_run(store, run)

            def read() -> list[Result]:
                found: list[Result] = almacen.latest_results(store)
                return found

        total = 0.0
        declared = aplicabilidad.load()
        for edition in ("2013", "2022"):
            print(f"edición {edition}:")
            took, latest = timed("leer últimos resultados", read)
            total += took
            took, rows = timed(
                "filas", lambda e=edition, r=latest: soa.build(e, r, known, declared)
            )
            total += took
            for fmt in ("xlsx", "html"):
                when = datetime.now(UTC)
                took, out = timed(
                    f"escribir {fmt}",
                    lambda f=fmt, e=edition, r=rows, w=when: soa_salida.render(r, f, e, w),
                )
                (Path(tmp) / f"soa-{edition}.{fmt}").write_bytes(out)  # type: ignore[arg-type]
                total += took
    print(f"SoA de las dos ediciones: {number(total, 2)} s (objetivo < {number(TARGET_S)} s; "
          f"razón {number(total / TARGET_S, 3)})")  # fmt: skip


if __name__ == "__main__":
    main()
