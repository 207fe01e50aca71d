"""The time-skipping WorkflowEnvironment: time, retries, timeouts, crashes, jobs, children."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import kontinue
from kontinue import errors
from kontinue.engine.registry import FunctionRegistry
from kontinue.testing import JobOutcome, JobRequest, StuckError, WorkflowEnvironment

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
registry = FunctionRegistry()
calls: dict[str, int] = {}


def count(what: str) -> int:
    calls[what] = calls.get(what, 0) + 1
    return calls[what]


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


@pytest.fixture
def env() -> WorkflowEnvironment:
    return WorkflowEnvironment(registry, start=START)


@kontinue.function("wait-a-day", registry=registry)
def wait_a_day(ktx: kontinue.ExecutionContext) -> str:
    kontinue.sleep(ktx, timedelta(days=1))
    return kontinue.store(ktx, lambda: ktx.now().isoformat())


def test_a_one_day_sleep_takes_milliseconds(env: WorkflowEnvironment) -> None:
    began = time.monotonic()

    run = env.start("wait-a-day")
    assert run.phase == "Suspended"  # start runs what can run now; the clock stands still
    assert env.now == START

    assert run.result() == (START + timedelta(days=1)).isoformat()
    assert env.now == START + timedelta(days=1)
    assert time.monotonic() - began < 0.5
    assert [(s.name, s.type, s.phase) for s in run.steps] == [
        ("sleep-1", "sleep", "Completed"),
        ("store-1", "store", "Completed"),
    ]


def test_the_test_moves_the_clock_itself(env: WorkflowEnvironment) -> None:
    run = env.start("wait-a-day")

    env.advance(timedelta(hours=23))
    assert run.phase == "Suspended"
    env.advance("1h")
    assert run.phase == "Completed"

    later = env.start("wait-a-day")
    env.sleep_until(START + timedelta(days=3))
    assert later.phase == "Completed"
    assert later.stored("store-1") == (START + timedelta(days=2)).isoformat()


@kontinue.function(
    "flaky", registry=registry, retry=kontinue.RetryOptions(retries=3, backoff="10m")
)
def flaky(ktx: kontinue.ExecutionContext, failures: int) -> int:
    kontinue.store_named(ktx, kontinue.StoreOptions(name="before"), lambda: count("before"))
    attempt = count("attempt")
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} failed")
    return ktx.attempts


def test_retries_back_off_on_the_fake_clock(env: WorkflowEnvironment) -> None:
    run = env.start("flaky", 2)
    assert run.phase == "Backoff"
    assert run.error == {
        "kind": "execution", "message": "RuntimeError: attempt 1 failed", "retryable": True
    }  # fmt: skip

    assert run.result() == 2  # ktx.attempts: the previous attempts
    assert env.now == START + timedelta(minutes=20)
    assert [a["phase"] for a in run.attempts] == ["Failed", "Failed", "Completed"]
    assert calls["before"] == 1  # a retry replays the committed store


def test_retries_run_out(env: WorkflowEnvironment) -> None:
    run = env.start("flaky", 9, retry={"retries": 1, "backoff": "1s"})  # the spec's own wins

    with pytest.raises(errors.ExecutionError, match="attempt 2 failed"):
        run.result()
    assert run.phase == "Failed"
    assert len(run.attempts) == 2


@kontinue.function("refuses", registry=registry, retry=kontinue.RetryOptions(retries=5))
def refuses(ktx: kontinue.ExecutionContext) -> None:
    raise errors.new_non_retryable_error(None, "bad input")


def test_a_non_retryable_error_fails_at_once(env: WorkflowEnvironment) -> None:
    run = env.start("refuses")

    assert run.phase == "Failed"
    assert run.error is not None and run.error["retryable"] is False
    assert len(run.attempts) == 1


@kontinue.function("charge", registry=registry)
def charge(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    order = kontinue.store_named(ktx, kontinue.StoreOptions(name="order"), lambda: count("order"))
    paid = kontinue.store_named(ktx, kontinue.StoreOptions(name="pay"), lambda: count("pay"))
    child = kontinue.execute(ktx, "double", paid)
    kontinue.sleep(ktx, "1h")
    return {"order": order, "paid": paid, "child": child}


@kontinue.function("double", registry=registry)
def double(ktx: kontinue.ExecutionContext, n: int) -> int:
    return kontinue.store(ktx, lambda: count("double") and n * 2)


@pytest.mark.parametrize("step", ["order", "pay", "execute-1", "sleep-1"])
def test_a_crash_after_a_step_replays_it_without_running_it_again(
    env: WorkflowEnvironment, step: str
) -> None:
    run = env.start("charge", crash_after=step)

    assert run.result() == {"order": 1, "paid": 1, "child": 2}
    assert env.crashes == [(run.name, step)]
    assert calls == {"order": 1, "pay": 1, "double": 1}  # every step ran once
    assert [(s.name, s.type) for s in run.steps] == [
        ("order", "store"),
        ("pay", "store"),
        ("execute-1", "execute"),
        ("sleep-1", "sleep"),
    ]
    assert [a["phase"] for a in run.attempts] == ["Completed"]


@kontinue.function("slow-call", registry=registry)
def slow_call(ktx: kontinue.ExecutionContext) -> str:
    def call() -> str:
        if count("call") == 1:
            ENVIRONMENTS[-1].advance("2m")  # the first call hangs for two minutes
        return "answered"

    return kontinue.store(ktx, call)


ENVIRONMENTS: list[WorkflowEnvironment] = []


def test_an_attempt_timeout_ends_the_attempt_and_a_retry_follows(env: WorkflowEnvironment) -> None:
    ENVIRONMENTS.append(env)
    run = env.start("slow-call", timeout={"attempt": "1m"}, retry={"retries": 1, "backoff": "5s"})

    assert run.result() == "answered"
    first, second = run.attempts
    assert first["phase"] == "Failed"
    assert first["error"]["kind"] == "timeout"
    assert "exceeded its timeout of 1m" in first["message"]
    assert second["phase"] == "Completed"
    assert calls["call"] == 2  # the first call never committed


@kontinue.function("needs-approval", registry=registry)
def needs_approval(ktx: kontinue.ExecutionContext) -> Any:
    return kontinue.suspend(ktx, kontinue.SuspendOptions(display_name="Approve"))


def test_an_overall_timeout_fails_a_forgotten_approval(env: WorkflowEnvironment) -> None:
    run = env.start("needs-approval", timeout={"overall": "2d"}, retry={"retries": 3})
    assert [w.display_name for w in env.waiting()] == ["Approve"]

    with pytest.raises(errors.ExecutionError, match="overall timeout of 2d"):
        run.result()  # nothing else can happen: time skips to the deadline
    assert env.now == START + timedelta(days=2)
    assert run.error is not None and run.error["kind"] == "timeout"
    assert run.error["retryable"] is False
    assert env.waiting() == []  # the suspension was canceled with it


def test_a_run_that_waits_for_the_test_says_so(env: WorkflowEnvironment) -> None:
    run = env.start("needs-approval")

    with pytest.raises(StuckError, match="suspension 'Approve' .* waits to be resumed"):
        run.result()
    env.resume(run, data={"ok": True})  # the only waiting suspension
    assert run.result() == {"ok": True}
    assert run.step("suspend-1").phase == "Completed"


def test_resuming_an_unknown_suspension_lists_the_waiting_ones(env: WorkflowEnvironment) -> None:
    run = env.start("needs-approval")

    with pytest.raises(errors.KontinueError, match=r"waiting: Approve"):
        env.resume(run, "nope")


@kontinue.function("wait-for-ready", registry=registry)
def wait_for_ready(ktx: kontinue.ExecutionContext) -> str:
    ready_at = START + timedelta(minutes=25)
    kontinue.poll_until(ktx, lambda: ktx.now() >= ready_at, interval=timedelta(minutes=10))
    return ktx.now().isoformat()


def test_poll_until_advances_the_clock(env: WorkflowEnvironment) -> None:
    assert env.execute("wait-for-ready") == (START + timedelta(minutes=30)).isoformat()
    run = env.executions[-1]
    assert [(s.name, s.type, s.phase) for s in run.steps] == [("poll-1", "poll", "Completed")]


@kontinue.function("migrate", registry=registry)
def migrate(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    pod = kontinue.run_script(
        ktx, kontinue.ScriptOptions(name="migrate", image="postgres:16", command="psql -f m.sql")
    )
    summary = None if pod.succeeded() else pod.log_error_summary(ktx)
    return {"ok": pod.succeeded(), "summary": summary}


def test_job_steps_are_answered_by_the_handler() -> None:
    seen: list[JobRequest] = []

    def handler(job: JobRequest) -> JobOutcome:
        seen.append(job)
        return JobOutcome(exit_code=3, logs="connecting\nERROR: relation missing\n", duration="5m")

    env = WorkflowEnvironment(registry, start=START, job_handler=handler)
    result = env.execute("migrate")

    assert result["ok"] is False
    assert "container script exited with 3" in result["summary"]
    assert "ERROR: relation missing" in result["summary"]
    assert seen[0].command == ["/bin/sh", "-c", "psql -f m.sql"]
    assert env.now == START + timedelta(minutes=5)  # the Job took five minutes


def test_without_a_handler_every_job_succeeds(env: WorkflowEnvironment) -> None:
    assert env.execute("migrate") == {"ok": True, "summary": None}


def test_a_job_left_running_is_finished_by_the_test() -> None:
    env = WorkflowEnvironment(registry, start=START, job_handler=lambda job: None)
    run = env.start("migrate")
    with pytest.raises(StuckError, match="env.finish_job"):
        run.result()

    env.finish_job(env.jobs[0].name, JobOutcome(exit_code=0))
    assert run.result() == {"ok": True, "summary": None}


@kontinue.function("sometimes", registry=registry)
def sometimes(ktx: kontinue.ExecutionContext, n: int) -> int:
    if count(f"sometimes-{n}") == 1 and n == 2:
        raise errors.new_non_retryable_error(None, "first try of 2 fails")
    return n


@kontinue.function("fan", registry=registry, retry=kontinue.RetryOptions(retries=1, backoff="1m"))
def fan(ktx: kontinue.ExecutionContext, how: str) -> list[int]:
    specs = [kontinue.ChildExecutionOptions(function="sometimes", arguments=n) for n in (1, 2, 3)]
    try:
        if how == "parallel":
            return kontinue.execute_parallel(ktx, specs)
        if how == "sequential":
            return kontinue.execute_sequential(ktx, specs)
        handles = [kontinue.spawn_execution(ktx, s.function, s.arguments) for s in specs]
        return [kontinue.wait_execution(ktx, h) for h in handles]
    except errors.ChildFailedError as exc:  # the workflow decides a failed child is worth a retry
        raise errors.new_retryable_error(exc, f"a child failed: {exc}") from exc


@pytest.mark.parametrize("how", ["parallel", "sequential", "spawn"])
def test_a_failed_child_is_reused_under_the_default_child_policy(
    env: WorkflowEnvironment, how: str
) -> None:
    run = env.start("fan", how)

    with pytest.raises(errors.ExecutionError, match="child execution .* failed"):
        run.result()
    assert run.error is not None and run.error["kind"] == "child_failed"
    assert [a["phase"] for a in run.attempts] == ["Failed", "Failed"]
    assert len(run.children) == (2 if how == "sequential" else 3)  # the failure replayed


@kontinue.function("strict", registry=registry, retry=kontinue.RetryOptions(retries=2))
def strict(ktx: kontinue.ExecutionContext) -> int:
    return kontinue.execute(ktx, "sometimes", 2)  # type: ignore[no-any-return]


def test_a_failed_child_fails_its_parent_without_retries(env: WorkflowEnvironment) -> None:
    run = env.start("strict")

    with pytest.raises(errors.ExecutionError, match="first try of 2 fails"):
        run.result()
    assert run.error is not None and run.error["retryable"] is False
    assert len(run.attempts) == 1


@pytest.mark.parametrize("how", ["parallel", "sequential", "spawn"])
def test_retry_failed_runs_a_failed_child_again(env: WorkflowEnvironment, how: str) -> None:
    run = env.start("fan", how, retry={"retries": 1, "childPolicy": "RetryFailed"})

    assert run.result() == [1, 2, 3]
    assert [a["phase"] for a in run.attempts] == ["Failed", "Completed"]
    assert [c.phase for c in run.children] == ["Completed", "Failed", "Completed", "Completed"]
    assert run.child("execute-2").name.endswith("-a2")


def test_cancel_stops_the_whole_tree(env: WorkflowEnvironment) -> None:
    run = env.start("charge")  # waits for its sleep
    env.cancel(run)

    assert run.phase == "Canceled"
    assert [c.phase for c in run.children] == ["Completed"]
    with pytest.raises(errors.ExecutionError):
        run.result()


@pytest.mark.kontinue_env(registry=registry, start=START)
def test_the_fixture_hands_out_an_environment(workflow_env: WorkflowEnvironment) -> None:
    assert workflow_env.now == START
    assert workflow_env.execute("double", 21) == 42
