"""How a Suspension ends: the status each end writes, for every component that ends one.

A Suspension waits (phase Suspended) until it is resumed by someone (``kontinue resume``, the
UI, a Client), its sleep reaches ``resumeAt`` (the controller), or its execution's tree is
canceled. The client, the controller and the in-process test environment build these
statuses here, so each end reads the same wherever it was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kontinue.api.phases import SuspensionPhase
from kontinue.api.timestamps import format_time


def _started(suspension: Mapping[str, Any]) -> dict[str, Any]:
    created = suspension["metadata"].get("creationTimestamp")
    return {"startedAt": created} if created is not None else {}


def completed(
    suspension: Mapping[str, Any], resumed_by: str, now: datetime, data: Any = None
) -> dict[str, Any]:
    """Suspended -> Completed: resumed by ``resumed_by`` ("timer" for a sleep) with ``data``.

    ``data`` is the resume payload, already JSON; None hands the workflow nothing.
    """
    status: dict[str, Any] = {
        "phase": SuspensionPhase.COMPLETED,
        **_started(suspension),
        "finishedAt": format_time(now),
        "resumedBy": resumed_by,
    }
    if data is not None:
        status["data"] = data
    return status


def timer_ended(suspension: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Suspended -> Completed at ``spec.resumeAt`` (``resumedBy: timer``).

    A sleep ends; a deadline (``spec.timeout``: an approval or event wait with a timeout)
    passes, which the status says with ``timedOut``: the write that ends the Suspension first
    (this one, or a resume) decides the outcome, and it is conditional on the version read.
    """
    status = completed(suspension, "timer", now)
    if (suspension.get("spec") or {}).get("timeout"):
        status["timedOut"] = True
    return status


def canceled(
    suspension: Mapping[str, Any], now: datetime, message: str | None = None
) -> dict[str, Any]:
    """Suspended -> Canceled: its execution's tree was canceled (``message`` says why)."""
    status: dict[str, Any] = {
        "phase": SuspensionPhase.CANCELED,
        **_started(suspension),
        "finishedAt": format_time(now),
    }
    if message is not None:
        status["message"] = message
    return status
