"""The fast intake path: raw kept as it came, UTC times, ids, stored keys looked up by range."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest

from csirt import alertas
from csirt.alertas_fuentes import _CROCKFORD, Bad, moment, new_id
from csirt.records import ALERT
from pukara.store import SQLiteStore
from tests.unit.test_csirt_alertas_store import KEY, T1, T2, row


def test_raw_is_the_line_as_it_came_and_reads_back_as_the_object(tmp_path: Path) -> None:
    line = ('{ "source" : "ids-lima",  "source_ref": "ids-9", "title": "Escaneo \\u00e1",'
            ' "seen": "2026-11-30T10:00:00Z", "extra": {"n": 1.50, "k": [1, 2]} }')  # fmt: skip
    path = tmp_path / "a.jsonl"
    other = json.dumps({"source": "ids-lima", "source_ref": "ids-10", "title": "otra"})
    path.write_text(f"{line}\n\n{other}\n", encoding="utf-8")  # a blank line is skipped
    with SQLiteStore(tmp_path / "p.db") as store:
        report = alertas.import_sources(store, [path])
        alert = next(a for a in store.scan(ALERT) if a["source_ref"] == "ids-9")
    assert report.inserted == 2
    assert alert["raw"] == json.loads(line)
    assert alert["title"] == "Escaneo á"
    with sqlite3.connect(tmp_path / "p.db") as conn:
        docs = [
            d for (d,) in conn.execute("SELECT doc FROM entities WHERE collection = ?", (ALERT,))
        ]
    (doc,) = [d for d in docs if '"ids-9"' in d]
    assert f'"raw":{line}' in doc  # not re-serialised: its spaces and escapes are there


def test_a_bad_line_after_good_ones_still_names_its_line(tmp_path: Path) -> None:
    good = json.dumps({"source": "s", "source_ref": "r", "title": "t"})
    path = tmp_path / "a.jsonl"
    path.write_text(f"{good}\n{good}\n{{no json\n", encoding="utf-8")
    with SQLiteStore(tmp_path / "p.db") as store:
        with pytest.raises(alertas.fuentes.AlertFileError, match=r"a\.jsonl:3: JSON mal"):
            alertas.import_sources(store, [path])
        assert list(store.scan(ALERT)) == []


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-30T10:00:00Z", "2026-11-30T10:00:00.000000Z"),
        ("2026-11-30T10:00:00+00:00", "2026-11-30T10:00:00.000000Z"),
        ("2026-11-30T10:00:00-05:00", "2026-11-30T15:00:00.000000Z"),
        ("2026-11-30T10:00:00.1234Z", "2026-11-30T10:00:00.123400Z"),  # 25 characters
        ("2026-11-30T100000.1+00:00", "2026-11-30T10:00:00.100000Z"),  # basic time, 25 too
        (" 2026-11-30T10:00:00Z ", "2026-11-30T10:00:00.000000Z"),
    ],
)
def test_utc_text_of_every_iso_shape_keeps_its_fraction(text: str, utc: str) -> None:
    assert moment(text) == utc


@pytest.mark.parametrize("text", ["2026-13-30T10:00:00Z", "2026-11-30T10:00:60Z", "mañana"])
def test_an_impossible_time_in_the_usual_shape_is_refused(text: str) -> None:
    with pytest.raises(Bad, match="no válida"):
        moment(text)


def test_ids_are_ulids_of_now_each_with_its_own_random_part() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(10_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)
    for i in (ids[0], ids[-1]):
        ms = 0
        for c in i[:10]:
            ms = ms * 32 + _CROCKFORD.index(c)
        assert before <= ms <= after
    assert len({i[10:12] for i in ids}) > 900  # random from the first character on


def test_stored_keys_inside_and_outside_the_stored_range(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as store:
        store.upsert_counted("alertas", [row("c", T1), row("d", T1)], key=KEY)
        later = [row("a", T2), row("c", T2), row("e", T2), row("d", T1), row("a", T2)]
        s = store.upsert_counted("alertas", later, key=KEY)
        assert (s.inserted, s.counted, s.unchanged) == (2, 1, 2)
        counts = {r["source_ref"]: r["count"] for r in store.scan("alertas")}
        assert counts == {"a": 1, "c": 2, "d": 1, "e": 1}
        other = store.upsert_counted("otra", [row("c", T2)], key=KEY)  # another collection
        assert other.inserted == 1


def test_a_line_with_two_objects_is_refused_even_when_the_lines_add_up(tmp_path: Path) -> None:
    a = '{"source": "s", "source_ref": "a", "title": "t"}'
    b = '{"source": "s", "source_ref": "b", "title": "t"}'
    path = tmp_path / "a.jsonl"  # three lines, three objects: but not one on each line
    path.write_text(
        f'{a},{b}\n{{"source": "s", "source_ref": "c", "title": "t", "x": [1\n2]}}\n',
        encoding="utf-8",
    )
    with SQLiteStore(tmp_path / "p.db") as store:
        with pytest.raises(alertas.fuentes.AlertFileError, match=r"a\.jsonl:1: JSON mal"):
            alertas.import_sources(store, [path])
        assert list(store.scan(ALERT)) == []
