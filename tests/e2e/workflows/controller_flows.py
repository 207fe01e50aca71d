"""Workflows of the controller's end-to-end tests (loaded by real worker processes).

Timeouts, child policies, cancellation, TTL and schedules.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kontinue


def _append(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def _tick(path: str, text: str) -> int:
    """A step that takes 0.1 s and leaves a mark."""
    _append(path, text)
    time.sleep(0.1)
    return 0


@kontinue.function("slow-first-attempt")
def slow_first_attempt(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """The first attempt takes many short steps (far past its timeout); later ones finish."""
    if ktx.attempts == 0:
        for _ in range(200):
            kontinue.store(ktx, lambda: _tick(args["counter"], "x"))
    return f"finished in attempt {ktx.attempts + 1}"


@kontinue.function("ticker")
def ticker(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """Takes a short step every 0.1 s, ``steps`` times (an execution that keeps running)."""
    for _ in range(int(args.get("steps", 1000))):
        kontinue.store(ktx, lambda: _tick(args["counter"], "t"))
    return 0


@kontinue.function("sleeper")
def sleeper(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Sleeps ``seconds`` (a Suspension with resumeAt)."""
    kontinue.sleep(ktx, float(args.get("seconds", 60)))
    return "slept"


@kontinue.function("waits-on-a-sleeper")
def waits_on_a_sleeper(ktx: kontinue.ExecutionContext) -> str:
    """One child that sleeps for a minute."""
    kontinue.execute(ktx, "sleeper", {"seconds": 60}, kontinue.ExecuteOptions(name="nap"))
    return "woke"


@kontinue.function("fails-first-time")
def fails_first_time(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Fails while its counter file is empty; every run appends to it."""
    path = Path(args["counter"])
    runs = path.read_text() if path.exists() else ""
    _append(args["counter"], "r")
    if not runs:
        raise RuntimeError("first run fails")
    return f"run {len(runs) + 1}"


@kontinue.function("retries-its-child")
def retries_its_child(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """A child that fails the first time; its failure is made retryable for the parent."""
    try:
        result: str = kontinue.execute(
            ktx, "fails-first-time", args, kontinue.ExecuteOptions(name="flaky")
        )
    except kontinue.ChildFailedError as exc:
        raise kontinue.new_retryable_error(exc, f"retrying: {exc}") from exc
    return result


@kontinue.function("tree")
def tree(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> list[Any]:
    """Two children (one sleeping a minute, one ticking) and a manual approval of its own."""
    specs = [
        kontinue.ChildExecutionOptions(function="sleeper", arguments={"seconds": 60}),
        kontinue.ChildExecutionOptions(function="ticker", arguments={"counter": args["counter"]}),
    ]
    children = [kontinue.spawn_execution(ktx, s.function, s.arguments) for s in specs]
    kontinue.suspend(ktx, kontinue.SuspendOptions(name="approval"))
    return [kontinue.wait_execution(ktx, c) for c in children]


@kontinue.function("small-tree")
def small_tree(ktx: kontinue.ExecutionContext) -> int:
    """Two children, a store and a one-second sleep: a small finished tree for TTL tests."""
    results = [kontinue.execute(ktx, "sleeper", {"seconds": 0.5}) for _ in range(2)]
    kontinue.store(ktx, lambda: len(results))
    kontinue.sleep(ktx, 1)
    return len(results)


@kontinue.function("scheduled-task")
def scheduled_task(ktx: kontinue.ExecutionContext, args: dict[str, Any] | None) -> str:
    """A scheduled run: finishes at once, or waits for ``gate`` to exist."""
    gate = (args or {}).get("gate")
    while gate and not Path(gate).exists():
        kontinue.store(ktx, lambda: time.sleep(0.2))
    return ktx.name
