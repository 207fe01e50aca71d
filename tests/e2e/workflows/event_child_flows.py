"""The child of the select workflow, alone: a worker that serves it and nothing else."""

from __future__ import annotations

import kontinue


@kontinue.function("event-child")
def event_child(ktx: kontinue.ExecutionContext, seconds: float) -> float:
    """Sleeps ``seconds`` and returns them."""
    kontinue.sleep(ktx, seconds)
    return seconds
