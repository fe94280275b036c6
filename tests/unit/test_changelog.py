import getpass
import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pukara.store import SQLiteStore, changelog
from pukara.store.migrations import MIGRATIONS


def _fill(path: Path) -> None:
    with SQLiteStore(path) as s:
        for i in range(5):
            s.upsert("assets", [{"tag": f"A{i}", "model": "R740"}], key=["tag"])
        s.upsert("assets", [{"tag": "A1", "model": "R750"}], key=["tag"])
        s.delete("assets", ["A4"])


def _tamper(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def _verify(path: Path) -> tuple[bool, int | None, str | None]:
    with SQLiteStore(path) as s:
        r = s.verify_changes()
    return r.ok, r.broken_seq, r.reason


def test_intact_chain_verifies(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _fill(db)
    with SQLiteStore(db) as s:
        report = s.verify_changes()
        actions = [c.action for c in s.changes()]
    assert report.ok and report.checked == 7
    assert actions == ["insert"] * 5 + ["update", "delete"]


def test_edit_is_caught(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _fill(db)
    _tamper(db, """UPDATE changes SET after = '{"model":"X","tag":"A2"}' WHERE seq = 3""")
    assert _verify(db) == (False, 3, "el contenido fue modificado")


def test_deletion_in_the_middle_is_caught(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _fill(db)
    _tamper(db, "DELETE FROM changes WHERE seq = 4")
    assert _verify(db) == (False, 4, "falta el cambio n.º 4")


def test_deletion_of_the_last_rows_is_caught(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _fill(db)
    _tamper(db, "DELETE FROM changes WHERE seq >= 6")
    ok, seq, reason = _verify(db)
    assert not ok and seq == 6 and reason == "la cabeza de la cadena no coincide"


def test_reordering_is_caught(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _fill(db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE changes SET seq = -2 WHERE seq = 2")
    conn.execute("UPDATE changes SET seq = 2 WHERE seq = 3")
    conn.execute("UPDATE changes SET seq = 3 WHERE seq = -2")
    conn.commit()
    conn.close()
    ok, seq, _ = _verify(db)
    assert not ok and seq == 2


def test_every_change_records_its_actor(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    with SQLiteStore(db, actor="ana.quispe") as s:
        s.upsert("sites", [{"code": "LIM"}], key=["code"])
    with SQLiteStore(db) as s:  # nobody named: the operating-system user
        s.upsert("sites", [{"code": "LIM", "name": "Lima"}], key=["code"])
        s.delete("sites", ["LIM"])
        actors = [c.actor for c in s.changes()]
        assert s.verify_changes().ok
    assert actors == ["ana.quispe", getpass.getuser(), getpass.getuser()]


def test_editing_the_actor_is_caught(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _fill(db)
    _tamper(db, "UPDATE changes SET actor = 'otra persona' WHERE seq = 2")
    assert _verify(db) == (False, 2, "el contenido fue modificado")


def test_erasing_the_actor_is_caught(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _fill(db)
    _tamper(db, "UPDATE changes SET actor = NULL WHERE seq = 5")  # pretend it predates actors
    assert _verify(db) == (False, 5, "el contenido fue modificado")


def _old_chain(path: Path) -> None:
    """A schema-1 database with a change log written as pukara wrote it before actors."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    prev = changelog.GENESIS
    for seq in (1, 2):
        after = {"code": f"S{seq}"}
        body = changelog.canonical([seq, "2026-01-01T00:00:00.000000Z", "sites", f'["S{seq}"]',
                                    "insert", None, after])  # fmt: skip
        digest = hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
        conn.execute(
            "INSERT INTO changes VALUES (?, '2026-01-01T00:00:00.000000Z', 'sites', ?, 'insert',"
            " NULL, ?, ?, ?)",
            (seq, f'["S{seq}"]', changelog.canonical(after), prev, digest),
        )
        prev = digest
    conn.execute("INSERT INTO meta VALUES ('changes_head', ?)", (json.dumps([2, prev]),))
    conn.close()


def test_old_entries_without_actor_still_verify_and_the_chain_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "viejo.db"
    _old_chain(db)
    with SQLiteStore(db, actor="ana") as s:
        assert s.verify_changes() == changelog.ChainReport(True, 2)
        s.upsert("sites", [{"code": "S3"}], key=["code"])
        assert [c.actor for c in s.changes()] == [None, None, "ana"]
        assert s.verify_changes() == changelog.ChainReport(True, 3)
    _tamper(db, "UPDATE changes SET actor = 'alguien' WHERE seq = 1")  # no forged signature
    assert _verify(db) == (False, 1, "el contenido fue modificado")


def test_changes_filter_in_sql(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    with SQLiteStore(db, actor="ana") as s:
        s.upsert("sites", [{"code": "LIM"}, {"code": "WAS"}], key=["code"])
    with SQLiteStore(db, actor="luis") as s:
        s.upsert("sites", [{"code": "LIM", "name": "Lima"}], key=["code"])
        s.upsert("assets", [{"tag": "A1"}], key=["tag"])
        assert [c.seq for c in s.changes(actor="ana")] == [1, 2]
        assert [c.seq for c in s.changes(collection="sites", key=["LIM"])] == [1, 3]
        assert [c.seq for c in s.changes(key="LIM")] == [1, 3]  # a one-field key as text
        assert [c.seq for c in s.changes(actor="luis", collection="sites")] == [3]
        assert [c.seq for c in s.changes(actor="luis", limit=1)] == [4]
        now = datetime.now(UTC)
        assert [c.seq for c in s.changes(since=now - timedelta(minutes=5))] == [1, 2, 3, 4]
        assert list(s.changes(until=now - timedelta(minutes=5))) == []
        assert list(s.changes(since=now + timedelta(minutes=5))) == []
