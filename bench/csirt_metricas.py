"""`csirt metricas` over 10,000 cases, beside the same aggregate in raw sqlite3.

Writes N incidents (default 10,000) with realistic timelines (about 10 entries each: created,
assigned, phase changes through closure, notes, observables, a countermeasure, the CNSD
notification for most) into a fresh SQLite store through ``csirt.records.command``; then, in
fresh processes, times ``pukara csirt metricas --formato json`` (the whole command: start,
read, aggregate, output) and ``csirt.metricas.compute`` alone, and beside them the reference:
one raw sqlite3 query (json_extract, window functions, GROUP BY month and severity) giving
the same medians, 90th percentiles and counts. The two results are compared figure by figure.
Target: the command under 1 s. The machine's load and the CPU time of the command are printed too:
on a busy machine the wall time says more about the neighbours than about pukara.

Needs no lab and no root.

    python bench/csirt_metricas.py [--casos 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from csirt import records
from pukara.events import format_timestamp
from pukara.store import SQLiteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TARGET_S = 1.0
PHASES = ("nuevo", "analisis", "contencion", "erradicacion", "recuperacion", "post_incidente",
          "cerrado")  # fmt: skip
RSIT = [("fraud", "phishing"), ("malicious-code", "infected-system"),
        ("availability", "ddos"), ("intrusions", "system-compromise"),
        ("information-gathering", "scanner")]  # fmt: skip
CNSD = {"fraud": "Recopilación de información", "malicious-code": "Malware",
        "availability": "Disponibilidad", "intrusions": "Intrusión",
        "information-gathering": "Recopilación de información"}  # fmt: skip


def _ts(t: datetime) -> str:
    return format_timestamp(t)


def case(i: int, rnd: random.Random) -> tuple[dict[str, object], list[dict[str, object]]]:
    """One incident and its timeline: a case that walks the phases, some of it not yet."""
    inc = records.new_ulid(T0 + timedelta(minutes=i))
    created = T0 + timedelta(days=rnd.uniform(0, 330))
    detected = created - timedelta(minutes=rnd.uniform(0, 30))
    occurred = detected - timedelta(minutes=rnd.expovariate(1 / 600))
    cls, typ = RSIT[i % len(RSIT)]
    incident = {"id": inc, "number": f"INC-2026-{i + 1:04d}", "title": f"Caso {i}",
                "severity": rnd.randint(1, 4), "rsit_class": cls, "rsit_type": typ,
                "cnsd_class": CNSD[cls], "sites": [f"m{i % 135:03d}"], "status": "nuevo",
                "created_at": _ts(created)}  # fmt: skip
    t = created
    lines: list[dict[str, object]] = []

    def entry(kind: str, **extra: object) -> None:
        lines.append({"incident_id": inc, "id": records.new_ulid(t), "ts": _ts(t),
                      "tz": "America/Lima", "kind": kind, "message": kind, "source": "",
                      "raw_ref": "", "analyst": "ana", "fields": {}, **extra})  # fmt: skip

    entry("creado", fields={"detected_at": _ts(detected), "occurred_at": _ts(occurred)})
    t += timedelta(minutes=rnd.expovariate(1 / 20))
    entry("asignado", fields={"assignee": "ana"})
    last = rnd.choices(range(1, 7), weights=(1, 1, 1, 2, 2, 12))[0]  # most are closed
    for k in range(1, last + 1):
        t += timedelta(minutes=rnd.expovariate(1 / 240))
        entry("fase", **{"from": PHASES[k - 1], "to": PHASES[k]})
        if k == 1:
            entry("nota", message="análisis inicial")
            entry("observable", message="ipv4 198.51.100.7")
        if k == 2:
            entry("contramedida", message="bloquear_ip")
        if k == 3 and rnd.random() < 0.7:
            t += timedelta(minutes=rnd.expovariate(1 / 300))
            entry("notificacion_cnsd")
    incident["status"] = PHASES[last]
    return incident, lines


def build(db: Path, n: int) -> int:
    rnd = random.Random(13)
    count = 0
    with SQLiteStore(db, actor="bench") as store, records.command(store) as cmd:
        for i in range(n):
            incident, lines = case(i, rnd)
            cmd.put(records.INCIDENT, incident)
            for line in lines:
                cmd.put(records.TIMELINE, line)
            count += len(lines)
    return count


REFERENCE_SQL = """
WITH e AS (
  SELECT json_extract(doc, '$.incident_id') AS inc, json_extract(doc, '$.kind') AS kind,
         json_extract(doc, '$.ts') AS ts, json_extract(doc, '$.from') AS f,
         json_extract(doc, '$.to') AS t, json_extract(doc, '$.fields.detected_at') AS det,
         json_extract(doc, '$.fields.occurred_at') AS occ
  FROM entities WHERE collection = 'csirt.linea'
), c AS (
  SELECT inc, MIN(CASE WHEN kind = 'creado' THEN ts END) AS created,
         MIN(CASE WHEN kind = 'creado' THEN det END) AS det,
         MIN(CASE WHEN kind = 'creado' THEN occ END) AS occ,
         MIN(CASE WHEN kind = 'asignado' OR (kind = 'fase' AND f = 'nuevo') THEN ts END) AS ack,
         MIN(CASE WHEN kind = 'fase' AND t = 'erradicacion' THEN ts END) AS cont,
         MIN(CASE WHEN kind = 'notificacion_cnsd' THEN ts END) AS noti,
         MIN(CASE WHEN kind = 'fase' AND t = 'cerrado' THEN ts END) AS clos
  FROM e GROUP BY inc
), j AS (
  SELECT substr(c.created, 1, 7) AS month, json_extract(i.doc, '$.severity') AS sev,
         (julianday(det) - julianday(occ)) * 86400.0 AS ttd,
         (julianday(ack) - julianday(created)) * 86400.0 AS tta,
         (julianday(cont) - julianday(created)) * 86400.0 AS ttc,
         (julianday(noti) - julianday(created)) * 86400.0 AS ttn,
         (julianday(clos) - julianday(created)) * 86400.0 AS ttr
  FROM c JOIN entities i ON i.collection = 'csirt.incidente'
   AND json_extract(i.doc, '$.id') = c.inc
  WHERE c.created IS NOT NULL
), v AS (
  SELECT month, sev, 'ttd' AS m, ttd AS d FROM j WHERE ttd >= 0
  UNION ALL SELECT month, sev, 'tta', tta FROM j WHERE tta >= 0
  UNION ALL SELECT month, sev, 'ttc', ttc FROM j WHERE ttc >= 0
  UNION ALL SELECT month, sev, 'ttn', ttn FROM j WHERE ttn >= 0
  UNION ALL SELECT month, sev, 'ttr', ttr FROM j WHERE ttr >= 0
), r AS (
  SELECT month, sev, m, d, ROW_NUMBER() OVER (PARTITION BY month, sev, m ORDER BY d) AS rn,
         COUNT(*) OVER (PARTITION BY month, sev, m) AS n FROM v
)
SELECT month, sev, m, n, AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN d END),
       MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN d END) FROM r GROUP BY month, sev, m
UNION ALL
SELECT month, sev, 'cases', COUNT(*), NULL, NULL FROM j GROUP BY month, sev
"""


def reference(db: Path) -> tuple[float, dict[tuple[str, int], dict[str, object]]]:
    start = time.perf_counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(REFERENCE_SQL).fetchall()
    conn.close()
    elapsed = time.perf_counter() - start
    out: dict[tuple[str, int], dict[str, object]] = {}
    for month, sev, m, n, med, p in rows:
        group = out.setdefault((month, sev), {})
        if m == "cases":
            group["cases"] = n
        else:
            group.update({f"{m}_count": n, f"{m}_median_s": med, f"{m}_p90_s": p})
    return elapsed, out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of a child process and its stdout; its CPU seconds in ``LAST_CPU``."""
    global LAST_CPU
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    LAST_CPU = _cpu() - cpu
    return time.perf_counter() - start, done.stdout


LAST_CPU = 0.0


COMPUTE = """
import sys, time
from csirt import metricas
from pukara.store import SQLiteStore
store = SQLiteStore(sys.argv[1], read_only=True)
start = time.perf_counter()
result = metricas.compute(store)
print(time.perf_counter() - start)
"""


def compare(ours: list[dict[str, object]], ref: dict[tuple[str, int], dict[str, object]]) -> int:
    """How many figures differ (durations within 2 ms are the same: SQLite's julianday keeps
    milliseconds only)."""
    from csirt.metricas import METRICS

    wrong = 0
    mine = {(str(r["month"]), int(str(r["severity"]))): r for r in ours}
    for key in set(mine) | set(ref):
        a, b = mine.get(key), ref.get(key)
        if a is None or b is None:
            wrong += 1
            continue
        wrong += a["cases"] != b.get("cases")
        for m in METRICS:
            for suffix in ("count", "median_s", "p90_s"):
                x = a[f"{m}_{suffix}"]
                y = b.get(f"{m}_{suffix}", 0 if suffix == "count" else None)
                if x is None or y is None:
                    wrong += (x is None) != (y is None)
                elif abs(float(str(x)) - float(str(y))) > 2e-3:
                    wrong += 1
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--casos", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pukara-bench-") as tmp:
        db = Path(tmp) / "pukara.db"
        t = time.perf_counter()
        entries = build(db, args.casos)
        print(f"datos: {args.casos:,} casos, {entries:,} entradas de línea de tiempo "
              f"({time.perf_counter() - t:.1f} s para escribirlos)")  # fmt: skip
        env = {**os.environ, "PUKARA_DB": str(db), "PUKARA_ANALISTA": "bench"}
        pukara = str(Path(sys.executable).with_name("pukara"))
        _timed([pukara, "csirt", "metricas", "--formato", "json"], env)  # warm the page cache
        cmd_s, out = _timed([pukara, "csirt", "metricas", "--formato", "json"], env)
        cmd_cpu = LAST_CPU
        lib_s = float(_timed([sys.executable, "-c", COMPUTE, str(db)], env)[1])
        ref_s, ref = reference(db)
        ours = json.loads(out)
        wrong = compare(ours, ref)
        print(f"carga de la máquina (1 min): {os.getloadavg()[0]:.1f} en {os.cpu_count()} núcleos")
        print(
            f"pukara csirt metricas (comando completo): {cmd_s:.3f} s, CPU {cmd_cpu:.3f} s "
            f"(objetivo < {TARGET_S:.0f} s: {'cumple' if cmd_s < TARGET_S else 'NO cumple'})"
        )
        print(f"csirt.metricas.compute (solo el cálculo): {lib_s:.3f} s")
        print(f"referencia sqlite3 (json_extract, GROUP BY mes, severidad): {ref_s:.3f} s")
        print(
            f"razón comando / referencia: {cmd_s / ref_s:.2f}; "
            f"cálculo / referencia: {lib_s / ref_s:.2f}"
        )
        print(f"grupos: {len(ours)} (referencia {len(ref)}); cifras distintas: {wrong}"
              + (" — coinciden" if wrong == 0 and len(ours) == len(ref) else " — NO coinciden"))  # fmt: skip
        if wrong or len(ours) != len(ref):
            sys.exit(1)


if __name__ == "__main__":
    main()
