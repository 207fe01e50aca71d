"""When something a released execution waits on counts as resolved.

A Suspended execution lists what it waits on in ``status.suspendedOn`` (kind and name); it goes
back to Pending once every item resolved, or once one item marked ``first`` resolved (a wait for
whichever comes first: ``kontinue.wait_first``, an event with a deadline). A ``Signal`` item
names an event, not an object: it resolves when a Signal of that event for the execution was
accepted after its ``after`` order (every earlier one was consumed; see
:mod:`kontinue.api.signals`). The controller judges that from its view of the
objects; the in-process test environment (:mod:`kontinue.testing.environment`) from its own
records, with this same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kontinue.api import labels, signals, timestamps
from kontinue.api.phases import SuspensionPhase, execution_phase, job_end, suspension_phase


def resolved(kind: str, obj: Mapping[str, Any], now: datetime) -> bool:
    """Whether ``obj`` (an Execution, a Job or a Suspension) no longer keeps its waiter waiting.

    An Execution once it reached a terminal phase, a Job once it has its Complete or Failed
    condition, a Suspension once it is no longer Suspended or its ``resumeAt`` has passed.
    """
    if kind == "Execution":
        return execution_phase(dict(obj)).terminal
    if kind == "Job":
        return job_end(obj) is not None
    if suspension_phase(obj) != SuspensionPhase.SUSPENDED:
        return True
    resume_at = timestamps.parse_time((obj.get("spec") or {}).get("resumeAt"))
    return resume_at is not None and resume_at <= now


def signal_resolved(
    item: Mapping[str, Any], execution: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]
) -> bool:
    """Whether a ``Signal`` item of ``execution``'s ``suspendedOn`` resolved, given its Signals."""
    meta = execution["metadata"]
    try:
        after = int(item.get("after") or 0)
    except (TypeError, ValueError):
        after = 0
    # only what the workers of its group see (they follow the Signals of their group): one they
    # cannot see must not wake the execution again and again
    group = str((execution.get("spec") or {}).get("workerGroup") or "default")
    seen = [
        o
        for o in objects
        if ((o.get("metadata") or {}).get("labels") or {}).get(labels.WORKER_GROUP) == group
    ]
    return signals.unconsumed_after(seen, meta["name"], meta.get("uid", ""), item["name"], after)


def wakes(items: Sequence[Mapping[str, Any]], resolved: Sequence[bool]) -> bool:
    """Whether a Suspended execution wakes: every item resolved, or one marked ``first`` did."""
    return all(resolved) or any(
        r and bool(i.get("first")) for i, r in zip(items, resolved, strict=False)
    )
