"""When something a released execution waits on counts as resolved.

A Suspended execution lists what it waits on in ``status.suspendedOn`` (kind and name); it goes
back to Pending once every item resolved. The controller judges that from its view of the
objects; the in-process test environment (:mod:`kontinue.testing.environment`) from its own
records, with this same rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kontinue.api import timestamps
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
