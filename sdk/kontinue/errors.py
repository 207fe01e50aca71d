"""The kontinue error model: error kinds, the error type, sentinel subclasses and helpers.

Every error carries a ``kind`` and whether a retry could help (``retryable``). Plain Python
exceptions raised by a workflow are retryable; child failures, validation errors and the overall
timeout are not, unless the workflow wraps them with :func:`new_retryable_error`.

The control flow that unwinds a workflow (to release it while it waits, or to stop it when its
worker lost the claim) derives from :class:`BaseException`, so ``except Exception`` in user code
cannot swallow it.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorKind(enum.StrEnum):
    """Category of a :class:`KontinueError` (its value is what status.error.kind records)."""

    INFRASTRUCTURE = "infrastructure"
    """A Kubernetes API problem. Retryable."""
    VALIDATION = "validation"
    """Invalid options, arguments or state. Not retryable."""
    CHILD_FAILED = "child_failed"
    """A child execution failed. Not retryable unless wrapped."""
    CHILD_CANCELED = "child_canceled"
    """A child execution was canceled. Not retryable unless wrapped."""
    TIMEOUT = "timeout"
    """An attempt (retryable) or overall (not retryable) timeout."""
    INTERNAL = "internal"
    """An SDK problem, including a replay that does not match the recorded steps."""
    EXECUTION = "execution"
    """An error raised by user code (retryable unless it says otherwise)."""


class KontinueError(Exception):
    """An error with a kind and an explicit retry decision.

    Args:
        message: human-readable message.
        kind: the error category.
        retryable: whether another attempt could succeed.
        child: the child resource the error came from, if any.
        cause: the underlying exception, if any.
    """

    default_kind = ErrorKind.EXECUTION
    default_retryable = True

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind | None = None,
        retryable: bool | None = None,
        child: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind if kind is not None else self.default_kind
        self.retryable = retryable if retryable is not None else self.default_retryable
        self.child = child
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __str__(self) -> str:
        if self.cause is not None and str(self.cause) and str(self.cause) not in self.message:
            return f"{self.message}: {self.cause}"
        return self.message


class DuplicateStepError(KontinueError):
    """A step name was used twice in one execution."""

    default_kind = ErrorKind.VALIDATION
    default_retryable = False


class NondeterminismError(KontinueError):
    """A replay reached a recorded step under another name or type."""

    default_kind = ErrorKind.INTERNAL
    default_retryable = False


class ValidationError(KontinueError):
    """Invalid options, arguments or results."""

    default_kind = ErrorKind.VALIDATION
    default_retryable = False


class ChildFailedError(KontinueError):
    """A child execution ended Failed."""

    default_kind = ErrorKind.CHILD_FAILED
    default_retryable = False


class ChildCanceledError(KontinueError):
    """A child execution ended Canceled."""

    default_kind = ErrorKind.CHILD_CANCELED
    default_retryable = False


class JobFailedError(KontinueError):
    """A job step's Job (or pod) failed and the workflow treats that as an error.

    A failed Job is reported through its result (``succeeded()`` false); the workflow raises
    this with :meth:`JobResult.raise_if_failed` / :meth:`PodResult.raise_if_failed` (or itself).
    Retryable: another attempt runs the Job again under ``childPolicy: RetryFailed``.
    """

    default_kind = ErrorKind.EXECUTION
    default_retryable = True


class ExecutionError(KontinueError):
    """An execution failed: the error it recorded (``status.error``), as an exception.

    The ``cause`` of a :class:`ChildFailedError` is the child's :class:`ExecutionError`, with
    the child's own error kind, message and retry decision.
    """

    default_kind = ErrorKind.EXECUTION
    default_retryable = True

    @classmethod
    def from_status(cls, error: dict[str, object] | None, fallback: str) -> ExecutionError:
        """The exception for an Execution's ``status.error`` (``fallback`` when it has none)."""
        error = error or {}
        try:
            kind = ErrorKind(str(error.get("kind") or ErrorKind.EXECUTION))
        except ValueError:
            kind = ErrorKind.EXECUTION
        retryable = error.get("retryable")
        return cls(
            str(error.get("message") or fallback),
            kind=kind,
            retryable=retryable if isinstance(retryable, bool) else None,
            child=str(error["child"]) if error.get("child") else None,
        )


class OverallTimeoutError(KontinueError):
    """The execution's overall timeout passed. Not retryable."""

    default_kind = ErrorKind.TIMEOUT
    default_retryable = False


class AttemptTimeoutError(KontinueError):
    """The current attempt's timeout passed. Retryable."""

    default_kind = ErrorKind.TIMEOUT
    default_retryable = True


class StepObjectDeletedError(KontinueError):
    """The object a recorded step created (a child, a Job, a Suspension) was deleted.

    The step is not run again (a deleted Job would run its pod twice); the execution fails
    and names the object. Not retryable: a retry would find the same history.
    """

    default_kind = ErrorKind.INTERNAL
    default_retryable = False


class InfrastructureError(KontinueError):
    """The Kubernetes API failed in a way a retry may fix."""

    default_kind = ErrorKind.INFRASTRUCTURE
    default_retryable = True


def new_non_retryable_error(cause: BaseException | None, message: str) -> KontinueError:
    """An error that fails the execution at once, without retries."""
    return KontinueError(message, kind=ErrorKind.EXECUTION, retryable=False, cause=cause)


def new_retryable_error(cause: BaseException | None, message: str) -> KontinueError:
    """An error that explicitly allows a retry (also for kinds that are not retryable)."""
    kind = cause.kind if isinstance(cause, KontinueError) else ErrorKind.EXECUTION
    return KontinueError(message, kind=kind, retryable=True, cause=cause)


def is_retryable_error(error: BaseException) -> bool:
    """Whether another attempt could succeed; plain exceptions count as retryable."""
    if isinstance(error, KontinueError):
        return error.retryable
    return True


def get_error_kind(error: BaseException) -> ErrorKind | str:
    """The error's kind, or ``""`` for an exception that is not a :class:`KontinueError`."""
    if isinstance(error, KontinueError):
        return error.kind
    return ""


class WorkflowInterrupt(BaseException):  # noqa: N818 - control flow, not an error
    """Unwinds a running workflow; never caught by ``except Exception`` in user code."""


class Released(WorkflowInterrupt):
    """The execution waits for something that takes longer than the worker's hold time."""

    def __init__(
        self,
        waiting_on: list[tuple[str, str]],
        message: str,
        details: dict[tuple[str, str], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.waiting_on = waiting_on
        self.message = message
        self.details = details or {}
        """Extra fields of some waited items (``first``, a signal's ``after``)."""


class Fenced(WorkflowInterrupt):
    """The worker no longer holds the execution's claim: stop without writing anything."""


class Canceled(WorkflowInterrupt):
    """The execution was canceled while running."""


class Interrupted(WorkflowInterrupt):
    """The worker could not reach the API server long enough to go on with this attempt.

    Not a failure of the workflow: the worker hands the execution back (phase Pending) and a
    later claim replays it; committed steps are not run again.
    """
