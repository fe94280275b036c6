import sqlite3
from pathlib import Path

from pukara.store import SQLiteStore


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
