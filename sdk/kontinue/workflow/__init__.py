"""Writing workflows: the decorator, ExecutionContext, the steps, their options and results.

This is the surface a workflow author writes against (all of it is also exported by
:mod:`kontinue`, together with the errors of :mod:`kontinue.errors`). What runs the functions
(the journal, the registry, an attempt and its outcome) is :mod:`kontinue.engine`.
"""

from kontinue.api.options import (
    ChildExecution,
    ChildExecutionOptions,
    EventOptions,
    ExecuteOptions,
    ExecutionMutex,
    JobOptions,
    LogOptions,
    PodOptions,
    PollOptions,
    RetryOptions,
    ScriptOptions,
    SleepOptions,
    StepOptions,
    StoreOptions,
    SuspendOptions,
    TimeoutOptions,
    TTLOptions,
)
from kontinue.api.waited import First, WaitResult
from kontinue.engine.context import ExecutionContext
from kontinue.workflow._children import (
    execute,
    execute_parallel,
    execute_sequential,
    spawn_execution,
    wait_execution,
)
from kontinue.workflow._events import wait_first, wait_for_event
from kontinue.workflow._function import function
from kontinue.workflow._jobs import (
    ContainerResult,
    JobResult,
    PodResult,
    run_job,
    run_pod,
    run_script,
)
from kontinue.workflow._labels import set_labels
from kontinue.workflow._patching import deprecate_patch, patched
from kontinue.workflow._status import clear_progress, set_message, set_progress
from kontinue.workflow._store import poll_until, poll_until_named, store, store_named
from kontinue.workflow._suspend import sleep, sleep_named, suspend

__all__ = [
    "ChildExecution",
    "ChildExecutionOptions",
    "ContainerResult",
    "EventOptions",
    "ExecuteOptions",
    "ExecutionContext",
    "ExecutionMutex",
    "First",
    "JobOptions",
    "JobResult",
    "LogOptions",
    "PodOptions",
    "PodResult",
    "PollOptions",
    "RetryOptions",
    "ScriptOptions",
    "SleepOptions",
    "StepOptions",
    "StoreOptions",
    "SuspendOptions",
    "TTLOptions",
    "TimeoutOptions",
    "WaitResult",
    "clear_progress",
    "deprecate_patch",
    "execute",
    "execute_parallel",
    "execute_sequential",
    "function",
    "patched",
    "poll_until",
    "poll_until_named",
    "run_job",
    "run_pod",
    "run_script",
    "set_labels",
    "set_message",
    "set_progress",
    "sleep",
    "sleep_named",
    "spawn_execution",
    "store",
    "store_named",
    "suspend",
    "wait_execution",
    "wait_first",
    "wait_for_event",
]
