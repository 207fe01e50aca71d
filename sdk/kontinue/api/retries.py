"""Manual retries: a finished execution asked to run again, in place, from where it stopped.

A retry is requested in the spec (``spec.retryRequest``: an id the requester draws, and
optionally the worker version to run on) and performed by the controller with the
:func:`kontinue.api.transitions.retry` transition, which records the request it performed in
``status.retried`` (the id, when, the first attempt of the retry and how many retries so far).
A request is pending while its id differs from the recorded one, so a request sent twice (a
lost answer) is performed once, and a controller that restarts finds a pending request again
in its listing. A request names the end it retries (the ``finishedAt`` its requester saw): a
request written while the execution still ran, or about an earlier end, is stale and never
performed, so no request lies in wait for a later failure.

What runs again is what an automatic retry runs again: the attempt replays the history from
the top, committed steps return their recorded results, and the step that failed (never
committed) and everything after it run. On top of that, a manual retry runs again the failed
or canceled objects of the steps recorded before it (a child execution, a Job, a sleep or a
suspension the cancellation ended) as new objects named after the step and the attempt, as
``childPolicy: RetryFailed`` does for automatic retries (:func:`reruns`).

The retry budget starts afresh: the execution's ``retries`` automatic retries count from the
first attempt of the latest manual retry (:func:`budget_base`). The overall timeout counts
from the retry too (:func:`clock_start`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kontinue.api.phases import Phase, status_phase
from kontinue.api.timestamps import parse_time

REQUEST_FIELD = "retryRequest"
"""The ``spec`` key of a retry request: ``{"id", "finishedAt", "version"?}``."""

RECORD_FIELD = "retried"
"""The ``status`` key of the latest performed retry: ``{id, at, attempt, count}``."""

RETRYABLE = frozenset({Phase.FAILED, Phase.CANCELED})
"""The phases a retry starts from."""


def request_of(execution: Mapping[str, Any]) -> dict[str, Any] | None:
    """The retry request in ``execution``'s spec, if any."""
    request = (execution.get("spec") or {}).get(REQUEST_FIELD)
    return dict(request) if isinstance(request, Mapping) and request.get("id") else None


def record_of(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The latest performed retry recorded in ``status``, if any."""
    record = (status or {}).get(RECORD_FIELD)
    return dict(record) if isinstance(record, Mapping) and record.get("id") else None


def pending(execution: Mapping[str, Any]) -> dict[str, Any] | None:
    """The retry request not performed yet (its id is not the recorded one), else None."""
    request = request_of(execution)
    if request is None:
        return None
    record = record_of(execution.get("status"))
    return None if record is not None and record.get("id") == request["id"] else request


def request(request_id: str, execution: Mapping[str, Any], version: str | None = None) -> Any:
    """The ``spec.retryRequest`` retrying the end of ``execution`` its requester read."""
    value = {"id": request_id, "finishedAt": (execution.get("status") or {}).get("finishedAt")}
    if version:
        value["version"] = version
    return value


def stale(execution: Mapping[str, Any], request: Mapping[str, Any]) -> str | None:
    """Why a pending ``request`` is not about the end ``execution`` has now (None: it is)."""
    name = (execution.get("metadata") or {}).get("name")
    if (execution.get("spec") or {}).get("cancel"):
        return (
            f"the retry request {request.get('id')} of {name} leaves spec.cancel set: a retry "
            "clears the cancellation in the same write (kontinue retry does)"
        )
    finished = (execution.get("status") or {}).get("finishedAt")
    if not finished or request.get("finishedAt") != finished:
        return (
            f"the retry request {request.get('id')} of {name} names the end at "
            f"{request.get('finishedAt')}, but the execution ended at {finished}: it was written "
            "before this end, so it is not performed (request the retry again)"
        )
    return None


def refusal(execution: Mapping[str, Any]) -> str | None:
    """Why ``execution`` cannot be retried now (None when it can).

    Only a Failed or Canceled root execution is retried: a child is retried through its
    parent (the parent's retry runs its failed or canceled children again).
    """
    name = (execution.get("metadata") or {}).get("name")
    phase = status_phase(execution.get("status"))
    if phase not in RETRYABLE:
        return (
            f"execution {name} is {phase.value}: only a Failed or Canceled execution can be retried"
        )
    parent = ((execution.get("spec") or {}).get("parent") or {}).get("name")
    if parent:
        return (
            f"execution {name} is a child of {parent}: retry {parent} instead (its retry runs "
            "its failed and canceled children again)"
        )
    return None


def budget_base(status: Mapping[str, Any] | None) -> int:
    """Ended attempts that do not count against ``retries``: those before the latest retry."""
    record = record_of(status)
    return max(0, int(record.get("attempt") or 1) - 1) if record is not None else 0


def first_attempt(status: Mapping[str, Any] | None) -> int | None:
    """The first attempt of the latest manual retry (None: never retried by hand)."""
    record = record_of(status)
    return int(record.get("attempt") or 1) if record is not None else None


def clock_start(status: Mapping[str, Any] | None) -> datetime | None:
    """When the latest manual retry was performed: the overall timeout counts from there."""
    record = record_of(status)
    return parse_time(record.get("at")) if record is not None else None


def reruns(
    status: Mapping[str, Any] | None,
    recorded_attempt: int | None,
    previous_attempts: int,
    child_policy: str,
) -> bool:
    """Whether a failed or canceled object a step recorded runs again in this attempt.

    Args:
        status: the execution's status.
        recorded_attempt: the attempt that recorded the step (None: the first).
        previous_attempts: attempts that ended before the one running now.
        child_policy: the child policy in effect (``None`` or ``RetryFailed``).

    An object recorded by this very attempt is never run again. One recorded by an earlier
    attempt is under ``childPolicy: RetryFailed``, and under any policy when a manual retry
    came after the attempt that recorded it.
    """
    recorded = recorded_attempt or 1
    if recorded > previous_attempts:
        return False
    if child_policy == "RetryFailed":
        return True
    start = first_attempt(status)
    return start is not None and recorded < start


def predates(status: Mapping[str, Any] | None, created: datetime | None) -> bool:
    """Whether an object created at ``created`` was left by an attempt before the last retry.

    For the object of a step no attempt recorded (the attempt ended before it could record
    it): a failed or canceled one created before the retry (by the server's clock, to the
    second) runs again. Unknown creation times count as not.
    """
    retried = clock_start(status)
    return retried is not None and created is not None and created <= retried


def retried(status: Mapping[str, Any] | None) -> bool:
    """Whether the execution was ever retried by hand."""
    return record_of(status) is not None
