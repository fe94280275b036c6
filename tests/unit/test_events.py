import uuid
from datetime import UTC, datetime

import pytest

from pukara.events import (
    format_timestamp,
    get_field,
    make_event,
    new_event_id,
    parse_timestamp,
)


def test_make_event_is_ecs_shaped() -> None:
    ts = datetime(2026, 10, 3, 12, 0, 1, 5, tzinfo=UTC)
    doc = make_event(
        "monitoreo.sondeo",
        timestamp=ts,
        outcome="success",
        message="ok",
        fields={"host.name": "s001", "source.ip": "198.18.0.1", "observer.name": None},
    )
    assert doc["@timestamp"] == "2026-10-03T12:00:01.000005Z"
    event_id = doc["event"].pop("id")
    assert doc["event"] == {
        "dataset": "monitoreo.sondeo", "module": "monitoreo", "kind": "event", "outcome": "success"
    }  # fmt: skip
    assert uuid.UUID(event_id).version == 7
    assert doc["host"] == {"name": "s001"}
    assert get_field(doc, "source.ip") == "198.18.0.1"
    assert "observer" not in doc  # None values are left out


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="zone"):
        parse_timestamp("2026-01-01T00:00:00")


def test_timestamps_round_trip_in_utc() -> None:
    text = "2026-10-03T07:00:00.000000-05:00"
    assert format_timestamp(parse_timestamp(text)) == "2026-10-03T12:00:00.000000Z"


def test_event_ids_are_unique_uuid7_in_time_order() -> None:
    ids = [new_event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    # the first 48 bits are milliseconds: never decreasing
    stamps = [uuid.UUID(i).int >> 80 for i in ids]
    assert stamps == sorted(stamps)


def test_text_from_devices_is_cleaned() -> None:
    from pukara.text import clean, clean_line, csv_cell

    assert clean("gw\x1b[2J\x1b]0;pwned\x07-1\x9b\x00") == "gw-1"
    assert clean_line("a\tb\nc") == "a b c"
    assert [csv_cell(v) for v in ("=cmd|' /C calc'!A0", "+1", "-5", "@SUM(A1)", "ok", 3)] == [
        "'=cmd|' /C calc'!A0", "+1", "-5", "'@SUM(A1)", "ok", 3,
    ]  # fmt: skip
