"""When a waiting execution or a sleep is due: backoff ends, sleep ends, Suspended wake-ups.

- a Backoff execution goes back to Pending at ``nextAttemptAt`` (at once without one);
- a sleep's Suspension completes at its ``resumeAt`` while it still waits;
- a Suspended execution goes back to Pending once everything in ``suspendedOn`` resolved: a
  child Execution finished, a Suspension no longer waits (or its sleep is over), a Job ended.

Every answer comes from the objects and the time given, so a restarted controller derives the
same wake-ups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kontinue.api import timestamps
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, job_end, suspension_phase
from kontinue_controller.logic import deadlines, fan_out


def backoff_due(execution: Mapping[str, Any], now: datetime) -> datetime | None:
    """When a Backoff execution goes back to Pending (``now`` without ``nextAttemptAt``).

    None when the execution is not in Backoff.
    """
    if execution_phase(dict(execution)) != Phase.BACKOFF:
        return None
    return deadlines.backoff_end(execution) or now


def sleep_due(suspension: Mapping[str, Any]) -> datetime | None:
    """When a sleep's Suspension completes: its ``resumeAt``, while it still waits; else None."""
    if suspension_phase(dict(suspension)) != SuspensionPhase.SUSPENDED:
        return None
    return timestamps.parse_time((suspension.get("spec") or {}).get("resumeAt"))


def resolved(kind: str, obj: Mapping[str, Any], now: datetime) -> bool:
    """Whether a waited-on object (``kind``: Execution, Suspension or Job) no longer holds.

    An Execution resolves when it finished, a Job when it ended (Complete or Failed), a
    Suspension when it no longer waits or its sleep's ``resumeAt`` passed.
    """
    if kind == "Execution":
        return execution_phase(dict(obj)).terminal
    if kind == "Job":
        return job_end(dict(obj)) is not None
    if suspension_phase(dict(obj)) != SuspensionPhase.SUSPENDED:
        return True
    resume_at = timestamps.parse_time((obj.get("spec") or {}).get("resumeAt"))
    return resume_at is not None and resume_at <= now


@dataclass(frozen=True)
class WakeUp:
    """What to write to a Suspended execution once some of what it waits on resolved."""

    resume: bool
    """Everything resolved: back to Pending, ``suspendedOn`` cleared."""
    message: str
    """The message of the resumption (says what it waited on)."""
    progress: dict[str, Any] | None
    """A released fan-out's automatic progress to write (with the resumption, or alone)."""


def wake_up(execution: Mapping[str, Any], resolved: Sequence[bool]) -> WakeUp:
    """The wake-up of a Suspended execution given, per ``suspendedOn`` item, whether it resolved."""
    items = (execution.get("status") or {}).get("suspendedOn") or []
    waited = ", ".join(f"{i['kind'].lower()} {i['name']}" for i in items)
    return WakeUp(
        resume=all(resolved),
        message=f"resuming: {waited or 'nothing'} done",
        progress=fan_out.progress_update(execution, sum(resolved)),
    )
