"""Deadlines are written with millisecond precision, rounded up, and read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kontinue.api.timestamps import format_time, format_time_ceil, parse_time

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC), "2030-01-01T10:00:00.000Z"),
        (datetime(2030, 1, 1, 10, 0, 0, 250000, tzinfo=UTC), "2030-01-01T10:00:00.250Z"),
        (datetime(2030, 1, 1, 10, 0, 0, 250001, tzinfo=UTC), "2030-01-01T10:00:00.251Z"),
        (datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2031-01-01T00:00:00.000Z"),
        (datetime(2030, 1, 1, 12, 0, 0, 5, tzinfo=PLUS_TWO), "2030-01-01T10:00:00.001Z"),
    ],
)  # fmt: skip
def test_a_deadline_is_never_earlier_than_asked_and_at_most_a_millisecond_later(
    moment: datetime, written: str
) -> None:
    assert format_time_ceil(moment) == written
    read = parse_time(written)
    assert read is not None
    assert timedelta(0) <= read - moment < timedelta(milliseconds=1)


def test_other_times_keep_whole_seconds() -> None:
    assert format_time(datetime(2030, 1, 1, 10, 0, 0, 999999, tzinfo=UTC)) == "2030-01-01T10:00:00Z"
