"""Sigma on the SQLite store: the ``logs`` view gives the matching the cluster gives (case,
list fields, long values, anchored regular expressions), and alerts are idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pukara.events import make_event
from pukara.store.cluster.detection import detection_component
from pukara.store.sqlite import SQLiteStore
from registros import detections
from registros.sigma_sqlite import SQLiteSource

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
HEAD = """title: {title}
id: {id}
status: test
description: Prueba.
logsource: {{product: linux}}
level: high
tags: [attack.t1110]
"""


def _rule(tmp_path: Path, detection: str, *, extra: str = "") -> detections.Rule:
    folder = tmp_path / "reglas"
    folder.mkdir(exist_ok=True)
    n = len(list(folder.iterdir())) + 1
    text = HEAD.format(title=f"Regla {n}", id=f"0d6f7a3e-2222-4c1a-9a00-{n:012d}")
    (folder / f"r{n}.yml").write_text(text + "detection:\n" + detection + extra)
    (rule,) = [r for r in detections.load_rules([folder], shipped=False) if r.path.stem == f"r{n}"]
    return rule


def _ev(eid: str, minute: float = 0, **fields: Any) -> dict[str, Any]:
    doc = make_event("registros.syslog", timestamp=T0 + timedelta(minutes=minute), fields=fields)
    doc["event"]["id"] = eid
    return doc


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[SQLiteStore, Path]]:
    path = tmp_path / "pukara.db"
    with SQLiteStore(path) as store:
        yield store, path


def _ids(path: Path, rule: detections.Rule, since: datetime | None = None) -> list[list[str]]:
    source = SQLiteSource(path)
    try:
        hits = list(detections.run(source, [rule], since, T0 + timedelta(hours=2)))
    finally:
        source.close()
    return [[e["event"]["id"] for e in h.events] for h in hits]


def test_strings_match_whatever_their_case(db: tuple[SQLiteStore, Path], tmp_path: Path) -> None:
    store, path = db
    store.write_events([
        _ev("a", 1, **{"user.name": "Root", "message": "Accepted PASSWORD for Root"}),
        _ev("b", 2, **{"user.name": "ROOT", "message": "accepted password for ROOT"}),
        _ev("c", 3, **{"user.name": "rootkit", "message": "accepted password for rootkit"}),
    ])  # fmt: skip
    rule = _rule(tmp_path, "  s:\n    user.name: root\n    message|contains: 'password for'\n"
                           "  condition: s\n")  # fmt: skip
    assert _ids(path, rule) == [["a"], ["b"]]


def test_cased_modifier_is_case_sensitive(db: tuple[SQLiteStore, Path], tmp_path: Path) -> None:
    store, path = db
    store.write_events([_ev("a", 1, **{"user.name": "Root"}), _ev("b", 2, **{"user.name": "root"})])
    rule = _rule(tmp_path, "  s:\n    user.name|cased: root\n  condition: s\n")
    assert _ids(path, rule) == [["b"]]


def test_list_fields_match_any_element_and_not_excludes_all(
    db: tuple[SQLiteStore, Path], tmp_path: Path
) -> None:
    store, path = db
    store.write_events([
        _ev("a", 1, **{"event.category": ["authentication", "session"]}),
        _ev("b", 2, **{"event.category": ["Authentication"]}),
        _ev("c", 3, **{"event.category": ["network"]}),
        _ev("d", 4),
    ])  # fmt: skip
    rule = _rule(tmp_path, "  s:\n    event.category: authentication\n  condition: s\n")
    assert _ids(path, rule) == [["a"], ["b"]]
    negated = _rule(tmp_path, "  s:\n    event.category: session\n  condition: not s\n")
    assert _ids(path, negated) == [["b"], ["c"], ["d"]]


def test_cidr_between_other_conditions_keeps_them(
    db: tuple[SQLiteStore, Path], tmp_path: Path
) -> None:
    """pysigma-backend-sqlite joins a CIDR's networks with a bare OR: grouped by pukara."""
    store, path = db
    store.write_events([
        _ev("in", 1, **{"source.ip": "198.19.4.4", "event.outcome": "success"}),
        _ev("out", 2, **{"source.ip": "198.19.4.4", "event.outcome": "failure"}),
    ])  # fmt: skip
    rule = _rule(tmp_path, "  s:\n    source.ip|cidr: 198.18.0.0/15\n"
                           "    event.outcome: success\n  condition: s\n")  # fmt: skip
    assert _ids(path, rule) == [["in"]]


def test_values_longer_than_the_cluster_indexes_are_not_matched(
    db: tuple[SQLiteStore, Path], tmp_path: Path
) -> None:
    store, path = db
    store.write_events([
        _ev("short", 1, **{"user.name": "x" * 1024}),
        _ev("long", 2, **{"user.name": "x" * 1025}),
    ])  # fmt: skip
    rule = _rule(tmp_path, "  s:\n    user.name|startswith: xxx\n  condition: s\n")
    assert _ids(path, rule) == [["short"]]


def test_regular_expressions_are_anchored_and_case_sensitive(
    db: tuple[SQLiteStore, Path], tmp_path: Path
) -> None:
    store, path = db
    store.write_events([
        _ev("a", 1, message="change user 'x' UID from '1003' to '0'"),
        _ev("b", 2, message="CHANGE USER 'x' uid FROM '1003' TO '0'"),
    ])  # fmt: skip
    whole = _rule(tmp_path, "  s:\n    message|re: \".*UID from '[0-9]+' to '0'\"\n"
                            "  condition: s\n")  # fmt: skip
    assert _ids(path, whole) == [["a"]]
    part = _rule(tmp_path, '  s:\n    message|re: "UID from"\n  condition: s\n')
    assert _ids(path, part) == []  # a part of the value is not a match, as in Lucene


def test_rules_never_read_alerts(db: tuple[SQLiteStore, Path], tmp_path: Path) -> None:
    store, path = db
    old = _ev("old-alert", 1, **{"user.name": "root"})
    old["event"]["dataset"] = detections.ALERT_DATASET
    store.write_events([old, _ev("a", 2, **{"user.name": "root"})])
    rule = _rule(tmp_path, "  s:\n    user.name: root\n  condition: s\n")
    assert _ids(path, rule) == [["a"]]


def test_correlation_counts_per_group_in_fixed_windows(
    db: tuple[SQLiteStore, Path], tmp_path: Path
) -> None:
    store, path = db
    events = [_ev(f"x{i}", i * 0.5, **{"source.ip": "198.18.1.1", "event.outcome": "failure"})
              for i in range(5)]  # fmt: skip
    events += [_ev(f"y{i}", i, **{"source.ip": "198.18.1.2", "event.outcome": "failure"})
               for i in range(4)]  # fmt: skip
    store.write_events(events)
    folder = tmp_path / "reglas"
    folder.mkdir()
    (folder / "bf.yml").write_text(
        HEAD.format(title="Base", id="0d6f7a3e-3333-4c1a-9a00-000000000001")
        + "detection:\n  s:\n    event.outcome: failure\n  condition: s\n---\n"
        "title: Fuerza\nid: 0d6f7a3e-3333-4c1a-9a00-000000000002\ncorrelation:\n"
        "  type: event_count\n  rules: [0d6f7a3e-3333-4c1a-9a00-000000000001]\n"
        "  group-by: [source.ip]\n  timespan: 5m\n  condition: {gte: 5}\n"
    )
    (rule,) = detections.load_rules([folder], shipped=False)
    assert _ids(path, rule) == [[f"x{i}" for i in range(5)]]
    # a window that starts inside the 5-minute bucket still counts the whole bucket
    assert _ids(path, rule, since=T0 + timedelta(minutes=2)) == [[f"x{i}" for i in range(5)]]


def test_silent_source_is_a_host_quiet_for_the_window(
    db: tuple[SQLiteStore, Path], tmp_path: Path
) -> None:
    store, path = db
    store.write_events([
        _ev("q", -300, **{"host.name": "callao-srv1", "event.module": "registros"}),
        _ev("l1", -200, **{"host.name": "lima-srv1"}),
        _ev("l2", 100, **{"host.name": "lima-srv1"}),
    ])  # fmt: skip
    rule = _rule(
        tmp_path,
        "  s:\n    event.module: registros\n  condition: s\n",
        extra="pukara:\n  silencio: {campo: host.name, ventana: 1h, referencia: 24h}\n",
    )
    assert _ids(path, rule) == [["q"]]


def test_alert_is_idempotent_and_carries_the_rule(
    db: tuple[SQLiteStore, Path], tmp_path: Path
) -> None:
    store, path = db
    store.write_events([_ev("a", 1, **{"user.name": "root", "source.ip": "198.18.7.7",
                                       "host.name": "lima-srv1"})])  # fmt: skip
    rule = _rule(tmp_path, "  s:\n    user.name: root\n  condition: s\n")
    source = SQLiteSource(path)
    try:
        first = [detections.alert(h) for h in detections.run(source, [rule], None, None)]
        again = [detections.alert(h) for h in detections.run(source, [rule], None, None)]
    finally:
        source.close()
    (doc,) = first
    assert doc["event"]["kind"] == "alert"
    assert doc["event"]["dataset"] == "registros.alerta"
    assert doc["event"]["severity"] == 73
    assert doc["rule"] == {"id": rule.id, "name": rule.title, "description": "Prueba.",
                           "ruleset": "ministerio"}  # fmt: skip
    assert doc["pukara"]["alert"]["event_ids"] == ["a"]
    assert doc["related"] == {"ip": ["198.18.7.7"], "user": ["root"], "hosts": ["lima-srv1"]}
    assert [d["event"]["id"] for d in again] == [doc["event"]["id"]]
    assert again[0]["pukara"]["alert"]["dedup_key"] == doc["pukara"]["alert"]["dedup_key"]
    assert store.write_events(first) == 1
    assert store.write_events(again) == 0


def test_detection_component_gives_every_string_field_a_lowercase_twin() -> None:
    body = detection_component()["template"]
    normalizer = body["settings"]["analysis"]["normalizer"]["pukara_minusculas"]
    assert normalizer["filter"] == ["lowercase"]
    user = body["mappings"]["properties"]["user"]["properties"]["name"]
    assert user["fields"]["lc"] == {
        "type": "keyword", "ignore_above": 1024, "normalizer": "pukara_minusculas",
    }  # fmt: skip
    message = body["mappings"]["properties"]["message"]
    assert message["type"] == "text"
    assert message["fields"]["keyword"]["ignore_above"] == 8191
    assert message["fields"]["lc"]["normalizer"] == "pukara_minusculas"
    # as the ECS component maps them: an address keeps its text form (for wildcards), and
    # @timestamp its microseconds
    observer_ip = body["mappings"]["properties"]["observer"]["properties"]["ip"]
    assert observer_ip["type"] == "ip" and observer_ip["fields"]["text"]["type"] == "keyword"
    assert body["mappings"]["properties"]["@timestamp"] == {"type": "date_nanos"}
