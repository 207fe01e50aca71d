"""The public surface is pinned: a change to it must be deliberate (and update this test)."""

from __future__ import annotations

import kontinue
import kontinue.client
import kontinue.workflow

STEP_FUNCTIONS = {
    "execute",
    "spawn_execution",
    "wait_execution",
    "execute_parallel",
    "execute_sequential",
    "store",
    "store_named",
    "sleep",
    "sleep_named",
    "suspend",
    "poll_until",
    "poll_until_named",
    "set_message",
    "set_progress",
    "clear_progress",
    "run_job",
    "run_pod",
    "run_script",
}
RESULT_TYPES = {"JobResult", "PodResult"}
OPTION_TYPES = {
    "StepOptions",
    "ExecuteOptions",
    "ChildExecutionOptions",
    "StoreOptions",
    "SleepOptions",
    "SuspendOptions",
    "PollOptions",
    "JobOptions",
    "PodOptions",
    "ScriptOptions",
    "LogOptions",
    "RetryOptions",
    "TimeoutOptions",
    "TTLOptions",
    "ExecutionMutex",
}
ERRORS = {
    "KontinueError",
    "ErrorKind",
    "DuplicateStepError",
    "NondeterminismError",
    "ValidationError",
    "ChildFailedError",
    "ChildCanceledError",
    "JobFailedError",
    "ExecutionError",
    "OverallTimeoutError",
    "AttemptTimeoutError",
    "InfrastructureError",
    "new_non_retryable_error",
    "new_retryable_error",
    "is_retryable_error",
    "get_error_kind",
}


def test_kontinue_exports() -> None:
    expected = (
        STEP_FUNCTIONS
        | OPTION_TYPES
        | RESULT_TYPES
        | ERRORS
        | {"function", "ExecutionContext", "ChildExecution", "__version__"}
    )
    assert set(kontinue.__all__) == expected
    for name in kontinue.__all__:
        assert getattr(kontinue, name) is not None


def test_workflow_exports_cover_the_top_level_ones() -> None:
    top_level_workflow = (
        STEP_FUNCTIONS
        | OPTION_TYPES
        | RESULT_TYPES
        | {"function", "ExecutionContext", "ChildExecution"}
    )
    assert top_level_workflow <= set(kontinue.workflow.__all__)


def test_client_surface() -> None:
    methods = {
        "create_execution",
        "spawn_execute",
        "get",
        "list",
        "watch",
        "wait",
        "resume_suspension",
        "resume_execution",
        "cancel",
        "list_archives",
        "archived_tree",
    }
    assert methods <= set(dir(kontinue.client.Client))
    assert {"Client", "ExecutionHandle", "NotFound", "Conflict", "Forbidden", "WaitTimeout"} <= set(
        kontinue.client.__all__
    )
