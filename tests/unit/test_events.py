from datetime import UTC, datetime

import pytest

from pukara.events import format_timestamp, get_field, make_event, parse_timestamp


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
    assert doc["event"] == {
        "dataset": "monitoreo.sondeo", "module": "monitoreo", "kind": "event", "outcome": "success"
    }  # fmt: skip
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
