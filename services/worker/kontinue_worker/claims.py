"""Who holds an execution, and whether a status change is already in an object.

A claim is held by one worker process (its identity, ``status.workerId``; ``workerName`` is its
pod, kept for display and for the watches) with one value of the claim counter, while the
execution is Executing. Every write of the worker is fenced on that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kontinue.api.phases import Phase
from kontinue_worker.patches import PER_KEY


def holds(execution: Mapping[str, Any], identity: str, claim: int) -> bool:
    """Whether ``identity`` holds ``execution`` with claim counter ``claim``."""
    status = execution.get("status") or {}
    return (
        status.get("workerId") == identity
        and int(status.get("claim") or 0) == claim
        and status.get("phase") == Phase.EXECUTING
    )


def applied(status: Mapping[str, Any], change: Mapping[str, Any]) -> bool:
    """Whether ``status`` already carries every value of the merge-patch-style ``change``.

    ``steps`` and ``state`` are compared entry by entry (a None entry must be absent); every
    other key must equal its value (None: absent).
    """
    for key, value in change.items():
        if key in PER_KEY and isinstance(value, Mapping):
            current = status.get(key) or {}
            for entry, entry_value in value.items():
                if entry_value is None:
                    if entry in current:
                        return False
                elif current.get(entry) != entry_value:
                    return False
        elif value is None:
            if status.get(key) is not None:
                return False
        elif status.get(key) != value:
            return False
    return True
