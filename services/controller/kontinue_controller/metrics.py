"""The controller's Prometheus metrics; gauges of the cluster's state read from its view.

The view gauges are computed at scrape time from the leader's in-memory view of the objects
(no API call): only the leading replica reports them; a standby reports
``kontinue_controller_leading 0`` and its counters. Labels are bounded (namespace, function,
worker group, phase, worker, duty); never an execution's name. docs/observability.md
describes each series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kontinue.api.phases import Phase, SuspensionPhase, suspension_phase

TIMED_DUTIES = (
    "sleep",
    "backoff",
    "lease",
    "look",
    "attempt-timeout",
    "overall-timeout",
    "ttl",
    "schedule",
)
"""Duties run by a timer due at a stated time: how late they fire is measured."""
DUTIES = (
    *TIMED_DUTIES,
    "evaluate",
    "cancel",
    "retry",
    "admit",
    "schedule-sync",
    "lease-gone",
    "lease-holder",
    "parent-close",
)
"""Every duty of the controller (the timed ones and those run as soon as an event asks)."""

LEASE_TAKEOVERS = Counter(
    "kontinue_lease_takeovers",
    "Executions put back to Pending because their worker process is gone (its Lease expired, "
    "was deleted, or a new process of the pod took it over), by namespace.",
    ["namespace"],
)
DUTY_RETRIES = Counter(
    "kontinue_controller_duty_retries",
    "Controller duties that failed (the API server unreachable, a 5xx...) and were scheduled "
    "to run again, by duty.",
    ["duty"],
)
TIMER_LATENESS = Histogram(
    "kontinue_controller_timer_lateness_seconds",
    "Seconds between when a controller timer was due and when it fired, by duty (sleep, "
    "backoff, lease, attempt-timeout, overall-timeout, ttl, schedule, ...).",
    ["duty"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# Every duty's series exists from the start at 0, so the first timer that fires or the first
# retry is an increase a rate() sees (a series born at 1 shows no increase: empty panels).
for _duty in TIMED_DUTIES:
    TIMER_LATENESS.labels(duty=_duty)
for _duty in DUTIES:
    DUTY_RETRIES.labels(duty=_duty)

LEADING = Gauge(
    "kontinue_controller_leading",
    "1 while this controller replica leads (runs the duties), else 0.",
)


class ViewCollector(Collector):
    """Execution and suspension gauges from the controller's view.

    Args:
        objects: returns the view's objects of a kind (``Execution``, ``Suspension``).
    """

    def __init__(self, objects: Callable[[str], list[dict[str, Any]]]) -> None:
        self._objects = objects

    def collect(self) -> Iterator[Metric]:
        """The gauges, computed now."""
        states: dict[tuple[str, str, str, str], int] = {}
        pending: dict[tuple[str, str, str], int] = {}
        for obj in self._objects("Execution"):
            meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
            function = str(spec.get("function") or "")
            phase = str(status.get("phase") or Phase.PENDING)
            worker = str(status.get("workerName") or "") if phase == Phase.EXECUTING else ""
            key = (function, phase, meta["namespace"], worker)
            states[key] = states.get(key, 0) + 1
            queue = (meta["namespace"], str(spec.get("workerGroup") or "default"), function)
            pending[queue] = pending.get(queue, 0) + (phase == Phase.PENDING)
        state_family = GaugeMetricFamily(
            "kontinue_execution_states",
            "Executions in the cluster by function, phase (state), namespace and worker (the "
            "worker running it, empty unless Executing); the original product's name and "
            "labels, kept.",
            labels=["function", "state", "namespace", "worker"],
        )
        for labels, count in sorted(states.items()):
            state_family.add_metric(list(labels), count)
        yield state_family
        pending_family = GaugeMetricFamily(
            "kontinue_executions_pending",
            "Pending executions (the queue waiting for a worker slot) by namespace, worker "
            "group and function: the signal to scale workers on. 0 for a function whose "
            "executions all left the queue.",
            labels=["namespace", "group", "function"],
        )
        for labels3, count in sorted(pending.items()):
            pending_family.add_metric(list(labels3), count)
        yield pending_family
        waiting: dict[tuple[str, str], int] = {}
        for obj in self._objects("Suspension"):
            kind = "sleep" if (obj.get("spec") or {}).get("resumeAt") else "suspend"
            key2 = (obj["metadata"]["namespace"], kind)
            is_waiting = suspension_phase(obj) == SuspensionPhase.SUSPENDED
            waiting[key2] = waiting.get(key2, 0) + is_waiting
        waiting_family = GaugeMetricFamily(
            "kontinue_suspensions_waiting",
            "Suspensions still waiting, by namespace and type: sleep (ends by itself) or "
            "suspend (waits for someone to resume it).",
            labels=["namespace", "type"],
        )
        for labels2, count in sorted(waiting.items()):
            waiting_family.add_metric(list(labels2), count)
        yield waiting_family
