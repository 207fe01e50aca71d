"""Parent-close policies and search labels in the WorkflowEnvironment (the controller's and
the worker's parts played in process, as on a cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import kontinue
from kontinue import errors
from kontinue.engine.registry import FunctionRegistry
from kontinue.testing import WorkflowEnvironment

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
registry = FunctionRegistry()


@pytest.fixture
def env() -> WorkflowEnvironment:
    return WorkflowEnvironment(registry, start=START)


@kontinue.function("approval", registry=registry)
def approval(ktx: kontinue.ExecutionContext) -> Any:
    return kontinue.suspend(ktx, kontinue.SuspendOptions(display_name="Approve"))


@kontinue.function("nap", registry=registry)
def nap(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    kontinue.sleep(ktx, timedelta(hours=1))
    if args.get("fail"):
        raise errors.new_non_retryable_error(None, "the child gave up")
    return "rested"


@kontinue.function("spawner", registry=registry)
def spawner(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    options = kontinue.ExecuteOptions(name="child", parent_close_policy=args["policy"])
    child = kontinue.spawn_execution(
        ktx, args.get("child", "approval"), args.get("arguments"), options
    )
    if args.get("wait"):
        kontinue.wait_execution(ktx, child)
    if args.get("fail"):
        raise errors.new_non_retryable_error(None, "the parent gave up")
    return "parent done"


def test_abandon_is_the_default_and_leaves_the_child_running(env: WorkflowEnvironment) -> None:
    for policy in ("abandon", None):
        run = env.start("spawner", {"policy": policy})
        assert run.result() == "parent done"
        child = run.child("child")
        assert child.phase == "Suspended"
        assert child.parent_close_policy == "abandon"
        assert "parentClosePolicy" not in child.execution["spec"]  # the default is not stored


@pytest.mark.parametrize("fail", [False, True])
def test_cancel_cancels_the_running_child_when_the_parent_ends(
    env: WorkflowEnvironment, fail: bool
) -> None:
    run = env.start("spawner", {"policy": "cancel", "fail": fail})
    if fail:
        with pytest.raises(errors.ExecutionError, match="the parent gave up"):
            run.result()
    else:
        assert run.result() == "parent done"
    child = run.child("child")
    assert child.execution["spec"]["parentClosePolicy"] == "Cancel"
    assert child.phase == "Canceled"
    assert env.waiting() == []  # its suspension went with it


def test_cancel_leaves_a_finished_child_alone(env: WorkflowEnvironment) -> None:
    run = env.start("spawner", {"policy": "cancel", "child": "nap", "arguments": {}, "wait": True})
    assert run.result() == "parent done"
    assert run.child("child").phase == "Completed"


def test_wait_holds_the_parent_until_the_child_finished(env: WorkflowEnvironment) -> None:
    run = env.start("spawner", {"policy": "wait", "child": "nap", "arguments": {}})
    assert run.phase == "Suspended"  # its function returned, but the child still runs
    assert run.result() == "parent done"
    assert env.now == START + timedelta(hours=1)
    assert run.child("child").phase == "Completed"


def test_wait_keeps_the_parents_own_outcome_when_the_child_fails(env: WorkflowEnvironment) -> None:
    run = env.start("spawner", {"policy": "wait", "child": "nap", "arguments": {"fail": True}})
    assert run.result() == "parent done"
    assert run.child("child").phase == "Failed"


def test_wait_holds_a_failing_parent_too(env: WorkflowEnvironment) -> None:
    run = env.start("spawner", {"policy": "wait", "child": "nap", "arguments": {}, "fail": True})
    with pytest.raises(errors.ExecutionError, match="the parent gave up"):
        run.result()
    assert env.now == START + timedelta(hours=1)  # it failed once the child finished
    assert run.child("child").phase == "Completed"


def test_an_explicit_cancel_cancels_every_child(env: WorkflowEnvironment) -> None:
    run = env.start("spawner", {"policy": "abandon", "child": "nap", "arguments": {}})
    assert run.phase == "Completed"
    run.child("child").wait()  # abandoned: it goes on
    assert run.child("child").phase == "Completed"
    held = env.start("spawner", {"policy": "wait", "child": "nap", "arguments": {}})
    held.cancel()
    assert held.phase == "Canceled"
    assert held.child("child").phase == "Canceled"


@kontinue.function("slow-spawner", registry=registry)
def slow_spawner(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    options = kontinue.ExecuteOptions(name="child", parent_close_policy=args["policy"])
    kontinue.spawn_execution(ktx, "approval", None, options)

    def hang() -> str:
        if not ktx.attempts:
            ENVIRONMENTS[-1].advance("2m")  # the first attempt hangs past its timeout
        return "answered"

    return kontinue.store(ktx, hang)


ENVIRONMENTS: list[WorkflowEnvironment] = []


@pytest.mark.parametrize("policy", ["cancel", "abandon"])
def test_an_attempt_timeout_cancels_the_attempts_cancel_children(
    env: WorkflowEnvironment, policy: str
) -> None:
    ENVIRONMENTS.append(env)
    run = env.start(
        "slow-spawner", {"policy": policy}, timeout={"attempt": "1m"},
        retry={"retries": 1, "childPolicy": "RetryFailed"},
    )  # fmt: skip
    assert run.result() == "answered"
    first, _ = run.attempts
    assert first["error"]["kind"] == "timeout"
    if policy == "cancel":
        # canceled when the attempt timed out; the retry ran it again (RetryFailed)
        assert [c.phase for c in run.children] == ["Canceled", "Canceled"]
        assert run.children[1].name.endswith("-a2")
    else:
        assert [c.phase for c in run.children] == ["Suspended"]


def test_a_bad_policy_is_a_clear_error(env: WorkflowEnvironment) -> None:
    with pytest.raises(errors.ExecutionError, match="parent_close_policy must be one of"):
        env.execute("spawner", {"policy": "terminate"})


@kontinue.function("labelled", registry=registry)
def labelled(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    kontinue.set_labels(ktx, {"customer": "acme", "tier": "gold"})
    kontinue.store_named(ktx, kontinue.StoreOptions(name="one"), lambda: 1)
    kontinue.set_labels(ktx, {"tier": None, "region": args.get("region", "eu")})
    return "ok"


def test_set_labels_merges_and_removes(env: WorkflowEnvironment) -> None:
    run = env.start("labelled", {})
    assert run.result() == "ok"
    assert run.labels == {"customer": "acme", "region": "eu"}


@kontinue.function("bad-labels", registry=registry)
def bad_labels(ktx: kontinue.ExecutionContext, labels: dict[str, Any]) -> None:
    kontinue.set_labels(ktx, labels)


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ({"kontinue.cloud/function": "x"}, "reserved"),
        ({"a.kontinue.cloud/x": "y"}, "reserved"),
        ({"bad key": "x"}, "its name must be"),
        ({"ok": "bad value!"}, "must be at most 63 characters"),
        ({"ok": 3}, "must be a string"),
        ({f"k{i}": "v" for i in range(33)}, "at most 32"),
    ],
)
def test_set_labels_refuses_what_is_not_a_label(
    env: WorkflowEnvironment, labels: dict[str, Any], problem: str
) -> None:
    with pytest.raises(errors.ExecutionError, match=problem) as raised:
        env.execute("bad-labels", labels)
    assert raised.value.kind == errors.ErrorKind.VALIDATION  # not retried: a bug to fix
