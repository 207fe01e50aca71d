"""The records the replay engine reads from and writes to an execution's journal.

A :class:`StepRecord` is one entry of ``status.steps``; the others describe the objects a step
creates or waits for (a child execution, a suspension, a Job) as the engine needs to see them,
whatever backs the journal (Kubernetes objects in the worker, plain dicts in tests).
:func:`child_state`, :func:`suspension_state` and :func:`job_state` read them from the objects
(the worker's journal reads them from the cluster, the replay of a history from the file).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kontinue.api.phases import (
    Phase,
    SuspensionPhase,
    execution_phase,
    job_end,
    suspension_phase,
)
from kontinue.api.timestamps import parse_time
from kontinue.api.versions import resource_version


@dataclass
class StepRecord:
    """One recorded step of an execution (``status.steps[name]``)."""

    name: str
    type: str
    index: int
    phase: str = "Completed"
    display_name: str | None = None
    description: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    child: str | None = None
    value_type: str | None = None
    attempt: int | None = None
    digest: str | None = None
    """What the step asked of its child object (see :mod:`kontinue.api.adoption`)."""

    def to_status(self) -> dict[str, Any]:
        """The record as stored under ``status.steps``."""
        raw = {
            "type": self.type, "index": self.index, "phase": self.phase,
            "displayName": self.display_name, "description": self.description,
            "startedAt": self.started_at, "finishedAt": self.finished_at, "child": self.child,
            "valueType": self.value_type, "attempt": self.attempt, "digest": self.digest,
        }  # fmt: skip
        return {k: v for k, v in raw.items() if v is not None}

    @classmethod
    def from_status(cls, name: str, raw: Mapping[str, Any]) -> StepRecord:
        """Read a record from ``status.steps[name]``."""
        return cls(
            name=name, type=raw["type"], index=int(raw["index"]),
            phase=raw.get("phase", "Completed"), display_name=raw.get("displayName"),
            description=raw.get("description"), started_at=raw.get("startedAt"),
            finished_at=raw.get("finishedAt"), child=raw.get("child"),
            value_type=raw.get("valueType"), attempt=raw.get("attempt"),
            digest=raw.get("digest"),
        )  # fmt: skip


@dataclass(frozen=True)
class ChildState:
    """What the engine needs to know about a child execution."""

    name: str
    phase: Phase
    result: Any = None
    error: Mapping[str, Any] | None = None
    message: str | None = None
    created: datetime | None = None
    """When the API server created it (a retry runs again what an earlier attempt left)."""
    order: int = 0
    """Its resourceVersion: once it is terminal, at most the order of the write that ended it."""


@dataclass(frozen=True)
class SuspensionState:
    """What the engine needs to know about a suspension (a sleep or a manual suspend)."""

    name: str
    phase: SuspensionPhase
    resume_at: datetime | None = None
    data: Any = None
    timed_out: bool = False
    """Its deadline passed before anyone resumed it (``status.timedOut``)."""
    order: int = 0
    """Its resourceVersion: once it ended, the order of the write that ended it."""


@dataclass(frozen=True)
class JobState:
    """What the engine needs to know about a Job a step created."""

    name: str
    finished: bool
    """The Job has its Complete or Failed condition (or was stopped by a cancellation)."""
    succeeded: int = 0
    failed: int = 0
    message: str | None = None
    """The Failed condition's message (or the Complete one's)."""
    stopped: bool = False
    """Suspended before it finished: a cancellation stopped its pods (see
    :mod:`kontinue.api.retries`: a retry runs such a Job again)."""


@dataclass(frozen=True)
class ChildSpec:
    """A child execution to create."""

    name: str
    step: str
    function: str
    arguments: Any = None
    retry: Mapping[str, Any] | None = None
    timeout: Mapping[str, Any] | None = None
    mutex: str | None = None
    display_name: str | None = None
    description: str | None = None
    parent_close_policy: str | None = None
    """The child's ``spec.parentClosePolicy`` (None: the default, abandon)."""


@dataclass
class Progress:
    """Progress indicator: current of max."""

    current: int
    max: int | None = None
    automatic: bool = False
    """Set by a fan-out (finished children of all), which keeps it up to date across releases."""

    def status(self) -> dict[str, Any]:
        """``status.progress`` as the Execution stores it (``summary`` for the printer column)."""
        summary = f"{self.current}/{self.max}" if self.max is not None else str(self.current)
        value: dict[str, Any] = {"current": self.current, "summary": summary}
        if self.max is not None:
            value["max"] = self.max
        if self.automatic:
            value["automatic"] = True
        return value


def suspension_state(obj: Mapping[str, Any]) -> SuspensionState:
    """A Suspension object as the engine sees it (no status yet means Suspended).

    The resume payload is a copy: the workflow may change what it got without changing ``obj``.
    """
    status = obj.get("status") or {}
    return SuspensionState(
        name=obj["metadata"]["name"],
        phase=suspension_phase(obj),
        resume_at=parse_time((obj.get("spec") or {}).get("resumeAt")),
        data=copy.deepcopy(status.get("data")),
        timed_out=bool(status.get("timedOut")),
        order=resource_version(obj),
    )


def job_state(obj: Mapping[str, Any]) -> JobState:
    """What the engine needs to know of a Job object."""
    status = obj.get("status") or {}
    end = job_end(obj)
    return JobState(
        name=obj["metadata"]["name"],
        finished=end is not None,
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        message=(end.get("message") or end.get("reason")) if end is not None else None,
        stopped=end is None and bool((obj.get("spec") or {}).get("suspend")),
    )


def child_state(obj: Mapping[str, Any]) -> ChildState:
    """A child Execution as the engine sees it."""
    status = obj.get("status") or {}
    return ChildState(
        name=obj["metadata"]["name"],
        phase=execution_phase(dict(obj)),
        result=status.get("result"),
        error=status.get("error"),
        message=status.get("message"),
        created=parse_time((obj.get("metadata") or {}).get("creationTimestamp")),
        order=resource_version(obj),
    )
