"""Workflows the engine benchmark runs."""

from __future__ import annotations

import time
from typing import Any

import kontinue


@kontinue.function("bench-trivial")
def bench_trivial(ktx: kontinue.ExecutionContext) -> dict[str, float]:
    """Returns when its body started running (wall clock)."""
    return {"started": time.time()}


@kontinue.function("bench-steps")
def bench_steps(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> list[float]:
    """Runs ``n`` store steps and returns each one's latency in seconds."""
    latencies = []
    for i in range(int(args["n"])):
        started = time.perf_counter()
        kontinue.store(ktx, lambda i=i: {"i": i, "payload": "x" * 64})
        latencies.append(time.perf_counter() - started)
    return latencies
