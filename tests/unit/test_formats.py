from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pukara import formats


def test_numbers_follow_cldr_for_peru() -> None:
    assert formats.number(1234567.891, 2) == "1,234,567.89"
    assert formats.number(7) == "7"
    assert formats.percent(96.5) == "96.50\u00a0%"
    assert formats.percent(99.9994, 3) == "99.999\u00a0%"
    assert formats.milliseconds(12.345) == "12.3\u00a0ms"


def test_times_read_in_the_sites_zone() -> None:
    ts = datetime(2026, 10, 3, 15, 4, 5, tzinfo=UTC)
    assert formats.datetime_text(ts, ZoneInfo("America/Lima")) == "3 oct. 2026, 10:04 PET"
    assert formats.datetime_text(ts, ZoneInfo("Europe/Madrid")) == "3 oct. 2026, 17:04 +0200"
    assert formats.datetime_text(ts, seconds=True) == "3 oct. 2026, 15:04:05 UTC"
    with pytest.raises(ValueError, match="naive"):
        formats.datetime_text(datetime(2026, 10, 3))  # noqa: DTZ001
