"""How an attempt ended, and the transition of the Execution's lifecycle that outcome leads to.

:func:`finish_status` maps an outcome to its transition in :mod:`kontinue.api.transitions`:
Completed, Backoff (a retryable failure with retries left), Failed, Suspended, Pending (an
interrupted attempt) or Canceled. The worker applies it to the attempt it ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kontinue.api import policy, transitions


@dataclass
class Outcome:
    """How one attempt ended."""

    kind: Literal["completed", "failed", "released", "canceled", "fenced", "interrupted"]
    result: Any = None
    error: BaseException | None = None
    waiting_on: list[tuple[str, str]] = field(default_factory=list)
    message: str = ""
    waiting_details: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """Extra fields of some waited items (see :func:`kontinue.api.transitions.suspend`)."""


def finish_status(outcome: Outcome, execution: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The status fields an outcome sets (a merge patch of ``status``), from the lifecycle."""
    status = execution.get("status") or {}
    if outcome.kind == "completed":
        return transitions.complete(status, outcome.result, now)
    if outcome.kind == "released":
        return transitions.suspend(outcome.waiting_on, outcome.message, outcome.waiting_details)
    if outcome.kind == "interrupted":
        return transitions.release(f"resuming after an interruption: {outcome.message}")
    if outcome.kind == "canceled":
        return transitions.cancel(status, outcome.message, now)
    assert outcome.error is not None
    return transitions.fail(status, outcome.error, policy.retry_of(execution), now)
