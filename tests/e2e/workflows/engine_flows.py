"""Workflows the engine's end-to-end tests run (loaded by real worker processes)."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kontinue


def _append(path: str, text: str, value: Any = None) -> Any:
    """Append ``text`` to a file (an effect the tests count), then return ``value``."""
    with open(path, "a") as f:
        f.write(text)
    return value


def _wait_for_file(path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.05)


@kontinue.function("child-task")
def child_task(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """Doubles a number."""
    return int(args["i"]) * 2


@kontinue.function("pipeline")
def pipeline(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """Three children, a store, a 2 s sleep and a manual approval."""
    children = [
        kontinue.execute(ktx, "child-task", {"i": i}, kontinue.ExecuteOptions(name=f"child-{i}"))
        for i in range(3)
    ]
    token = kontinue.store(ktx, lambda: _append(args["counter"], "s", "token-1"))
    kontinue.sleep(ktx, 2)
    approval = kontinue.suspend(
        ktx, kontinue.SuspendOptions(name="approval", display_name="Approve")
    )
    return {"children": children, "token": token, "approval": approval}


@kontinue.function("crashy")
def crashy(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Stores, waits for a go file between steps, stores again, sleeps, stores a third time."""
    kontinue.store(ktx, lambda: _append(args["counter"], "a"))
    _wait_for_file(args["go"])
    kontinue.store(ktx, lambda: _append(args["counter"], "b"))
    kontinue.sleep(ktx, args.get("sleep", 6))
    kontinue.store(ktx, lambda: _append(args["counter"], "c"))
    return "done"


@kontinue.function("flaky", retry=kontinue.RetryOptions(retries=3, backoff="1s"))
def flaky(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, int]:
    """Fails until it has failed ``failures`` times."""
    if ktx.attempts < int(args["failures"]):
        raise RuntimeError(f"attempt {ktx.attempts + 1} fails")
    return {"attempts_before": ktx.attempts}


@kontinue.function("gives-up", retry=kontinue.RetryOptions(retries=3, backoff="1s"))
def gives_up(ktx: kontinue.ExecutionContext) -> None:
    """Fails for good at once."""
    raise kontinue.new_non_retryable_error(None, "the configuration is invalid")


@kontinue.function("always-fails")
def always_fails(ktx: kontinue.ExecutionContext) -> None:
    """A child that fails."""
    raise RuntimeError("disk full")


@kontinue.function("parent-of-failing", retry=kontinue.RetryOptions(retries=2, backoff="1s"))
def parent_of_failing(ktx: kontinue.ExecutionContext) -> None:
    """Its child fails: not retryable."""
    kontinue.execute(ktx, "always-fails")


@dataclass
class Deploy:
    """Typed arguments."""

    service: str
    replicas: int = 1


@kontinue.function("typed")
def typed(ktx: kontinue.ExecutionContext, args: Deploy) -> Deploy:
    """Typed arguments in, typed result out."""
    return Deploy(args.service.upper(), args.replicas + 1)


@kontinue.function("bad-result")
def bad_result(ktx: kontinue.ExecutionContext) -> Any:
    """Returns something that is not JSON."""
    return object()


@kontinue.function("big-store")
def big_store(ktx: kontinue.ExecutionContext) -> None:
    """Stores more than one object may hold."""
    kontinue.store(ktx, lambda: "x" * 2_000_000)


@kontinue.function("fanout")
def fanout(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> list[int]:
    """Runs ``n`` children in parallel."""
    specs = [
        kontinue.ChildExecutionOptions(function="child-task", arguments={"i": i})
        for i in range(int(args["n"]))
    ]
    return kontinue.execute_parallel(ktx, specs)


@kontinue.function("trivial")
def trivial(ktx: kontinue.ExecutionContext) -> str:
    """Does nothing."""
    return "ok"


@kontinue.function("many-steps")
def many_steps(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """``n`` store steps, each counted in a file, then an approval, then a check of them all."""
    values = [
        kontinue.store(ktx, functools.partial(_append, args["counter"], ".", {"i": i}))
        for i in range(int(args["n"]))
    ]
    kontinue.suspend(ktx, kontinue.SuspendOptions(name="check"))
    return sum(v["i"] for v in values)
