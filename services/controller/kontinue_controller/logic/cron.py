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

from croniter import croniter


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
    """Raise :class:`ScheduleError` for an expression or time zone that cannot be used."""
    zone(time_zone)
    fields = len(schedule.split())
    if fields not in (1, 5, 6) or not croniter.is_valid(schedule, second_at_beginning=fields == 6):
        raise ScheduleError(f"invalid cron schedule {schedule!r}")


def next_slot(schedule: str, time_zone: str | None, after: datetime) -> datetime:
    """The first slot strictly after ``after`` (returned in UTC)."""
    validate(schedule, time_zone)
    local = after.astimezone(zone(time_zone))
    slot: datetime = croniter(schedule, local, second_at_beginning=has_seconds(schedule)).get_next(
        datetime
    )
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

    ``since`` is the last scheduled slot, or the schedule's creation time.
    """
    slots: list[datetime] = []
    cursor = since
    while len(slots) < limit:
        candidate = next_slot(schedule, time_zone, cursor)
        if candidate > now:
            break
        slots.append(candidate)
        cursor = candidate
    following = next_slot(schedule, time_zone, max(now, cursor))
    if not slots:
        return Due(None, 0, False, following)
    latest = slots[-1]
    missed = len(slots) - 1
    if starting_deadline_seconds is not None and now - latest > timedelta(
        seconds=starting_deadline_seconds
    ):
        return Due(None, missed, True, following)
    return Due(latest, missed, False, following)


def slot_name(schedule_name: str, slot: datetime, *, seconds: bool = False) -> str:
    """Deterministic name of the Execution for a slot.

    Minutes since the epoch, as CronJob names its Jobs; seconds for a schedule with seconds.
    """
    stamp = slot.astimezone(UTC).timestamp()
    suffix = f"-{int(stamp) if seconds else int(stamp // 60)}"
    return schedule_name[: 63 - len(suffix)].rstrip("-") + suffix
