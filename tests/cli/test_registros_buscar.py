"""`pukara registros buscar` and `registros resumen`: every format, bad input, --archivo and
--seguir in a real process interrupted with SIGINT."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cli import main
from pukara.events import make_event, utc_now
from pukara.store import SQLiteStore
from pukara.store.sqlite import to_us

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent
NOW = utc_now()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def _event(i: int, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    doc = make_event(
        "registros.sshd",
        timestamp=NOW - timedelta(minutes=minutes_ago),
        message=fields.pop("message", f"Failed password for root from 198.18.1.{i} port 22 ssh2"),
        outcome=fields.pop("outcome", "failure"),
        fields={"host.name": "lim-srv1", "source.ip": f"198.18.1.{i}", "user.name": "root",
                "log.syslog.appname": "sshd", **fields},
    )  # fmt: skip
    doc["event"]["id"] = f"id-{i:03d}"
    return doc


@pytest.fixture
def db(tmp_path: Path) -> Path:
    # the events are placed relative to the time the test runs, not to when the module was
    # imported (a long run before this test would push them out of the default window)
    global NOW
    NOW = utc_now()
    path = tmp_path / "p.db"
    with SQLiteStore(path) as store:
        store.write_events([
            _event(1, 10),
            _event(2, 8, **{"user.name": "=HYPERLINK(\"http://x.test\")"}),
            _event(3, 6, outcome="success", message="Accepted publickey for admin",
                   **{"user.name": "admin"}),
            _event(4, 30),  # outside the default 15 minutes
            _event(5, 2, **{"host.name": "was-fw1", "log.syslog.appname": None}),
        ])  # fmt: skip
    return path


@pytest.fixture
def lima(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Lima")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_table_shows_the_default_window_oldest_first_in_local_time(
    db: Path, capsys: pytest.CaptureFixture[str], lima: None
) -> None:
    code, out, err = run(capsys, "--base-datos", str(db), "registros", "buscar")
    assert code == 0, err
    for header in ("Fecha", "Equipo", "Origen", "Resultado", "IP de origen", "Usuario", "Mensaje"):
        assert header in out
    assert "PET" in out and "UTC" not in out  # Lima's zone, as the machine's TZ says
    assert out.index("198.18.1.1 ") < out.index("198.18.1.2 ") < out.index("198.18.1.5 ")
    assert "198.18.1.4 " not in out  # 30 minutes ago: outside the last 15
    assert "fallo" in out and "éxito" in out  # event.outcome in Spanish
    assert "registros.sshd" in out  # the dataset where the program is missing


def test_json_is_the_stored_documents_and_an_empty_list_when_nothing(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--base-datos", str(db), "registros", "buscar", "-f", "json")
    code, out, err = run(capsys, *base, "--desde", "-1h", "user.name=root")
    assert code == 0, err
    docs = json.loads(out)
    assert [d["event"]["id"] for d in docs] == ["id-004", "id-001", "id-005"]
    with SQLiteStore(db) as store:
        stored = {d["event"]["id"]: d for d in store.search_events()}
    assert docs == [stored[d["event"]["id"]] for d in docs]
    code, out, err = run(capsys, *base, "user.name=nadie")
    assert code == 0 and json.loads(out) == []
    assert "Ningún evento entre" in err


def test_csv_has_dotted_ecs_columns_and_no_formula(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--base-datos", str(db), "registros", "buscar", "-f", "csv")
    code, out, err = run(capsys, *base, "user.name!=admin")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["@timestamp", "event.id", "event.dataset", "host.name",
                       "log.syslog.appname", "event.outcome", "source.ip", "user.name",
                       "message"]  # fmt: skip
    assert [r[1] for r in rows[1:]] == ["id-001", "id-002", "id-005"]
    assert rows[2][7] == '\'=HYPERLINK("http://x.test")'
    code, out, _ = run(capsys, *base, "--campos", "event.id,user.name", "--texto", "ADMIN")
    assert list(csv.reader(io.StringIO(out))) == [["event.id", "user.name"], ["id-003", "admin"]]


def test_filters_wildcard_text_limit_and_dataset(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def found(*args: str) -> list[str]:
        code, out, err = run(capsys, "--base-datos", str(db), "registros", "buscar", "-f",
                             "json", "--desde", "-1h", *args)  # fmt: skip
        assert code == 0, err
        return [d["event"]["id"] for d in json.loads(out)]

    assert found("host.name=WAS-*") == ["id-005"]
    assert found("host.name!=was-*", "event.outcome=failure") == ["id-004", "id-001", "id-002"]
    assert found("--texto", "accepted PUBLICKEY") == ["id-003"]
    assert found("--conjunto", "registros.sudo") == []
    assert found("--conjunto", "registros.sshd", "--limite", "2") == ["id-003", "id-005"]
    assert len(found("--limite", "0")) == 5
    _, _, err = run(capsys, "--base-datos", str(db), "registros", "buscar", "--limite", "2",
                       "-f", "json")  # fmt: skip
    assert "Se muestran los 2 más recientes" in err and "--limite" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["root"], "filtro «root»: falta el operador"),
        (["=root"], "falta el nombre del campo"),
        (["user.name~root"], "operador desconocido «~"),
        (["--desde", "ayer?"], "--desde «ayer?»"),
        (["--hasta", "13:00h"], "--hasta «13:00h»"),
        (["--desde", "-1h", "--hasta", "-2h"], "--hasta -2h es anterior"),
        (["--texto", "  "], "--texto"),
        (["--seguir", "--hasta", "ahora"], "--seguir"),
        (["--limite", "-1"], "--limite"),
        (["--campos", ","], "--campos"),
        (["--campos", "host.name,mal campo"], "«mal campo» no es un nombre de campo"),
        (["source.ip=999.1.1.1"], "«999.1.1.1» no es una dirección IP ni una red CIDR"),
        (["--desde", "-2h", "--hasta", "9999-12-31"], "fuera del calendario"),
        (["source.ip!=10.0.0.0/33"], "«10.0.0.0/33» no es una dirección IP ni una red CIDR"),
    ],
)
def test_bad_input_is_a_spanish_usage_error(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, out, err = run(capsys, "--base-datos", str(db), "registros", "buscar", *args)
    assert code == 2 and out == ""
    assert says in err, err


def test_archivo_is_written_whole_and_not_at_all_on_error(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "eventos.json"
    code, out, err = run(capsys, "--base-datos", str(db), "registros", "buscar", "-f", "json",
                         "--desde", "-1h", "-o", str(target))  # fmt: skip
    assert code == 0 and out == "", err
    assert len(json.loads(target.read_text())) == 5
    target.write_text("antes")
    code, _, _ = run(capsys, "--base-datos", str(db), "registros", "buscar", "-f", "json",
                     "-o", str(target), "mal")  # fmt: skip
    assert code == 2 and target.read_text() == "antes"
    # a document that cannot be read, met while writing: the old file stays, no temporary one
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO events (ts_us, dataset, doc, event_id) VALUES (?, ?, ?, ?)",
                     (to_us(NOW), "registros.sshd", "{roto", "id-999"))  # fmt: skip
    conn.close()
    code, _, err = run(capsys, "--base-datos", str(db), "registros", "buscar", "-f", "json",
                       "--limite", "0", "--desde", "-1h", "-o", str(target))  # fmt: skip
    assert code == 1 and "no es JSON válido" in err, err
    assert target.read_text() == "antes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eventos.json", "p.db"]
    code, _, err = run(capsys, "--base-datos", str(db), "registros", "buscar",
                       "-o", str(tmp_path / "no" / "x.json"))  # fmt: skip
    assert code == 2 and "--archivo" in err and "no existe la carpeta" in err


def test_resumen_gives_top_values_share_and_missing(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--base-datos", str(db), "registros", "resumen", "--desde", "-1h")
    code, out, err = run(capsys, *base, "--campos", "user.name,log.syslog.appname", "--top",
                         "1", "-f", "json")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert rows == [
        {"field": "user.name", "value": "root", "count": 3, "share": 0.6},
        {"field": "user.name", "value": None, "count": 0, "share": 0.0},
        {"field": "log.syslog.appname", "value": "sshd", "count": 4, "share": 0.8},
        {"field": "log.syslog.appname", "value": None, "count": 1, "share": 0.2},
    ]
    code, out, err = run(capsys, *base, "event.outcome=failure")
    assert code == 0, err
    assert "4 eventos entre" in out and "(sin valor)" in out and "75.0\u00a0%" in out
    for field in ("host.name", "event.action", "event.outcome", "source.ip", "user.name",
                  "log.syslog.appname"):  # fmt: skip
        assert field in out
    code, _, err = run(capsys, *base, "--campos", "user name")
    assert code == 2 and "--campos" in err


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _read_until(proc: subprocess.Popen[bytes], seen: bytearray, wanted: bytes) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while wanted not in seen:
        assert time.monotonic() < deadline, f"no llegó {wanted!r}: {bytes(seen)!r}"
        assert proc.poll() is None, bytes(seen)
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            seen += os.read(proc.stdout.fileno(), 65536)


@pytest.mark.parametrize("formato", ["json", "tabla"])
def test_seguir_shows_new_events_until_sigint_then_exits_130(
    db: Path, tmp_path: Path, formato: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env |= {"HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "COLUMNS": "300"}
    argv = [str(SCRIPTS / "pukara"), "--base-datos", str(db), "registros", "buscar",
            "--seguir", "-f", formato, "user.name=root"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=_sigint_default)  # fmt: skip
    seen = bytearray()
    try:
        _read_until(proc, seen, b"198.18.1.5")
        with SQLiteStore(db) as store:  # same timestamp as the last one shown, a later id
            last = _event(5, 2)
            late = {**_event(6, 0), "@timestamp": last["@timestamp"]}
            # the same time again, an id that sorts before the last one shown: stored late
            earlier = {**_event(0, 0), "@timestamp": last["@timestamp"]}
            store.write_events([late, earlier, _event(7, -1),
                                _event(8, -1, **{"user.name": "admin"})])  # fmt: skip
        _read_until(proc, seen, b"198.18.1.7")
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    out = (bytes(seen) + rest).decode()
    assert proc.returncode == 130, err.decode()
    assert "Interrumpido." in err.decode() and b"Traceback" not in err
    if formato == "json":
        docs = json.loads(out)  # closed on Ctrl-C: valid JSON
        assert [d["event"]["id"] for d in docs] == [
            "id-001", "id-005", "id-000", "id-006", "id-007"]  # fmt: skip
    else:
        assert out.index("198.18.1.5") < out.index("198.18.1.0 ") < out.index("198.18.1.6")
        assert out.index("198.18.1.6") < out.index("198.18.1.7")
        assert "198.18.1.8" not in out and "198.18.1.2" not in out


def test_ctrl_c_in_the_middle_of_a_listing_still_closes_the_json(db: Path) -> None:
    """Ctrl-C (a KeyboardInterrupt between two events) leaves a JSON array a reader can load."""
    from pukara.store.query import EventQuery
    from registros import listing

    class Interrupting(listing.JsonWriter):
        def add(self, doc: Any) -> None:
            if self.count == 2:
                raise KeyboardInterrupt
            super().add(doc)

    out = io.StringIO()
    with SQLiteStore(db) as store, pytest.raises(KeyboardInterrupt):
        listing.emit(store, EventQuery(), Interrupting(out), limit=0, follow=False)
    assert [d["event"]["id"] for d in json.loads(out.getvalue())] == ["id-004", "id-001"]


def test_resumen_of_nothing_says_so(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("--base-datos", str(db), "registros", "resumen", "user.name=nadie")
    code, out, err = run(capsys, *base)
    assert code == 0 and out == "" and "Ningún evento entre" in err
    code, out, _ = run(capsys, *base, "-f", "json")
    assert code == 0 and json.loads(out) == []
