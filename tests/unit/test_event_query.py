"""EventQuery on the SQLite store (every filter op, text, window edges, cursor, top values)
and what `registros buscar` parses into one (filters, times)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pukara.errors import UsageError
from pukara.events import format_timestamp, make_event
from pukara.store import SQLiteStore
from pukara.store.query import EventQuery, FieldFilter, TopValues
from pukara.store.sqlite_query import mapped_type, wildcard_match, words
from registros import search

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def ev(
    i: int, *, at: datetime | None = None, eid: str | None = None, ds: str = "registros.sshd",
    msg: str | None = None, **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    doc = make_event(ds, timestamp=at or T0 + timedelta(seconds=i), message=msg,
                     fields={k.replace("__", "."): v for k, v in fields.items()})  # fmt: skip
    doc["event"]["id"] = eid or f"id-{i:04d}"
    return doc


@pytest.fixture(params=["archivo", "memoria"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore]:
    """Both kinds of store: a file read through its pool of readers, and one in memory."""
    s = SQLiteStore(tmp_path / "p.db" if request.param == "archivo" else ":memory:")
    yield s
    s.close()


def ids(store: SQLiteStore, q: EventQuery) -> list[str]:
    return [d["event"]["id"] for d in store.query_events(q)]


def flt(field: str, op: str, value: str) -> EventQuery:
    return EventQuery(filters=(FieldFilter(field, op, value),))  # type: ignore[arg-type]


@pytest.fixture
def users(store: SQLiteStore) -> SQLiteStore:
    store.write_events([
        ev(0, user__name="root", source__port=22, tags=["ssh", "lab"], ok=True),
        ev(1, user__name="Root", source__port=2222, tags=["ssh"], ok=False),
        ev(2, user__name="rootkit", source__ip="198.18.1.2"),
        ev(3, source__ip="198.18.1.25"),  # no user at all
        ev(4, user__name="Ñandú", host__name=None),
        ev(5, user__name="a*b", user__id=None),
    ])  # fmt: skip
    return store


def test_eq_compares_the_text_exactly_numbers_by_value_and_booleans_by_text(
    users: SQLiteStore,
) -> None:
    assert ids(users, flt("user.name", "eq", "root")) == ["id-0000"]
    assert ids(users, flt("user.name", "eq", "ROOT")) == []
    assert ids(users, flt("source.port", "eq", "22")) == ["id-0000"]
    # a number field compares by value, as the cluster's match on a long does
    assert ids(users, flt("source.port", "eq", "022")) == ["id-0000"]
    assert ids(users, flt("source.port", "eq", "22.0")) == ["id-0000"]
    assert "id-0000" not in ids(users, flt("source.port", "ne", "022"))
    assert ids(users, flt("source.port", "eq", "99999999999999999999")) == []
    assert ids(users, flt("ok", "eq", "true")) == ["id-0000"]
    assert ids(users, flt("ok", "eq", "false")) == ["id-0001"]
    assert ids(users, flt("ok", "eq", "1")) == []
    # an array matches when one element does; the array's own JSON text is no value
    assert ids(users, flt("tags", "eq", "lab")) == ["id-0000"]
    assert ids(users, flt("tags", "eq", '["ssh"]')) == []
    # a null value is no value
    assert ids(users, flt("user.id", "eq", "None")) == []
    # indexed columns (host.name, event.dataset, event.id)
    assert len(ids(users, flt("host.name", "eq", "None"))) == 0
    assert ids(users, flt("event.id", "eq", "id-0003")) == ["id-0003"]
    assert len(ids(users, flt("event.dataset", "eq", "registros.sshd"))) == 6


def test_ne_keeps_the_events_lacking_the_field(users: SQLiteStore) -> None:
    assert ids(users, flt("user.name", "ne", "root")) == [
        "id-0001", "id-0002", "id-0003", "id-0004", "id-0005"]  # fmt: skip
    assert ids(users, flt("tags", "ne", "lab")) == [f"id-000{i}" for i in range(1, 6)]
    assert ids(users, flt("user.id", "ne", "x")) == [f"id-000{i}" for i in range(6)]
    # host.name is a column: NULL there is "lacks the field" too
    assert ids(users, flt("host.name", "ne", "nadie")) == [f"id-000{i}" for i in range(6)]


def test_wildcard_is_case_insensitive_whole_value_with_star_and_question(
    users: SQLiteStore,
) -> None:
    assert ids(users, flt("user.name", "wildcard", "ROOT*")) == ["id-0000", "id-0001", "id-0002"]
    assert ids(users, flt("user.name", "wildcard", "r??t")) == ["id-0000", "id-0001"]
    assert ids(users, flt("user.name", "wildcard", "oo*")) == []  # anchored at both ends
    assert ids(users, flt("user.name", "wildcard", "ñ*")) == ["id-0004"]  # not only ASCII
    assert ids(users, flt("user.name", "wildcard", "A*B")) == ["id-0005"]
    assert ids(users, flt("source.ip", "wildcard", "198.18.1.2?")) == ["id-0003"]
    assert ids(users, flt("source.port", "wildcard", "22*")) == ["id-0000", "id-0001"]
    assert ids(users, flt("tags", "wildcard", "LA?")) == ["id-0000"]
    assert ids(users, flt("user.name", "not_wildcard", "r*")) == [
        "id-0003", "id-0004", "id-0005"]  # fmt: skip
    assert ids(users, flt("host.name", "wildcard", "*")) == []  # every host.name is null
    assert wildcard_match("sshd*", "SSHD[12]") and not wildcard_match("a.c", "abc")
    # a backslash is a character like any other (a Windows path), not an escape
    assert wildcard_match("C:\\Users\\*", "c:\\users\\ana")
    assert not wildcard_match("a\\*", "a*") and wildcard_match("a\\*", "a\\b")


def test_text_needs_every_word_somewhere_in_the_message(store: SQLiteStore) -> None:
    store.write_events([
        ev(0, msg="Failed password for root from 198.18.1.2 port 4711 ssh2"),
        ev(1, msg="Accepted publickey for rootkit from 198.18.1.25 port 22 ssh2"),
        ev(2, msg="pam_unix(sshd:auth): authentication failure; user=root"),
        ev(3, msg="Contraseña INCORRECTA para Ñandú"),
        ev(4),  # no message
        ev(5, msg="a*b literal? C:\\tmp"),
    ])  # fmt: skip

    def text(t: str) -> list[str]:
        return ids(store, EventQuery(text=t))

    assert text("failed PASSWORD") == ["id-0000"]
    assert text("root") == ["id-0000", "id-0001", "id-0002"]  # anywhere: rootkit too
    assert text("198.18.1.2") == ["id-0000", "id-0001"]
    assert text("ssh2   from") == ["id-0000", "id-0001"]
    assert text("failed root nobody") == []
    assert text("sshd:auth") == ["id-0002"]
    assert text("contraseña ñandú") == ["id-0003"]
    assert text("A*B") == ["id-0005"] and text("?") == ["id-0005"]  # literal characters
    assert text("c:\\TMP") == ["id-0005"]
    assert text("   ") == [f"id-000{i}" for i in range(6)]  # no word: asks nothing
    assert words(" Failed\tPASS* ") == ["failed", "pass*"]


def test_window_since_inclusive_until_exclusive_to_the_microsecond(store: SQLiteStore) -> None:
    edge = T0 + timedelta(microseconds=1)
    store.write_events([ev(0, at=T0), ev(1, at=edge), ev(2, at=edge + timedelta(hours=1))])
    assert ids(store, EventQuery(since=edge, until=edge + timedelta(hours=1))) == ["id-0001"]
    assert ids(store, EventQuery(since=T0, until=edge)) == ["id-0000"]
    assert ids(store, EventQuery(until=T0)) == []
    assert ids(store, EventQuery(since=edge + timedelta(hours=1))) == ["id-0002"]


def test_datasets_and_several_filters_together(store: SQLiteStore) -> None:
    store.write_events([
        ev(0, ds="registros.sshd", user__name="root", event__outcome="failure"),
        ev(1, ds="registros.sudo", user__name="root", event__outcome="failure"),
        ev(2, ds="registros.sshd", user__name="root", event__outcome="success"),
        ev(3, ds="monitoreo.sondeo"),
    ])  # fmt: skip
    q = EventQuery(datasets=("registros.sshd", "registros.sudo"),
                   filters=(FieldFilter("user.name", "eq", "root"),
                            FieldFilter("event.outcome", "ne", "success")))  # fmt: skip
    assert ids(store, q) == ["id-0000", "id-0001"]
    assert ids(store, EventQuery(datasets=("monitoreo.sondeo",))) == ["id-0003"]


def test_order_is_timestamp_then_event_id_and_after_resumes_strictly_after(
    store: SQLiteStore,
) -> None:
    # written out of order, three of them at the same microsecond
    store.write_events([ev(0, at=T0, eid="c"), ev(1, at=T0, eid="a"),
                        ev(2, at=T0 + timedelta(seconds=1), eid="0"), ev(3, at=T0, eid="b"),
                        ev(4, at=T0 - timedelta(seconds=1), eid="z")])  # fmt: skip
    assert ids(store, EventQuery()) == ["z", "a", "b", "c", "0"]
    assert ids(store, EventQuery(newest_first=True)) == ["0", "c", "b", "a", "z"]
    assert ids(store, EventQuery(after=(T0, "a"))) == ["b", "c", "0"]
    assert ids(store, EventQuery(after=(T0, "c"))) == ["0"]
    assert ids(store, EventQuery(after=(T0, "b"), newest_first=True)) == ["a", "z"]
    assert ids(store, EventQuery(after=(T0 + timedelta(seconds=1), "0"))) == []
    # limit with newest_first: the newest n
    assert ids(store, EventQuery(limit=2, newest_first=True)) == ["0", "c"]
    assert ids(store, EventQuery(limit=2)) == ["z", "a"]
    assert ids(store, EventQuery(limit=2, after=(T0, "a"))) == ["b", "c"]


def test_top_values_counts_missing_arrays_once_and_ties_by_value(store: SQLiteStore) -> None:
    store.write_events([
        ev(0, user__name="root", tags=["a", "b", "a"], host__name="h1"),
        ev(1, user__name="root", tags=["b"], host__name="h1"),
        ev(2, user__name="admin", tags=[], host__name="h2"),
        ev(3, user__name="zed", source__port=22),
        ev(4, user__name=None, source__port=22),
        ev(5, ds="otro", user__name="root"),
    ])  # fmt: skip
    q = EventQuery(datasets=("registros.sshd",), limit=1, newest_first=True)  # limit ignored
    assert store.top_values("user.name", q) == TopValues(
        "user.name", 5, 1, (("root", 2), ("admin", 1), ("zed", 1)))  # fmt: skip
    assert store.top_values("user.name", q, size=1).values == (("root", 2),)
    assert store.top_values("tags", q) == TopValues("tags", 5, 3, (("b", 2), ("a", 1)))
    assert store.top_values("host.name", q) == TopValues(
        "host.name", 5, 2, (("h1", 2), ("h2", 1)))  # fmt: skip
    assert store.top_values("source.port", q).values == (("22", 2),)
    assert store.top_values("nada", q) == TopValues("nada", 5, 5, ())
    failing = EventQuery(filters=(FieldFilter("user.name", "wildcard", "R*"),))
    assert store.top_values("user.name", failing) == TopValues("user.name", 3, 0, (("root", 3),))
    empty = store.top_values("user.name", EventQuery(until=T0))
    assert empty == TopValues("user.name", 0, 0, ())


def test_reads_see_written_events_through_the_reader_pool(tmp_path: Path) -> None:
    """A reader connection opened before the functions existed would fail on wildcard."""
    s = SQLiteStore(tmp_path / "p.db")
    try:
        s.write_events([ev(0, user__name="root")])
        for _ in range(3):  # the pooled connection is reused
            assert ids(s, flt("user.name", "wildcard", "r*")) == ["id-0000"]
            assert ids(s, EventQuery(text="nada")) == []
        ro = SQLiteStore(tmp_path / "p.db", read_only=True)
        assert ids(ro, flt("user.name", "wildcard", "R*")) == ["id-0000"]
        ro.close()
    finally:
        s.close()


# -- what the command line gives -----------------------------------------------------------
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
LIMA = ZoneInfo("America/Lima")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user.name=root", FieldFilter("user.name", "eq", "root")),
        ("user.name!=root", FieldFilter("user.name", "ne", "root")),
        ("host.name=lima-*", FieldFilter("host.name", "wildcard", "lima-*")),
        ("host.name!=l?ma", FieldFilter("host.name", "not_wildcard", "l?ma")),
        ("file.path=C:\\Users\\*", FieldFilter("file.path", "wildcard", "C:\\Users\\*")),
        ("file.path=C:\\tmp", FieldFilter("file.path", "eq", "C:\\tmp")),
        ("message=a=b", FieldFilter("message", "eq", "a=b")),
        ("user.name=", FieldFilter("user.name", "eq", "")),
    ],
)
def test_filters_parse(text: str, expected: FieldFilter) -> None:
    assert search.parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("root", "falta el operador"),
        ("=root", "falta el nombre del campo"),
        ("!=root", "falta el nombre del campo"),
        ("user.name:root", "operador desconocido «:»"),
        ("source.port>=22", "operador desconocido «>=»"),
        ("user.name==root", "operador desconocido «==»"),
        ("user name=root", "no es un nombre de campo"),
        ("@timestamp=2026", "--desde y --hasta"),
    ],
)
def test_bad_filters_are_refused_naming_them(text: str, says: str) -> None:
    with pytest.raises(UsageError) as e:
        search.parse_filter(text)
    assert f"filtro «{text}»" in str(e.value) and says in str(e.value)


def test_times_relative_now_and_absolute_in_the_local_zone() -> None:
    def t(text: str, **kw: Any) -> datetime:
        return search.parse_time(text, "--desde", now=NOW, tz=LIMA, **kw)

    assert t("ahora") == NOW
    assert t("-1h") == NOW - timedelta(hours=1)
    assert t("-30m") == NOW - timedelta(minutes=30)
    assert t("-2d") == NOW - timedelta(days=2)
    assert t("-45s") == NOW - timedelta(seconds=45)
    assert t("-1sem") == t("-1w") == NOW - timedelta(weeks=1)
    assert t("2026-12-01 08:30") == datetime(2026, 12, 1, 13, 30, tzinfo=UTC)  # Lima is -05
    assert t("2026-12-01T08:30:15") == datetime(2026, 12, 1, 13, 30, 15, tzinfo=UTC)
    assert t("2026-12-01T08:30Z") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert t("2026-12-01T08:30-03:00") == datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    assert t("2026-12-01") == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert t("2026-12-01", end_of_day=True) == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    for bad in ("ayer?", "-1y", "1h", "2026-13-01", ""):
        with pytest.raises(UsageError, match="--desde"):
            t(bad)


def test_build_query_default_window_limit_and_refusals() -> None:
    q = search.build_query(["event.outcome=failure"], since=None, until=None, now=NOW, tz=UTC)
    assert (q.since, q.until) == (NOW - timedelta(minutes=15), None)
    assert q.limit == 100 and q.newest_first
    assert q.filters == (FieldFilter("event.outcome", "eq", "failure"),)
    q = search.build_query([], since=None, until="2026-12-01T12:00Z", now=NOW, tz=UTC)
    assert q.since == datetime(2026, 12, 1, 11, 45, tzinfo=UTC)
    q = search.build_query([], since="-1d", until=None, limit=None, now=NOW, tz=UTC)
    assert q.limit is None and not q.newest_first
    with pytest.raises(UsageError, match="--hasta"):
        search.build_query([], since="-1h", until="-2h", now=NOW, tz=UTC)
    with pytest.raises(UsageError, match="--hasta"):
        search.build_query([], since="-1h", until="-1h", now=NOW, tz=UTC)
    with pytest.raises(UsageError, match="--texto"):
        search.build_query([], since=None, until=None, text="  ", now=NOW, tz=UTC)


def test_search_gives_the_newest_n_oldest_first(store: SQLiteStore) -> None:
    store.write_events([ev(i) for i in range(10)])
    q = EventQuery(limit=3, newest_first=True)
    assert [d["event"]["id"] for d in search.search(store, q)] == ["id-0007", "id-0008", "id-0009"]
    every = search.search(store, EventQuery(limit=None, newest_first=True))
    assert [d["event"]["id"] for d in every] == [f"id-{i:04d}" for i in range(10)]


class _Stop(Exception):
    pass


def test_follow_shows_each_new_event_once_late_ones_and_equal_timestamps_too(
    store: SQLiteStore,
) -> None:
    store.write_events([ev(0, at=T0, eid="b")])
    arrivals = [
        # "a" has b's time and sorts before it, stored after b was shown: still shown
        [ev(1, at=T0, eid="a"), ev(2, at=T0, eid="c")],
        [],
        [ev(3, at=T0 + timedelta(seconds=1), eid="0"), ev(4, at=T0, eid="d"),
         ev(5, at=T0 - timedelta(seconds=60), eid="tarde")],  # more than 30 s late: not
    ]  # fmt: skip

    def sleep(_s: float) -> None:
        if not arrivals:
            raise _Stop
        store.write_events(arrivals.pop(0))

    q = EventQuery(since=T0 - timedelta(minutes=15), limit=100, newest_first=True)
    shown = list(search.search(store, q))
    assert [d["event"]["id"] for d in shown] == ["b"]
    tail = search.Tail()
    for doc in shown:
        tail.add(doc)
    seen: list[str] = []

    def watch() -> None:
        for doc in search.follow(store, q, tail, sleep=sleep):
            seen.append(doc["event"]["id"])

    with pytest.raises(_Stop):
        watch()
    assert seen == ["a", "c", "d", "0"]


def test_tail_forgets_what_is_older_than_its_grace() -> None:
    tail = search.Tail(grace=timedelta(seconds=30))
    assert tail.since(T0) == T0  # nothing shown yet: the window's start
    assert tail.add(ev(0, at=T0, eid="x")) and not tail.add(ev(0, at=T0, eid="x"))
    assert tail.add(ev(1, at=T0 + timedelta(minutes=5), eid="y"))
    assert tail.since(T0) == T0 + timedelta(minutes=4, seconds=30)
    assert tail.add(ev(0, at=T0, eid="x"))  # forgotten: too old to come back in a poll


def test_cursor_reads_timestamp_and_id() -> None:
    doc = ev(0, at=T0 + timedelta(microseconds=7), eid="x")
    assert search.cursor(doc) == (T0 + timedelta(microseconds=7), "x")
    assert search.cursor({"@timestamp": "mal", "event": {"id": "x"}}) is None
    assert format_timestamp(T0.astimezone(timezone(timedelta(hours=-5)))).endswith("Z")


def test_top_values_break_ties_in_the_fields_own_order_as_the_cluster(
    store: SQLiteStore,
) -> None:
    """A terms aggregation orders equal counts by the value as the field holds it: addresses
    by their bytes, numbers by size; text by its bytes."""
    store.write_events([
        ev(0, source__ip="198.18.10.1", source__port=10, user__name="b", n=10),
        ev(1, source__ip="198.18.9.1", source__port=9, user__name="B", n=9),
        ev(2, source__ip="fd70:756b:6172::1", source__port=100, user__name="a", n=100),
        ev(3, source__ip="198.18.100.1", source__port=1000, user__name="ab", n=1000),
    ])  # fmt: skip
    q = EventQuery()
    assert [v for v, _ in store.top_values("source.ip", q).values] == [
        "198.18.9.1", "198.18.10.1", "198.18.100.1", "fd70:756b:6172::1"]  # fmt: skip
    assert [v for v, _ in store.top_values("source.port", q).values] == ["9", "10", "100", "1000"]
    assert [v for v, _ in store.top_values("n", q).values] == ["9", "10", "100", "1000"]
    assert [v for v, _ in store.top_values("user.name", q).values] == ["B", "a", "ab", "b"]
    assert [v for v, _ in store.top_values("source.ip", q, size=2).values] == [
        "198.18.9.1", "198.18.10.1"]  # fmt: skip
    assert (mapped_type("source.ip"), mapped_type("source.port")) == ("ip", "long")
    assert (mapped_type("user.name"), mapped_type("no.existe")) == ("keyword", None)


def test_an_ip_field_compares_addresses_and_takes_a_network(store: SQLiteStore) -> None:
    """As a term query on an ``ip`` field: any spelling of the address, or a CIDR range."""
    store.write_events([
        ev(0, source__ip="198.18.1.2"),
        ev(1, source__ip="198.19.200.7"),
        ev(2, source__ip="fd70:756b:6172:0:0:0:0:2"),
        ev(3, source__ip="::ffff:198.18.1.2"),
        ev(4, source__ip="no es una dirección"),
        ev(5),
    ])  # fmt: skip

    def ip(op: str, value: str) -> list[str]:
        return ids(store, flt("source.ip", op, value))

    assert ip("eq", "198.18.1.2") == ["id-0000", "id-0003"]
    assert ip("eq", "fd70:756b:6172::2") == ["id-0002"]
    assert ip("eq", "198.18.0.0/15") == ["id-0000", "id-0001", "id-0003"]
    assert ip("eq", "198.18.0.0/16") == ["id-0000", "id-0003"]
    assert ip("eq", "fd70:756b:6172::/48") == ["id-0002"]
    assert ip("ne", "198.18.0.0/15") == ["id-0002", "id-0004", "id-0005"]
    assert ip("eq", "no es una dirección") == ["id-0004"]  # not an address: as text
    assert ip("eq", "198.18.1.20") == []
    assert store.top_values("source.ip", EventQuery()).values == (
        ("198.18.1.2", 2), ("198.19.200.7", 1), ("fd70:756b:6172::2", 1),
        ("no es una dirección", 1))  # fmt: skip
