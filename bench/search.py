"""`registros buscar` / `registros resumen` over 1,000,000 ECS syslog events, beside raw SQL.

Generates N realistic ECS syslog events (default 1,000,000: sshd, sudo, nftables, cron...
from 300 hosts over 30 days) into a fresh SQLite store through ``write_events``, then times
the store's ``query_events`` / ``top_values`` for

  (a) a one-hour window + ``event.outcome=failure`` (the 100 newest, as ``buscar`` asks,
      and every match of the window),
  (b) the same + ``user.name=root``,
  (c) ``top_values`` of ``user.name`` and ``source.ip`` over one day,

and, on the same file, a bare ``sqlite3`` connection running the equivalent hand-written SQL
(``json_extract``, same rows decoded with orjson): the ratio raw/store is printed (1.00 = as
fast as hand-written SQL). Target: (a) and (b) under 100 ms on SQLite.

The cluster side (marked CLUSTER HOOK below) runs the same queries through the cluster
store on a real OpenSearch cluster (tests/opensearch_cluster.py) loaded with the same events,
when ``pukara.store.elastic`` exists and the runner's jars are in .cache (``make
motor-opensearch``); otherwise it says why it did not run.

    python bench/search.py [--eventos N] [--repeticiones 7] [--sin-cluster]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pukara.events import make_event
from pukara.store import SQLiteStore
from pukara.store.query import EventQuery, FieldFilter, TopValues
from pukara.store.sqlite import to_us

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 30
HOSTS = [f"{site}-{kind}{n}" for site in ("lim", "was", "mad", "bog", "scl", "tyo")
         for kind in ("fw", "sw", "srv", "rt", "ap") for n in range(1, 11)]  # fmt: skip
USERS = ["root", "admin", "oracle", "ubuntu", "jperez", "mquispe", "backup", "test", "deploy"]
HOUR = START + timedelta(days=15, hours=10)
DAY = START + timedelta(days=15)


def _ip(rng: random.Random) -> str:
    return f"198.{18 + rng.randrange(2)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _event_id(ts: datetime, rng: random.Random) -> str:
    """A UUIDv7 as pukara makes them, from the event's time and the seeded generator."""
    ms = int(ts.timestamp() * 1000)
    value = ms << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def events(n: int, seed: int = 12) -> Iterator[dict[str, Any]]:
    """N events spread evenly over DAYS days, in time order, as the intake would store them."""
    rng = random.Random(seed)
    step = timedelta(days=DAYS) / n
    for i in range(n):
        ts = START + i * step
        host = HOSTS[rng.randrange(len(HOSTS))]
        kind = rng.random()
        user = USERS[min(int(rng.expovariate(0.6)), len(USERS) - 1)]
        ip = _ip(rng)
        pid = rng.randrange(1000, 65000)
        fields: dict[str, Any] = {"host.name": host, "log.syslog.hostname": host,
                                  "process.pid": pid}  # fmt: skip
        if kind < 0.45:  # sshd: mostly failures
            ok = rng.random() < 0.3
            port = rng.randrange(30000, 65000)
            verb = "Accepted" if ok else "Failed"
            msg = f"{verb} password for {user} from {ip} port {port} ssh2"
            fields |= {"log.syslog.appname": "sshd", "source.ip": ip, "source.port": port,
                       "user.name": user, "event.category": ["authentication"],
                       "event.action": "ssh_login"}  # fmt: skip
            outcome, dataset = ("success" if ok else "failure"), "registros.sshd"
        elif kind < 0.6:
            ok = rng.random() < 0.8
            msg = (f"{user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl"
                   if ok else f"pam_unix(sudo:auth): authentication failure; user={user}")  # fmt: skip
            fields |= {"log.syslog.appname": "sudo", "user.name": user,
                       "event.category": ["process"], "event.action": "sudo"}  # fmt: skip
            outcome, dataset = ("success" if ok else "failure"), "registros.sudo"
        elif kind < 0.85:
            dport = rng.choice([22, 23, 445, 3389, 8080, 161])
            msg = (f"nft drop IN=eth0 OUT= SRC={ip} DST=198.18.0.1 PROTO=TCP SPT="
                   f"{rng.randrange(1024, 65000)} DPT={dport}")  # fmt: skip
            fields |= {"log.syslog.appname": "kernel", "source.ip": ip,
                       "destination.port": dport, "event.category": ["network"],
                       "event.action": "firewall_drop"}  # fmt: skip
            outcome, dataset = "failure", "registros.kernel"
        else:
            msg = f"({user}) CMD (/usr/local/bin/respaldo.sh > /dev/null 2>&1)"
            fields |= {"log.syslog.appname": "CRON", "user.name": user,
                       "event.action": "cron"}  # fmt: skip
            outcome, dataset = "success", "registros.syslog"
        doc = make_event(dataset, timestamp=ts, message=msg, outcome=outcome, fields=fields)
        doc["event"]["original"] = f"<38>{ts:%b %d %H:%M:%S} {host} {msg}"
        doc["event"]["id"] = _event_id(ts, rng)  # the same ids on every run, both stores
        yield doc


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` runs after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, result


def _failure(extra: tuple[FieldFilter, ...] = ()) -> tuple[FieldFilter, ...]:
    return (FieldFilter("event.outcome", "eq", "failure"), *extra)


QUERIES: dict[str, EventQuery] = {
    "(a) 1 h + event.outcome=failure, 100 más recientes": EventQuery(
        since=HOUR,
        until=HOUR + timedelta(hours=1),
        filters=_failure(),
        limit=100,
        newest_first=True,
    ),
    "(a) 1 h + event.outcome=failure, todos": EventQuery(
        since=HOUR, until=HOUR + timedelta(hours=1), filters=_failure()
    ),
    "(b) (a) + user.name=root, 100 más recientes": EventQuery(
        since=HOUR,
        until=HOUR + timedelta(hours=1),
        filters=_failure((FieldFilter("user.name", "eq", "root"),)),
        limit=100,
        newest_first=True,
    ),
}
TOPS = {"(c) top 5 user.name, 1 día": "user.name", "(c) top 5 source.ip, 1 día": "source.ip"}
DAY_QUERY = EventQuery(since=DAY, until=DAY + timedelta(days=1))


def raw_sql(db: Path) -> dict[str, Callable[[], Any]]:
    """The same questions as hand-written SQL on a bare sqlite3 connection."""
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
    h0, h1 = to_us(HOUR), to_us(HOUR + timedelta(hours=1))
    d0, d1 = to_us(DAY), to_us(DAY + timedelta(days=1))
    fail = "json_extract(doc, '$.event.outcome') = 'failure'"
    root = "json_extract(doc, '$.user.name') = 'root'"
    window = "ts_us >= ? AND ts_us < ?"

    def docs(sql: str, *params: Any) -> Callable[[], list[Any]]:
        return lambda: [orjson.loads(d) for (d,) in conn.execute(sql, params)]

    def top(path: str) -> Callable[[], Any]:
        def run() -> Any:
            total = conn.execute(f"SELECT count(*) FROM events WHERE {window}", (d0, d1)).fetchone()
            missing = conn.execute(
                f"SELECT count(*) FROM events WHERE {window} AND json_extract(doc, ?) IS NULL",
                (d0, d1, path),
            ).fetchone()
            values = conn.execute(
                f"SELECT json_extract(doc, ?) AS v, count(*) AS n FROM events WHERE {window}"
                " AND v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT 5",
                (path, d0, d1),
            ).fetchall()
            return total, missing, values

        return run

    keys = list(QUERIES)
    order = "ORDER BY ts_us DESC, event_id DESC LIMIT 100"
    return {
        keys[0]: docs(f"SELECT doc FROM events WHERE {window} AND {fail} {order}", h0, h1),
        keys[1]: docs(
            f"SELECT doc FROM events WHERE {window} AND {fail} ORDER BY ts_us, event_id", h0, h1
        ),
        keys[2]: docs(
            f"SELECT doc FROM events WHERE {window} AND {fail} AND {root} {order}", h0, h1
        ),
        **{name: top(f"$.{field}") for name, field in TOPS.items()},
    }


def store_side(store: Any) -> dict[str, Callable[[], Any]]:
    runs: dict[str, Callable[[], Any]] = {
        name: (lambda q=q: list(store.query_events(q))) for name, q in QUERIES.items()
    }
    for name, field in TOPS.items():
        runs[name] = lambda field=field: store.top_values(field, DAY_QUERY)
    return runs


def _size(result: Any) -> str:
    if isinstance(result, TopValues):
        return f"{result.total:,} eventos, {len(result.values)} valores"
    if isinstance(result, tuple):
        return f"{result[0][0]:,} eventos, {len(result[2])} valores"
    return f"{len(result):,} eventos"


# -- CLUSTER HOOK ---------------------------------------------------------------------------
BULK_DOCS = 1_000  # documents per raw _bulk request (the client waits 5 s for an answer)


def cluster_side(n: int, repeat: int) -> dict[str, tuple[float, Any]] | str:
    """CLUSTER HOOK: the same queries through the cluster store on a real OpenSearch
    cluster loaded with the same events, or why they did not run.

    Needs ``pukara.store.elastic.ElasticStore`` (the cluster store, whose ``query_events`` and
    ``top_values`` are timed exactly as the SQLite store's) and the runner's jars in .cache
    (``make motor-opensearch``). The events go in through a raw ``_bulk`` (``create``,
    ``_id`` = ``event.id``, into the data stream each event's dataset names): this measures
    searching, not the outbox.
    """
    try:
        from pukara.store.elastic import ElasticStore
    except ImportError:
        return "pukara.store.elastic (ElasticStore) aún no está en esta rama"
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.opensearch_cluster import OpenSearchCluster, runner_version, why_not

    reason = why_not(runner_version())
    if reason:
        return reason
    with tempfile.TemporaryDirectory(prefix="pukara-bench-search-os-") as tmp:
        cluster = OpenSearchCluster(Path(tmp) / "cluster")
        cluster.start()
        try:
            engine = _cluster_engine(cluster.url, Path(tmp))
            t0 = time.perf_counter()
            loaded = _bulk_load(engine, events(n))
            load_s = time.perf_counter() - t0
            print(f"clúster: {loaded:,} eventos por _bulk en {load_s:.1f} s "
                  f"({loaded / load_s:,.0f} eventos/s), {len(cluster.urls)} nodos")  # fmt: skip
            local = SQLiteStore(":memory:")
            store = ElasticStore(local, lambda: engine)
            try:
                return {name: timed(fn, repeat) for name, fn in store_side(store).items()}
            finally:
                store.close()
        finally:
            cluster.stop(keep_data=False)


def _cluster_engine(url: str, data_dir: Path) -> Any:
    from pukara.config import load_settings
    from pukara.store.cluster import templates
    from pukara.store.cluster.client import connect

    settings = load_settings({"es_url": url, "data_dir": data_dir}, environ={})
    engine = connect(settings)
    templates.install(engine)
    return engine


def _bulk(engine: Any, body: bytes) -> list[Any]:
    """One _bulk, again after a pause while the cluster is too busy to answer in time (a
    retried ``create`` of a stored document answers 409: already there)."""
    from pukara.store.cluster.engine import EngineUnavailable

    for attempt in range(8):
        try:
            results: list[Any] = engine.bulk(body)
        except EngineUnavailable:
            time.sleep(2**attempt)
            continue
        return results
    raise RuntimeError("el clúster no respondió a _bulk tras 8 intentos")


def _bulk_load(engine: Any, docs: Iterator[dict[str, Any]]) -> int:
    from pukara.store.cluster.engine import ALL_STREAMS, stream_name

    created = 0
    while True:
        lines: list[bytes] = []
        for doc in docs:
            action = {"create": {"_index": stream_name(doc["event"]["dataset"]),
                                 "_id": doc["event"]["id"]}}  # fmt: skip
            lines += [orjson.dumps(action), orjson.dumps(doc)]
            if len(lines) >= 2 * BULK_DOCS:
                break
        if not lines:
            break
        results = _bulk(engine, b"\n".join(lines) + b"\n")
        bad = [r for r in results if r.status not in (200, 201, 409)]
        if bad:
            raise RuntimeError(f"_bulk rechazó {len(bad)} documentos: {bad[0]}")
        created += len(results)
    engine.refresh(ALL_STREAMS)
    return created


def _brief(result: Any) -> str:
    if isinstance(result, TopValues):
        return f"total {result.total}, sin valor {result.missing}, {list(result.values)}"
    return str([d["event"]["id"] for d in result[:5]])


def _same(a: Any, b: Any) -> bool:
    """Whether the cluster gave what SQLite gave: the same events in the same order, or the
    same top values."""
    if isinstance(a, list) and isinstance(b, list):
        return [d["event"]["id"] for d in a] == [d["event"]["id"] for d in b]
    return bool(a == b)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--eventos", type=int, default=1_000_000)
    parser.add_argument("--repeticiones", type=int, default=7)
    parser.add_argument("--sin-cluster", action="store_true")
    args = parser.parse_args()
    mine: dict[str, tuple[float, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="pukara-bench-search-") as tmp:
        db = Path(tmp) / "store.db"
        store = SQLiteStore(db)
        t0 = time.perf_counter()
        stored = store.write_events(events(args.eventos))
        load_s = time.perf_counter() - t0
        print(f"eventos: {stored:,} en {load_s:.1f} s ({stored / load_s:,.0f} eventos/s, "
              f"{db.stat().st_size / 2**20:,.0f} MiB)")  # fmt: skip
        raw = raw_sql(db)
        ours = store_side(store)
        print(f"{'consulta':<52} {'SQLite':>10} {'SQL a mano':>11} {'razón':>6}  resultado")
        failed = False
        for name in ours:
            ms, result = mine[name] = timed(ours[name], args.repeticiones)
            raw_ms, raw_result = timed(raw[name], args.repeticiones)
            target = " (meta < 100 ms)" if name.startswith(("(a)", "(b)")) else ""
            failed = failed or bool(target and ms >= 100)
            print(f"{name:<52} {ms:>8.1f} ms {raw_ms:>8.1f} ms {raw_ms / ms:>6.2f}  "
                  f"{_size(result)} / {_size(raw_result)}{target}")  # fmt: skip
        store.close()
    if not args.sin_cluster:
        cluster = cluster_side(args.eventos, args.repeticiones)
        if isinstance(cluster, str):
            print(f"clúster: no se midió: {cluster}")
        else:
            print(f"{'consulta':<52} {'SQLite':>10} {'clúster':>10}  mismo resultado")
            for name, (ms, result) in cluster.items():
                target = " (meta < 100 ms)" if name.startswith(("(a)", "(b)")) else ""
                failed = failed or bool(target and ms >= 100)
                same = _same(mine[name][1], result)
                failed = failed or not same
                print(f"{name:<52} {mine[name][0]:>8.1f} ms {ms:>7.1f} ms  "
                      f"{'sí' if same else 'NO'}, {_size(result)}{target}")  # fmt: skip
                if not same:
                    print(f"    SQLite:  {_brief(mine[name][1])}\n    clúster: {_brief(result)}")
    if failed:
        print("META NO CUMPLIDA: una consulta (a)/(b) tardó 100 ms o más, o el clúster difiere")
        sys.exit(1)


if __name__ == "__main__":
    main()
