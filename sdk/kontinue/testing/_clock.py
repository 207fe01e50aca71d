"""The fake clock's timers: every moment the controller would wake up for, and firing them.

The clock itself is :attr:`Cluster.now <kontinue.testing._cluster.Cluster.now>`; it only moves
when the environment skips time or the test moves it. What is due then (a sleep's end, a
backoff's end, an overall timeout, the end of a Job the handler gave a duration) is fired
earliest first, each timer re-reading what it acts on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from kontinue.api import deadlines
from kontinue.api.phases import SuspensionPhase, suspension_phase
from kontinue.api.timestamps import parse_time
from kontinue.testing._cluster import Cluster
from kontinue.testing._controller import end_backoff, end_sleep, time_out

Timer = tuple[datetime, Callable[[], None]]
"""When a timer is due, and what it does then."""


def timers(cluster: Cluster) -> list[Timer]:
    """Every timer the controller would hold now, as (when, what it does)."""
    found: list[Timer] = []
    for obj in cluster.suspensions.values():
        resume_at = parse_time(obj["spec"].get("resumeAt"))
        if resume_at is not None and suspension_phase(obj) == SuspensionPhase.SUSPENDED:
            found.append((resume_at, functools.partial(end_sleep, cluster, obj)))
    for record in cluster.executions.values():
        backoff = deadlines.backoff_end(record.obj)
        if backoff is not None:
            found.append((backoff, functools.partial(end_backoff, cluster, record)))
        overall = deadlines.overall_deadline(record.obj, cluster.defaults(record))
        if overall is not None:
            found.append((overall, functools.partial(time_out, cluster, record)))
    for job in cluster.jobs.values():
        if job.finish_at is not None and job.outcome is not None:
            found.append((job.finish_at, functools.partial(cluster.finish_job, job, job.outcome)))
    return found


def next_timer(cluster: Cluster) -> datetime | None:
    """When the earliest timer is due (None: no timer)."""
    return min((when for when, _ in timers(cluster)), default=None)


def fire_due(cluster: Cluster) -> bool:
    """Fire the earliest timer that is due (each one re-reads what it acts on)."""
    due = [t for t in timers(cluster) if t[0] <= cluster.now]
    if not due:
        return False
    min(due, key=lambda t: t[0])[1]()
    return True
