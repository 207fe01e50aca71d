"""Cron schedules of ScheduledExecutions: slots, missed runs, slot names.

Semantics follow CronJob: a slot is due when its time has come and it was not run yet; after
downtime only the most recent missed slot runs (no storm of catch-up runs), and not at all when
it is older than ``startingDeadlineSeconds``. Slots are computed in the schedule's time zone
(default UTC), so "0 9 * * *" in Europe/Berlin follows daylight saving time.

Beyond CronJob, a sixth field in front gives seconds ("*/10 * * * * *": every ten seconds), as
Quartz and Spring write it; such schedules name their runs by the second instead of the minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from kontinue.api import names


class ScheduleError(ValueError):
    """The schedule or its time zone is invalid."""


def zone(name: str | None) -> ZoneInfo:
    """The IANA time zone ``name`` (UTC when empty)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name!r}") from exc


def has_seconds(schedule: str) -> bool:
    """Whether the expression has the leading seconds field (6 fields)."""
    return len(schedule.split()) == 6


def validate(schedule: str, time_zone: str | None = None) -> None:
    """Raise :class:`ScheduleError` for an expression or time zone that cannot be used.

    An expression that parses but never matches a date (``0 0 31 2 *``: February 31st) is
    refused too.
    """
    zone(time_zone)
    fields = len(schedule.split())
    if fields not in (1, 5, 6) or not croniter.is_valid(schedule, second_at_beginning=fields == 6):
        raise ScheduleError(f"invalid cron schedule {schedule!r}")
    next_slot(schedule, time_zone, datetime.now(UTC), _validated=True)


def next_slot(
    schedule: str, time_zone: str | None, after: datetime, *, _validated: bool = False
) -> datetime:
    """The first slot strictly after ``after`` (returned in UTC).

    Raises:
        ScheduleError: the expression is invalid or matches no date.
    """
    if not _validated:
        validate(schedule, time_zone)
    local = after.astimezone(zone(time_zone))
    try:
        slot: datetime = croniter(
            schedule, local, second_at_beginning=has_seconds(schedule)
        ).get_next(datetime)
    except (CroniterBadDateError, OverflowError, ValueError) as exc:
        raise ScheduleError(f"cron schedule {schedule!r} never matches a date") from exc
    return slot.astimezone(UTC)


def latest_slot(schedule: str, time_zone: str | None, at: datetime) -> datetime | None:
    """The last slot at or before ``at`` (UTC), None when there is none."""
    validate(schedule, time_zone)
    local = (at + timedelta(microseconds=1)).astimezone(zone(time_zone))
    try:
        slot: datetime = croniter(
            schedule, local, second_at_beginning=has_seconds(schedule)
        ).get_prev(datetime)
    except (CroniterBadDateError, OverflowError, ValueError):
        return None
    return slot.astimezone(UTC)


@dataclass(frozen=True)
class Due:
    """What a schedule should do now."""

    slot: datetime | None
    """The slot to run now, or None."""
    missed: int
    """Slots that passed unrun and are skipped (all but the most recent)."""
    too_late: bool
    """The most recent slot is older than the starting deadline and is skipped too."""
    next: datetime
    """The next slot after now."""


def due(
    schedule: str,
    time_zone: str | None,
    *,
    since: datetime,
    now: datetime,
    starting_deadline_seconds: int | None = None,
    limit: int = 1000,
) -> Due:
    """Which slot (if any) is due at ``now``, given that every slot up to ``since`` ran.

    ``since`` is the last scheduled slot, or the schedule's creation time. The slot to run is
    always the latest one at or before ``now``, however long the schedule was behind; missed
    slots are counted up to ``limit`` (the count says "at least" beyond that).
    """
    following = next_slot(schedule, time_zone, now)
    latest = latest_slot(schedule, time_zone, now)
    if latest is None or latest <= since:
        return Due(None, 0, False, following)
    missed = 0
    cursor = since
    while missed < limit:
        candidate = next_slot(schedule, time_zone, cursor, _validated=True)
        if candidate >= latest:
            break
        missed += 1
        cursor = candidate
    if starting_deadline_seconds is not None and now - latest > timedelta(
        seconds=starting_deadline_seconds
    ):
        return Due(None, missed, True, following)
    return Due(latest, missed, False, following)


def slot_name(schedule_name: str, slot: datetime, *, seconds: bool = False) -> str:
    """Deterministic name of the Execution for a slot.

    Minutes since the epoch, as CronJob names its Jobs; seconds for a schedule with seconds.
    A name too long for that is shortened with a digest of the whole, so two schedules whose
    names share a long prefix never name their runs alike.
    """
    stamp = slot.astimezone(UTC).timestamp()
    return names.suffixed(schedule_name, str(int(stamp) if seconds else int(stamp // 60)))
