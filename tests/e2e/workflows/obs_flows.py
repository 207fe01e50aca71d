"""Workflows the observability tests run: metrics, spans across workers and a crash."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kontinue


@kontinue.function("obs-quick")
def quick(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """One store step."""
    return kontinue.store(ktx, lambda: int(args.get("n", 1)) * 2)


@kontinue.function("obs-fails")
def fails(ktx: kontinue.ExecutionContext) -> None:
    """A store step that raises, in every attempt."""
    kontinue.store(ktx, _boom)


def _boom() -> None:
    raise RuntimeError("the disk is full")


@kontinue.function("obs-sleeper")
def sleeper(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Sleeps (longer than the worker's hold: released, then woken by the controller)."""
    kontinue.sleep(ktx, args.get("seconds", 2))
    return "rested"


@kontinue.function("obs-leaf")
def leaf(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """A store; waits between steps for a file when given one; another store."""
    value = kontinue.store(ktx, lambda: int(args["n"]) * 10)
    if args.get("go"):
        while not Path(args["go"]).exists():
            time.sleep(0.05)
    kontinue.store(ktx, lambda: "second")
    return value


@kontinue.function("obs-tree")
def tree(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """Two children in parallel: ``left`` finishes, ``right`` waits for the go file."""
    results = kontinue.execute_parallel(
        ktx,
        [
            kontinue.ChildExecutionOptions(
                function="obs-leaf",
                arguments={"n": 1},
                options=kontinue.ExecuteOptions(name="left"),
            ),
            kontinue.ChildExecutionOptions(
                function="obs-leaf",
                arguments={"n": 2, "go": args["go"]},
                options=kontinue.ExecuteOptions(name="right"),
            ),
        ],
    )
    return int(sum(results))


@kontinue.function("obs-trivial")
def trivial(ktx: kontinue.ExecutionContext) -> str:
    """No step at all: create, claim and completion are its only writes."""
    return "ok"
