"""`registros importar` as a library: each file kind, real files, a real SQLite store."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pukara.errors import UsageError
from pukara.store import SQLiteStore
from registros.importar import Kind, import_files, stable_id, summary_lines

AUTH = """\
Dec  1 08:01:02 srv1 sshd[1234]: Failed password for invalid user admin from 198.51.100.7 port 51234 ssh2
Dec  1 08:01:02 srv1 sshd[1234]: Failed password for invalid user admin from 198.51.100.7 port 51234 ssh2
Dec  1 08:01:09 srv1 sshd[1240]: Accepted publickey for alice from 2001:db8::7 port 50022 ssh2
Dec  1 08:02:00 srv1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id

\x01\x02\x03\x04 not a log line
"""
KERN = "".join(
    f"2026-12-01T08:00:0{i}.123456-05:00 fw1 kernel: [1234{i}.678] pukara-drop: IN=eth0 OUT= "
    f"SRC=198.51.100.7 DST=198.18.0.5 LEN=60 PROTO=TCP SPT=5123{i} DPT={22 + i}\n"
    for i in range(2)
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "imp.db", actor="prueba")
    yield s
    s.close()


def _all(store: SQLiteStore, dataset: str) -> list[dict[str, Any]]:
    return list(store.search_events(dataset=dataset))


def test_auth_log_kinds_failures_and_idempotent_reimport(
    store: SQLiteStore, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.log"
    auth.write_text(AUTH)
    os.utime(auth, (1796000000, 1796000000))  # 2026-11-29: the year of "Dec  1" is 2026
    s = import_files(store, [auth])
    f = s.files[0]
    assert (f.kind, f.read, f.stored, f.failures, f.failed_lines) == ("auth", 5, 5, 1, [6])
    docs = _all(store, "registros.auth")
    assert len(docs) == 5  # two identical lines are two events
    failed = [d for d in docs if "registros_parse_failure" in d.get("tags", [])]
    assert failed[0]["event"]["original"] == "\x01\x02\x03\x04 not a log line"
    ssh = [d for d in docs if d.get("event", {}).get("outcome") == "failure"]
    assert len(ssh) == 2 and ssh[0]["@timestamp"] == "2026-12-01T08:01:02.000000Z"
    # again, renamed by logrotate, and compressed: nothing new
    assert import_files(store, [auth]).stored == 0
    rotated = tmp_path / "auth.log.1"
    auth.rename(rotated)
    packed = tmp_path / "auth.log.2.gz"
    packed.write_bytes(gzip.compress(AUTH.encode()))
    again = import_files(store, [rotated, packed], kind=Kind.AUTH)
    assert (again.read, again.stored) == (10, 0)
    # grown: only the new line
    rotated.write_text(AUTH + "Dec  1 09:00:00 srv1 sshd[9]: Invalid user x from 198.51.100.9\n")
    assert import_files(store, [rotated], kind=Kind.AUTH).stored == 1
    lines = summary_lines(again)
    assert (
        "auth.log.1 (auth): leídas 5, guardadas 0, fallos de lectura 1 (5 ya estaban " in lines[0]
    )
    assert lines[0].endswith("líneas que no se pudieron leer: 6") and lines[-1].startswith("Total")


def test_year_option_and_site(store: SQLiteStore, tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("Mar  3 10:00:00 unknown-host app[1]: hello\n")
    import_files(store, [log], year=2024, site="lim")
    (doc,) = _all(store, "registros.syslog")
    assert doc["@timestamp"].startswith("2024-03-03T10:00:00")
    assert doc["labels"] == {"site": "lim"} and doc["host"]["name"] == "unknown-host"


def test_nftables_kernel_log(store: SQLiteStore, tmp_path: Path) -> None:
    kern = tmp_path / "kern.log"
    kern.write_text(KERN)
    s = import_files(store, [kern])
    assert s.files[0].kind == "nftables" and s.stored == 2
    docs = _all(store, "registros.nftables")
    assert {d["destination"]["port"] for d in docs} == {22, 23}
    assert all(d["event"]["type"] == ["connection", "denied"] for d in docs)
    assert min(d["@timestamp"] for d in docs) == "2026-12-01T13:00:00.123456Z"


def test_json_lines_ecs_flat_and_bad(store: SQLiteStore, tmp_path: Path) -> None:
    rows = [
        {"@timestamp": "2026-12-01T10:00:00Z", "event": {"id": "own-id-1", "action": "x"},
         "source": {"ip": "198.18.0.1"}, "message": "nested"},
        {"@timestamp": "2026-12-01T10:00:01+00:00", "source.ip": "198.18.0.2", "message": "flat",
         "user.name": "bob"},
        {"time": 1796126400, "message": "epoch"},
    ]  # fmt: skip
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n[1, 2]\n")
    s = import_files(store, [path])
    f = s.files[0]
    assert (f.kind, f.read, f.stored, f.failures, f.failed_lines) == ("jsonl", 5, 5, 2, [4, 5])
    docs = {d["message"]: d for d in _all(store, "registros.jsonl")}
    assert docs["nested"]["event"]["id"] == "own-id-1" and docs["nested"]["event"]["action"] == "x"
    assert docs["flat"]["source"] == {"ip": "198.18.0.2"} and docs["flat"]["user"]["name"] == "bob"
    assert docs["epoch"]["@timestamp"] == "2026-12-01T12:00:00.000000Z"
    assert "registros_parse_failure" in docs["not json"]["tags"]
    assert docs["not json"]["event"]["original"] == "not json"
    assert import_files(store, [path]).stored == 0


def test_oversized_and_not_utf8_lines_in_a_file(store: SQLiteStore, tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_bytes(b"Dec  1 08:00:00 h app: " + b"x" * 200_000 + b"\n"
                     b"Dec  1 08:00:01 h app: caf\xe9\n")  # fmt: skip
    s = import_files(store, [path])
    assert (s.read, s.stored, s.failures) == (2, 2, 0)
    docs = sorted(_all(store, "registros.syslog"), key=lambda d: d["@timestamp"])
    assert "registros_truncado" in docs[0]["tags"] and len(docs[0]["event"]["original"]) == 65536
    assert (
        docs[1]["event"]["original"].endswith("caf\\xe9") and "registros_no_utf8" in docs[1]["tags"]
    )


def test_missing_file_and_folder_are_usage_errors(store: SQLiteStore, tmp_path: Path) -> None:
    good = tmp_path / "auth.log"
    good.write_text(AUTH)
    with pytest.raises(UsageError, match=r"nope\.log: no se puede leer: no existe"):
        import_files(store, [good, tmp_path / "nope.log"])
    assert store.count_events() == 0  # checked before anything is imported
    with pytest.raises(UsageError, match="es una carpeta"):
        import_files(store, [tmp_path])


def test_stable_id_is_a_uuid_that_depends_on_offset_and_line() -> None:
    a = stable_id(b"first", 0, b"x")
    assert a == stable_id(b"first", 0, b"x") and a[14] == "8" and a[19] in "89ab"
    assert len({a, stable_id(b"first", 1, b"x"), stable_id(b"other", 0, b"x"),
                stable_id(b"first", 0, b"y")}) == 4  # fmt: skip


def test_progress_is_told_the_bytes_read(store: SQLiteStore, tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_text("Dec  1 08:00:00 h app: line\n" * 2500)
    seen: list[int] = []
    import_files(store, [path], progress=lambda p, size: seen.append)
    assert seen[-1] == path.stat().st_size and len(seen) >= 3
