"""Store and poll steps: run a function once and record its result (or its success).

Guarantee: a committed store step never runs again; one whose worker died before the commit
runs again on replay (at least once for the in-flight step, never for a committed one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kontinue.api.timestamps import format_time
from kontinue.workflow import _convert
from kontinue.workflow._context import ExecutionContext
from kontinue.workflow._options import DurationLike, PollOptions, StoreOptions, to_timedelta

T = TypeVar("T")

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
    if recorded is not None and recorded.phase == "Completed":
        value = ktx.journal.stored(name)
        type_ = result_type or _convert.resolve_type_ref(recorded.value_type)
        return _convert.from_json(value, type_, f"stored value of step {name!r}")  # type: ignore[no-any-return]
    with ktx.observe_step(name, "store"):
        started = format_time(ktx.now())
        result = fn()
        data = _convert.to_json(result, f"the value of store step {name!r}")
        _convert.check_size(
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
            value_type=_convert.type_ref(result),
        )
        ktx.journal.commit_store(record, data)
    if result_type is not None:
        return _convert.from_json(data, result_type, f"the value of store step {name!r}")  # type: ignore[no-any-return]
    return result


def poll_until(
    ktx: ExecutionContext, condition: Callable[[], bool], interval: DurationLike = 10.0
) -> None:
    """Check ``condition`` every ``interval`` until it is true; a replay does not poll again."""
    poll_until_named(ktx, condition, PollOptions(interval=interval))


def poll_until_named(
    ktx: ExecutionContext, condition: Callable[[], bool], options: PollOptions
) -> None:
    """:func:`poll_until` with an explicit step name or metadata."""
    name, index, recorded = ktx.begin_step("poll", options)
    if recorded is not None and recorded.phase == "Completed":
        return
    with ktx.observe_step(name, "poll"):
        started = format_time(ktx.now())
        interval = to_timedelta(options.interval).total_seconds()
        while not condition():
            ktx.check_cancelled()
            ktx.cancelled.wait(interval)
        record = ktx.record(
            name, index, "poll", options, started_at=started, finished_at=format_time(ktx.now())
        )
        ktx.journal.commit_store(record, True)
