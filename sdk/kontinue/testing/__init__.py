"""Testing workflows without a cluster.

- :class:`WorkflowEnvironment` (:mod:`kontinue.testing.environment`): runs workflows and their
  children in-process on the worker's replay engine, on a fake clock that skips sleeps and
  backoffs; the test resumes approvals, answers Jobs and injects crashes (see docs/testing.md).
  The ``workflow_env`` pytest fixture (:mod:`kontinue.testing.pytest_plugin`) hands out one.
- :class:`MemoryJournal`: the bare in-memory journal of one execution, for tests of the engine
  itself (children and suspensions are resolved by hand).
- :func:`replay` (:mod:`kontinue.testing.replay`): today's code against an exported history,
  offline and with no side effect (:class:`HistoryJournal`); :func:`replay_folder` and
  :func:`histories` replay a folder of them as regression tests (see
  docs/replay-and-patching.md).
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
from kontinue.testing.replay import (
    HistoryError,
    HistoryJournal,
    ReplayResult,
    histories,
    replay,
    replay_folder,
)

__all__ = [
    "ExecutionHandle",
    "HistoryError",
    "HistoryJournal",
    "JobOutcome",
    "JobRequest",
    "MemoryJournal",
    "ReplayResult",
    "StuckError",
    "WaitingSuspension",
    "WorkflowEnvironment",
    "WorkflowEnvironmentError",
    "histories",
    "replay",
    "replay_folder",
]
