"""An Execution's lifecycle: every status change any component writes, as a pure function.

Each function returns the merge patch of ``status`` one transition writes; the caller sends it
with the resourceVersion it read (a conditional write), so a transition applies to the state it
was decided on or not at all. The worker, the engine, the controller and the UI write an
Execution's phase only through these functions, and :data:`LIFECYCLE` lists which phases each
one leaves and reaches, so the whole state machine can be read (and tested) in one place::

    Pending --claim--> Executing --complete--> Completed
       ^  |               |  |----fail--------> Failed, or Backoff (retries left)
       |  |               |  |----suspend-----> Suspended
       |  |               |  '----release-----> Pending (handed back, the attempt goes on)
       |  '--refuse--> Failed (admission: it can never run)
       '--wake-- Suspended, Backoff, Executing (a wake-up, a backoff's end, a takeover)
    any unfinished --cancel--> Canceled or Skipped
    any unfinished --fail--> Failed or Backoff (also the controller's attempt and overall timeouts)
    Failed, Canceled --retry--> Pending (a manual retry, in place; see kontinue.api.retries)

Completed, Failed, Canceled and Skipped are terminal: no transition leaves them, except
:func:`retry`, the only one that leaves a terminal phase: a person asks a Failed or Canceled
execution to run again from where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kontinue import errors
from kontinue.api import attempts, durations, retries, worker_versions
from kontinue.api.messages import truncate_message
from kontinue.api.phases import Phase, status_phase
from kontinue.api.timestamps import format_micro_time, format_time, format_time_ceil

Status = Mapping[str, Any]
Patch = dict[str, Any]


@dataclass(frozen=True)
class Transition:
    """One kind of status change: the phases it may start from and the phases it may reach."""

    sources: frozenset[Phase]
    targets: frozenset[Phase]


_UNFINISHED = frozenset(p for p in Phase if not p.terminal)

LIFECYCLE: Mapping[str, Transition] = {
    "claim": Transition(frozenset({Phase.PENDING}), frozenset({Phase.EXECUTING})),
    "note": Transition(frozenset({Phase.PENDING}), frozenset({Phase.PENDING})),
    "release": Transition(frozenset({Phase.EXECUTING}), frozenset({Phase.PENDING})),
    "wake": Transition(
        frozenset({Phase.SUSPENDED, Phase.BACKOFF, Phase.EXECUTING}), frozenset({Phase.PENDING})
    ),
    "complete": Transition(frozenset({Phase.EXECUTING}), frozenset({Phase.COMPLETED})),
    "suspend": Transition(frozenset({Phase.EXECUTING}), frozenset({Phase.SUSPENDED})),
    "fail": Transition(_UNFINISHED, frozenset({Phase.FAILED, Phase.BACKOFF})),
    "refuse": Transition(frozenset({Phase.PENDING}), frozenset({Phase.FAILED})),
    "cancel": Transition(_UNFINISHED, frozenset({Phase.CANCELED, Phase.SKIPPED})),
    "retry": Transition(retries.RETRYABLE, frozenset({Phase.PENDING})),
}
"""Every transition by name (the name of the function that writes it)."""

ALLOWED: frozenset[tuple[Phase, Phase]] = frozenset(
    (source, target)
    for transition in LIFECYCLE.values()
    for source in transition.sources
    for target in transition.targets
)
"""Every (from, to) phase pair some transition writes."""


def allows(name: str, phase: Phase) -> bool:
    """Whether transition ``name`` may start from ``phase`` (what a button or a verb may offer)."""
    return phase in LIFECYCLE[name].sources


def claim(
    status: Status | None,
    *,
    worker: str,
    identity: str,
    attempt: int,
    now: datetime,
    version: str | None = None,
) -> Patch:
    """Pending -> Executing: ``worker`` (process ``identity``, of ``version``) takes ``attempt``.

    Counts the claim (the fencing token every later write of this worker is checked against),
    the resumption when an earlier claim existed, and starts the attempt's and the execution's
    clocks the first time. The running attempt's entry in ``status.attempts`` is added by the
    claim's own operations (see :func:`kontinue.api.attempts.claimed`).

    The first claim pins the execution to the worker's ``version`` (``status.workerVersion``);
    later claims by the same version keep it untouched. A claim by another version (allowed
    only to a worker that upgrades it, see :mod:`kontinue.api.worker_versions`) moves the
    execution to the new version.
    """
    status = status or {}
    stamp = format_time(now)
    claim_number = int(status.get("claim") or 0) + 1
    patch: Patch = {
        "phase": Phase.EXECUTING,
        "workerName": worker,
        "workerId": identity,
        "claim": claim_number,
        "claimedAt": format_micro_time(now),
        "attempt": attempt,
        "message": None,
    }
    if status.get("attempt") != attempt or not status.get("attemptStartedAt"):
        patch["attemptStartedAt"] = stamp
    if not status.get("startedAt"):
        patch["startedAt"] = stamp
    if claim_number > 1:
        patch["resumptions"] = int(status.get("resumptions") or 0) + 1
    if version and status.get(worker_versions.STATUS_FIELD) != version:
        patch[worker_versions.STATUS_FIELD] = version
    return patch


def note(message: str) -> Patch:
    """Pending stays Pending with a reason: no worker serves it, or it waits for a mutex."""
    return {"phase": Phase.PENDING, "message": truncate_message(message)}


def release(message: str) -> Patch:
    """Executing -> Pending: the worker hands the execution back; its attempt goes on elsewhere.

    Used when a worker shuts down, loses an attempt before writing its outcome, cannot write
    for too long, or is interrupted. The execution no longer waits on anything.
    """
    return {
        "phase": Phase.PENDING,
        "workerName": None,
        "workerId": None,
        "message": truncate_message(message),
        "suspendedOn": None,
    }


def wake(status: Status | None, message: str, **extra: Any) -> Patch:
    """Suspended, Backoff or Executing -> Pending: the controller hands it to the next claim.

    A wake-up (a timer, a resumed suspension, a child that ended), the end of a backoff or a
    takeover from a worker that stopped renewing. A woken execution that held a function slot
    while it waited asks for one again. ``extra`` adds fields (``nextAttemptAt``, ...).
    """
    patch: Patch = {"phase": Phase.PENDING, "message": truncate_message(message), **extra}
    waited = status_phase(status) in (Phase.SUSPENDED, Phase.BACKOFF)
    if waited and (((status or {}).get("grants") or {}).get("slot")):
        patch["grants"] = {"slot": None}
    return patch


def complete(status: Status | None, result: Any, now: datetime) -> Patch:
    """Executing -> Completed with ``result`` (already JSON); the running attempt ends too."""
    stamp = format_time(now)
    return {
        "phase": Phase.COMPLETED,
        "result": result,
        "finishedAt": stamp,
        "message": None,
        "suspendedOn": None,
        "attempts": attempts.end(status, Phase.COMPLETED, stamp),
    }


def suspend(
    waiting_on: Sequence[tuple[str, str]],
    message: str,
    details: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> Patch:
    """Executing -> Suspended: the attempt waits on these (kind, name) objects, off any worker.

    ``details`` adds fields to some items (see :mod:`kontinue.api.waits`): ``first`` (this item
    alone wakes the execution) and, for a ``Signal`` item, ``after``.
    """
    extra = details or {}
    return {
        "phase": Phase.SUSPENDED,
        "message": truncate_message(message),
        "suspendedOn": [
            {"kind": kind, "name": name, **extra.get((kind, name), {})} for kind, name in waiting_on
        ],
    }


def error_status(error: BaseException) -> dict[str, Any]:
    """``status.error`` for an exception: kind, message, retryable (and child)."""
    if isinstance(error, errors.KontinueError):
        recorded: dict[str, Any] = {
            "kind": str(error.kind),
            "message": truncate_message(str(error)),
            "retryable": error.retryable,
        }
        if error.child:
            recorded["child"] = error.child
        return recorded
    text = str(error)
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return {
        "kind": str(errors.ErrorKind.EXECUTION),
        "message": truncate_message(message),
        "retryable": True,
    }


def fail(
    status: Status | None, error: BaseException, retry: Mapping[str, Any], now: datetime
) -> Patch:
    """The attempt ends with ``error``: Backoff if retryable with retries left, else Failed.

    ``retry`` is the execution's retry policy (``retries``, ``backoff``). Also the controller's
    timeouts: an attempt timeout is a retryable failure, an overall timeout is not. The
    retries are counted from the latest manual retry (:func:`retry`), which grants a fresh
    budget.
    """
    status = status or {}
    stamp = format_time(now)
    recorded = error_status(error)
    attempt = {
        "phase": Phase.FAILED,
        "message": recorded["message"],
        "startedAt": status.get("attemptStartedAt") or status.get("startedAt") or stamp,
        "finishedAt": stamp,
        "workerName": status.get("workerName"),
        "error": recorded,
    }
    patch: Patch = {
        "attempts": attempts.finished(status, {k: v for k, v in attempt.items() if v is not None}),
        "error": recorded,
        "message": recorded["message"],
        "suspendedOn": None,
    }
    spent = len(attempts.ended(status)) - retries.budget_base(status)  # since a manual retry
    if recorded["retryable"] and spent < int(retry.get("retries") or 0):
        backoff = durations.parse_duration(retry.get("backoff") or "5s", clamp=True)
        patch.update(phase=Phase.BACKOFF, nextAttemptAt=format_time_ceil(now + backoff))
    else:
        patch.update(phase=Phase.FAILED, finishedAt=stamp, nextAttemptAt=None)
    return patch


def refuse(message: str, now: datetime) -> Patch:
    """Pending -> Failed before any attempt: it can never run (a validation error, not retried)."""
    text = truncate_message(message)
    return {
        "phase": Phase.FAILED,
        "finishedAt": format_time(now),
        "message": text,
        "error": {"kind": str(errors.ErrorKind.VALIDATION), "message": text, "retryable": False},
    }


def cancel(status: Status | None, message: str, now: datetime, *, skip: bool = False) -> Patch:
    """Any unfinished phase -> Canceled (or Skipped: a schedule's slot that did not run).

    A running attempt ends with it, in the same phase.
    """
    stamp = format_time(now)
    phase = Phase.SKIPPED if skip else Phase.CANCELED
    text = truncate_message(message)
    patch: Patch = {
        "phase": phase,
        "finishedAt": stamp,
        "message": text,
        "suspendedOn": None,
        "nextAttemptAt": None,
    }
    if attempts.running(status) is not None or status_phase(status) == Phase.EXECUTING:
        patch["attempts"] = attempts.end(status, phase, stamp, text)
    return patch


def retry(status: Status | None, request: Mapping[str, Any], now: datetime) -> Patch:
    """Failed or Canceled -> Pending: a manual retry, in place (:mod:`kontinue.api.retries`).

    The only transition that leaves a terminal phase. The next claim starts a new attempt
    (``status.attempts`` keeps the ended ones) that replays the committed steps and runs
    the rest again. ``status.retried`` records the ``request`` performed (its id, so a request
    sent twice is performed once), when (the overall timeout counts from there), the first
    attempt of the retry (the retry budget counts from there) and how many retries so far.
    The finished execution's outcome, grants and timers are cleared: it queues again for a
    mutex or a slot. With ``request["version"]`` the execution moves to that worker version
    (new code, say a bug fix); without, it stays pinned to its own.
    """
    status = status or {}
    stamp = format_time(now)
    previous = retries.record_of(status) or {}
    patch: Patch = {
        "phase": Phase.PENDING,
        "message": truncate_message(
            f"retry requested: attempt {attempts.previous(status) + 1} replays the committed "
            "steps and runs the rest again"
        ),
        "finishedAt": None,
        "error": None,
        "result": None,
        "nextAttemptAt": None,
        "suspendedOn": None,
        "workerName": None,
        "workerId": None,
        "grants": None,
        retries.RECORD_FIELD: {
            "id": str(request["id"]),
            "at": stamp,
            "attempt": attempts.previous(status) + 1,
            "count": int(previous.get("count") or 0) + 1,
        },
    }
    version = request.get("version")
    if version:
        patch[worker_versions.STATUS_FIELD] = str(version)
    return patch
