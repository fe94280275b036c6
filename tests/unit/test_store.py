import ast
import hashlib
import multiprocessing
import os
import sqlite3
import stat
import threading
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from pukara.errors import SchemaTooNewError, StoreError
from pukara.events import make_event
from pukara.store import SQLiteStore, changelog, migrations, rollups
from pukara.store import sqlite as sqlite_store
from pukara.store.migrations import MIGRATIONS, SCHEMA_VERSION

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _events(n: int, start: datetime = T0) -> list[dict[str, object]]:
    return [
        make_event(
            "monitoreo.sondeo" if i % 2 else "inventario.descubrimiento",
            timestamp=start + timedelta(minutes=i),
            fields={"host.name": f"s{i % 5:03d}", "source.ip": f"198.18.0.{i % 200}"},
        )
        for i in range(n)
    ]


def test_new_database_is_wal_and_current_schema(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as s:
        assert s.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_time_range_and_field_equality(store: SQLiteStore) -> None:
    assert store.write_events(_events(600)) == 600
    window = list(
        store.search_events(since=T0 + timedelta(minutes=60), until=T0 + timedelta(minutes=120))
    )
    assert len(window) == 60
    assert window[0]["@timestamp"] == "2026-10-01T01:00:00.000000Z"
    probes = list(store.search_events(dataset="monitoreo.sondeo", where={"host.name": "s001"}))
    assert len(probes) == 60 and all(e["host"]["name"] == "s001" for e in probes)
    by_ip = list(store.search_events(where={"source.ip": "198.18.0.7"}))  # not an indexed column
    assert [e["source"]["ip"] for e in by_ip] == ["198.18.0.7"] * 3
    newest = list(store.search_events(limit=2, newest_first=True))
    assert newest[0]["@timestamp"] > newest[1]["@timestamp"]


def test_bad_event_is_refused_and_batch_not_half_written(store: SQLiteStore) -> None:
    good = _events(3)
    with pytest.raises(StoreError, match="@timestamp"):
        store.write_events([*good, {"event": {"dataset": "x.y"}}])
    assert store.count_events() == 0


def test_upsert_is_idempotent_by_natural_key(store: SQLiteStore) -> None:
    rows = [{"code": "LIM", "name": "Lima"}, {"code": "WAS", "name": "Washington"}]
    assert store.upsert("sites", rows, key=["code"]).inserted == 2
    again = store.upsert("sites", rows, key=["code"])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    changed = store.upsert("sites", [{"code": "LIM", "name": "Lima (sede central)"}], key=["code"])
    assert changed.updated == 1
    assert store.get("sites", ["LIM"]) == {"code": "LIM", "name": "Lima (sede central)"}
    assert len(list(store.entities("sites"))) == 2
    assert len(list(store.changes())) == 3  # two inserts and one update, no-ops not logged


def test_upsert_is_all_or_nothing(store: SQLiteStore) -> None:
    with pytest.raises(StoreError, match="clave natural"):
        store.upsert("sites", [{"code": "LIM"}, {"name": "sin código"}], key=["code"])
    assert list(store.entities("sites")) == []
    assert list(store.changes()) == []


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nuevo.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match=r"nuevo\.db.*más nuevo"):
        SQLiteStore(path)


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "roto.db"
    path.write_bytes(b"esto no es sqlite" * 100)
    with pytest.raises(StoreError, match=r"roto\.db: el archivo no es una base de datos"):
        SQLiteStore(path)
    assert path.read_bytes().startswith(b"esto no es sqlite")  # left untouched


def test_unwritable_location_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "archivo"
    blocker.write_text("")
    with pytest.raises(StoreError, match="archivo"):
        SQLiteStore(blocker / "sub" / "x.db")


def test_forward_migration_from_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "viejo.db"
    sqlite3.connect(path).close()  # version 0
    with SQLiteStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION


def _writer(path: str, worker: int, n: int) -> None:
    with SQLiteStore(path) as s:
        for i in range(0, n, 50):
            s.write_events(
                make_event(
                    "prueba.concurrencia", fields={"host.name": f"w{worker}", "event.sequence": j}
                )
                for j in range(i, i + 50)
            )
            s.upsert("sites", [{"code": f"W{worker}-{i}"}], key=["code"])


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "compartida.db")
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 2000)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with SQLiteStore(path) as s:
        assert s.count_events() == 4000
        for w in (1, 2):
            seqs = sorted(
                e["event"]["sequence"] for e in s.search_events(where={"host.name": f"w{w}"})
            )
            assert seqs == list(range(2000))
        assert len(list(s.entities("sites"))) == 80
        report = s.verify_changes()
        assert report.ok and report.checked == 80


def test_upsert_logs_the_stored_form_of_non_json_values(store: SQLiteStore) -> None:
    bought = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    row = {"tag": "SRV-01", "purchased": bought}
    assert store.upsert("assets", [row], key=["tag"]).inserted == 1
    assert store.upsert("assets", [row], key=["tag"]).unchanged == 1  # still idempotent
    stored = store.get("assets", ["SRV-01"])
    assert stored == {"tag": "SRV-01", "purchased": "2024-03-01T09:30:00+00:00"}
    assert [c.after for c in store.changes()] == [stored]
    assert store.verify_changes().ok


def test_unserialisable_entity_is_refused_whole(store: SQLiteStore) -> None:
    with pytest.raises(StoreError, match="no serializable"):
        store.upsert("assets", [{"tag": "A"}, {"tag": "B", "raw": object()}], key=["tag"])
    assert list(store.entities("assets")) == []


@pytest.mark.parametrize(
    "stamp",
    ["2026-10-01T00:00:00.-12345Z", "2026-10-01T00:00:00.1_2345Z", "2026-13-01T00:00:00.000000Z"],
)
def test_malformed_timestamp_is_refused(store: SQLiteStore, stamp: str) -> None:
    with pytest.raises(StoreError, match="@timestamp inválido"):
        store.write_events([{"@timestamp": stamp, "event": {"dataset": "x.y"}}])
    assert store.count_events() == 0


# -- idempotent writes on event.id -----------------------------------------------------------
def test_writing_the_same_batch_twice_stores_it_once(store: SQLiteStore) -> None:
    batch = _events(300)
    assert store.write_events(batch) == 300
    assert store.write_events(batch) == 0  # a spool replayed after a crash
    assert store.write_events([*batch[:10], *_events(5)]) == 5
    assert store.count_events() == 305
    ids = [e["event"]["id"] for e in store.search_events()]
    assert len(set(ids)) == 305


def test_duplicates_inside_one_batch_are_stored_once(store: SQLiteStore) -> None:
    one = _events(1)[0]
    assert store.write_events([one, dict(one), one]) == 1
    assert store.count_events() == 1


def test_event_without_id_gets_one_that_is_stored(store: SQLiteStore) -> None:
    doc = {"@timestamp": "2026-10-01T00:00:00.000000Z", "event": {"dataset": "x.y"}}
    assert store.write_events([doc]) == 1
    assert "id" not in doc["event"]  # the caller's document is left as it was
    (stored,) = store.search_events()
    assert len(stored["event"]["id"]) == 36
    assert list(store.search_events(where={"event.id": stored["event"]["id"]})) == [stored]


def test_event_with_a_malformed_id_is_refused(store: SQLiteStore) -> None:
    doc = {"@timestamp": "2026-10-01T00:00:00.000000Z", "event": {"dataset": "x.y", "id": 7}}
    with pytest.raises(StoreError, match=r"event\.id inválido"):
        store.write_events([doc])


def _schema_1(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    return conn


def test_migration_2_backfills_event_ids_and_drops_replayed_copies(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = _schema_1(path)
    events = _events(4)
    docs = [orjson.dumps(e).decode() for e in events]
    old = {"@timestamp": "2026-09-01T00:00:00.000000Z", "event": {"dataset": "viejo.x"}}
    clash = dict(events[1], message="otro documento con el mismo id")
    rows = [*docs, docs[0], docs[2], orjson.dumps(old).decode(), orjson.dumps(clash).decode()]
    conn.executemany(
        "INSERT INTO events (ts_us, dataset, host_name, doc) VALUES (0, 'x', NULL, ?)",
        [(d,) for d in rows],
    )
    conn.close()
    with SQLiteStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.count_events() == 6  # the two identical copies went; the rest stays
        assert s.write_events(events) == 0  # and they count as already stored
    conn = sqlite3.connect(path)
    ids = [r[0] for r in conn.execute("SELECT event_id FROM events ORDER BY id")]
    assert ids == [e["event"]["id"] for e in events] + [None, None]


# -- streaming reads -------------------------------------------------------------------------
def test_search_streams_200k_events_in_bounded_memory_while_another_thread_writes(
    store: SQLiteStore,
) -> None:
    n = 200_000
    store.write_events(
        make_event(
            "monitoreo.sondeo",
            timestamp=T0 + timedelta(seconds=i),
            fields={"host.name": f"s{i % 150:03d}", "network.rtt.us": i},
        )
        for i in range(n)
    )
    writer: threading.Thread | None = None
    seen = 0
    tracemalloc.start()
    try:
        for event in store.search_events(dataset="monitoreo.sondeo"):
            seen += 1
            if seen == 1_000:  # a write through the same store while the cursor is open
                writer = threading.Thread(
                    target=lambda: (
                        store.write_events(_events(100, start=T0 + timedelta(days=30))),
                        store.upsert("sites", [{"code": "LIM"}], key=["code"]),
                    )
                )
                writer.start()
                writer.join(20)
                assert not writer.is_alive(), "the write waited for the reader"
            assert event["network"]["rtt"]["us"] == seen - 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == n  # the search kept its snapshot: the concurrent write is not in it
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert store.count_events() == n + 100
    assert store.get("sites", ["LIM"]) == {"code": "LIM"}


def test_abandoned_search_gives_its_connection_back(store: SQLiteStore) -> None:
    store.write_events(_events(3000))
    for _ in range(50):
        first = next(iter(store.search_events()))
        assert first["@timestamp"] == "2026-10-01T00:00:00.000000Z"
    assert len(store._readers) <= sqlite_store.READERS_KEPT
    store.close()
    with pytest.raises(StoreError, match="cerrado"):
        store.count_events()


# -- read errors are StoreError naming the file ------------------------------------------------
def _every_read(s: SQLiteStore) -> dict[str, Callable[[], object]]:
    return {
        "get": lambda: s.get("sites", ["LIM"]),
        "entities": lambda: list(s.entities("sites")),
        "changes": lambda: list(s.changes()),
        "count_events": s.count_events,
        "schema_version": lambda: s.schema_version,
        "search_events": lambda: list(s.search_events()),
        "verify_changes": s.verify_changes,
        "event_stats": s.event_stats,
    }


def test_every_read_of_a_file_that_is_no_longer_a_database_is_a_store_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reemplazada.db"
    with SQLiteStore(path) as s:
        s.upsert("sites", [{"code": "LIM"}], key=["code"])
    s = SQLiteStore(path)
    path.write_bytes(b"esto ya no es sqlite" * 500)
    for name, read in _every_read(s).items():
        with pytest.raises(StoreError, match=r"reemplazada\.db: el archivo no es una base") as e:
            read()
        assert isinstance(e.value.__cause__, sqlite3.Error), name
    s.close()


def test_corruption_met_while_iterating_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "danada.db"
    with SQLiteStore(path) as s:
        s.write_events(
            make_event("x.y", timestamp=T0 + timedelta(seconds=i), fields={"pad": "x" * 200})
            for i in range(20_000)
        )
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 2, len(data), 4096):  # the second half of the pages
        data[offset + 100 : offset + 4000] = bytes(range(256)) * 15 + bytes(60)
    path.write_bytes(bytes(data))
    seen = 0

    def iterate(s: SQLiteStore) -> None:
        nonlocal seen
        for _ in s.search_events():
            seen += 1

    with SQLiteStore(path) as s, pytest.raises(StoreError, match=r"danada\.db: .*dañado"):
        iterate(s)
    assert 0 < seen < 20_000  # it failed part-way, not at the start


def test_locked_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bloqueada.db"
    SQLiteStore(path).close()
    other = sqlite3.connect(path, isolation_level=None)  # another program holding it whole
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=r"bloqueada\.db: la base de datos está bloqueada"):
            SQLiteStore(path, busy_timeout_ms=100)
    finally:
        other.close()


def test_write_waiting_too_long_for_the_lock_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ocupada.db"
    with SQLiteStore(path, busy_timeout_ms=100) as s:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match=r"ocupada\.db: .*bloqueada"):
                s.write_events(_events(3))
            assert s.count_events() == 0  # reads go on meanwhile (WAL)
        finally:
            other.close()
        assert s.write_events(_events(3)) == 3


# -- file modes -------------------------------------------------------------------------------
def test_created_directory_is_0700_and_files_0600_whatever_the_umask(tmp_path: Path) -> None:
    existing = tmp_path / "existente"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    path = existing / "nueva" / "sub" / "pukara.db"
    old = os.umask(0o022)
    try:
        with SQLiteStore(path) as s:
            s.write_events(_events(5))
            modes = {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
            }
    finally:
        os.umask(old)
    assert modes == {"pukara.db": 0o600, "pukara.db-wal": 0o600, "pukara.db-shm": 0o600}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755  # not pukara's to change


# -- retention --------------------------------------------------------------------------------
def test_purge_events_deletes_old_events_of_the_datasets_in_batches(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "PURGE_BATCH", 7)
    store.write_events(_events(100))  # minute i; odd i sondeo, even i descubrimiento
    cutoff = T0 + timedelta(minutes=60)
    assert store.count_events(datasets=["monitoreo.sondeo"], before=cutoff) == 30
    assert store.purge_events(cutoff, ["monitoreo.sondeo"]) == 30
    assert store.count_events() == 70
    assert all(
        e["@timestamp"] >= "2026-10-01T01:00"
        for e in store.search_events(dataset="monitoreo.sondeo")
    )
    assert store.count_events(datasets=["inventario.descubrimiento"]) == 50
    assert store.purge_events(cutoff) == 30  # every dataset
    assert store.purge_events(cutoff) == 0
    stats = {s.dataset: s for s in store.event_stats()}
    assert stats["monitoreo.sondeo"].count == 20
    assert stats["monitoreo.sondeo"].oldest == T0 + timedelta(minutes=61)
    assert stats["monitoreo.sondeo"].newest == T0 + timedelta(minutes=99)


def test_compact_gives_space_back_after_a_purge(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with SQLiteStore(path) as s:
        s.write_events(_events(20_000))
        s.purge_events(T0 + timedelta(days=365))
        before = s.info()
        assert before.free_bytes > 1_000_000
        freed = s.compact()
        after = s.info()
    assert freed >= before.free_bytes * 0.9
    assert after.free_bytes == 0 and after.schema_version == SCHEMA_VERSION


def test_in_memory_store_reads_without_holding_its_lock() -> None:
    with SQLiteStore(":memory:") as s:
        s.write_events(_events(50))
        search = s.search_events()
        next(search)
        writer = threading.Thread(
            target=lambda: s.write_events(_events(5, start=T0 + timedelta(1)))
        )
        writer.start()
        writer.join(10)
        assert not writer.is_alive()
        assert len(list(search)) == 49 and s.count_events() == 55


def test_a_full_disk_during_a_write_is_named_not_hidden_by_the_rollback(tmp_path: Path) -> None:
    # SQLITE_FULL rolls the transaction back by itself: a second ROLLBACK must not replace it
    with SQLiteStore(tmp_path / "lleno.db") as s:
        pages = s._conn.execute("PRAGMA page_count").fetchone()[0]
        s._conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        with pytest.raises(StoreError, match="no queda espacio en el disco"):
            s.write_events(_events(2_000))
        assert not s._conn.in_transaction
        s._conn.execute("PRAGMA max_page_count = 1073741823")
        assert s.write_events(_events(3)) == 3  # the store goes on once there is room


def test_a_full_disk_during_a_migration_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "migrar.db"
    SQLiteStore(path).close()
    filler = [
        "CREATE TABLE filler (x BLOB)",
        "PRAGMA max_page_count = 1",  # no room beyond the pages already there
        # one row, so no statement journal: SQLite rolls the whole transaction back itself
        "INSERT INTO filler VALUES (randomblob(100000))",
    ]
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", [*MIGRATIONS, filler])
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="no queda espacio en el disco"):
        SQLiteStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'filler'").fetchone()


# sqlite_master of a new database as released (schema 5): the migrations are frozen text
RELEASED_SCHEMA_SHA256 = "0bae973d1600e4567d3158804d8d1e204b00c8d7b299d60840dbecc1d258c458"


def test_a_new_database_gets_the_released_schema_byte_for_byte(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "n.db").close()
    conn = sqlite3.connect(tmp_path / "n.db")
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
    dump = orjson.dumps([list(r) for r in rows.fetchall()])
    assert hashlib.sha256(dump).hexdigest() == RELEASED_SCHEMA_SHA256


def test_released_migrations_are_literal_sql_not_live_lists() -> None:
    # a migration built from a module's current schema list would change under a release
    source = Path(migrations.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert not [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        if not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
    ]
    assert all(isinstance(sql, str) for step in MIGRATIONS for sql in step)
    assert not hasattr(rollups, "SCHEMA") and not hasattr(changelog, "SCHEMA")


def test_a_reader_of_a_missing_database_creates_nothing_and_writes_nothing(
    tmp_path: Path,
) -> None:
    where = tmp_path / "aun" / "no" / "pukara.db"
    with SQLiteStore(where, read_only=True) as store:
        assert list(store.entities("sites")) == [] and store.missing
        with pytest.raises(StoreError, match="abierta solo para lectura"):
            store.upsert("sites", [{"code": "x"}], key=["code"])
    assert list(tmp_path.iterdir()) == []


def test_a_folder_or_a_device_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"es una carpeta, no un archivo de base de datos"):
        SQLiteStore(tmp_path)
    fifo = tmp_path / "tuberia.db"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match="no es un archivo regular"):
        SQLiteStore(fifo, read_only=True)
