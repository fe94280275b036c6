import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pukara.errors import SchemaTooNewError, StoreError
from pukara.events import make_event
from pukara.store import SQLiteStore
from pukara.store.migrations import SCHEMA_VERSION

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
