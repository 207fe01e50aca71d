"""Metrics of finished executions and their spans, reported by whichever service ends one.

An execution ends where its terminal phase is written: the worker writes Completed, Failed
(retries spent or not retryable) and Canceled (a cancellation it noticed); the controller writes
Failed on timeouts, Canceled for executions no worker runs, and Skipped. Each reports here,
once, after its write succeeded, so counts add up across services without doubles.

The original product's ``kontinue_executions_completed`` (labels ``function``,
``result=success|error``) keeps its name, so dashboards and alerts built on it carry over: it is
exposed as an untyped counter without the ``_total`` suffix prometheus-client gives every
counter. (The original's ``kontinue_execution_latency``, a worker's processing time, is the
worker's; ``kontinue_execution_end_to_end_seconds`` here is creation to the end.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.metrics_core import Metric, UnknownMetricFamily
from prometheus_client.registry import Collector

from kontinue.api import labels
from kontinue.api.timestamps import parse_time
from kontinue.telemetry import trace_ids, tracing

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600)
"""Buckets of execution-scale durations (50 ms to 6 h)."""

EXECUTIONS_FINISHED = Counter(
    "kontinue_executions_finished",
    "Executions that reached a terminal phase, by function and outcome "
    "(completed, failed, canceled, skipped).",
    ["function", "outcome"],
)
EXECUTION_DURATION = Histogram(
    "kontinue_execution_duration_seconds",
    "Seconds from an execution's first start to its terminal phase (every attempt, backoff "
    "and suspension included), by function and outcome.",
    ["function", "outcome"],
    buckets=DURATION_BUCKETS,
)
EXECUTION_END_TO_END = Histogram(
    "kontinue_execution_end_to_end_seconds",
    "Seconds from an execution's creation (the creator's microsecond stamp) to its terminal "
    "phase, queueing, backoffs and suspensions included, by function.",
    ["function"],
    buckets=DURATION_BUCKETS,
)


class _CompletedCounter(Collector):
    """``kontinue_executions_completed{function, result}`` under its original name."""

    name = "kontinue_executions_completed"

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def inc(self, function: str, result: str) -> None:
        with self._lock:
            self._values[(function, result)] = self._values.get((function, result), 0.0) + 1

    def collect(self) -> Iterator[Metric]:
        family = UnknownMetricFamily(
            self.name,
            "Executions that finished, by function and result (success or error); a counter "
            "(the original product's name, kept without the _total suffix).",
            labels=["function", "result"],
        )
        with self._lock:
            for (function, result), value in sorted(self._values.items()):
                family.add_metric([function, result], value)
        yield family


EXECUTIONS_COMPLETED = _CompletedCounter()
REGISTRY.register(EXECUTIONS_COMPLETED)


def _created(execution: Mapping[str, Any]) -> datetime | None:
    meta = execution.get("metadata") or {}
    return parse_time((meta.get("annotations") or {}).get(labels.CREATED)) or parse_time(
        meta.get("creationTimestamp")
    )


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def record_finished(execution: Mapping[str, Any], *, worker: str | None = None) -> None:
    """Count an execution that just reached its terminal phase, and emit its span.

    Args:
        execution: the Execution as written (its status holds the terminal phase).
        worker: the worker that ended it, if a worker did.
    """
    meta = execution.get("metadata") or {}
    spec = execution.get("spec") or {}
    status = execution.get("status") or {}
    function = str(spec.get("function") or "")
    outcome = str(status.get("phase") or "").lower()
    EXECUTIONS_FINISHED.labels(function=function, outcome=outcome).inc()
    EXECUTIONS_COMPLETED.inc(function, "success" if outcome == "completed" else "error")
    now = time.time()
    created = _created(execution)
    started = parse_time(status.get("startedAt"))
    if created is not None:
        EXECUTION_END_TO_END.labels(function=function).observe(max(0.0, now - created.timestamp()))
    if started is not None:
        EXECUTION_DURATION.labels(function=function, outcome=outcome).observe(
            max(0.0, now - started.timestamp())
        )
    if not tracing.enabled():
        return
    trace = trace_ids.execution_trace(execution)
    error = status.get("error") or {}
    start_ns = _ns(created) if created is not None else time.time_ns()
    tracing.emit_span(
        f"execution {function}",
        trace_id=trace.trace_id,
        span_id=trace.span_id,
        parent_span_id=trace.parent_span_id,
        start_ns=start_ns,
        end_ns=time.time_ns(),
        attributes={
            "kontinue.function": function,
            "kontinue.execution": meta.get("name"),
            "kontinue.namespace": meta.get("namespace"),
            "kontinue.execution.uid": meta.get("uid"),
            "kontinue.parent": (spec.get("parent") or {}).get("name"),
            "kontinue.root": spec.get("root") or meta.get("name"),
            "kontinue.phase": status.get("phase"),
            "kontinue.attempts": int(status.get("attempt") or len(status.get("attempts") or [])),
            "kontinue.resumptions": int(status.get("resumptions") or 0),
            "kontinue.worker": worker,
            "kontinue.error.kind": error.get("kind"),
        },
        error=(error.get("message") or status.get("message") or outcome)
        if outcome not in ("completed", "skipped")
        else None,
    )
