"""The worker's Prometheus metrics (beyond those of finished executions, in the sdk).

Labels are bounded: function, namespace, worker, step type and outcome; never an execution's
name. docs/observability.md describes each series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from kontinue.telemetry.execution_metrics import DURATION_BUCKETS

EXECUTIONS_RUNNING = Gauge(
    "kontinue_executions_running",
    "Executions this worker runs right now (the original product's name and labels, kept).",
    ["function", "namespace", "worker"],
)
EXECUTION_LATENCY = Histogram(
    "kontinue_execution_latency",
    "Seconds this worker spent processing an execution it claimed (one dispatch: from the claim "
    "to the end, release or loss of that claim); the original product's name, meaning and "
    "labels, kept. kontinue_execution_end_to_end_seconds measures creation to the end.",
    ["function", "namespace", "worker"],
    buckets=DURATION_BUCKETS,
)
EXECUTIONS_STARTED = Counter(
    "kontinue_executions_started",
    "Executions claimed for the first time (their first attempt began), by function.",
    ["function"],
)
RESUMPTIONS = Counter(
    "kontinue_resumptions",
    "Claims of executions that ran before (after a wake-up, a backoff or a takeover), by function.",
    ["function"],
)
ATTEMPT_DURATION = Histogram(
    "kontinue_attempt_duration_seconds",
    "Seconds a worker ran one claim of an execution, by function and how it ended "
    "(completed, failed, released, canceled, taken, shutdown, broken).",
    ["function", "outcome"],
    buckets=DURATION_BUCKETS,
)
STEP_DURATION = Histogram(
    "kontinue_step_duration_seconds",
    "Seconds of the steps an attempt ran (replayed steps are not counted), by step type "
    "(store, poll, execute, sleep, suspend, job, pod, script); a step that waits is measured "
    "until its result or until the attempt released the execution.",
    ["type"],
    buckets=DURATION_BUCKETS,
)
CLAIM_LATENCY = Histogram(
    "kontinue_claim_latency_seconds",
    "Seconds until an execution was claimed: from its creation for a first claim, from when "
    "this worker saw it Pending for a later one; by function.",
    ["function"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
CLAIM_CONFLICTS = Counter(
    "kontinue_claim_conflicts",
    "Claims lost to another worker or to a change of the execution (the conditional write "
    "was refused), by function.",
    ["function"],
)
WORKER_SLOTS = Gauge(
    "kontinue_worker_slots",
    "This worker's execution slots (--concurrency) by state: busy or free.",
    ["state"],
)
