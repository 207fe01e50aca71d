"""Sleep and suspend steps, both backed by a Suspension object owned by the execution.

A sleep's Suspension records ``resumeAt`` when it is first created, so a replay after a crash
waits only for what is left; a manual suspend waits until someone resumes it, and returns the
JSON payload given on resume (with a deadline, see :func:`suspend`).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from kontinue import errors
from kontinue.api import conversion, names
from kontinue.api.options import DurationLike, SleepOptions, SuspendOptions, to_timedelta
from kontinue.api.phases import SuspensionPhase
from kontinue.api.waited import WaitResult
from kontinue.engine.context import ExecutionContext
from kontinue.engine.records import StepRecord, SuspensionState

_DONE = object()


def _suspension_name(ktx: ExecutionContext, step: str, recorded: StepRecord | None) -> str:
    """The Suspension of a step: the recorded one, else the name derived from the step."""
    if recorded is not None and recorded.child:
        return recorded.child
    return names.child_name(ktx.name, step)


def _rerun_name(
    ktx: ExecutionContext, step: str, recorded: StepRecord | None, current: str
) -> str | None:
    """A new Suspension's name if the recorded one was canceled and runs again now, else None.

    A manual retry of an execution canceled while it slept or waited runs the step again
    (:mod:`kontinue.api.retries`), under a name of the step and the attempt (``-a2``).
    """
    if recorded is None:
        return None
    found = ktx.journal.suspension(current)
    if found is None:
        raise ktx.object_deleted("Suspension", current, step)
    if found.phase != SuspensionPhase.CANCELED or not ktx.reruns(recorded):
        return None
    return names.child_name(ktx.name, f"{step}-a{ktx.attempts + 1}")


def _left_canceled(ktx: ExecutionContext, state: SuspensionState) -> bool:
    """Whether an adopted Suspension is one a canceled attempt left before a manual retry."""
    return state.phase == SuspensionPhase.CANCELED and ktx.reruns_unrecorded(None, ended_only=True)


def sleep(ktx: ExecutionContext, duration: DurationLike) -> None:
    """Pause the execution for ``duration``; replay-safe (never restarts from zero)."""
    sleep_named(ktx, SleepOptions(duration=duration))


def sleep_named(ktx: ExecutionContext, options: SleepOptions) -> None:
    """:func:`sleep` with an explicit step name or metadata."""
    duration = to_timedelta(options.duration)
    if duration < timedelta(0):
        raise errors.ValidationError(f"sleep duration must not be negative: {options.duration}")
    name, index, recorded = ktx.begin_step("sleep", options)
    with ExitStack() as scope:  # the step's observed scope, opened when the sleep starts
        suspension_name = _suspension_name(ktx, name, recorded)
        rerun = _rerun_name(ktx, name, recorded, suspension_name)
        if recorded is None or rerun:  # creates, or adopts what an unrecorded earlier run created
            suspension_name = rerun or suspension_name
            scope.enter_context(ktx.observe_step(name, "sleep"))
            state = ktx.journal.create_suspension(
                suspension_name,
                name,
                ktx.now() + duration,
                options.display_name,
                options.description,
            )
            if recorded is None and _left_canceled(ktx, state):
                rerun = names.child_name(ktx.name, f"{name}-a{ktx.attempts + 1}")
                suspension_name = rerun
                state = ktx.journal.create_suspension(
                    rerun, name, ktx.now() + duration, options.display_name, options.description
                )
        else:
            found = ktx.journal.suspension(suspension_name)
            if found is None:
                raise ktx.object_deleted("Suspension", suspension_name, name)
            state = found
        ktx.journal.record(
            ktx.record(name, index, "sleep", options, child=suspension_name),
            replace=rerun is not None,
        )
        resume_at = state.resume_at

        def remaining() -> float | None:
            return None if resume_at is None else (resume_at - ktx.now()).total_seconds()

        def resolve() -> object | None:
            current = ktx.journal.suspension(suspension_name)
            if current is None:
                raise ktx.object_deleted("Suspension", suspension_name, name)
            if current.phase == SuspensionPhase.CANCELED:
                raise errors.Canceled(f"sleep {name!r} was canceled")
            if current.phase == SuspensionPhase.COMPLETED:
                return _DONE
            left = remaining()
            return _DONE if left is not None and left <= 0 else None

        ktx.await_resolution(
            [("Suspension", suspension_name)],
            resolve,
            f"sleep {name!r} until {resume_at}",
            remaining,
        )


def suspend(
    ktx: ExecutionContext,
    options: SuspendOptions | None = None,
    *,
    timeout: DurationLike | None = None,
) -> Any:
    """Pause until resumed through the API, CLI or UI; returns the resume payload (or None).

    With a deadline (``timeout``, or ``SuspendOptions(timeout=...)``), counted from when the
    step first runs, it returns a :class:`~kontinue.api.waited.WaitResult` instead:
    ``timed_out`` when nobody resumed it in time, else the payload in ``data``. The deadline
    lives in the Suspension (``spec.resumeAt``, ``spec.timeout``), so it survives worker and
    controller restarts; the controller ends it when it passes. A resume racing the deadline:
    both write the Suspension's status conditionally on the version they read, so exactly
    one wins, and every replay reads that winner from the Suspension.
    """
    limit = timeout if timeout is not None else (options.timeout if options else None)
    deadline = to_timedelta(limit) if limit is not None else None
    if deadline is not None and deadline < timedelta(0):
        raise errors.ValidationError(f"suspend timeout must not be negative: {limit}")
    name, index, recorded = ktx.begin_step("suspend", options)
    with ExitStack() as scope:  # the step's observed scope, opened when the suspension starts
        suspension_name = _suspension_name(ktx, name, recorded)
        rerun = _rerun_name(ktx, name, recorded, suspension_name)
        if recorded is None or rerun:  # creates, or adopts what an unrecorded earlier run created
            suspension_name = rerun or suspension_name
            scope.enter_context(ktx.observe_step(name, "suspend"))
            display = options.display_name if options else None
            description = options.description if options else None
            resume_at = ktx.now() + deadline if deadline is not None else None
            timed = deadline is not None
            state = ktx.journal.create_suspension(
                suspension_name, name, resume_at, display, description, timeout=timed
            )
            if recorded is None and _left_canceled(ktx, state):
                rerun = names.child_name(ktx.name, f"{name}-a{ktx.attempts + 1}")
                suspension_name = rerun
                ktx.journal.create_suspension(
                    rerun, name, resume_at, display, description, timeout=timed
                )
        ktx.journal.record(
            ktx.record(name, index, "suspend", options, child=suspension_name),
            replace=rerun is not None,
        )

        def resolve() -> SuspensionState | None:
            current = ktx.journal.suspension(suspension_name)
            if current is None:
                raise ktx.object_deleted("Suspension", suspension_name, name)
            if current.phase == SuspensionPhase.CANCELED:
                raise errors.Canceled(f"suspension {name!r} was canceled")
            return current if current.phase == SuspensionPhase.COMPLETED else None

        label = options.display_name if options and options.display_name else name
        ended = ktx.await_resolution(
            [("Suspension", suspension_name)], resolve, f"suspension {label!r} to be resumed"
        )
        if deadline is not None and ended.timed_out:
            return WaitResult(timed_out=True)
        data = ended.data
        conversion.check_depth(data, f"the resume payload of suspension {label!r}")
        return WaitResult(timed_out=False, data=data) if deadline is not None else data
