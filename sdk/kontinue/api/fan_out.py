"""The automatic progress of a fan-out while its execution is released.

``execute_parallel`` keeps ``status.progress`` at finished-of-total children (marked
``automatic``) while it waits in a worker. Once the wait outlasts the worker's hold, the
execution is released (Suspended, ``suspendedOn`` listing every child) and no worker runs it
until all the children finished; meanwhile the controller, which sees each child finish, moves
that progress on (one write per finished child, only for such executions), and the wake-up
write carries the final count. A progress the workflow set itself is never touched. The test
environment (:mod:`kontinue.testing.environment`) applies the same rule when it wakes a released
fan-out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def progress_update(execution: Mapping[str, Any], finished: int) -> dict[str, Any] | None:
    """The ``status.progress`` of a released fan-out with ``finished`` children done, or None.

    None when the execution's progress is not a fan-out's automatic one over exactly the child
    executions it waits on, or when it already says as much (it never goes back).
    """
    status = execution.get("status") or {}
    progress = status.get("progress")
    if not isinstance(progress, Mapping) or not progress.get("automatic"):
        return None
    waits = status.get("suspendedOn") or []
    total = progress.get("max")
    if not waits or any(w.get("kind") != "Execution" for w in waits) or total != len(waits):
        return None
    if finished <= int(progress.get("current") or 0):
        return None
    return {"current": finished, "max": total, "summary": f"{finished}/{total}", "automatic": True}
