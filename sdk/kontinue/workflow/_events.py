"""Event and select steps: ``wait_for_event`` and ``wait_first``.

An event is a Signal sent to the execution (``kontinue signal``, ``Client.signal``, the UI;
storage and order in :mod:`kontinue.api.signals`). A wait takes the earliest signal of its
event that no recorded step consumed, whether it came before the wait (buffered) or after.

Recording: the step's decision (which Signal it consumed and its payload, or that the timer
won, or which child won) is one fenced write, a store step's write (the step record names the
consumed Signal in ``child``, the stored value holds the payload). A replay returns the
recorded decision, whatever happened since; an event named by a recorded step is never
consumed again; a crash before that write consumed nothing, and the next run decides again.

Deadlines and timers: a wait with a timeout (or a select with a timer) creates a Suspension
with ``resumeAt`` named after the step (once: a replay adopts it and keeps its ``resumeAt``),
which the controller ends when it passes, so the deadline survives worker and controller
restarts. A released execution lists what it waits for in ``status.suspendedOn`` with
``first`` set, so the controller wakes it at whichever comes first.

When several are ready when the step looks (after a release, a worker crash), the one the API
server accepted first wins: the lowest resourceVersion of the Signal as created, of the write
that ended the child or the timer (a timer whose time passed but whose end is not written yet
comes after everything seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kontinue import errors
from kontinue.api import conversion, names, signals
from kontinue.api.options import (
    ChildExecution,
    DurationLike,
    EventOptions,
    StepOptions,
    to_timedelta,
)
from kontinue.api.phases import SuspensionPhase
from kontinue.api.signals import SignalState
from kontinue.api.timestamps import format_time
from kontinue.api.waited import First, FirstKind, WaitResult
from kontinue.engine.context import ExecutionContext
from kontinue.engine.records import ChildState
from kontinue.workflow._children import _outcome

EVENT_STEP = "event"
"""The step type of :func:`wait_for_event`."""

FIRST_STEP = "first"
"""The step type of :func:`wait_first`."""

_LATE = 1 << 62
"""The order of a timer whose time passed but whose end is not written yet."""


def consumed_signals(ktx: ExecutionContext) -> set[str]:
    """The Signals the execution's recorded steps consumed (by name)."""
    return {
        r.child
        for r in ktx.journal.steps().values()
        if r.type in (EVENT_STEP, FIRST_STEP) and r.child
    }


@dataclass(frozen=True)
class _Ready:
    kind: FirstKind
    key: str
    order: int
    signal: SignalState | None = None
    child: ChildState | None = None


class _Timer:
    """The durable timer of a step: a Suspension with ``resumeAt``, created once."""

    def __init__(self, ktx: ExecutionContext, step: str, at: datetime) -> None:
        self.name = names.child_name(ktx.name, step)
        self._ktx = ktx
        self._step = step
        state = ktx.journal.create_suspension(
            self.name, step, at, f"deadline of {step}", None, timeout=False
        )
        self.at = state.resume_at or at

    def fired(self) -> _Ready | None:
        current = self._ktx.journal.suspension(self.name)
        if current is None:
            raise self._ktx.object_deleted("Suspension", self.name, self._step)
        if current.phase == SuspensionPhase.CANCELED:
            raise errors.Canceled(f"the timer of step {self._step!r} was canceled")
        if current.phase == SuspensionPhase.COMPLETED:
            return _Ready("timer", "timer", current.order)
        if self.at <= self._ktx.now():
            return _Ready("timer", "timer", _LATE)
        return None


def _deadline(ktx: ExecutionContext, timer: DurationLike | datetime, what: str) -> datetime:
    if isinstance(timer, datetime):
        if timer.tzinfo is None:
            raise errors.ValidationError(f"{what}: a deadline needs a time zone")
        return timer
    duration = to_timedelta(timer)
    if duration < timedelta(0):
        raise errors.ValidationError(f"{what} must not be negative: {timer}")
    return ktx.now() + duration


def _select(
    ktx: ExecutionContext,
    step: str,
    events: Sequence[str],
    children: Sequence[ChildExecution],
    timer: _Timer | None,
    describe: str,
) -> _Ready:
    """Wait (held, then released) until one of them is ready; the first accepted wins."""
    consumed = consumed_signals(ktx)
    seen: list[SignalState] = []

    def resolve() -> _Ready | None:
        nonlocal seen
        ready: list[_Ready] = []
        if events:
            seen = ktx.journal.signals()
            found = signals.first_unconsumed(seen, events, consumed)
            if found is not None:
                ready.append(_Ready("event", found.event, found.order, signal=found))
        for child in children:
            state = ktx.journal.child(child.name)
            if state is None:
                raise ktx.object_deleted("Execution", child.name, step)
            if state.phase.terminal:
                ready.append(_Ready("child", child.name, state.order, child=state))
        if timer is not None:
            fired = timer.fired()
            if fired is not None:
                ready.append(fired)
        return min(ready, key=lambda r: r.order) if ready else None

    keys = [("Signal", e) for e in events] + [("Execution", c.name) for c in children]
    if timer is not None:
        keys.append(("Suspension", timer.name))

    def details() -> dict[tuple[str, str], dict[str, Any]]:
        extra: dict[tuple[str, str], dict[str, Any]] = {k: {"first": True} for k in keys}
        for event in events:
            extra[("Signal", event)]["after"] = str(signals.waiting_after(seen, event))
        return extra

    return ktx.await_resolution(keys, resolve, describe, details=details)


def _commit(
    ktx: ExecutionContext,
    step: str,
    index: int,
    step_type: str,
    options: StepOptions | None,
    started: str,
    value: dict[str, Any],
    signal: SignalState | None,
) -> None:
    record = ktx.record(
        step, index, step_type, options, started_at=started,
        finished_at=format_time(ktx.now()), child=signal.name if signal else None,
    )  # fmt: skip
    ktx.journal.commit_store(record, value)


def wait_for_event(
    ktx: ExecutionContext,
    event: str,
    *,
    timeout: DurationLike | None = None,
    options: EventOptions | None = None,
) -> Any:
    """Wait for the next ``event`` sent to this execution and return its payload.

    Events are sent with ``kontinue signal NAME EVENT --data JSON``,
    :meth:`kontinue.client.Client.signal` or the UI. Each is delivered once, in the order they
    were accepted; one sent before the workflow reaches this step waits for it (buffered).

    With a deadline (``timeout``, or ``EventOptions(timeout=...)``), counted from when the
    step first waits, it returns a :class:`~kontinue.api.waited.WaitResult` instead:
    ``timed_out`` when no event came in time, else the payload in ``data`` (and the event's
    ``id``). Replays return what the first run received.

    Raises:
        ValidationError: the event name is not valid, or the timeout is negative.
    """
    try:
        signals.check_event_name(event)
    except ValueError as exc:
        raise errors.ValidationError(str(exc)) from None
    limit = timeout if timeout is not None else (options.timeout if options else None)
    name, index, recorded = ktx.begin_step(EVENT_STEP, options)
    if recorded is not None:
        return _event_result(ktx.journal.stored(name) or {}, limit is not None)
    with ExitStack() as scope:
        scope.enter_context(ktx.observe_step(name, EVENT_STEP))
        started = format_time(ktx.now())
        pending = signals.first_unconsumed(ktx.journal.signals(), [event], consumed_signals(ktx))
        timer = None
        if limit is not None:
            at = _deadline(ktx, limit, f"the timeout of step {name!r}")
            # a timer an earlier, unrecorded run started may have fired before this event came
            earlier = ktx.journal.suspension(names.child_name(ktx.name, name))
            if pending is None or earlier is not None:
                timer = _Timer(ktx, name, at)
        if pending is not None and timer is None:
            won = _Ready("event", event, pending.order, signal=pending)
        else:
            won = _select(ktx, name, [event], [], timer, f"event {event!r}")
        if won.kind == "timer":
            value: dict[str, Any] = {"timedOut": True}
        else:
            assert won.signal is not None
            value = {"event": event, "signal": won.signal.name, "id": won.signal.id,
                     "data": won.signal.data}  # fmt: skip
        _commit(ktx, name, index, EVENT_STEP, options, started, value, won.signal)
    return _event_result(value, limit is not None)


def _event_result(value: dict[str, Any], deadline: bool) -> Any:
    data = value.get("data")
    conversion.check_depth(data, "an event's payload")
    if not deadline:
        return data
    if value.get("timedOut"):
        return WaitResult(timed_out=True)
    return WaitResult(timed_out=False, data=data, event=value.get("event"), id=value.get("id"))


def wait_first(
    ktx: ExecutionContext,
    *,
    children: Sequence[ChildExecution] = (),
    timer: DurationLike | datetime | None = None,
    events: Sequence[str] = (),
    options: StepOptions | None = None,
    result_type: Any = None,
) -> First:
    """Wait for whichever comes first: a child execution ending, the timer, or an event.

    ``children`` are handles of :func:`spawn_execution`; ``timer`` a duration (counted from
    when the step first waits) or an aware deadline; ``events`` event names. Returns a
    :class:`~kontinue.api.waited.First`: its ``kind`` (``"child"``, ``"timer"``,
    ``"event"``), ``key`` (the child's name, ``"timer"``, the event's name) and ``value`` (the
    child's result, typed by ``result_type``; None; the event's payload). A child that failed
    or was canceled first raises as :func:`wait_execution` would.

    The winner is recorded in the journal: every replay returns the same one, even if the
    others finished since. The children that did not win keep running (wait for them, or
    cancel them, as the workflow needs); an event that did not win stays for a later wait.

    Raises:
        ValidationError: nothing to wait for, a bad event name, or a negative timer.
    """
    if not children and timer is None and not events:
        raise errors.ValidationError("wait_first needs at least one child, a timer or an event")
    for event in events:
        try:
            signals.check_event_name(event)
        except ValueError as exc:
            raise errors.ValidationError(str(exc)) from None
    name, index, recorded = ktx.begin_step(FIRST_STEP, options)
    if recorded is not None:
        return _first(ktx, ktx.journal.stored(name) or {}, result_type)
    with ExitStack() as scope:
        scope.enter_context(ktx.observe_step(name, FIRST_STEP))
        started = format_time(ktx.now())
        clock = None
        if timer is not None:
            clock = _Timer(ktx, name, _deadline(ktx, timer, f"the timer of step {name!r}"))
        parts = [*(f"child {c.name}" for c in children), *(f"event {e!r}" for e in events)]
        if clock is not None:
            parts.append(f"timer at {format_time(clock.at)}")
        won = _select(ktx, name, list(events), list(children), clock, " or ".join(parts))
        value: dict[str, Any] = {"kind": won.kind, "key": won.key}
        if won.signal is not None:
            value.update(signal=won.signal.name, id=won.signal.id, value=won.signal.data)
        _commit(ktx, name, index, FIRST_STEP, options, started, value, won.signal)
    return _first(ktx, value, result_type)


def _first(ktx: ExecutionContext, value: dict[str, Any], result_type: Any) -> First:
    kind = value.get("kind")
    key = str(value.get("key") or "")
    if kind == "child":
        state = ktx.journal.child(key)
        if state is None:
            raise ktx.object_deleted("Execution", key, "wait_first")
        return First("child", key, _outcome(state, result_type))
    if kind == "event":
        data = value.get("value")
        conversion.check_depth(data, "an event's payload")
        return First("event", key, data, id=value.get("id"))
    if kind == "timer":
        return First("timer", "timer")
    raise errors.NondeterminismError(f"the history records an unknown wait_first winner {kind!r}")
