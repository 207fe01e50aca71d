"""Workflows of the concurrency-control tests (loaded by real worker processes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kontinue


def _busy(seconds: float, gate: str | None) -> dict[str, float]:
    """Runs for ``seconds`` (and until ``gate`` exists); returns its start and end times."""
    start = time.time()
    while gate and not Path(gate).exists():
        time.sleep(0.05)
    time.sleep(seconds)
    return {"start": start, "end": time.time()}


@kontinue.function("exclusive")
def exclusive(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, float]:
    """A step that takes a while (run under a mutex by the tests)."""
    return kontinue.store(ktx, lambda: _busy(float(args.get("seconds", 0.5)), args.get("gate")))


@kontinue.function("limited", concurrency=2)
def limited(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, float]:
    """At most two run at once across the worker group."""
    return kontinue.store(ktx, lambda: _busy(float(args.get("seconds", 0.5)), None))


@kontinue.function("nested-mutex")
def nested_mutex(ktx: kontinue.ExecutionContext) -> Any:
    """Holds mutex "shared" (set by the test) and asks for it again in a child."""
    options = kontinue.ExecuteOptions(name="inner", mutex=kontinue.ExecutionMutex(name="shared"))
    return kontinue.execute(ktx, "exclusive", {"seconds": 0}, options)
