"""fan-out: process a batch of items in child executions, at most N at a time per round."""

from __future__ import annotations

from dataclasses import dataclass

import kontinue


@dataclass
class Batch:
    """How many items, and how many children run side by side."""

    items: int = 20
    width: int = 5


@kontinue.function("square", description="Squares one number (a child of fan-out).")
def square(ktx: kontinue.ExecutionContext, n: int) -> int:
    """A tiny child."""
    return n * n


@kontinue.function("fan-out", description="Squares numbers in parallel child executions.")
def fan_out(ktx: kontinue.ExecutionContext, batch: Batch) -> int:
    """Runs the children round by round and sums their results."""
    total = 0
    for start in range(0, batch.items, batch.width):
        chunk = range(start, min(start + batch.width, batch.items))
        results = kontinue.execute_parallel(
            ktx, [kontinue.ChildExecutionOptions(function="square", arguments=n) for n in chunk]
        )
        total += sum(results)
        kontinue.set_progress(ktx, min(start + batch.width, batch.items), batch.items)
    return total
