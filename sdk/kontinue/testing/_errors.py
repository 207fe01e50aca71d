"""What the test environment raises: its errors, and the simulated worker crash."""

from __future__ import annotations

from kontinue import errors


class WorkflowEnvironmentError(errors.KontinueError):
    """Misuse of the environment, or a run that cannot go on (nothing left that could run)."""

    default_kind = errors.ErrorKind.VALIDATION


class StuckError(WorkflowEnvironmentError):
    """The execution cannot finish: it waits for something only the test can give.

    A suspension to resume, a Job the handler left running, or a function no one registered.
    """


class WorkerCrash(BaseException):  # noqa: N818 - control flow, not an error
    """The simulated worker dies (not catchable by ``except Exception`` in workflow code)."""

    def __init__(self, step: str) -> None:
        super().__init__(f"the worker crashed after step {step!r}")
        self.step = step
