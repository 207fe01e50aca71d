"""Store and poll steps: run a function once and record its result (or its success).

A poll checks its condition in the worker; between checks it waits in the worker while the
wait fits in the worker's hold time, and otherwise on a durable timer: a Suspension named
after the step and the timer's number (``<execution>-<step>-<n>``) that the controller ends
at the next check's time, the execution released meanwhile. The step stays ``Running`` (its
record names the last timer) until the condition holds; then it is committed like a store.

Guarantee: a committed store step never runs again; one whose worker died before the commit
runs again on replay (at least once for the in-flight step, never for a committed one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from kontinue import errors
from kontinue.api import conversion, names
from kontinue.api.options import DurationLike, PollOptions, StoreOptions, to_timedelta
from kontinue.api.phases import Phase, SuspensionPhase
from kontinue.api.timestamps import format_time
from kontinue.engine.context import ExecutionContext

T = TypeVar("T")

MAX_POLL_TIMERS = 1_000_000
"""Bound of the search for a poll's last timer when its name was shortened."""

MAX_STORED_BYTES = 256 * 1024
"""Largest JSON value one store step may record (the whole Execution must stay under etcd's
1.5 MiB object limit); a larger value fails the step with a clear, non-retryable error."""


def store(ktx: ExecutionContext, fn: Callable[[], T], *, result_type: Any = None) -> T:
    """Run ``fn`` once and record its result; a replay returns the recorded value.

    The value must be JSON-convertible. Without ``result_type`` a dataclass or pydantic value
    comes back as the same type on replay (its class is recorded); other values as JSON.
    """
    return store_named(ktx, None, fn, result_type=result_type)


def store_named(
    ktx: ExecutionContext,
    options: StoreOptions | None,
    fn: Callable[[], T],
    *,
    result_type: Any = None,
) -> T:
    """:func:`store` with an explicit step name or metadata."""
    name, index, recorded = ktx.begin_step("store", options)
    if recorded is not None and recorded.phase == Phase.COMPLETED:
        value = ktx.journal.stored(name)
        type_ = result_type or conversion.resolve_type_ref(recorded.value_type)
        return conversion.from_json(value, type_, f"stored value of step {name!r}")  # type: ignore[no-any-return]
    with ktx.observe_step(name, "store"):
        started = format_time(ktx.now())
        result = fn()
        data = conversion.to_json(result, f"the value of store step {name!r}")
        conversion.check_size(
            data,
            MAX_STORED_BYTES,
            f"store step {name!r} produced {{size}} bytes of JSON; one stored value may be at "
            "most {limit} bytes (keep large data elsewhere and store a reference)",
        )
        record = ktx.record(
            name,
            index,
            "store",
            options,
            started_at=started,
            finished_at=format_time(ktx.now()),
            value_type=conversion.type_ref(result),
        )
        ktx.journal.commit_store(record, data)
    if result_type is not None:
        return conversion.from_json(data, result_type, f"the value of store step {name!r}")  # type: ignore[no-any-return]
    return result


def poll_until(
    ktx: ExecutionContext, condition: Callable[[], bool], interval: DurationLike = 10.0
) -> None:
    """Check ``condition`` every ``interval`` until it is true; a replay does not poll again.

    Waiting between checks holds the worker's slot for at most its hold time (``--hold``) per
    claim; a longer wait releases the execution on a durable timer (a Suspension, like a
    sleep) and the next claim checks again, so a long readiness poll frees the worker.
    """
    poll_until_named(ktx, condition, PollOptions(interval=interval))


def poll_until_named(
    ktx: ExecutionContext, condition: Callable[[], bool], options: PollOptions
) -> None:
    """:func:`poll_until` with an explicit step name or metadata."""
    interval = to_timedelta(options.interval)
    if interval <= timedelta(0):
        raise errors.ValidationError(f"poll interval must be positive: {options.interval}")
    name, index, recorded = ktx.begin_step("poll", options)
    if recorded is not None and recorded.phase == Phase.COMPLETED:
        return
    with ktx.observe_step(name, "poll"):
        started = (recorded.started_at if recorded else None) or format_time(ktx.now())
        timers = _timers_so_far(ktx, name, recorded.child if recorded else None)
        hold_until = time.monotonic() + ktx.hold
        while True:
            ktx.check_canceled()
            if condition():
                break
            if time.monotonic() + interval.total_seconds() <= hold_until:
                ktx.canceled.wait(interval.total_seconds())  # a short wait, in the worker
                continue
            timers += 1
            _wait_on_timer(ktx, name, index, options, started, timers, interval, hold_until)
            hold_until = time.monotonic() + ktx.hold
        record = ktx.record(
            name, index, "poll", options, started_at=started, finished_at=format_time(ktx.now())
        )
        ktx.journal.commit_store(record, True)


def _timer_name(ktx: ExecutionContext, step: str, number: int) -> str:
    return names.child_name(ktx.name, f"{step}-{number}")


def _timers_so_far(ktx: ExecutionContext, step: str, last: str | None) -> int:
    """How many timers the poll created before (its record names the last one)."""
    if not last:
        return 0
    tail = last.rsplit("-", 1)[-1]
    if tail.isdigit() and _timer_name(ktx, step, int(tail)) == last:
        return int(tail)
    for number in range(1, MAX_POLL_TIMERS + 1):  # a shortened (hashed) name
        if _timer_name(ktx, step, number) == last:
            return number
    return MAX_POLL_TIMERS


def _wait_on_timer(
    ktx: ExecutionContext,
    step: str,
    index: int,
    options: PollOptions,
    started: str,
    number: int,
    interval: timedelta,
    hold_until: float,
) -> None:
    """Wait for the next check on a durable timer (released when it outlasts the hold)."""
    timer = _timer_name(ktx, step, number)
    state = ktx.journal.create_suspension(
        timer,
        step,
        ktx.now() + interval,
        options.display_name or f"next check of {step}",
        options.description,
    )
    running = ktx.record(name=step, index=index, step_type="poll", options=options,
                         started_at=started, child=timer)  # fmt: skip
    running.phase = "Running"
    ktx.journal.record(running, replace=True)
    resume_at = state.resume_at

    def remaining() -> float | None:
        return None if resume_at is None else (resume_at - ktx.now()).total_seconds()

    def resolve() -> object | None:
        current = ktx.journal.suspension(timer)
        if current is not None and current.phase == SuspensionPhase.CANCELED:
            raise errors.Canceled(f"poll {step!r} was canceled")
        if current is not None and current.phase == SuspensionPhase.COMPLETED:
            return True
        left = remaining()
        return True if left is not None and left <= 0 else None

    ktx.await_resolution(
        [("Suspension", timer)], resolve, f"the next check of poll {step!r} at {resume_at}",
        remaining, hold_until,
    )  # fmt: skip
