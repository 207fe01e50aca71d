"""When an execution's timers fire: attempt and overall timeouts, backoff end, TTL.

Every deadline is computed from the object alone (spec durations and status timestamps), so a
restarted controller rebuilds exactly the same timers from a list of the executions. The
controller sets its timers from these functions, and the in-process test environment
(:mod:`kontinue.testing.environment`) fires its fake-clock timers from the very same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kontinue.api import durations, policy, retries
from kontinue.api.phases import Phase, execution_phase
from kontinue.api.timestamps import parse_time


def _spec_duration(execution: Mapping[str, Any], block: str, key: str) -> Any:
    """A duration of the spec; one stored before the cap existed counts as the cap."""
    raw = ((execution.get("spec") or {}).get(block) or {}).get(key)
    return durations.parse_duration(raw, clamp=True) if raw else None


def _timeout(
    execution: Mapping[str, Any], key: str, defaults: Mapping[str, Any] | None = None
) -> Any:
    """A time limit in effect: the Execution's own, else its function's default.

    The default is recorded in ``status.policy`` by the first claim; before it, ``defaults``
    (the Function object's) stand in. A duration stored before the cap existed counts as the
    cap.
    """
    raw = policy.timeout_of(execution, defaults).get(key)
    return durations.parse_duration(raw, clamp=True) if raw else None


def attempt_deadline(execution: Mapping[str, Any]) -> datetime | None:
    """When the running attempt times out (None without ``timeout.attempt`` or a running claim).

    The limit counts from the current claim (``claimedAt``): it restarts whenever the execution
    resumes (a wake-up after a release, a takeover), and it does not run while no worker runs
    the execution (Suspended, Pending, Backoff).
    """
    if execution_phase(dict(execution)) != Phase.EXECUTING:
        return None
    status = execution.get("status") or {}
    limit = _timeout(execution, "attempt")
    started = parse_time(status.get("claimedAt") or status.get("attemptStartedAt"))
    return started + limit if limit is not None and started is not None else None


def overall_deadline(
    execution: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> datetime | None:
    """When the whole execution times out (None without ``timeout.overall``).

    Counted from the execution's creation, so time spent Pending (no worker serves its function,
    it waits for a mutex or a slot) counts too: an overall timeout bounds the whole life, also
    when the limit is its function's default (``defaults``) and no claim has recorded it yet.
    A manual retry (:mod:`kontinue.api.retries`) starts the clock again from the retry.
    """
    if execution_phase(dict(execution)).terminal:
        return None
    limit = _timeout(execution, "overall", defaults)
    created = parse_time((execution.get("metadata") or {}).get("creationTimestamp"))
    started = created or parse_time((execution.get("status") or {}).get("startedAt"))
    retried = retries.clock_start(execution.get("status"))
    if retried is not None and (started is None or retried > started):
        started = retried
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
