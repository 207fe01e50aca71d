"""How an attempt ended, and the status that outcome leads to.

:func:`finish_status` is the pure decision of what the execution's status becomes: Completed,
Backoff (a retryable failure with retries left), Failed, Suspended, Pending (an interrupted
attempt) or Canceled. The worker applies it to the attempt it ran, the controller to an attempt
it ends itself (a timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kontinue import errors
from kontinue.api import attempts, durations, policy
from kontinue.api.messages import truncate_message
from kontinue.api.timestamps import format_time, format_time_ceil


@dataclass
class Outcome:
    """How one attempt ended."""

    kind: Literal["completed", "failed", "released", "canceled", "fenced", "interrupted"]
    result: Any = None
    error: BaseException | None = None
    waiting_on: list[tuple[str, str]] = field(default_factory=list)
    message: str = ""


def error_status(error: BaseException) -> dict[str, Any]:
    """``status.error`` for an exception: kind, message, retryable (and child)."""
    if isinstance(error, errors.KontinueError):
        status: dict[str, Any] = {
            "kind": str(error.kind),
            "message": truncate_message(str(error)),
            "retryable": error.retryable,
        }
        if error.child:
            status["child"] = error.child
        return status
    text = str(error)
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return {
        "kind": str(errors.ErrorKind.EXECUTION),
        "message": truncate_message(message),
        "retryable": True,
    }


def finish_status(outcome: Outcome, execution: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The status fields an outcome sets (a merge patch of ``status``)."""
    status = execution.get("status") or {}
    stamp = format_time(now)
    if outcome.kind == "completed":
        return {
            "phase": "Completed",
            "result": outcome.result,
            "finishedAt": stamp,
            "message": None,
            "suspendedOn": None,
            "attempts": attempts.end(status, "Completed", stamp),
        }
    if outcome.kind == "released":
        return {
            "phase": "Suspended",
            "message": truncate_message(outcome.message),
            "suspendedOn": [{"kind": k, "name": n} for k, n in outcome.waiting_on],
        }
    if outcome.kind == "interrupted":
        return {
            "phase": "Pending",
            "workerName": None,
            "workerId": None,
            "message": truncate_message(f"resuming after an interruption: {outcome.message}"),
            "suspendedOn": None,
        }
    if outcome.kind == "canceled":
        return {
            "phase": "Canceled",
            "finishedAt": stamp,
            "message": truncate_message(outcome.message),
            "suspendedOn": None,
            "attempts": attempts.end(status, "Canceled", stamp, truncate_message(outcome.message)),
        }
    assert outcome.error is not None
    error = error_status(outcome.error)
    retry = policy.retry_of(execution)
    previous = attempts.ended(status)
    attempt = {
        "phase": "Failed",
        "message": error["message"],
        "startedAt": status.get("attemptStartedAt") or status.get("startedAt") or stamp,
        "finishedAt": stamp,
        "workerName": status.get("workerName"),
        "error": error,
    }
    attempt = {k: v for k, v in attempt.items() if v is not None}
    patch: dict[str, Any] = {
        "attempts": attempts.finished(status, attempt),
        "error": error,
        "message": error["message"],
        "suspendedOn": None,
    }
    if error["retryable"] and len(previous) < int(retry.get("retries") or 0):
        backoff = durations.parse_duration(retry.get("backoff") or "5s", clamp=True)
        patch.update(phase="Backoff", nextAttemptAt=format_time_ceil(now + backoff))
    else:
        patch.update(phase="Failed", finishedAt=stamp)
    return patch
