"""Workflows the engine benchmark runs."""

from __future__ import annotations

import functools
import time
from typing import Any

import kontinue


@kontinue.function("bench-trivial")
def bench_trivial(ktx: kontinue.ExecutionContext) -> dict[str, float]:
    """Returns when its body started running (wall clock)."""
    return {"started": time.time()}


def _payload(i: int) -> dict[str, Any]:
    return {"i": i, "payload": "x" * 64}


@kontinue.function("bench-steps")
def bench_steps(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> list[float]:
    """Runs ``n`` store steps and returns each one's latency in seconds."""
    latencies: list[float] = []
    for i in range(int(args["n"])):
        started = time.perf_counter()
        kontinue.store(ktx, functools.partial(_payload, i))
        latencies.append(time.perf_counter() - started)
    return latencies
