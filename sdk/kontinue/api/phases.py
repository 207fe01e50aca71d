"""Phases of kontinue resources and which of them are final."""

from __future__ import annotations

import enum


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


def execution_phase(obj: dict[str, object]) -> Phase:
    """The phase of an Execution object; one without a status yet is Pending."""
    status = obj.get("status")
    phase = status.get("phase") if isinstance(status, dict) else None
    return Phase(phase) if phase else Phase.PENDING
