from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kontinue_controller.logic import cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_next_slot_in_utc_and_in_a_time_zone_with_dst() -> None:
    assert cron.next_slot("*/15 * * * *", None, at("2030-01-01T10:07:00")) == at(
        "2030-01-01T10:15:00"
    )
    assert cron.next_slot("@hourly", "UTC", at("2030-01-01T10:00:00")) == at("2030-01-01T11:00:00")
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer
    assert cron.next_slot("0 9 * * *", "Europe/Berlin", at("2030-03-30T12:00:00")) == at(
        "2030-03-31T07:00:00"
    )
    assert cron.next_slot("0 9 * * *", "Europe/Berlin", at("2030-01-10T12:00:00")) == at(
        "2030-01-11T08:00:00"
    )


def test_nothing_due_before_the_first_slot() -> None:
    result = cron.due(
        "0 * * * *", None, since=at("2030-01-01T10:00:00"), now=at("2030-01-01T10:59:59")
    )
    assert result.slot is None and result.missed == 0
    assert result.next == at("2030-01-01T11:00:00")


def test_only_the_latest_missed_slot_runs_after_downtime() -> None:
    result = cron.due(
        "*/5 * * * *", None, since=at("2030-01-01T10:00:00"), now=at("2030-01-01T11:02:00")
    )
    assert result.slot == at("2030-01-01T11:00:00")
    assert result.missed == 11  # 10:05 ... 10:55 are skipped, not run in a storm
    assert result.next == at("2030-01-01T11:05:00")


def test_starting_deadline_skips_a_late_slot() -> None:
    late = cron.due(
        "0 * * * *",
        None,
        since=at("2030-01-01T09:00:00"),
        now=at("2030-01-01T10:03:00"),
        starting_deadline_seconds=60,
    )
    assert late.slot is None and late.too_late
    in_time = cron.due(
        "0 * * * *",
        None,
        since=at("2030-01-01T09:00:00"),
        now=at("2030-01-01T10:00:30"),
        starting_deadline_seconds=60,
    )
    assert in_time.slot == at("2030-01-01T10:00:00")


@pytest.mark.parametrize(
    ("schedule", "zone"),
    [
        ("61 * * * *", None),
        ("@every 5m", None),
        ("* * * * * * *", None),
        ("0 9 * * *", "Mars/Olympus"),
    ],
)
def test_invalid_schedules_and_zones(schedule: str, zone: str | None) -> None:
    with pytest.raises(cron.ScheduleError):
        cron.validate(schedule, zone)


def test_slot_names_are_deterministic_and_fit_a_label() -> None:
    slot = at("2030-01-01T10:00:00")
    assert cron.slot_name("nightly", slot) == f"nightly-{int(slot.timestamp() // 60)}"
    long = cron.slot_name("x" * 80, slot)
    assert len(long) <= 63 and long == cron.slot_name("x" * 80, slot)


def test_a_leading_seconds_field_schedules_by_the_second() -> None:
    cron.validate("*/10 * * * * *")
    assert cron.has_seconds("*/10 * * * * *") and not cron.has_seconds("*/10 * * * *")
    assert cron.next_slot("*/10 * * * * *", None, at("2030-01-01T10:00:03")) == at(
        "2030-01-01T10:00:10"
    )
    slot = at("2030-01-01T10:00:10")
    assert cron.slot_name("tick", slot, seconds=True) == f"tick-{int(slot.timestamp())}"
    assert cron.slot_name("tick", slot) == f"tick-{int(slot.timestamp() // 60)}"
    with pytest.raises(cron.ScheduleError):
        cron.validate("* * * * * * *")


def test_a_schedule_far_behind_runs_its_latest_slot() -> None:
    # a per-minute schedule 20 hours behind: 1,200 missed slots, more than are counted
    since = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    now = since + timedelta(hours=20, seconds=30)
    due = cron.due("* * * * *", None, since=since, now=now, starting_deadline_seconds=120)
    assert due.slot == since + timedelta(hours=20)
    assert not due.too_late
    assert due.missed == 1000  # counted up to the limit: "at least"
    assert due.next == since + timedelta(hours=20, minutes=1)


def test_a_schedule_that_never_matches_a_date_is_invalid() -> None:
    with pytest.raises(cron.ScheduleError, match="never matches"):
        cron.validate("0 0 31 2 *")
    with pytest.raises(cron.ScheduleError, match="never matches"):
        cron.due(
            "0 0 31 2 *",
            None,
            since=datetime(2030, 1, 1, tzinfo=UTC),
            now=datetime(2030, 6, 1, tzinfo=UTC),
        )


def test_long_schedule_names_give_distinct_valid_run_names() -> None:
    slot = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    first = cron.slot_name("a" * 54 + "-first", slot)
    second = cron.slot_name("a" * 54 + "-second", slot)
    assert first != second
    assert len(first) <= 63 and len(second) <= 63
    assert cron.slot_name("nightly", slot) == f"nightly-{int(slot.timestamp() // 60)}"
