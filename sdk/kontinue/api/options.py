"""Option types of the workflow steps, mirroring the original SDK's option structs.

Every option type is a frozen, keyword-only dataclass; each attribute's docstring gives its
default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from kontinue.api import durations
from kontinue.api.parent_close import ParentClosePolicy

DurationLike = timedelta | float | int | str
"""A duration: a timedelta, seconds, or a string such as ``"1h30m"``."""


def to_timedelta(value: DurationLike) -> timedelta:
    """Normalize a :data:`DurationLike` to a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return durations.parse_duration(value)
    return timedelta(seconds=float(value))


def _spec_duration(field_path: str, value: DurationLike) -> str:
    """A duration as its spec field stores it; an error names the field.

    Raises:
        ValueError: malformed, negative or longer than the cap, with ``field_path`` first.
    """
    try:
        return durations.format_duration(to_timedelta(value))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{field_path}: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class StepOptions:
    """Naming and display metadata shared by every step."""

    name: str | None = None
    """Explicit step name, unique in the execution and a valid DNS label. Default: generated."""
    generate_name: str | None = None
    """Prefix of a generated name, combined with a deterministic counter. Default: the type."""
    display_name: str | None = None
    """Human-readable name for the CLI and UI. Default: none."""
    description: str | None = None
    """Longer description for the UI. Default: none."""


@dataclass(frozen=True, kw_only=True)
class RetryOptions:
    """Retry policy of an execution.

    A field left at None is not set here: an execution takes it from its function's registered
    default, else from the built-in default (see :mod:`kontinue.api.policy`).
    """

    retries: int | None = None
    """Retries after the first attempt (not attempts). Default: the function's, else 0."""
    backoff: DurationLike | None = None
    """Wait between a failed attempt and the next. Default: the function's, else 5s."""
    child_policy: Literal["None", "RetryFailed"] | None = None
    """``None``: a retry reuses children as they are; ``RetryFailed``: failed and canceled
    children run again. Default: the function's, else ``None``."""

    def to_spec(self) -> dict[str, Any]:
        """The ``spec.retry`` block (only the fields set here)."""
        if self.retries is not None and self.retries < 0:
            raise ValueError("retries must be 0 or more")
        spec: dict[str, Any] = {}
        if self.retries is not None:
            spec["retries"] = self.retries
        if self.backoff is not None:
            spec["backoff"] = _spec_duration("spec.retry.backoff", self.backoff)
        if self.child_policy is not None:
            spec["childPolicy"] = self.child_policy
        return spec


@dataclass(frozen=True, kw_only=True)
class TimeoutOptions:
    """Time limits of an execution."""

    overall: DurationLike | None = None
    """Maximum total time across all attempts (not retryable). Default: none."""
    attempt: DurationLike | None = None
    """Maximum time of one attempt (retryable). Default: none."""

    def to_spec(self) -> dict[str, Any]:
        """The ``spec.timeout`` block."""
        spec: dict[str, Any] = {}
        if self.overall is not None:
            spec["overall"] = _spec_duration("spec.timeout.overall", self.overall)
        if self.attempt is not None:
            spec["attempt"] = _spec_duration("spec.timeout.attempt", self.attempt)
        return spec


@dataclass(frozen=True, kw_only=True)
class TTLOptions:
    """Clean-up of a finished root execution."""

    archive_after: DurationLike | None = None
    """Archive the tree this long after it finished. Default: never."""
    delete_after: DurationLike | None = None
    """Delete the tree (or its archive) this long after it finished. Default: never."""

    def to_spec(self) -> dict[str, Any]:
        """The ``spec.ttl`` block."""
        spec: dict[str, Any] = {}
        if self.archive_after is not None:
            spec["archiveAfter"] = _spec_duration("spec.ttl.archiveAfter", self.archive_after)
        if self.delete_after is not None:
            spec["deleteAfter"] = _spec_duration("spec.ttl.deleteAfter", self.delete_after)
        return spec


@dataclass(frozen=True, kw_only=True)
class ExecutionMutex:
    """A named mutex: executions sharing it in a namespace run one at a time."""

    name: str
    """The mutex name (a DNS subdomain)."""


@dataclass(frozen=True, kw_only=True)
class ExecuteOptions(StepOptions):
    """Options of a child execution."""

    retry: RetryOptions | None = None
    """Retry policy; the fields it leaves unset come from the function's registered default."""
    timeout: TimeoutOptions | None = None
    """Time limits; the fields it leaves unset come from the function's registered default."""
    mutex: ExecutionMutex | None = None
    """Named mutex. Default: none."""
    parent_close_policy: ParentClosePolicy | None = None
    """What becomes of the child when an attempt of this (its parent) execution ends:
    ``abandon`` (it goes on), ``cancel`` (it is canceled) or ``wait`` (the attempt waits for
    it before it ends; its failure does not change the parent's result). An explicit cancel
    of the parent cancels every child whatever this says. Default: ``abandon``."""


@dataclass(frozen=True, kw_only=True)
class ChildExecutionOptions:
    """One child of :func:`execute_parallel` or :func:`execute_sequential`."""

    function: str
    """Name of the function to run."""
    arguments: Any = None
    """Its arguments (JSON, a dataclass or a pydantic model). Default: none."""
    options: ExecuteOptions | None = None
    """Child options. Default: none."""


@dataclass(frozen=True, kw_only=True)
class StoreOptions(StepOptions):
    """Options of :func:`store_named`."""


@dataclass(frozen=True, kw_only=True)
class SleepOptions(StepOptions):
    """Options of :func:`sleep_named`."""

    duration: DurationLike
    """How long to sleep."""


@dataclass(frozen=True, kw_only=True)
class SuspendOptions(StepOptions):
    """Options of :func:`suspend`."""

    timeout: DurationLike | None = None
    """A deadline, counted from when the suspend step first runs: if nobody resumes it by
    then, the step returns a :class:`~kontinue.api.waited.WaitResult` with ``timed_out``.
    Default: none (wait until resumed; the step returns the payload itself)."""


@dataclass(frozen=True, kw_only=True)
class EventOptions(StepOptions):
    """Options of :func:`wait_for_event`."""

    timeout: DurationLike | None = None
    """A deadline, counted from when the step first waits: if no event came by then, the step
    returns a :class:`~kontinue.api.waited.WaitResult` with ``timed_out``. Default: none (wait
    until the event comes; the step returns its payload itself)."""


@dataclass(frozen=True, kw_only=True)
class PollOptions(StepOptions):
    """Options of :func:`poll_until_named`."""

    interval: DurationLike = 10.0
    """Time between two checks of the condition. Default 10s."""


@dataclass(frozen=True)
class ChildExecution:
    """Reference to a child execution, returned by :func:`spawn_execution`."""

    name: str
    """Name of the child Execution."""
    namespace: str
    """Its namespace."""


@dataclass(frozen=True, kw_only=True)
class JobOptions(StepOptions):
    """A Kubernetes Job run as a step (:func:`run_job`)."""

    spec: Mapping[str, Any]
    """The Job's ``spec`` (batch/v1 JobSpec as a dict; ``template`` required)."""
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels added to the Job and its pods."""
    extra_annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations added to the Job and its pods."""


@dataclass(frozen=True, kw_only=True)
class PodOptions(StepOptions):
    """One pod run as a step (:func:`run_pod`): a Job with ``backoffLimit: 0``."""

    spec: Mapping[str, Any]
    """The pod's ``spec`` (core/v1 PodSpec as a dict; ``restartPolicy`` defaults to Never)."""
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels added to the Job and its pod."""
    extra_annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations added to the Job and its pod."""


@dataclass(frozen=True, kw_only=True)
class ScriptOptions(StepOptions):
    """A command run through a shell in one pod (:func:`run_script`)."""

    image: str
    """Container image."""
    command: str
    """The script, handed to the shell as one argument."""
    shell: Sequence[str] = ("/bin/sh", "-c")
    """The shell and its flags. Default ``/bin/sh -c``."""
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels added to the Job and its pod."""
    extra_annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations added to the Job and its pod."""


@dataclass(frozen=True, kw_only=True)
class LogOptions:
    """Which logs :meth:`PodResult.logs` reads."""

    tail_lines: int | None = 100
    """Lines from the end (None: all). Default 100."""
    container: str | None = None
    """Container name. Default: the pod's first container."""
