"""When an execution's timers fire: attempt and overall timeouts, backoff end, TTL.

Every deadline is computed from the object alone (spec durations and status timestamps), so a
restarted controller rebuilds exactly the same timers from a list of the executions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kontinue.api import durations
from kontinue.api.phases import execution_phase
from kontinue.api.timestamps import parse_time


def _spec_duration(execution: Mapping[str, Any], block: str, key: str) -> Any:
    """A duration of the spec; one stored before the cap existed counts as the cap."""
    raw = ((execution.get("spec") or {}).get(block) or {}).get(key)
    return durations.parse_duration(raw, clamp=True) if raw else None


def attempt_deadline(execution: Mapping[str, Any]) -> datetime | None:
    """When the running attempt times out (None without ``timeout.attempt`` or attempt)."""
    if execution_phase(dict(execution)).terminal:
        return None
    status = execution.get("status") or {}
    number = status.get("attempt")
    if number is not None and int(number) <= len(status.get("attempts") or []):
        # that attempt ended (Backoff, or Pending after it): the next one has not started, and
        # the ended one's attemptStartedAt must not time out the execution before a claim
        return None
    limit = _spec_duration(execution, "timeout", "attempt")
    started = parse_time(status.get("attemptStartedAt"))
    return started + limit if limit is not None and started is not None else None


def overall_deadline(execution: Mapping[str, Any]) -> datetime | None:
    """When the whole execution times out (None without ``timeout.overall``).

    Counted from the execution's creation, so time spent Pending (no worker serves its function,
    it waits for a mutex or a slot) counts too: an overall timeout bounds the whole life.
    """
    if execution_phase(dict(execution)).terminal:
        return None
    limit = _spec_duration(execution, "timeout", "overall")
    created = parse_time((execution.get("metadata") or {}).get("creationTimestamp"))
    started = created or parse_time((execution.get("status") or {}).get("startedAt"))
    return started + limit if limit is not None and started is not None else None


def backoff_end(execution: Mapping[str, Any]) -> datetime | None:
    """When a Backoff execution becomes Pending again."""
    status = execution.get("status") or {}
    if status.get("phase") != "Backoff":
        return None
    return parse_time(status.get("nextAttemptAt"))


def ttl_deadlines(execution: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(archive at, delete at) of a finished root execution; children go with their root."""
    if (execution.get("spec") or {}).get("parent"):
        return None, None
    if not execution_phase(dict(execution)).terminal:
        return None, None
    finished = parse_time((execution.get("status") or {}).get("finishedAt"))
    if finished is None:
        return None, None
    archive = _spec_duration(execution, "ttl", "archiveAfter")
    delete = _spec_duration(execution, "ttl", "deleteAfter")
    return (
        finished + archive if archive is not None else None,
        finished + delete if delete is not None else None,
    )
