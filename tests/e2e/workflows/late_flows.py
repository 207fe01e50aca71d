"""Registered late, by a worker started after an execution of it was created."""

from __future__ import annotations

import kontinue


@kontinue.function("late-function")
async def late_function(ktx: kontinue.ExecutionContext) -> str:
    """An async workflow function."""
    return "finally served"
