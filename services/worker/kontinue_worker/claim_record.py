"""What a claim records beside the claim itself: the running attempt and the policy in effect.

Both ride on the claim's one status write (see :mod:`kontinue.api.attempts` and
:mod:`kontinue.api.policy`), so a trivial execution still costs create, claim, complete.

The claim works from the worker's slim copy of the execution (:mod:`kontinue.api.slim`: each
attempt entry reduced to its phase), so it cannot rewrite the attempt list: it names the running
attempt with JSON patch operations on the stored list instead (append an entry, or set the
worker of the entry still running), which the claim's resourceVersion precondition keeps exact.
Lists only grow, so every operation applies to a newer version too: a stale claim is refused
with 409 Conflict, never as an invalid patch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kontinue.api import attempts, policy
from kontinue.api.pointers import json_pointer
from kontinue.engine.registry import FunctionDef
from kontinue_worker.patches import status_operations

CLEARED: dict[str, Any] = {"message": ""}
"""What a claim writes for a status key it clears (it cannot "remove" safely; see below)."""


def attempt_number(execution: Mapping[str, Any]) -> int:
    """The number of the attempt a claim of ``execution`` runs (1 for the first)."""
    return attempts.previous(execution.get("status")) + 1


def claim_operations(
    execution: Mapping[str, Any],
    patch: Mapping[str, Any],
    definition: FunctionDef | None,
    worker: str,
    now: str,
) -> list[dict[str, Any]]:
    """The claim's JSON patch: the merge-style ``patch``, the policy, the running attempt."""
    status = execution.get("status") or {}
    fields = dict(patch)
    fields.update(
        policy.claim_fields(execution, definition.defaults() if definition is not None else None)
    )
    # Every operation must apply to whatever the execution became since the copy was taken,
    # so that a stale claim is refused by its resourceVersion (409), never as an invalid patch
    # (422): no "remove" of a key the stored object may have lost; a message is cleared to "".
    cleared = {k for k, v in fields.items() if v is None and k in status}
    operations = status_operations(
        execution.get("status"), {k: v for k, v in fields.items() if v is not None}
    )
    for key in sorted(cleared):
        path = json_pointer("status", key)
        if key in CLEARED:
            operations.append({"op": "add", "path": path, "value": CLEARED[key]})
        else:
            operations.append({"op": "remove", "path": path})
    listed = status.get("attempts")
    if not isinstance(listed, list) or not listed:
        entry = attempts.claimed(status, worker, now)[-1]
        operations.append({"op": "add", "path": "/status/attempts", "value": [entry]})
    elif attempts.running(status) is not None:  # the same attempt goes on: name its worker
        path = f"/status/attempts/{len(listed) - 1}/workerName"
        operations.append({"op": "add", "path": path, "value": worker})
    else:
        entry = {"phase": attempts.RUNNING, "startedAt": now, "workerName": worker}
        operations.append({"op": "add", "path": "/status/attempts/-", "value": entry})
    return operations
