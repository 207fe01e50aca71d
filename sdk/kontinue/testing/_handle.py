"""The handle a test holds on one execution of the environment: run it, steer it, read it.

:class:`ExecutionHandle` is public (``kontinue.testing``); the environment hands one out for
every execution it starts (:meth:`WorkflowEnvironment.start
<kontinue.testing.environment.WorkflowEnvironment.start>`) and for each child.
"""

from __future__ import annotations

import copy
from typing import Any

from kontinue import errors
from kontinue.api import attempts as attempt_log
from kontinue.api import conversion, parent_close, workflow_labels
from kontinue.api.phases import Phase, execution_phase
from kontinue.engine.records import StepRecord
from kontinue.testing import _controller
from kontinue.testing._cluster import Cluster, ExecutionRecord
from kontinue.testing._runner import run_until, settle
from kontinue.testing._suspensions import WaitingSuspension, waiting_suspensions


class ExecutionHandle:
    """An execution in the environment: run it to its end, resume it, and look at it."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self._cluster = cluster
        self.name = name

    def __repr__(self) -> str:
        return f"<ExecutionHandle {self.name} {self.phase}>"

    @property
    def _record(self) -> ExecutionRecord:
        return self._cluster.executions[self.name]

    # -- running -----------------------------------------------------------------------------

    def wait(self) -> ExecutionHandle:
        """Run (skipping time) until the execution reached a terminal phase.

        Raises:
            StuckError: it waits for something only the test can give (a resume, a Job).
        """
        run_until(self._cluster, lambda: self.phase.terminal, skip_time=True, what=self.name)
        return self

    def result(self, result_type: Any = None) -> Any:
        """Run until the execution ends and return its result (JSON, or ``result_type``).

        Raises:
            ExecutionError: it failed or was canceled (kind and message of ``status.error``).
            StuckError: it waits for something only the test can give.
        """
        self.wait()
        status = self.status
        if self.phase != Phase.COMPLETED:
            fallback = f"execution {self.name} ended {self.phase}: {status.get('message') or ''}"
            raise errors.ExecutionError.from_status(status.get("error"), fallback.rstrip(": "))
        return conversion.from_json(status.get("result"), result_type, f"the result of {self.name}")

    def resume(self, suspension: str | None = None, data: Any = None) -> None:
        """Resume one of its waiting suspensions (see :meth:`WorkflowEnvironment.resume`)."""
        _controller.resume(self._cluster, self.name, suspension, data)
        settle(self._cluster)

    def cancel(self) -> None:
        """Cancel it and its whole tree (see :meth:`WorkflowEnvironment.cancel`)."""
        _controller.cancel_tree(self._cluster, self._record, "canceled by the test")
        settle(self._cluster)

    # -- reading -----------------------------------------------------------------------------

    @property
    def execution(self) -> dict[str, Any]:
        """The Execution object as a cluster would store it (a copy)."""
        return copy.deepcopy(self._record.obj)

    @property
    def status(self) -> dict[str, Any]:
        """Its ``status`` (a copy)."""
        return copy.deepcopy(self._record.obj.get("status") or {})

    @property
    def function(self) -> str:
        """The function it runs."""
        return str(self._record.obj["spec"]["function"])

    @property
    def phase(self) -> Phase:
        """Its phase (Pending, Executing, Suspended, Backoff, Completed, Failed, Canceled)."""
        return execution_phase(self._record.obj)

    @property
    def steps(self) -> list[StepRecord]:
        """The recorded steps in execution order (name, type, phase, child, times...)."""
        raw = (self._record.obj.get("status") or {}).get("steps") or {}
        records = [StepRecord.from_status(name, rec) for name, rec in raw.items()]
        return sorted(records, key=lambda r: r.index)

    def step(self, name: str) -> StepRecord:
        """The record of step ``name``."""
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"execution {self.name} has no step {name!r}")

    def stored(self, step: str) -> Any:
        """The JSON value a store (or job) step recorded."""
        return copy.deepcopy(((self._record.obj.get("status") or {}).get("state") or {})[step])

    @property
    def message(self) -> str | None:
        """The current ``status.message``."""
        return (self._record.obj.get("status") or {}).get("message") or None

    @property
    def messages(self) -> list[str]:
        """Every message the workflow set (``set_message``), in order.

        What the last claim set: a replay repeats every earlier call, so that is the whole
        story of a deterministic workflow.
        """
        return list(self._record.messages)

    @property
    def labels(self) -> dict[str, str]:
        """The search labels the workflow set (``kontinue.set_labels``: ``status.labels``)."""
        return workflow_labels.of(self._record.obj)

    @property
    def parent_close_policy(self) -> str:
        """This child's parent-close policy (``abandon``, ``cancel`` or ``wait``)."""
        return parent_close.of(self._record.obj)

    @property
    def progress(self) -> tuple[int, int | None] | None:
        """``(current, max)`` of ``status.progress``, or None."""
        progress = (self._record.obj.get("status") or {}).get("progress")
        if not progress:
            return None
        return int(progress.get("current") or 0), progress.get("max")

    @property
    def error(self) -> dict[str, Any] | None:
        """``status.error`` (kind, message, retryable), or None."""
        error = (self._record.obj.get("status") or {}).get("error")
        return dict(error) if error else None

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """``status.attempts``: every attempt (phase, message, error, times), oldest first."""
        return attempt_log.listed(self._record.obj.get("status"))

    @property
    def resumptions(self) -> int:
        """Times it was resumed after its first claim (wake-ups, takeovers, retries)."""
        return int((self._record.obj.get("status") or {}).get("resumptions") or 0)

    @property
    def children(self) -> list[ExecutionHandle]:
        """Its child executions, in creation order."""
        return [
            ExecutionHandle(self._cluster, e.obj["metadata"]["name"])
            for e in self._cluster.owned(self.name)
        ]

    def child(self, step: str) -> ExecutionHandle:
        """The child that step ``step`` started (the latest one, after a re-run)."""
        found = [c for c in self.children if c._record.obj["spec"]["parent"]["step"] == step]
        if not found:
            raise KeyError(f"execution {self.name} has no child of step {step!r}")
        return found[-1]

    @property
    def waiting(self) -> list[WaitingSuspension]:
        """Its manual suspensions that wait to be resumed."""
        return waiting_suspensions(self._cluster.suspensions.values(), self.name)
