"""The replay engine driven by the in-memory journal: each committed step runs once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

import kontinue
from kontinue import errors
from kontinue.api.phases import Phase
from kontinue.engine.outcomes import Outcome
from kontinue.engine.registry import FunctionRegistry
from kontinue.engine.run import run_attempt
from kontinue.testing import MemoryJournal


@dataclass
class Order:
    id: str
    amount: int


def _run(registry: FunctionRegistry, name: str, journal: MemoryJournal, hold: float = 0) -> Outcome:
    definition = registry.get(name)
    assert definition is not None
    return run_attempt(definition, journal, hold=hold)


def test_store_runs_once_and_returns_the_recorded_value_typed() -> None:
    registry = FunctionRegistry()
    calls: list[str] = []

    def make_order() -> Order:
        calls.append("order")
        return Order("o-1", 5)

    def count_items() -> int:
        calls.append("count")
        return 7

    @kontinue.function("orders", registry=registry)
    def orders(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
        order = kontinue.store(ktx, make_order)
        count = kontinue.store(ktx, count_items)
        kontinue.suspend(ktx)
        return {"order": order.id, "count": count, "type": type(order).__name__}

    journal = MemoryJournal()
    first = _run(registry, "orders", journal)
    assert first.kind == "released"
    assert calls == ["order", "count"]
    journal.resume("test-execution--suspend-1")
    second = _run(registry, "orders", journal)
    assert second.kind == "completed"
    assert second.result == {"order": "o-1", "count": 7, "type": "Order"}
    assert calls == ["order", "count"]  # not run again on replay
    assert set(journal.steps()) == {"store-1", "store-2", "suspend-1"}


def test_store_none_is_recorded() -> None:
    registry = FunctionRegistry()
    calls = []

    @kontinue.function("nothing", registry=registry)
    def nothing(ktx: kontinue.ExecutionContext) -> Any:
        value = kontinue.store(ktx, lambda: calls.append(1))
        kontinue.suspend(ktx)
        return value

    journal = MemoryJournal()
    assert _run(registry, "nothing", journal).kind == "released"
    journal.resume("test-execution--suspend-1")
    assert _run(registry, "nothing", journal).result is None
    assert calls == [1]


def test_step_names_are_deterministic() -> None:
    registry = FunctionRegistry()

    @kontinue.function("naming", registry=registry)
    def naming(ktx: kontinue.ExecutionContext) -> None:
        kontinue.store(ktx, lambda: 1)
        kontinue.store_named(ktx, kontinue.StoreOptions(name="explicit"), lambda: 2)
        kontinue.store_named(ktx, kontinue.StoreOptions(generate_name="Fetch Data"), lambda: 3)
        kontinue.store_named(ktx, kontinue.StoreOptions(generate_name="Fetch Data"), lambda: 4)
        kontinue.store(ktx, lambda: 5)

    journal = MemoryJournal()
    assert _run(registry, "naming", journal).kind == "completed"
    steps = journal.steps()
    assert sorted(steps, key=lambda n: steps[n].index) == [
        "store-1",
        "explicit",
        "fetch-data-1",
        "fetch-data-2",
        "store-2",
    ]
    assert journal.stored("fetch-data-2") == 4


def test_duplicate_step_name_fails_without_retry() -> None:
    registry = FunctionRegistry()

    @kontinue.function("dup", registry=registry)
    def dup(ktx: kontinue.ExecutionContext) -> None:
        kontinue.store_named(ktx, kontinue.StoreOptions(name="same"), lambda: 1)
        kontinue.store_named(ktx, kontinue.StoreOptions(name="same"), lambda: 2)

    outcome = _run(registry, "dup", MemoryJournal())
    assert isinstance(outcome.error, errors.DuplicateStepError)
    assert not errors.is_retryable_error(outcome.error)
    assert "'same' is used more than once" in str(outcome.error)


def test_invalid_explicit_name_is_a_validation_error() -> None:
    registry = FunctionRegistry()

    @kontinue.function("badname", registry=registry)
    def badname(ktx: kontinue.ExecutionContext) -> None:
        kontinue.store_named(ktx, kontinue.StoreOptions(name="Not_Valid"), lambda: 1)

    outcome = _run(registry, "badname", MemoryJournal())
    assert isinstance(outcome.error, errors.ValidationError)


def test_replay_with_changed_code_is_reported_naming_both_steps() -> None:
    first_registry, second_registry = FunctionRegistry(), FunctionRegistry()

    @kontinue.function("flow", registry=first_registry)
    def flow_v1(ktx: kontinue.ExecutionContext) -> None:
        kontinue.store(ktx, lambda: 1)
        kontinue.suspend(ktx)

    @kontinue.function("flow", registry=second_registry)
    def flow_v2(ktx: kontinue.ExecutionContext) -> None:
        kontinue.sleep(ktx, 1)
        kontinue.suspend(ktx)

    journal = MemoryJournal()
    assert _run(first_registry, "flow", journal).kind == "released"
    outcome = _run(second_registry, "flow", journal)
    assert isinstance(outcome.error, errors.NondeterminismError)
    assert not outcome.error.retryable
    assert "'sleep-1' (sleep)" in str(outcome.error)
    assert "'store-1' (store)" in str(outcome.error)


def test_suspend_returns_the_resume_payload() -> None:
    registry = FunctionRegistry()

    @kontinue.function("approve", registry=registry)
    def approve(ktx: kontinue.ExecutionContext) -> Any:
        return kontinue.suspend(
            ktx, kontinue.SuspendOptions(name="approval", display_name="Approve")
        )

    journal = MemoryJournal()
    released = _run(registry, "approve", journal)
    assert released.kind == "released"
    assert released.waiting_on == [("Suspension", "test-execution--approval")]
    assert "'Approve'" in released.message
    journal.resume("test-execution--approval", {"approved_by": "alice"})
    assert _run(registry, "approve", journal).result == {"approved_by": "alice"}


def test_sleep_keeps_its_resume_time_across_replays() -> None:
    registry = FunctionRegistry()

    @kontinue.function("nap", registry=registry)
    def nap(ktx: kontinue.ExecutionContext) -> str:
        kontinue.sleep(ktx, timedelta(hours=1))
        return "awake"

    journal = MemoryJournal()
    start = datetime(2030, 1, 1, tzinfo=UTC)
    journal.clock = start
    assert _run(registry, "nap", journal, hold=5).kind == "released"  # an hour > the hold
    resume_at = journal.suspensions["test-execution--sleep-1"].resume_at
    assert resume_at == start + timedelta(hours=1)
    journal.clock = start + timedelta(minutes=30)
    assert _run(registry, "nap", journal, hold=5).kind == "released"
    assert journal.suspensions["test-execution--sleep-1"].resume_at == resume_at
    journal.clock = start + timedelta(hours=1, seconds=1)
    assert _run(registry, "nap", journal, hold=5).result == "awake"


def test_children_results_and_failures() -> None:
    registry = FunctionRegistry()

    @kontinue.function("parent", registry=registry)
    def parent(ktx: kontinue.ExecutionContext) -> list[Any]:
        specs = [
            kontinue.ChildExecutionOptions(function="child", arguments={"i": i}) for i in range(3)
        ]
        return kontinue.execute_parallel(ktx, specs)

    journal = MemoryJournal()
    assert _run(registry, "parent", journal).kind == "released"
    names = list(journal.children)
    assert names == [
        "test-execution--execute-1",
        "test-execution--execute-2",
        "test-execution--execute-3",
    ]
    assert [journal.children[n].arguments for n in names] == [{"i": 0}, {"i": 1}, {"i": 2}]
    for index, name in reversed(list(enumerate(names))):
        journal.finish_child(name, Phase.COMPLETED, result=index * 10)
    assert _run(registry, "parent", journal).result == [0, 10, 20]
    assert len(journal.children) == 3  # the replay adopted them

    failing = MemoryJournal("other")
    assert _run(registry, "parent", failing).kind == "released"
    for name in failing.children:
        failing.finish_child(name, Phase.COMPLETED, result=1)
    failing.finish_child("other--execute-2", Phase.FAILED, message="boom")
    outcome = _run(registry, "parent", failing)
    assert isinstance(outcome.error, errors.ChildFailedError)
    assert outcome.error.child == "other--execute-2"
    assert "boom" in str(outcome.error)
    assert not outcome.error.retryable


@pytest.mark.parametrize("policy", ["None", "RetryFailed"])
def test_child_policy_decides_what_a_retry_runs_again(policy: str) -> None:
    registry = FunctionRegistry()

    @kontinue.function("parent", registry=registry)
    def parent(ktx: kontinue.ExecutionContext) -> list[Any]:
        specs = [kontinue.ChildExecutionOptions(function="child") for _ in range(3)]
        return kontinue.execute_parallel(ktx, specs)

    journal = MemoryJournal("p", spec={"retry": {"retries": 1, "childPolicy": policy}})
    assert _run(registry, "parent", journal).kind == "released"
    journal.finish_child("p--execute-1", Phase.COMPLETED, result=1)
    journal.finish_child("p--execute-2", Phase.FAILED, message="boom")
    journal.finish_child("p--execute-3", Phase.CANCELED)
    assert isinstance(_run(registry, "parent", journal).error, errors.ChildFailedError)
    journal.execution()["status"]["attempts"] = [{"phase": "Failed"}]  # the second attempt
    outcome = _run(registry, "parent", journal)
    if policy == "None":  # children are reused as they are: the failure replays
        assert isinstance(outcome.error, errors.ChildFailedError)
        assert list(journal.children) == ["p--execute-1", "p--execute-2", "p--execute-3"]
        return
    assert outcome.kind == "released"  # the failed and canceled children run again
    assert list(journal.children)[3:] == ["p--execute-2-a2", "p--execute-3-a2"]
    journal.finish_child("p--execute-2-a2", Phase.COMPLETED, result=2)
    journal.finish_child("p--execute-3-a2", Phase.COMPLETED, result=3)
    assert _run(registry, "parent", journal).result == [1, 2, 3]
    assert journal.steps()["execute-2"].child == "p--execute-2-a2"
    assert len(journal.children) == 5  # a later replay of the same attempt adopts them


def test_typed_arguments_and_bad_input() -> None:
    registry = FunctionRegistry()

    @kontinue.function("typed", registry=registry)
    def typed(ktx: kontinue.ExecutionContext, order: Order) -> Order:
        return Order(order.id.upper(), order.amount * 2)

    @kontinue.function("not-json", registry=registry)
    def not_json(ktx: kontinue.ExecutionContext) -> Any:
        return object()

    ok = _run(registry, "typed", MemoryJournal(arguments={"id": "a", "amount": 2}))
    assert ok.result == {"id": "A", "amount": 4}
    bad = _run(registry, "typed", MemoryJournal(arguments={"id": "a", "amount": "many"}))
    assert isinstance(bad.error, errors.ValidationError)
    assert "amount" in str(bad.error)
    assert not bad.error.retryable
    result = _run(registry, "not-json", MemoryJournal())
    assert isinstance(result.error, errors.ValidationError)
    assert "the result of not-json is not JSON-serializable" in str(result.error)


def test_a_value_too_large_to_store_fails_clearly() -> None:
    registry = FunctionRegistry()

    @kontinue.function("big", registry=registry)
    def big(ktx: kontinue.ExecutionContext) -> None:
        kontinue.store(ktx, lambda: "x" * 2_000_000)

    outcome = _run(registry, "big", MemoryJournal())
    assert isinstance(outcome.error, errors.ValidationError)
    assert "store step 'store-1' produced" in str(outcome.error)


def test_user_exceptions_are_outcomes_not_crashes() -> None:
    registry = FunctionRegistry()

    @kontinue.function("raises", registry=registry)
    def raises(ktx: kontinue.ExecutionContext) -> None:
        raise RuntimeError("database unavailable")

    @kontinue.function("gives-up", registry=registry)
    def gives_up(ktx: kontinue.ExecutionContext) -> None:
        raise kontinue.new_non_retryable_error(None, "invalid configuration")

    outcome = _run(registry, "raises", MemoryJournal())
    assert isinstance(outcome.error, RuntimeError) and kontinue.is_retryable_error(outcome.error)
    fatal = _run(registry, "gives-up", MemoryJournal())
    assert fatal.error is not None and not kontinue.is_retryable_error(fatal.error)
    assert kontinue.get_error_kind(fatal.error) == kontinue.ErrorKind.EXECUTION


def test_control_flow_is_not_caught_by_except_exception() -> None:
    registry = FunctionRegistry()

    @kontinue.function("greedy", registry=registry)
    def greedy(ktx: kontinue.ExecutionContext) -> str:
        try:
            kontinue.suspend(ktx)
        except Exception:  # noqa: BLE001 - the point of the test
            return "swallowed"
        return "resumed"

    assert _run(registry, "greedy", MemoryJournal()).kind == "released"


def test_decorator_checks_the_signature() -> None:
    with pytest.raises(TypeError, match="must take"):

        @kontinue.function(registry=FunctionRegistry())
        def wrong(a: int, b: int, c: int) -> None: ...


class Release(pydantic.BaseModel):
    version: str
    canary: bool = False


def test_pydantic_models_and_async_functions() -> None:
    registry = FunctionRegistry()

    @kontinue.function("release", registry=registry)
    async def release(ktx: kontinue.ExecutionContext, args: Release) -> Release:
        stored = kontinue.store(ktx, lambda: Release(version=args.version + "-rc"))
        return Release(version=stored.version, canary=not args.canary)

    outcome = _run(registry, "release", MemoryJournal(arguments={"version": "1.2"}))
    assert outcome.result == {"version": "1.2-rc", "canary": True}
    schema = registry.get("release").arguments_schema()  # type: ignore[union-attr]
    assert schema is not None and schema["properties"]["canary"]["default"] is False


def test_poll_until_checks_until_true_and_never_again_on_replay() -> None:
    registry = FunctionRegistry()
    checks: list[int] = []

    def ready() -> bool:
        checks.append(1)
        return len(checks) >= 3

    @kontinue.function("poller", registry=registry)
    def poller(ktx: kontinue.ExecutionContext) -> str:
        kontinue.poll_until(ktx, ready, interval=0.01)
        kontinue.suspend(ktx)
        return "ready"

    journal = MemoryJournal()
    assert _run(registry, "poller", journal, hold=0.3).kind == "released"  # waits fit the hold
    assert len(checks) == 3
    assert journal.suspensions.keys() == {"test-execution--suspend-1"}  # no timer needed
    journal.resume("test-execution--suspend-1")
    assert _run(registry, "poller", journal).result == "ready"
    assert len(checks) == 3  # the recorded poll is not repeated


def test_fan_out_progress_follows_finished_children_across_replays() -> None:
    registry = FunctionRegistry()

    @kontinue.function("fan", registry=registry)
    def fan(ktx: kontinue.ExecutionContext) -> int:
        first = kontinue.execute_parallel(
            ktx, [kontinue.ChildExecutionOptions(function="c") for _ in range(4)]
        )
        second = kontinue.execute_sequential(
            ktx, [kontinue.ChildExecutionOptions(function="c") for _ in range(2)]
        )
        return int(sum(first) + sum(second))

    journal = MemoryJournal("f")

    def progress() -> tuple[int, int]:
        value = journal.execution()["status"]["progress"]
        assert value["automatic"] is True
        return value["current"], value["max"]

    assert _run(registry, "fan", journal).kind == "released"
    assert progress() == (0, 4)
    journal.finish_child("f--execute-1", Phase.COMPLETED, result=1)
    journal.finish_child("f--execute-2", Phase.COMPLETED, result=1)
    assert _run(registry, "fan", journal).kind == "released"  # replayed after a release
    assert progress() == (2, 4)  # not stuck at the value of the first attempt
    for name in ("f--execute-3", "f--execute-4"):
        journal.finish_child(name, Phase.COMPLETED, result=1)
    assert _run(registry, "fan", journal).kind == "released"
    assert progress() == (0, 2)  # the sequential fan-out took over
    journal.finish_child("f--execute-5", Phase.COMPLETED, result=1)
    writes = journal.writes
    assert _run(registry, "fan", journal).kind == "released"
    assert progress() == (1, 2)
    assert journal.writes == writes + 2  # the new progress and child: the replays wrote none
    journal.finish_child("f--execute-6", Phase.COMPLETED, result=1)
    assert _run(registry, "fan", journal).result == 6
    assert progress() == (2, 2)


def test_a_progress_the_workflow_sets_is_left_alone() -> None:
    registry = FunctionRegistry()

    @kontinue.function("own", registry=registry)
    def own(ktx: kontinue.ExecutionContext) -> None:
        kontinue.set_progress(ktx, 1, 3)
        kontinue.execute_parallel(ktx, [kontinue.ChildExecutionOptions(function="c")])
        kontinue.clear_progress(ktx)

    journal = MemoryJournal("o")
    assert _run(registry, "own", journal).kind == "released"
    assert journal.execution()["status"]["progress"] == {"current": 1, "max": 3}
    journal.finish_child("o--execute-1", Phase.COMPLETED)
    assert _run(registry, "own", journal).kind == "completed"
    assert "progress" not in journal.execution()["status"]


def test_a_poll_longer_than_the_hold_releases_on_durable_timers() -> None:
    registry = FunctionRegistry()
    checks: list[int] = []

    def ready() -> bool:
        checks.append(1)
        return len(checks) >= 3

    @kontinue.function("poller", registry=registry)
    def poller(ktx: kontinue.ExecutionContext) -> str:
        kontinue.poll_until_named(
            ktx, ready, kontinue.PollOptions(name="ready", interval="30s", display_name="Ready?")
        )
        return "ready"

    journal = MemoryJournal("p")
    first = _run(registry, "poller", journal, hold=1)
    assert (first.kind, first.waiting_on) == ("released", [("Suspension", "p--ready-1")])
    assert len(checks) == 1
    timer = journal.suspensions["p--ready-1"]
    assert timer.resume_at is not None and timer.resume_at > datetime.now(UTC)
    assert journal.steps()["ready"].phase == "Running"
    journal.resume("p--ready-1")  # the controller ends the timer at its time
    second = _run(registry, "poller", journal, hold=1)
    assert (second.kind, second.waiting_on) == ("released", [("Suspension", "p--ready-2")])
    assert len(checks) == 2
    journal.resume("p--ready-2")
    assert _run(registry, "poller", journal, hold=1).result == "ready"
    assert len(checks) == 3
    assert journal.steps()["ready"].phase == "Completed"
    assert _run(registry, "poller", journal, hold=1).result == "ready"
    assert len(checks) == 3  # a replay does not poll again


def test_a_poll_interval_must_be_positive() -> None:
    registry = FunctionRegistry()

    @kontinue.function("poller", registry=registry)
    def poller(ktx: kontinue.ExecutionContext) -> None:
        kontinue.poll_until(ktx, lambda: True, interval=0)

    assert isinstance(_run(registry, "poller", MemoryJournal()).error, errors.ValidationError)


def test_a_poll_releases_once_its_waits_would_outlast_the_hold() -> None:
    registry = FunctionRegistry()
    checks: list[float] = []

    @kontinue.function("poller", registry=registry)
    def poller(ktx: kontinue.ExecutionContext) -> None:
        def never() -> bool:
            checks.append(1.0)
            return False

        kontinue.poll_until(ktx, never, interval=0.3)

    outcome = _run(registry, "poller", MemoryJournal("q"), hold=0.5)
    # one wait fits in the hold, the next would not: released on a timer, not held in the worker
    assert (outcome.kind, outcome.waiting_on) == ("released", [("Suspension", "q--poll-1-1")])
    assert len(checks) == 2


def test_a_cancellation_unwinds_at_the_next_step_and_code_can_check_for_it() -> None:
    registry = FunctionRegistry()
    journal = MemoryJournal()
    seen: list[bool] = []

    @kontinue.function("long", registry=registry)
    def long(ktx: kontinue.ExecutionContext) -> str:
        kontinue.store(ktx, lambda: "first")

        def work() -> str:
            journal.canceled.set()  # canceled while this step runs
            seen.append(ktx.canceled.is_set())
            return "second"

        kontinue.store(ktx, work)
        kontinue.store(ktx, lambda: "never")
        return "done"

    outcome = _run(registry, "long", journal)
    assert (outcome.kind, outcome.message) == ("canceled", "the execution was canceled")
    assert seen == [True]
    assert set(journal.steps()) == {"store-1", "store-2"}  # the step under way still commits
    assert not hasattr(kontinue.ExecutionContext, "cancelled")
