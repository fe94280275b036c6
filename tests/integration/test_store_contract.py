"""One contract, two stores: every read the areas make gives the same answer on the SQLite store
and on the cluster store (ElasticStore over the real 3-node OpenSearch cluster).

Each test runs once per store on the same events, written through that store's
``write_events``; for the cluster the events are then flushed and the streams refreshed. The
expected answers come from a plain-Python model of the semantics in ``pukara/store/query.py``,
and the reports (SLA, capacity) are compared with the same report built on a SQLite store.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pukara.config import Settings, load_settings
from pukara.events import format_timestamp, get_field, new_event_id, parse_timestamp
from pukara.store import Store, open_store
from pukara.store.cluster.engine import ALL_STREAMS, SearchEngine, stream_name
from pukara.store.elastic import ElasticStore
from pukara.store.query import EventQuery, FieldFilter
from pukara.store.sqlite import SQLiteStore
from tests.opensearch_cluster import OpenSearchCluster

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
# a live Elasticsearch 8 or 9 to run the contract against too (read now: the tests' own
# environment is cleaned of PUKARA_* variables)
ES_URL = os.environ.get("PUKARA_TEST_ES_URL")
ES_CA = os.environ.get("PUKARA_TEST_ES_CA")


class PlainBulk:
    """A plain ``_bulk`` of ``create`` actions keyed on ``event.id``, for tests that write to
    the cluster without the outbox (the contract itself goes through the outbox)."""

    def __init__(self, engine: Callable[[], SearchEngine]) -> None:
        self.engine = engine

    def put(self, events: Iterable[Mapping[str, Any]]) -> int:
        body = bytearray()
        new = 0
        for count, doc in enumerate(events, 1):
            dataset = get_field(doc, "event.dataset")
            meta = {"create": {"_index": stream_name(dataset), "_id": get_field(doc, "event.id")}}
            body += orjson.dumps(meta) + b"\n" + orjson.dumps(doc) + b"\n"
            if count % 2000 == 0:
                new += self._send(bytes(body))
                body.clear()
        if body:
            new += self._send(bytes(body))
        return new

    def _send(self, body: bytes) -> int:
        results = self.engine().bulk(body)
        assert all(r.status in (201, 409) for r in results), [r for r in results if r.status >= 300]
        return sum(r.status == 201 for r in results)

    def flush(self, timeout_s: float) -> bool:
        return True  # each put is sent before it returns

    def close(self, flush_timeout_s: float) -> None:
        pass


@dataclass
class Subject:
    kind: str
    store: Store
    settle: Callable[[], None]  # after writing: events visible to reads
    db: Path  # the SQLite file (in cluster mode: entities, change log, summaries)


def _settings(tmp_path: Path, url: str | None) -> Settings:
    # a generous timeout: the machine's two cores are shared, a busy minute is no failure
    values: dict[str, Any] = {"data_dir": tmp_path, "timeout_s": 30.0}
    if url:
        values["es_url"] = url
    return load_settings(values, environ={})


@pytest.fixture(scope="module")
def cluster_url(request: pytest.FixtureRequest) -> str:
    cluster: OpenSearchCluster = request.getfixturevalue("opensearch")
    return ",".join(cluster.urls)


@pytest.fixture(params=["sqlite", "cluster", "elasticsearch"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    db = tmp_path / "contrato.db"
    if request.param == "sqlite":
        sq = SQLiteStore(db)
        yield Subject("sqlite", sq, lambda: None, db)
        sq.close()
        return
    if request.param == "elasticsearch":
        if not ES_URL:
            pytest.skip("Elasticsearch en vivo: defina PUKARA_TEST_ES_URL (y PUKARA_TEST_ES_CA)")
        settings = load_settings(
            {
                "data_dir": tmp_path,
                "es_url": ES_URL,
                "timeout_s": 30.0,
                **({"es_ca": ES_CA} if ES_CA else {}),
            },
            environ={},
        )
        drop: Callable[[], None] = lambda: _drop_streams(engine)  # noqa: E731
    else:
        cluster: OpenSearchCluster = request.getfixturevalue("opensearch")
        settings = _settings(tmp_path, ",".join(cluster.urls))
        drop = lambda: cluster.request("DELETE", "/_data_stream/pukara-*")  # noqa: E731
    # the production path: open_store gives the ElasticStore whose write_events commits to
    # the outbox, and its shipper sends on; settle waits for the outbox to empty
    store = open_store(settings)
    assert isinstance(store, ElasticStore) and store.sink is not None
    engine = store.engine
    sink = store.sink

    def settle() -> None:
        assert sink.flush(120), "la cola local no se vació"
        engine.refresh(ALL_STREAMS)

    try:
        yield Subject(request.param, store, settle, settings.db)
    finally:
        drop()
        store.close()


def _drop_streams(engine: SearchEngine) -> None:
    names = [s["name"] for s in engine.data_streams(ALL_STREAMS)]
    client = getattr(engine, "_client", None)
    if names and client is not None:
        client.indices.delete_data_stream(name=",".join(names))


# -- the corpus ------------------------------------------------------------------------------
def _event(ts: datetime, dataset: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": format_timestamp(ts), "event": {"dataset": dataset}}
    for dotted, value in fields.items():
        node = doc
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return doc


def corpus() -> list[dict[str, Any]]:
    """Events of four datasets over a day: equal timestamps, one microsecond apart, mixed-case
    values, numbers, events lacking a field, a flat-keyed document."""
    rng = random.Random(12)  # noqa: S311 - a test corpus
    users = ["root", "Root", "admin", "operador", None]
    hosts = ["lima-fw1", "LIMA-FW2", "quito-sw1", "bogota-rt1"]
    docs: list[dict[str, Any]] = []
    for n in range(240):
        ts = T0 + timedelta(minutes=6 * n, microseconds=rng.choice([0, 1, 999, 1000]))
        dataset = ("registros.syslog", "monitoreo.sondeo", "monitoreo.enlace",
                   "inventario.descubrimiento")[n % 4]  # fmt: skip
        fields: dict[str, Any] = {
            "host__name": hosts[n % len(hosts)],
            "event__outcome": "failure" if n % 3 else "success",
            "source__ip": f"198.18.{n % 5}.{n % 7 + 1}",
            "source__port": 22 if n % 2 else 443,
            "message": f"Failed password for user{n % 4} from 198.18.{n % 5}.{n % 7 + 1} port 22",
        }
        if n % 3 == 0:  # fields no template names: typed by the engine from their values
            fields["monitoreo__rtt_ms"] = [21.5, 30.25, 2.0, 120.75][n % 4]
            fields["monitoreo__up"] = n % 2 == 0
        user = users[n % len(users)]
        if user is not None:
            fields["user__name"] = user
        docs.append(_event(ts, dataset, **fields))
        if n % 10 == 0:  # a second event of the same microsecond
            docs.append(_event(ts, dataset, host__name="lima-fw1", message="Accepted publickey"))
    docs.append({"@timestamp": format_timestamp(T0 + timedelta(hours=3)),
                 "event.dataset": "monitoreo.sondeo", "host.name": "plano",
                 "message": "documento con claves planas"})  # fmt: skip
    # ids in time order (not needed by the stores; it keeps the corpus easy to read)
    docs.sort(key=lambda d: d["@timestamp"])
    for d, i in zip(docs, sorted(new_event_id() for _ in docs), strict=True):
        if "event" in d:
            d["event"]["id"] = i
        else:
            d["event.id"] = i
    return docs


CORPUS = corpus()


def key(doc: Mapping[str, Any]) -> tuple[str, str]:
    return doc["@timestamp"], get_field(doc, "event.id")


def model(
    *,
    dataset: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Mapping[str, Any] | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    found = [
        d for d in CORPUS
        if (dataset is None or get_field(d, "event.dataset") == dataset)
        and (since is None or parse_timestamp(d["@timestamp"]) >= since)
        and (until is None or parse_timestamp(d["@timestamp"]) < until)
        and all(get_field(d, f) == v for f, v in (where or {}).items())
    ]  # fmt: skip
    found.sort(key=key, reverse=newest_first)
    return found if limit is None else found[:limit]


@pytest.fixture
def filled(subject: Subject) -> Subject:
    # not in time order, and two events of one microsecond in the reverse order of their ids:
    # the order read back is (@timestamp, event.id) on both stores, not the order written
    shuffled = list(reversed(CORPUS))
    subject.store.write_events(shuffled)
    subject.store.write_events(CORPUS[:50])  # again: stored once
    subject.settle()
    return subject


def ids(docs: Iterable[Mapping[str, Any]]) -> list[str]:
    return [get_field(d, "event.id") for d in docs]


# -- search_events -----------------------------------------------------------------------------
SEARCHES: list[dict[str, Any]] = [
    {},
    {"dataset": "monitoreo.sondeo"},
    {"dataset": "registros.syslog", "newest_first": True},
    {"since": T0 + timedelta(hours=2), "until": T0 + timedelta(hours=5)},
    # the window's edges, to the microsecond: since inclusive, until exclusive
    {
        "since": parse_timestamp(CORPUS[30]["@timestamp"]),
        "until": parse_timestamp(CORPUS[90]["@timestamp"]),
    },
    {"where": {"host.name": "lima-fw1"}},
    {"where": {"host.name": "LIMA-FW2", "event.outcome": "failure"}},
    {"where": {"user.name": "Root"}},  # exact: not "root"
    {"where": {"source.port": 22}, "dataset": "monitoreo.enlace"},
    {"where": {"source.ip": "198.18.3.4"}},
    {"dataset": "monitoreo.sondeo", "newest_first": True, "limit": 1},
    {"limit": 7},
    {"newest_first": True, "limit": 25, "until": T0 + timedelta(hours=10)},
    {"dataset": "no.existe"},
    {"where": {"host.name": "plano"}},
]


@pytest.mark.parametrize("args", SEARCHES, ids=[str(i) for i in range(len(SEARCHES))])
def test_search_events_is_the_same_on_both_stores(filled: Subject, args: dict[str, Any]) -> None:
    got = list(filled.store.search_events(**args))
    expected = model(**args)
    assert ids(got) == ids(expected)
    assert got == expected  # the documents as written


def test_a_search_streams_in_pages_without_losing_or_repeating(filled: Subject) -> None:
    if isinstance(filled.store, ElasticStore):
        from pukara.store.cluster import reads

        q = EventQuery(newest_first=True)
        got = list(reads.query_hits(filled.store.engine, q, page=7))
    else:
        got = list(filled.store.search_events(newest_first=True))
    assert ids(got) == ids(model(newest_first=True))


# -- counts, statistics, purge ---------------------------------------------------------------
def test_count_events(filled: Subject) -> None:
    s = filled.store
    cut = T0 + timedelta(hours=7, minutes=3)
    assert s.count_events() == len(CORPUS)
    assert s.count_events(datasets=["monitoreo.sondeo"]) == len(model(dataset="monitoreo.sondeo"))
    both = ["monitoreo.enlace", "registros.syslog"]
    expected = sum(len(model(dataset=d, until=cut)) for d in both)
    assert s.count_events(datasets=both, before=cut) == expected
    assert s.count_events(before=cut) == len(model(until=cut))
    assert s.count_events(datasets=[]) == 0
    assert s.count_events(datasets=["no.existe"]) == 0


def test_event_stats(filled: Subject) -> None:
    stats = filled.store.event_stats()
    datasets = sorted({get_field(d, "event.dataset") for d in CORPUS})
    assert [s.dataset for s in stats] == datasets
    for s in stats:
        mine = model(dataset=s.dataset)
        assert s.count == len(mine)
        assert s.oldest == parse_timestamp(mine[0]["@timestamp"])
        assert s.newest == parse_timestamp(mine[-1]["@timestamp"])


def test_purge_events(filled: Subject) -> None:
    s = filled.store
    cut = parse_timestamp(CORPUS[100]["@timestamp"])  # to the microsecond
    n = s.purge_events(cut, ["monitoreo.sondeo", "registros.syslog"])
    gone = [d for d in model(until=cut)
            if get_field(d, "event.dataset") in ("monitoreo.sondeo", "registros.syslog")]  # fmt: skip
    assert n == len(gone)
    filled.settle()
    left = {get_field(d, "event.id") for d in CORPUS} - set(ids(gone))
    assert set(ids(s.search_events())) == left
    assert s.purge_events(cut, []) == 0
    assert s.purge_events(cut + timedelta(hours=1)) == len(
        model(until=cut + timedelta(hours=1))
    ) - len(gone)


# -- query_events and top_values (EventQuery) ------------------------------------------------
QUERIES = [
    EventQuery(filters=(FieldFilter("user.name", "eq", "root"),)),
    EventQuery(filters=(FieldFilter("user.name", "ne", "root"),)),  # keeps events without it
    EventQuery(filters=(FieldFilter("host.name", "wildcard", "lima-*"),)),  # any case
    EventQuery(filters=(FieldFilter("host.name", "not_wildcard", "*FW?"),)),
    EventQuery(filters=(FieldFilter("source.ip", "eq", "198.18.2.3"),)),
    EventQuery(filters=(FieldFilter("source.ip", "wildcard", "198.18.3.*"),)),  # an ip field
    EventQuery(filters=(FieldFilter("source.port", "wildcard", "4*"),)),  # a long field
    EventQuery(filters=(FieldFilter("source.port", "eq", "abc"),)),  # no port: no match
    EventQuery(filters=(FieldFilter("source.ip", "eq", "198.18.2.0/30"),)),  # a network
    EventQuery(filters=(FieldFilter("source.ip", "ne", "no-es-una-ip"),)),
    EventQuery(filters=(FieldFilter("monitoreo.rtt_ms", "wildcard", "*.25"),)),  # dynamic
    EventQuery(filters=(FieldFilter("monitoreo.rtt_ms", "eq", "2.0"),)),
    EventQuery(filters=(FieldFilter("monitoreo.up", "eq", "true"),)),
    EventQuery(filters=(FieldFilter("monitoreo.up", "not_wildcard", "t*"),)),
    EventQuery(text="failed USER2"),
    EventQuery(text="accepted", datasets=("registros.syslog",)),
    EventQuery(
        since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=4), newest_first=True, limit=9
    ),
    EventQuery(
        after=(parse_timestamp(CORPUS[40]["@timestamp"]), get_field(CORPUS[40], "event.id"))
    ),
    EventQuery(
        after=(parse_timestamp(CORPUS[41]["@timestamp"]), get_field(CORPUS[41], "event.id")),
        newest_first=True,
        limit=5,
    ),
]


def _matches(d: Mapping[str, Any], q: EventQuery) -> bool:
    import fnmatch

    ts = parse_timestamp(d["@timestamp"])
    if (q.since is not None and ts < q.since) or (q.until is not None and ts >= q.until):
        return False
    if q.datasets and get_field(d, "event.dataset") not in q.datasets:
        return False
    for f in q.filters:
        value = get_field(d, f.field)
        text = None if value is None else json_text(value)
        if f.op in ("wildcard", "not_wildcard"):
            hit = text is not None and fnmatch.fnmatchcase(text.lower(), f.value.lower())
        elif f.field.endswith(".ip") and text is not None:  # an address field: the address
            hit = ip_equal(text, f.value)
        else:
            hit = text == f.value
        if hit == (f.op in ("ne", "not_wildcard")):
            return False
    message = str(d.get("message", "")).lower()
    if any(w.lower() not in message for w in (q.text or "").split()):
        return False
    if q.after is not None:
        mine = (ts, get_field(d, "event.id"))
        return mine < q.after if q.newest_first else mine > q.after
    return True


def json_text(value: Any) -> str:
    """A value's text form: as JSON writes it (``true``, ``2.0``), a string as it is."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def ip_equal(text: str, wanted: str) -> bool:
    import ipaddress

    try:
        address = ipaddress.ip_address(text)
        if "/" in wanted:
            return address in ipaddress.ip_network(wanted, strict=False)
        return address == ipaddress.ip_address(wanted)
    except ValueError:
        return text == wanted


def query_model(q: EventQuery) -> list[dict[str, Any]]:
    found = sorted((d for d in CORPUS if _matches(d, q)), key=key, reverse=q.newest_first)
    return found if q.limit is None else found[: q.limit]


def _needs(store: Store, name: str) -> Any:
    method = getattr(store, name, None)
    if method is None:
        pytest.skip(f"el almacén SQLite aún no tiene {name} (lo añade la búsqueda)")
    return method


@pytest.mark.parametrize("q", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_query_events_is_the_same_on_both_stores(filled: Subject, q: EventQuery) -> None:
    got = list(_needs(filled.store, "query_events")(q))
    assert ids(got) == ids(query_model(q))


@pytest.mark.parametrize("field", ["user.name", "host.name", "source.port", "event.outcome"])
def test_top_values_are_the_same_on_both_stores(filled: Subject, field: str) -> None:
    q = EventQuery(until=T0 + timedelta(hours=12))
    top = _needs(filled.store, "top_values")(field, q, 3)
    matched = query_model(q)
    counts: dict[str, int] = {}
    for d in matched:
        value = get_field(d, field)
        if value is not None:
            counts[json_text(value)] = counts.get(json_text(value), 0) + 1
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert top.total == len(matched)
    assert top.missing == sum(get_field(d, field) is None for d in matched)
    assert list(top.values) == expected


def test_top_values_are_exact_when_each_stream_hides_the_true_top(subject: Subject) -> None:
    """Each dataset (a data stream of its own in the cluster) holds 1,000 values twice and
    "zz" once: "zz" is the true top (3), yet it is in no stream's own first 1,000, so a
    ``terms`` aggregation with a ``shard_size`` would miss it."""
    docs = []
    for n, ds in enumerate(("prueba.tope_a", "prueba.tope_b", "prueba.tope_c")):
        for i in range(1000):
            for k in range(2):
                docs.append(_event(T0 + timedelta(seconds=i, microseconds=k), ds,
                                   user__name=f"{ds[-1]}{i:04d}"))  # fmt: skip
        docs.append(_event(T0 + timedelta(hours=1, seconds=n), ds, user__name="zz"))
    subject.store.write_events(docs)
    subject.settle()
    top = _needs(subject.store, "top_values")("user.name", EventQuery(), 3)
    assert top.total == len(docs) and top.missing == 0
    assert list(top.values) == [("zz", 3), ("a0000", 2), ("a0001", 2)]


# -- the reports the areas render from the store -------------------------------------------------
def _import_inventory(db: Path, folder: Path) -> None:
    from cli import main

    folder.mkdir(exist_ok=True)
    sedes = folder / "sedes.csv"
    sedes.write_text(
        "code,name,kind,country,city,timezone,parent,vpn_kit,availability_target\n"
        "lima,Sede central,sede_central,PE,Lima,America/Lima,,no,99.9\n"
        "m1,Misión uno,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires,lima,no,99.0\n"
        "m2,Misión dos,embajada,CL,Santiago,America/Santiago,lima,no,99.0\n"
    )
    activos = folder / "activos.csv"
    activos.write_text(
        "name,kind,site,mgmt_ipv4,status\n"
        "gw-m1,router,m1,198.18.0.6,activo\ngw-m2,router,m2,198.18.0.10,activo\n"
        "srv1,servidor_fisico,lima,198.18.9.10,activo\nsrv2,maquina_virtual,lima,198.18.9.11,activo\n"
    )
    for f in (sedes, activos):
        assert main(["--base-datos", str(db), "inventario", "importar", str(f), "-q"]) == 0


def _month_of_monitoring() -> tuple[list[dict[str, Any]], list[Any]]:
    """Rounds of October for m1 and m2 (m2 down for a while), an isolation of the monitor,
    link polls with speeds and an SNMP error: what the SLA report reads from events."""
    from monitoreo import rounds, summaries
    from monitoreo.prober import ProbeOptions, Target
    from monitoreo.stats import summarize

    options = ProbeOptions(3, 10, 50, 500)
    start = datetime(2026, 10, 3, 12, tzinfo=UTC)
    events: list[dict[str, Any]] = []
    rows: list[Any] = []
    for n in range(36):  # three hours of 5-minute rounds
        results = []
        for code, addr in (("m1", "198.18.0.6"), ("m2", "198.18.0.10")):
            rtts: list[float | None] = [20.0 + n % 3, 21.0, 22.5]
            if code == "m2" and 10 <= n < 16:
                rtts = [None, None, None]
            results.append(rounds.TargetRound(Target(code, addr, site=code), rtts,
                                              summarize(rtts), None))  # fmt: skip
        rnd = rounds.Round(f"r{n}", start + timedelta(minutes=5 * n), options, results)
        batch = rounds.round_events(rnd)
        events.extend(batch)
        rows.extend(summaries.build(batch, rnd.started, 300_000_000))
    for minutes, action in ((40, "isolated"), (55, "isolated_end")):
        events.append(_event(start + timedelta(minutes=minutes), "monitoreo.estado",
                             monitoreo__entity="monitor", event__action=action))  # fmt: skip
    for minutes, outcome, extra in (
        (10, "success", {"monitoreo__link__speed_mbps": 100, "monitoreo__link__in_octets": 5}),
        (70, "success", {"monitoreo__link__speed_mbps": 50, "monitoreo__link__in_octets": 9}),
        (120, "failure", {"error__message": "timeout SNMP"}),
    ):
        for code in ("m1", "m2"):
            events.append(_event(start + timedelta(minutes=minutes), "monitoreo.enlace",
                                 host__name=code, event__outcome=outcome, **extra))  # fmt: skip
    for ev in events:
        ev.setdefault("event", {}).setdefault("id", new_event_id())
    return events, rows


def test_the_sla_report_is_identical_on_both_stores(subject: Subject, tmp_path: Path) -> None:
    from monitoreo import report, sites

    events, rows = _month_of_monitoring()
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    built = []
    with SQLiteStore(tmp_path / "referencia.db") as ref:
        _import_inventory(ref.path, tmp_path / "inv-ref")
        ref.write_events(events)
        ref.write_summaries(rows)
        built.append(report.build(ref, sites.load_sites(ref), "2026-10", now=now))
    _import_inventory(subject.db, tmp_path / "inv")
    subject.store.write_events(events)
    subject.store.write_summaries(rows)
    subject.settle()
    built.append(report.build(subject.store, sites.load_sites(subject.store), "2026-10", now=now))
    expected, got = built
    assert expected["summary"]["isolation_periods"] == 1  # the data reaches the report
    assert {r["site"]: r["speed_mbps"] for r in expected["speeds"]} == {"m1": 50, "m2": 50}
    assert got == expected
    assert report.html(got) == report.html(expected)


def test_the_capacity_report_is_identical_on_both_stores(subject: Subject, tmp_path: Path) -> None:
    from inventario import catalog, observations, reports
    from inventario.model import ASSETS
    from pukara.results import Result, Status

    def facts(cpu: float, disk: float) -> dict[str, Any]:
        return {"cpu_count": 4, "cpu_used_pct": cpu, "load_avg": [1.0, 2.0, 3.25],
                "memory_mb": 16384, "memory_used_pct": 40.0, "disk_used_pct": disk,
                "disks": [{"size_gb": 100.0, "used_pct": disk}]}  # fmt: skip

    with SQLiteStore(tmp_path / "referencia.db") as ref:
        _import_inventory(ref.path, tmp_path / "inv-ref")
        for cpu in (35.0, 95.5):  # two runs: the newest counts
            observations.record(ref, "ansible", [
                Result("198.18.9.10", Status.OK, data={"facts": {"name": "srv1", **facts(cpu, 50.0)}}),
                Result("198.18.9.11", Status.OK, data={"facts": {"name": "srv2", **facts(10.0, 93.0)}}),
            ])  # fmt: skip
        events = list(ref.search_events())
        entities = {c: list(ref.entities(c)) for c in (ASSETS, observations.COLLECTION)}

        def build(store: Store) -> reports.Capacity:
            return reports.capacity(catalog.assets(store), observations.current(store),
                                    observations.latest_metrics(store), reports.Thresholds())  # fmt: skip

        expected = build(ref)
    subject.store.upsert(ASSETS, entities[ASSETS], key=["name"])
    subject.store.upsert(observations.COLLECTION, entities[observations.COLLECTION],
                         key=list(observations.KEY))  # fmt: skip
    subject.store.write_events(events)
    subject.settle()
    got = build(subject.store)
    assert sorted(expected.over) == ["srv1", "srv2"]  # the newest run is the one read
    assert got == expected


# -- G5: a long read is exact --------------------------------------------------------------------
def test_pit_and_search_after_return_every_event_exactly_once(
    opensearch: OpenSearchCluster, tmp_path: Path
) -> None:
    """50,000 events, eight per microsecond so that ties straddle every page boundary, read
    back in pages of 1,000 while more are written: exactly N unique event.id, in order.

    Not 1,000,000 (research goal G5): that is ~300 MB through a 3-node cluster on 2 shared
    cores, minutes of indexing for every run of the suite; 50 pages already cross a page
    boundary inside runs of equal timestamps 50 times, which is what could lose or repeat.
    """
    from pukara.store.cluster import reads

    store = open_store(_settings(tmp_path, ",".join(opensearch.urls)))
    assert isinstance(store, ElasticStore) and store.sink is not None
    engine = store.engine
    # OpenSearch 2.19: [@timestamp, event.id] alone; 3.3 and later: then _shard_doc
    # (PUKARA_TEST_OPENSEARCH=3.8.0.0 runs this on 3.8)
    assert engine.capabilities.shard_doc == (engine.info.version >= (3, 3, 0))
    try:
        n = 50_000
        docs = []
        event_ids = sorted(new_event_id() for _ in range(n))
        for i, event_id in enumerate(event_ids):
            ts = T0 + timedelta(microseconds=i // 8)
            docs.append({"@timestamp": format_timestamp(ts),
                         "event": {"dataset": "prueba.exportar", "id": event_id}})  # fmt: skip
        store.write_events(docs)  # into the outbox; the shipper sends them on
        assert store.sink.flush(300)
        engine.refresh(ALL_STREAMS)
        seen: list[str] = []
        q = EventQuery(datasets=("prueba.exportar",))
        for i, doc in enumerate(reads.query_hits(engine, q, page=1_000)):
            seen.append(doc["event"]["id"])
            if i == 10_000:  # written after the point in time: not in this read
                store.write_events([{"@timestamp": format_timestamp(T0),
                                     "event": {"dataset": "prueba.exportar", "id": "0-tarde"}}])  # fmt: skip
                assert store.sink.flush(60)
                engine.refresh(ALL_STREAMS)
        assert len(seen) == n and len(set(seen)) == n
        assert seen == event_ids  # (timestamp, event.id) order
        assert store.count_events(datasets=["prueba.exportar"]) == n + 1
    finally:
        store.close()
        opensearch.request("DELETE", "/_data_stream/pukara-eventos-prueba.exportar")


def test_almacen_estado_counts_the_clusters_events_in_cluster_mode(
    opensearch: OpenSearchCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In cluster mode the events live in the cluster, not in the local SQLite file: estado
    counts them there, and says the outbox is empty once the shipper is done."""
    import json

    from cli import main

    settings = _settings(tmp_path, ",".join(opensearch.urls))
    store = open_store(settings)
    assert isinstance(store, ElasticStore) and store.sink is not None
    try:
        docs = [_event(T0 + timedelta(seconds=i), "prueba.estado", message=f"n{i}")
                for i in range(25)]  # fmt: skip
        store.write_events(docs)
        assert store.sink.flush(120)
        store.engine.refresh(ALL_STREAMS)
    finally:
        store.close()
    local = SQLiteStore(settings.db)
    try:  # events of before the cluster, in the SQLite file: estado says how to copy them
        local.write_events([_event(T0, "prueba.antes", message="antes")])
    finally:
        local.close()
    try:
        monkeypatch.setenv("PUKARA_ES_URL", settings.es_url or "")
        assert main(["--base-datos", str(settings.db), "almacen", "estado"]) == 0
        said = " ".join(capsys.readouterr().err.split())
        assert "25 eventos en el clúster." in said
        assert "La base SQLite guarda además 1 evento" in said and "almacen migrar" in said
        code = main(["--base-datos", str(settings.db), "almacen", "estado", "--formato", "json"])
        out = json.loads(capsys.readouterr().out)
        assert code == 0
        assert out["cluster"]["reachable"] is True
        assert {d["dataset"]: d["count"] for d in out["datasets"]}.get("prueba.estado") == 25
        assert out["outbox"]["backlog"] == 0
        local = SQLiteStore(settings.db, read_only=True)
        try:
            assert local.count_events() == 1  # cluster mode wrote no event to SQLite
        finally:
            local.close()
    finally:
        opensearch.request("DELETE", f"/_data_stream/{stream_name('prueba.estado')}")
