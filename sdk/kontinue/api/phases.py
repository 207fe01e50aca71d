"""Phases of kontinue resources and which of them are final."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class Phase(enum.StrEnum):
    """Execution phase (status.phase)."""

    PENDING = "Pending"
    EXECUTING = "Executing"
    SUSPENDED = "Suspended"
    BACKOFF = "Backoff"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    SKIPPED = "Skipped"

    @property
    def terminal(self) -> bool:
        """True for phases an execution never leaves."""
        return self in TERMINAL


TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.CANCELED, Phase.SKIPPED})


class SuspensionPhase(enum.StrEnum):
    """Suspension phase (status.phase)."""

    SUSPENDED = "Suspended"
    COMPLETED = "Completed"
    CANCELED = "Canceled"


def status_phase(status: Mapping[str, Any] | None) -> Phase:
    """The phase an Execution's ``status`` records; none yet is Pending."""
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return Phase(phase) if phase else Phase.PENDING


def execution_phase(obj: dict[str, object]) -> Phase:
    """The phase of an Execution object; one without a status yet is Pending."""
    status = obj.get("status")
    return status_phase(status if isinstance(status, dict) else None)


def suspension_phase(obj: Mapping[str, Any]) -> SuspensionPhase:
    """The phase of a Suspension object; one without a status yet is Suspended (waiting)."""
    status = obj.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return SuspensionPhase(phase) if phase else SuspensionPhase.SUSPENDED


def job_end(job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A batch/v1 Job's Complete or Failed condition once it has finished, else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return dict(condition)
    return None
