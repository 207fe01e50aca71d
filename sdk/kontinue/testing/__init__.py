"""Testing workflows without a cluster.

- :class:`WorkflowEnvironment` (:mod:`kontinue.testing.environment`): runs workflows and their
  children in-process on the worker's replay engine, on a fake clock that skips sleeps and
  backoffs; the test resumes approvals, answers Jobs and injects crashes (see docs/testing.md).
  The ``workflow_env`` pytest fixture (:mod:`kontinue.testing.pytest_plugin`) hands out one.
- :class:`MemoryJournal`: the bare in-memory journal of one execution, for tests of the engine
  itself (children and suspensions are resolved by hand).
"""

from kontinue.testing._memory_journal import MemoryJournal
from kontinue.testing.environment import (
    ExecutionHandle,
    JobOutcome,
    JobRequest,
    StuckError,
    WaitingSuspension,
    WorkflowEnvironment,
    WorkflowEnvironmentError,
)

__all__ = [
    "ExecutionHandle",
    "JobOutcome",
    "JobRequest",
    "MemoryJournal",
    "StuckError",
    "WaitingSuspension",
    "WorkflowEnvironment",
    "WorkflowEnvironmentError",
]
