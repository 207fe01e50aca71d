"""Timestamps as Kubernetes writes them (RFC 3339, UTC), both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def format_time(moment: datetime) -> str:
    """A ``metav1.Time``: UTC with seconds precision, e.g. ``2030-01-01T10:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_time_ceil(moment: datetime) -> str:
    """A deadline (a sleep's ``resumeAt``, a backoff's end) with millisecond precision.

    Rounded up to the next millisecond, so a wait is never shorter than asked; RFC 3339 with a
    fraction, e.g. ``2030-01-01T10:00:00.250Z`` (whole seconds would make a timer up to one
    second late).
    """
    moment = moment.astimezone(UTC)
    if moment.microsecond % 1000:
        moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_micro_time(moment: datetime) -> str:
    """A ``metav1.MicroTime`` (Lease renew times), microsecond precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> str:
    """The current time as :func:`format_time` writes it."""
    return format_time(datetime.now(UTC))


def parse_time(value: Any) -> datetime | None:
    """Parse a timestamp read from an object (None for an empty value)."""
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
