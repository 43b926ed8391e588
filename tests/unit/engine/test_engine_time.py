"""Timestamps as Wait and Choice read them, and the two clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from facepipe.engine import FakeClock, SystemClock
from facepipe.engine.timestamps import format_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-03-14T01:59:00Z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2016-03-14T01:59:00.5Z", datetime(2016, 3, 14, 1, 59, 0, 500000, tzinfo=UTC)),
        ("2016-03-05T21:29:29.243167252Z", datetime(2016, 3, 5, 21, 29, 29, 243167, tzinfo=UTC)),
        (
            "2016-03-14T01:59:00+05:30",
            datetime(2016, 3, 14, 1, 59, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
    ],
)
def test_valid_timestamps(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2016-03-14T01:59:00",  # no zone
        "2016-03-14 01:59:00Z",  # no T
        "2016-12-05T25:29:29Z",  # no such hour
        "05-12-2016T21:29:29Z",
        "2023-02-24",
        "",
        1457920740,
    ],
)
def test_invalid_timestamps(text):
    assert parse_timestamp(text) is None


def test_format_timestamp_is_utc_with_milliseconds():
    moment = datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2024-01-02T01:04:05.678Z"


def test_fake_clock_moves_only_when_asked():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    clock = FakeClock(start)
    assert clock.now() == start
    clock.sleep(2.5)
    clock.advance(1)
    assert clock.now() == start + timedelta(seconds=3.5)
    assert clock.sleeps == [2.5]
    assert not clock.is_real


def test_fake_clock_needs_an_aware_start():
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2024, 1, 1))


def test_system_clock_is_aware_utc():
    clock = SystemClock()
    assert clock.now().tzinfo is UTC and clock.is_real
