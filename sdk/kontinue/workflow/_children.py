"""Child execution steps: spawn, wait, execute, and the parallel and sequential fan-outs.

A child is an Execution named after its parent and the step (so a replay adopts the child it
created before), owned by the parent, labelled with the parent and root, in the parent's worker
group. A failed child fails the waiting step with a non-retryable ChildFailedError (a canceled
one with ChildCanceledError); with the default child policy a retry of the parent reuses the
child as it is. With ``childPolicy: RetryFailed`` a later attempt of the parent runs a failed or
canceled child again, as a new Execution named after the step and the attempt (``-a2``), so the
failed one stays visible; completed children are reused. A manual retry
(:mod:`kontinue.api.retries`) does the same whatever the policy.

``ExecuteOptions.parent_close_policy`` says what becomes of a child when an attempt of its
parent ends (:mod:`kontinue.api.parent_close`): it is stored on the child; the ``wait`` ones are
also noted on the context, and the engine waits for them before the attempt's outcome
(:mod:`kontinue.engine.closing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from kontinue import errors
from kontinue.api import conversion, names, parent_close
from kontinue.api.options import ChildExecution, ChildExecutionOptions, ExecuteOptions
from kontinue.api.phases import Phase
from kontinue.engine.context import ExecutionContext
from kontinue.engine.records import ChildSpec, ChildState, Progress


def spawn_execution(
    ktx: ExecutionContext,
    function: str,
    arguments: Any = None,
    options: ExecuteOptions | None = None,
) -> ChildExecution:
    """Start a child execution without waiting; a replay returns the same child."""
    with ExitStack() as scope:
        return _spawn(ktx, function, arguments, options, scope)


def _spawn(
    ktx: ExecutionContext,
    function: str,
    arguments: Any,
    options: ExecuteOptions | None,
    scope: ExitStack,
) -> ChildExecution:
    """Start (or find) the child; a child created now is observed as a step within ``scope``."""
    close_policy = _close_policy(options)
    name, index, recorded = ktx.begin_step("execute", options)
    child = recorded.child if recorded is not None and recorded.child else None
    child = child or names.child_name(ktx.name, name)
    rerun = False
    if recorded is not None:
        state = ktx.journal.child(child)
        if state is None:
            raise ktx.object_deleted("Execution", child, name)
        rerun = state.phase in (Phase.FAILED, Phase.CANCELED) and ktx.reruns(recorded)
        if rerun:
            child = names.child_name(ktx.name, f"{name}-a{ktx.attempts + 1}")
    if recorded is None or rerun:
        # the first time this step is reached (or run again): create, which adopts the child
        # an earlier, unrecorded run created, and nothing else under that name
        scope.enter_context(ktx.observe_step(name, "execute"))
        data = conversion.to_json(arguments, f"the arguments of child step {name!r}")

        def create(child: str) -> None:
            ktx.journal.create_child(ChildSpec(
                name=child, step=name, function=function, arguments=data,
                retry=options.retry.to_spec() if options and options.retry else None,
                timeout=options.timeout.to_spec() if options and options.timeout else None,
                mutex=options.mutex.name if options and options.mutex else None,
                display_name=options.display_name if options else None,
                description=options.description if options else None,
                parent_close_policy=close_policy,
            ))  # fmt: skip

        create(child)
        if recorded is None:  # adopted one an attempt before a manual retry left unrecorded?
            left = ktx.journal.child(child)
            if (
                left is not None
                and left.phase in (Phase.FAILED, Phase.CANCELED)
                and ktx.reruns_unrecorded(left.created, ended_only=False)
            ):
                rerun = True
                child = names.child_name(ktx.name, f"{name}-a{ktx.attempts + 1}")
                create(child)
    ktx.journal.record(ktx.record(name, index, "execute", options, child=child), replace=rerun)
    if close_policy == parent_close.spec_value("wait"):
        ktx.wait_at_close(child)  # every replay passes here again: the set is re-derived
    return ChildExecution(name=child, namespace=ktx.namespace)


def _close_policy(options: ExecuteOptions | None) -> str | None:
    """The child's ``spec.parentClosePolicy`` from the options (None: the default).

    Raises:
        ValidationError: not one of abandon, cancel, wait.
    """
    try:
        return parent_close.spec_value(options.parent_close_policy if options else None)
    except ValueError as exc:
        raise errors.ValidationError(str(exc)) from None


def _outcome(state: ChildState, result_type: Any) -> Any:
    if state.phase == Phase.COMPLETED:
        return conversion.from_json(state.result, result_type, f"the result of child {state.name}")
    error = state.error or {}
    message = error.get("message") or state.message or ""
    if state.phase == Phase.CANCELED:
        raise errors.ChildCanceledError(
            f"child execution {state.name} was canceled", child=state.name
        )
    raise errors.ChildFailedError(
        f"child execution {state.name} failed: {message}".rstrip(": "),
        child=state.name,
        cause=errors.ExecutionError.from_status(
            dict(state.error or {}), message or f"execution {state.name} failed"
        ),
    )


def _finished(ktx: ExecutionContext, child: str) -> ChildState | None:
    state = ktx.journal.child(child)
    if state is None:
        step = next((s.name for s in ktx.journal.steps().values() if s.child == child), child)
        raise ktx.object_deleted("Execution", child, step)
    return state if state.phase.terminal else None


def wait_execution(ktx: ExecutionContext, child: ChildExecution, *, result_type: Any = None) -> Any:
    """Wait for a spawned child and return its result (JSON, or ``result_type``)."""
    state = ktx.await_resolution(
        [("Execution", child.name)],
        lambda: _finished(ktx, child.name),
        f"child execution {child.name}",
    )
    return _outcome(state, result_type)


def execute(
    ktx: ExecutionContext,
    function: str,
    arguments: Any = None,
    options: ExecuteOptions | None = None,
    *,
    result_type: Any = None,
) -> Any:
    """Run a child execution and return its result (JSON, or ``result_type``)."""
    with ExitStack() as scope:  # the step's observed scope also covers the wait
        child = _spawn(ktx, function, arguments, options, scope)
        return wait_execution(ktx, child, result_type=result_type)


def _tracks_progress(ktx: ExecutionContext) -> bool:
    """Whether a fan-out at this point keeps the automatic progress.

    Only the fan-out under way does (not one a replay passes again: the history has steps after
    it), and only while the progress is unset or automatic (one the workflow set is its own).
    """
    progress = (ktx.execution.get("status") or {}).get("progress")
    return not ktx.replaying and (not progress or bool(progress.get("automatic")))


def _report_progress(ktx: ExecutionContext, done: int, total: int) -> None:
    """Write ``done/total`` as the automatic progress, unless the status already says so."""
    progress = (ktx.execution.get("status") or {}).get("progress") or {}
    if (progress.get("current"), progress.get("max"), progress.get("automatic")) == (
        done,
        total,
        True,
    ):
        return
    ktx.journal.set_progress(Progress(done, total, automatic=True))


def execute_parallel(
    ktx: ExecutionContext, specs: Sequence[ChildExecutionOptions], *, result_type: Any = None
) -> list[Any]:
    """Start every child, then wait for all; results come back in input order.

    Keeps the progress at finished-of-total unless the workflow set one itself: while it waits
    in the worker, and (through the controller) while the execution is released, so it ends at
    total/total however often the execution was released and replayed. The first failed child
    (in input order) raises once all have finished.
    """
    children = [spawn_execution(ktx, s.function, s.arguments, s.options) for s in specs]
    track = _tracks_progress(ktx)

    def all_finished() -> list[ChildState] | None:
        states = [_finished(ktx, c.name) for c in children]
        done = sum(1 for s in states if s is not None)
        if track:
            _report_progress(ktx, done, len(children))
        if done < len(children):
            return None
        return [s for s in states if s is not None]

    states = ktx.await_resolution(
        [("Execution", c.name) for c in children], all_finished, f"{len(children)} child executions"
    )
    return [_outcome(state, result_type) for state in states]


def execute_sequential(
    ktx: ExecutionContext, specs: Sequence[ChildExecutionOptions], *, result_type: Any = None
) -> list[Any]:
    """Run the children one after another; results come back in input order.

    Keeps the progress at finished-of-total unless the workflow set one itself.
    """
    results = []
    for done, spec in enumerate(specs):
        if _tracks_progress(ktx):
            _report_progress(ktx, done, len(specs))
        results.append(
            execute(ktx, spec.function, spec.arguments, spec.options, result_type=result_type)
        )
    if specs and _tracks_progress(ktx):
        _report_progress(ktx, len(specs), len(specs))
    return results
