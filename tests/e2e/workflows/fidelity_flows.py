"""Workflows of the seed-fidelity end-to-end tests (loaded by real worker processes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kontinue
from kontinue import errors
from kontinue.api import labels

# -- function defaults --------------------------------------------------------------------------


@kontinue.function("defaulted-flaky", retry=kontinue.RetryOptions(retries=2, backoff="1s"))
def defaulted_flaky(ktx: kontinue.ExecutionContext) -> int:
    """Fails its first two attempts: only the function's default retries let it complete."""
    if ktx.attempts < 2:
        raise RuntimeError(f"attempt {ktx.attempts + 1} fails")
    return ktx.attempts


@kontinue.function("defaulted-slow", timeout=kontinue.TimeoutOptions(attempt="2s"))
def defaulted_slow(ktx: kontinue.ExecutionContext) -> str:
    """Works for 30 s in one store step: the function's default attempt timeout ends it."""
    kontinue.store(ktx, lambda: time.sleep(30))
    return "too late"


@kontinue.function("defaulted-trivial", retry=kontinue.RetryOptions(retries=3))
def defaulted_trivial(ktx: kontinue.ExecutionContext) -> str:
    """Returns at once (its defaults must not cost a write)."""
    return "ok"


@kontinue.function("attempt-timeout-after-sleep", timeout=kontinue.TimeoutOptions(attempt="4s"))
def attempt_timeout_after_sleep(ktx: kontinue.ExecutionContext, seconds: float) -> str:
    """Sleeps longer than its attempt timeout (released meanwhile), then finishes quickly."""
    kontinue.sleep(ktx, seconds)
    return "woke up in time"


# -- fan-out progress ---------------------------------------------------------------------------


@kontinue.function("slow-child")
def slow_child(ktx: kontinue.ExecutionContext, seconds: float) -> float:
    """Sleeps ``seconds`` (past the worker's hold: it is released meanwhile)."""
    kontinue.sleep(ktx, seconds)
    return seconds


@kontinue.function("wide-fan-out")
def wide_fan_out(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> float:
    """``n`` children sleeping 3 s plus a stagger each, in parallel."""
    specs = [
        kontinue.ChildExecutionOptions(
            function="slow-child", arguments=3 + i * float(args.get("stagger", 0.4))
        )
        for i in range(int(args["n"]))
    ]
    return float(sum(kontinue.execute_parallel(ktx, specs)))


@kontinue.function("sequence")
def sequence(ktx: kontinue.ExecutionContext, n: int) -> list[int]:
    """``n`` children one after the other, then progress cleared."""
    results = kontinue.execute_sequential(
        ktx, [kontinue.ChildExecutionOptions(function="doubler", arguments=i) for i in range(n)]
    )
    kontinue.sleep_named(
        ktx,
        kontinue.SleepOptions(
            name="cool-down", duration=1, display_name="Cool down", description="Lets it settle"
        ),
    )
    kontinue.clear_progress(ktx)
    return results


@kontinue.function("doubler")
def doubler(ktx: kontinue.ExecutionContext, i: int) -> int:
    """Doubles."""
    return i * 2


# -- polls --------------------------------------------------------------------------------------


@kontinue.function("wait-for-file", timeout=kontinue.TimeoutOptions(overall="5m"))
def wait_for_file(ktx: kontinue.ExecutionContext, path: str) -> str:
    """Polls every 3 s, for up to 5 minutes, until ``path`` exists."""
    kontinue.poll_until_named(
        ktx,
        lambda: Path(path).exists(),
        kontinue.PollOptions(name="file-ready", interval="3s", display_name="File ready?"),
    )
    return "found"


@kontinue.function("touch-file")
def touch_file(ktx: kontinue.ExecutionContext, path: str) -> str:
    """Creates ``path``."""
    kontinue.store(ktx, lambda: Path(path).touch())
    return "touched"


# -- jobs and errors ----------------------------------------------------------------------------


@kontinue.function("pod-facts")
def pod_facts(ktx: kontinue.ExecutionContext, outcome: str) -> dict[str, Any]:
    """Runs one pod (released while it runs), then reports what its PodResult knows."""
    result = kontinue.run_pod(
        ktx,
        kontinue.PodOptions(
            name="the-pod",
            display_name="The pod",
            description="Runs busybox once",
            spec={"containers": [{"name": "main", "image": "busybox:1.36"}]},
            extra_labels={labels.TEST_OUTCOME: outcome} if outcome == "fail" else {},
            extra_annotations={labels.TEST_RUN_TIME: "3s", labels.TEST_MESSAGE: "bad input"},
        ),
    )
    facts = {
        "phase": result.phase,
        "image": (result.pod or {}).get("spec", {}).get("containers", [{}])[0].get("image"),
        "pod": (result.pod or {}).get("metadata", {}).get("name"),
    }
    if outcome == "fail":
        kontinue.store(ktx, lambda: facts)  # the facts of the replayed result, kept
        result.raise_if_failed()
    return facts


@kontinue.function("failing-child")
def failing_child(ktx: kontinue.ExecutionContext) -> None:
    """Fails for good."""
    raise errors.new_non_retryable_error(None, "no capacity left")


@kontinue.function("child-error-kind")
def child_error_kind(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    """Runs a failing child and reports the ExecutionError carried by ChildFailedError."""
    try:
        kontinue.execute(ktx, "failing-child")
    except errors.ChildFailedError as failed:
        cause = failed.cause
        assert isinstance(cause, errors.ExecutionError)
        return {"kind": str(cause.kind), "message": str(cause), "retryable": cause.retryable}
    return {}


# -- arguments ----------------------------------------------------------------------------------


@kontinue.function("untyped")
def untyped(ktx, args):  # type: ignore[no-untyped-def]  # noqa: ANN001 - untyped on purpose
    """Takes any JSON (no annotation)."""
    return args["n"] * 2


@kontinue.function("no-arguments")
def no_arguments(ktx: kontinue.ExecutionContext) -> str:
    """Takes none."""
    return "none"


# -- trees, suspensions, annotations ------------------------------------------------------------


@kontinue.function("approval-child")
def approval_child(ktx: kontinue.ExecutionContext) -> Any:
    """Waits for an approval."""
    return kontinue.suspend(ktx, kontinue.SuspendOptions(name="child-gate"))


@kontinue.function("approval-tree")
def approval_tree(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    """An approval of its own and one in a child, awaited together."""
    child = kontinue.spawn_execution(
        ktx,
        "approval-child",
        None,
        kontinue.ExecuteOptions(
            name="reviewer", display_name="Reviewer", description="Asks the reviewer"
        ),
    )
    own = kontinue.suspend(
        ktx,
        kontinue.SuspendOptions(
            name="gate", display_name="Approve", description="Approve the change"
        ),
    )
    return {"own": own, "child": kontinue.wait_execution(ktx, child)}
