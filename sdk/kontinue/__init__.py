"""kontinue: Kubernetes-native durable execution for plain Python functions.

Every step a workflow takes is checkpointed into Kubernetes custom resources (group
``kontinue.cloud``), so a workflow survives worker crashes and redeploys and another worker
resumes it where it stopped::

    import kontinue

    @kontinue.function("hello-world")
    def hello(ktx: kontinue.ExecutionContext, args: HelloArgs) -> str:
        greeting = kontinue.store(ktx, lambda: f"Hello, {args.name}!")
        kontinue.sleep(ktx, "2s")
        return greeting
"""

from kontinue.errors import (
    AttemptTimeoutError,
    ChildCanceledError,
    ChildFailedError,
    DuplicateStepError,
    ErrorKind,
    ExecutionError,
    InfrastructureError,
    JobFailedError,
    KontinueError,
    NondeterminismError,
    OverallTimeoutError,
    ValidationError,
    get_error_kind,
    is_retryable_error,
    new_non_retryable_error,
    new_retryable_error,
)
from kontinue.workflow import (
    ChildExecution,
    ChildExecutionOptions,
    ExecuteOptions,
    ExecutionContext,
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
    clear_progress,
    execute,
    execute_parallel,
    execute_sequential,
    function,
    poll_until,
    poll_until_named,
    set_message,
    set_progress,
    sleep,
    sleep_named,
    spawn_execution,
    store,
    store_named,
    suspend,
    wait_execution,
)

__version__ = "0.1.0"

__all__ = [
    "AttemptTimeoutError",
    "ChildCanceledError",
    "ChildExecution",
    "ChildExecutionOptions",
    "ChildFailedError",
    "DuplicateStepError",
    "ErrorKind",
    "ExecuteOptions",
    "ExecutionContext",
    "ExecutionError",
    "ExecutionMutex",
    "InfrastructureError",
    "JobFailedError",
    "JobOptions",
    "KontinueError",
    "LogOptions",
    "NondeterminismError",
    "OverallTimeoutError",
    "PodOptions",
    "PollOptions",
    "RetryOptions",
    "ScriptOptions",
    "SleepOptions",
    "StepOptions",
    "StoreOptions",
    "SuspendOptions",
    "TTLOptions",
    "TimeoutOptions",
    "ValidationError",
    "__version__",
    "clear_progress",
    "execute",
    "execute_parallel",
    "execute_sequential",
    "function",
    "get_error_kind",
    "is_retryable_error",
    "new_non_retryable_error",
    "new_retryable_error",
    "poll_until",
    "poll_until_named",
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
