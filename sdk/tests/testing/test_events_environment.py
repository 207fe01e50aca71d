"""Events and deadlines in the WorkflowEnvironment: approvals that time out, signals, selects.

These are also the examples of docs/events-and-deadlines.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import kontinue
from kontinue.engine.registry import FunctionRegistry
from kontinue.testing import WorkflowEnvironment, WorkflowEnvironmentError

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
registry = FunctionRegistry()


@pytest.fixture
def env() -> WorkflowEnvironment:
    return WorkflowEnvironment(registry, start=START)


# -- an approval with a deadline -----------------------------------------------------------


@kontinue.function("deploy-with-approval", registry=registry)
def deploy_with_approval(ktx: kontinue.ExecutionContext) -> str:
    answer = kontinue.suspend(
        ktx, kontinue.SuspendOptions(name="approve", display_name="Approve", timeout="10s")
    )
    if answer.timed_out:
        return "rolled back: nobody approved in time"
    return f"deployed, approved by {answer.data['by']}"


def test_an_approval_nobody_gives_times_out(env: WorkflowEnvironment) -> None:
    run = env.start("deploy-with-approval")
    [waiting] = env.waiting(run)
    assert waiting.deadline == START + timedelta(seconds=10)

    assert run.result() == "rolled back: nobody approved in time"
    assert env.now == START + timedelta(seconds=10)


def test_an_approval_given_in_time_takes_the_approval_branch(env: WorkflowEnvironment) -> None:
    run = env.start("deploy-with-approval")
    env.advance("5s")
    env.resume(run, "approve", {"by": "alice"})

    assert run.result() == "deployed, approved by alice"
    assert env.now == START + timedelta(seconds=5)


def test_an_approval_after_the_deadline_is_refused(env: WorkflowEnvironment) -> None:
    run = env.start("deploy-with-approval")
    env.advance("11s")

    assert run.phase == "Completed"
    with pytest.raises(WorkflowEnvironmentError, match="0 waiting suspensions"):
        env.resume(run, "approve", {"by": "late"})


# -- events ---------------------------------------------------------------------------------


@kontinue.function("two-events", registry=registry)
def two_events(ktx: kontinue.ExecutionContext) -> list[Any]:
    first = kontinue.wait_for_event(ktx, "item")
    second = kontinue.wait_for_event(ktx, "item")
    return [first, second]


def test_events_are_received_in_the_order_they_were_sent(env: WorkflowEnvironment) -> None:
    run = env.start("two-events")
    env.signal(run, "item", {"n": 1})
    env.signal(run, "item", {"n": 2})

    assert run.result() == [{"n": 1}, {"n": 2}]


def test_an_event_sent_before_the_wait_is_buffered(env: WorkflowEnvironment) -> None:
    @kontinue.function("sleep-then-event", registry=registry)
    def sleep_then_event(ktx: kontinue.ExecutionContext) -> Any:
        kontinue.sleep(ktx, "1h")
        return kontinue.wait_for_event(ktx, "go")

    run = env.start("sleep-then-event")
    env.signal(run, "go", "early")  # the workflow sleeps: the event waits for it

    assert run.result() == "early"


def test_a_signal_sent_again_with_its_id_is_delivered_once(env: WorkflowEnvironment) -> None:
    run = env.start("two-events")
    env.signal(run, "item", 1, id="order-1")
    env.signal(run, "item", 1, id="order-1")  # the answer was lost: sent again
    assert run.phase == "Suspended"  # one event only: the second wait still waits

    env.signal(run, "item", 2, id="order-2")
    assert run.result() == [1, 2]
    assert len(env.signals(run)) == 2


def test_a_signal_to_a_finished_or_unknown_execution_is_refused(env: WorkflowEnvironment) -> None:
    run = env.start("two-events")
    env.signal(run, "item", 1)
    env.signal(run, "item", 2)
    run.result()

    with pytest.raises(WorkflowEnvironmentError, match="already finished"):
        env.signal(run, "item", 3)
    with pytest.raises(WorkflowEnvironmentError, match="no execution named nope"):
        env.signal("nope", "item", 3)
    with pytest.raises(WorkflowEnvironmentError, match="not valid"):
        env.signal(env.start("two-events"), "bad name!", 3)


@kontinue.function("event-or-timeout", registry=registry)
def event_or_timeout(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    got = kontinue.wait_for_event(ktx, "payment", timeout="1h")
    if got.timed_out:
        return {"paid": False}
    return {"paid": True, "amount": got.data, "id": got.id}


def test_an_event_wait_times_out(env: WorkflowEnvironment) -> None:
    assert env.execute("event-or-timeout") == {"paid": False}
    assert env.now == START + timedelta(hours=1)


def test_an_event_before_the_deadline_is_received(env: WorkflowEnvironment) -> None:
    run = env.start("event-or-timeout")
    env.advance("30m")
    env.signal(run, "payment", 42, id="pay-1")

    assert run.result() == {"paid": True, "amount": 42, "id": "pay-1"}


# -- wait_first ------------------------------------------------------------------------------


@kontinue.function("slow-child", registry=registry)
def slow_child(ktx: kontinue.ExecutionContext, minutes: int) -> int:
    kontinue.sleep(ktx, timedelta(minutes=minutes))
    return minutes


@kontinue.function("race", registry=registry)
def race(ktx: kontinue.ExecutionContext, minutes: int) -> list[Any]:
    child = kontinue.spawn_execution(ktx, "slow-child", minutes)
    first = kontinue.wait_first(ktx, children=[child], timer="30m", events=["stop"])
    return [first.kind, first.key == child.name if first.kind == "child" else first.key,
            first.value]  # fmt: skip


def test_wait_first_returns_the_child_that_ends_first(env: WorkflowEnvironment) -> None:
    assert env.execute("race", 10) == ["child", True, 10]


def test_wait_first_returns_the_timer_that_fires_first(env: WorkflowEnvironment) -> None:
    assert env.execute("race", 60) == ["timer", "timer", None]
    assert env.now == START + timedelta(minutes=30)


def test_wait_first_returns_the_event_that_comes_first(env: WorkflowEnvironment) -> None:
    run = env.start("race", 60)
    env.advance("5m")
    env.signal(run, "stop", {"why": "operator"})

    assert run.result() == ["event", "stop", {"why": "operator"}]


def test_wait_first_replays_the_recorded_winner_after_a_crash(env: WorkflowEnvironment) -> None:
    run = env.start("race", 10, crash_after="first-1")
    assert run.result() == ["child", True, 10]
    assert env.crashes == [(run.name, "first-1")]


def test_wait_first_needs_something_to_wait_for(env: WorkflowEnvironment) -> None:
    @kontinue.function("empty-select", registry=registry)
    def empty_select(ktx: kontinue.ExecutionContext) -> None:
        kontinue.wait_first(ktx)

    run = env.start("empty-select")
    assert run.phase == "Failed"
    assert "at least one" in (run.error or {}).get("message", "")
