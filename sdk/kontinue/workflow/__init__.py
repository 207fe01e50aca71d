"""Writing workflows: the function decorator, ExecutionContext, the steps and their options."""

from kontinue.workflow._children import (
    execute,
    execute_parallel,
    execute_sequential,
    spawn_execution,
    wait_execution,
)
from kontinue.workflow._context import ExecutionContext
from kontinue.workflow._journal import (
    ChildSpec,
    ChildState,
    Journal,
    Progress,
    StepRecord,
    SuspensionState,
)
from kontinue.workflow._options import (
    ChildExecution,
    ChildExecutionOptions,
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
from kontinue.workflow._registry import FunctionDef, FunctionRegistry, default_registry, function
from kontinue.workflow._run import Outcome, finish_status, run_attempt
from kontinue.workflow._status import clear_progress, set_message, set_progress
from kontinue.workflow._store import poll_until, poll_until_named, store, store_named
from kontinue.workflow._suspend import sleep, sleep_named, suspend

__all__ = [
    "ChildExecution",
    "ChildExecutionOptions",
    "ChildSpec",
    "ChildState",
    "ExecuteOptions",
    "ExecutionContext",
    "ExecutionMutex",
    "FunctionDef",
    "FunctionRegistry",
    "JobOptions",
    "Journal",
    "LogOptions",
    "Outcome",
    "PodOptions",
    "PollOptions",
    "Progress",
    "RetryOptions",
    "ScriptOptions",
    "SleepOptions",
    "StepOptions",
    "StepRecord",
    "StoreOptions",
    "SuspendOptions",
    "SuspensionState",
    "TTLOptions",
    "TimeoutOptions",
    "clear_progress",
    "default_registry",
    "execute",
    "execute_parallel",
    "execute_sequential",
    "finish_status",
    "function",
    "poll_until",
    "poll_until_named",
    "run_attempt",
    "set_message",
    "set_progress",
    "sleep",
    "sleep_named",
    "spawn_execution",
    "store",
    "store_named",
    "suspend",
    "wait_execution",
]
