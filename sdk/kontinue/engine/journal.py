"""The storage seam of the replay engine.

The engine (:mod:`kontinue.engine.context` and the step functions of :mod:`kontinue.workflow`)
reads and writes an execution's durable history only through the :class:`Journal` protocol: look
up recorded steps and stored values, commit a stored value, create and observe children and
suspensions, wait for one of them to change (the records it exchanges are in
:mod:`kontinue.engine.records`). The worker backs it with Kubernetes objects; an in-memory
journal (:class:`kontinue.testing.MemoryJournal`) drives the very same engine in tests without a
cluster.

Signals (named events) sent to the execution are read with :meth:`Journal.signals`.

Persisted per execution: ``status.state[name]`` (the JSON value of a store step; absent for
None), ``status.steps[name]`` (:class:`StepRecord`: type, index, phase, times, child, value
type), ``status.labels`` (the search labels the workflow set). Children and suspensions are
their own objects, named by :func:`kontinue.api.names.child_name`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from kontinue.api.signals import SignalState
from kontinue.engine.records import (
    ChildSpec,
    ChildState,
    JobState,
    Progress,
    StepRecord,
    SuspensionState,
)


class Journal(Protocol):
    """Durable history of one execution, as the replay engine sees it."""

    @property
    def name(self) -> str:
        """The execution's name."""
        ...

    @property
    def namespace(self) -> str:
        """The execution's namespace."""
        ...

    @property
    def canceled(self) -> threading.Event:
        """Set when the execution is canceled while running."""
        ...

    def execution(self) -> Mapping[str, Any]:
        """The execution object as last read or written."""
        ...

    def steps(self) -> Mapping[str, StepRecord]:
        """Recorded steps by name."""
        ...

    def stored(self, name: str) -> Any:
        """The JSON value a completed store step recorded (None when it recorded None)."""
        ...

    def commit_store(self, record: StepRecord, value: Any) -> None:
        """Durably record a store step and its JSON value (one write)."""
        ...

    def record(self, record: StepRecord, *, replace: bool = False) -> None:
        """Record a step whose effect lives elsewhere (a child, a suspension); may be lazy.

        An existing record is kept unless ``replace`` (a child run again on retry).
        """
        ...

    def create_child(self, spec: ChildSpec) -> None:
        """Create a child execution, or adopt the one a previous run created."""
        ...

    def child(self, name: str) -> ChildState | None:
        """Current state of a child execution (None if it does not exist)."""
        ...

    def create_suspension(
        self,
        name: str,
        step: str,
        resume_at: datetime | None,
        display_name: str | None,
        description: str | None,
        timeout: bool = False,
    ) -> SuspensionState:
        """Create a suspension, or return the one a previous run created (its resumeAt kept).

        ``timeout``: ``resume_at`` is the deadline of an approval (reaching it times it out).
        """
        ...

    def signals(self) -> list[SignalState]:
        """The Signals (events) sent to this execution, in the order they were accepted.

        Only this execution's own (owner, labels; see :mod:`kontinue.api.signals`); consumed
        ones included (the journal's records say which were consumed). A wait on the key
        ``("Signal", event)`` ends when a new one comes.
        """
        ...

    def suspension(self, name: str) -> SuspensionState | None:
        """Current state of a suspension (None if it does not exist)."""
        ...

    def create_job(
        self,
        name: str,
        step: str,
        spec: Mapping[str, Any],
        extra_labels: Mapping[str, str],
        extra_annotations: Mapping[str, str],
    ) -> JobState:
        """Create a Job (owned by the execution), or adopt the one a previous run created."""
        ...

    def job(self, name: str) -> JobState | None:
        """Current state of a Job (None if it does not exist)."""
        ...

    def job_pods(self, name: str) -> list[dict[str, Any]]:
        """The pods of a Job, oldest first."""
        ...

    def pod_logs(self, pod: str, container: str | None, tail_lines: int | None) -> str:
        """What a pod's container printed.

        Raises:
            InfrastructureError: the cluster cannot serve the logs (never an empty success).
        """
        ...

    def wait(self, keys: list[tuple[str, str]], timeout: float) -> None:
        """Block until one of ``(kind, name)`` changes, the timeout passes or cancellation."""
        ...

    def now(self) -> datetime:
        """The current time (a test environment may skip time)."""
        ...

    def set_message(self, message: str) -> None:
        """Set the execution's status message."""
        ...

    def set_progress(self, progress: Progress | None) -> None:
        """Set (or clear, with None) the progress indicator."""
        ...

    def set_labels(self, change: Mapping[str, str | None]) -> None:
        """Merge the workflow's search labels (``status.labels``; None removes a key).

        Lazy, like a child's step record: the labels ride along with the next write (a
        checkpoint, or the attempt's end), never a write of their own; labels the status
        already holds (a replay setting them again) change nothing.

        Raises:
            ValidationError: more labels than :data:`kontinue.api.workflow_labels.MAX_LABELS`.
        """
        ...
