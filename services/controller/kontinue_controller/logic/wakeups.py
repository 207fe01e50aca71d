"""When a waiting execution or a sleep is due: backoff ends, sleep ends, Suspended wake-ups.

- a Backoff execution goes back to Pending at ``nextAttemptAt`` (at once without one);
- a sleep's Suspension completes at its ``resumeAt`` while it still waits;
- a Suspended execution goes back to Pending once everything in ``suspendedOn`` resolved, or
  one item marked ``first`` did (the rules are :mod:`kontinue.api.waits`'s, shared with the
  in-process test environment).

Every answer comes from the objects and the time given, so a restarted controller derives the
same wake-ups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kontinue.api import deadlines, fan_out, timestamps, waits
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, suspension_phase


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
        resume=waits.wakes(items, resolved),
        message=f"resuming: {waited or 'nothing'} done",
        progress=fan_out.progress_update(execution, sum(resolved)),
    )
