"""The worker's part and the loop: claim what can run, run its attempt, until nothing can.

One execution at a time, on the calling thread, in creation order: :func:`run_until` fires the
timers that are due, wakes released executions, claims a Pending one and runs one attempt of it
with the worker's own engine (:func:`kontinue.engine.run.run_attempt`, a hold time of zero), and
when nothing can run either stops or (skipping time) moves the clock to the next timer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kontinue import errors
from kontinue.api import attempts as attempt_log
from kontinue.api import policy, transitions
from kontinue.api.phases import Phase, execution_phase, job_end
from kontinue.api.timestamps import format_time
from kontinue.engine.outcomes import finish_status
from kontinue.engine.run import run_attempt
from kontinue.testing._clock import fire_due, next_timer
from kontinue.testing._cluster import Cluster, ExecutionRecord
from kontinue.testing._controller import check_attempt, close_children, wake_ready
from kontinue.testing._errors import StuckError, WorkerCrash, WorkflowEnvironmentError
from kontinue.testing._journal import ClaimJournal
from kontinue.testing._suspensions import waiting_suspensions

WORKER = "test-worker"
"""The worker name the environment's claims record."""

MAX_RUNS = 10_000
"""Most attempts (claims) one call of the environment runs before it gives up (a livelock)."""


def runnable(cluster: Cluster) -> ExecutionRecord | None:
    """The first Pending execution whose function is registered (noting those that are not)."""
    for record in cluster.executions.values():
        if execution_phase(record.obj) != Phase.PENDING:
            continue
        if record.definition is None:
            record.definition = cluster.registry.get(record.obj["spec"]["function"])
        if record.definition is not None:
            return record
        function = record.obj["spec"]["function"]
        message = f"no function {function!r} is registered in the test environment"
        if (record.obj.get("status") or {}).get("message") != message:
            cluster.apply(record, transitions.note(message))
    return None


def claim_and_run(cluster: Cluster, record: ExecutionRecord) -> None:
    """Claim ``record`` as the worker does and run one attempt of it to its outcome."""
    definition = record.definition
    assert definition is not None
    status = record.obj.get("status") or {}
    patch = transitions.claim(
        status, worker=WORKER, identity=WORKER, attempt=attempt_log.previous(status) + 1,
        now=cluster.now,
    )  # fmt: skip
    patch.update(policy.claim_fields(record.obj, definition.defaults()))
    patch["attempts"] = attempt_log.claimed(status, WORKER, format_time(cluster.now))
    cluster.apply(record, patch)
    cluster.claims += 1
    journal = ClaimJournal(cluster, record)
    record.messages = []  # a replay repeats every earlier call: the last claim's are all
    name = record.obj["metadata"]["name"]
    cluster.running = record
    try:
        outcome = run_attempt(
            definition, journal, hold=0.0, logger=logging.getLogger(f"kontinue.workflow.{name}")
        )
    except WorkerCrash as crash:
        cluster.crashes.append((name, crash.step))
        message = f"worker {WORKER} crashed after step {crash.step}; resuming"
        cluster.apply(record, transitions.wake(
            record.obj.get("status"), message, workerName=None, workerId=None
        ))  # fmt: skip
        return
    finally:
        cluster.running = None
    if outcome.kind == "fenced":
        return  # the controller ended the attempt (a timeout) while it ran
    try:
        check_attempt(cluster, record)
    except errors.Fenced:
        return
    if execution_phase(record.obj).terminal:
        return  # canceled from the workflow's own code while it ran
    patch = finish_status(outcome, record.obj, cluster.now)
    if outcome.kind == "completed" and journal.workflow_message:
        patch.pop("message", None)
    cluster.apply(record, patch)
    close_children(cluster)  # the controller's part, as soon as it sees the attempt's end


def settle(cluster: Cluster) -> None:
    """Run everything that can run at the current time (later, when called from a run)."""
    if cluster.running is not None:
        return
    run_until(cluster, lambda: False, skip_time=False, what=None)


def run_until(
    cluster: Cluster, done: Callable[[], bool], *, skip_time: bool, what: str | None
) -> None:
    """Run until ``done()``, or until nothing can run (skipping time to each next timer).

    Raises:
        StuckError: skipping time, nothing can run and no timer is left (``what`` is stuck).
        WorkflowEnvironmentError: called from workflow code, or the runs never settle.
    """
    if cluster.running is not None:
        raise WorkflowEnvironmentError("the environment cannot run executions from workflow code")
    for _ in range(MAX_RUNS):
        if done():
            return
        if fire_due(cluster) or close_children(cluster) or wake_ready(cluster):
            continue
        record = runnable(cluster)
        if record is not None:
            claim_and_run(cluster, record)
            continue
        if not skip_time:
            return
        due = next_timer(cluster)
        if due is None:
            raise StuckError(stuck_message(cluster, what))
        cluster.now = max(cluster.now, due)
    raise WorkflowEnvironmentError(
        f"gave up after {MAX_RUNS} attempts: the executions never settle"
    )


def stuck_message(cluster: Cluster, what: str | None) -> str:
    """Why execution ``what`` cannot finish: everything that waits for the test."""
    reasons = []
    for wait in waiting_suspensions(cluster.suspensions.values(), None):
        reasons.append(
            f"suspension {wait.display_name or wait.step!r} of {wait.execution} waits to be "
            "resumed (env.resume)"
        )
    for job in cluster.jobs.values():
        if job_end(job.manifest) is None and job.finish_at is None:
            reasons.append(f"job {job.request.name} runs until env.finish_job")
    for record in cluster.executions.values():
        if execution_phase(record.obj) == Phase.PENDING and record.definition is None:
            reasons.append(
                f"{record.obj['metadata']['name']}: {record.obj['status'].get('message')}"
            )
    return f"execution {what} cannot finish: " + ("; ".join(reasons) or "nothing can run")
