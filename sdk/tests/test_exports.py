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
    "set_labels",
    "set_message",
    "set_progress",
    "clear_progress",
    "run_job",
    "run_pod",
    "run_script",
    "patched",
    "deprecate_patch",
    "wait_for_event",
    "wait_first",
}
RESULT_TYPES = {"JobResult", "PodResult", "ContainerResult", "WaitResult", "First"}
OPTION_TYPES = {
    "StepOptions",
    "ExecuteOptions",
    "ChildExecutionOptions",
    "StoreOptions",
    "SleepOptions",
    "SuspendOptions",
    "EventOptions",
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


WORKFLOW = (
    STEP_FUNCTIONS
    | OPTION_TYPES
    | RESULT_TYPES
    | {"function", "ExecutionContext", "ChildExecution"}
)
"""What a workflow author writes against: nothing of the engine that runs it."""


def test_workflow_exports_exactly_the_author_surface() -> None:
    assert set(kontinue.workflow.__all__) == WORKFLOW
    assert len(kontinue.workflow.__all__) == len(WORKFLOW)
    for name in kontinue.workflow.__all__:
        assert getattr(kontinue.workflow, name) is not None


def test_kontinue_exports_the_workflow_surface_and_the_errors() -> None:
    assert set(kontinue.__all__) == WORKFLOW | ERRORS | {"__version__"}
    assert len(kontinue.__all__) == len(WORKFLOW | ERRORS | {"__version__"})
    for name in kontinue.__all__:
        assert getattr(kontinue, name) is not None
    for name in WORKFLOW:
        assert getattr(kontinue, name) is getattr(kontinue.workflow, name)


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
