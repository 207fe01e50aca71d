"""Every label and annotation key kontinue puts on Kubernetes objects.

Invariant: no other module spells one of these keys as a literal.
"""

from __future__ import annotations

PREFIX = "kontinue.cloud"

FUNCTION = f"{PREFIX}/function"
"""Label: the function an Execution (or Function object) runs."""

PARENT = f"{PREFIX}/parent"
"""Label: name of the parent Execution of a child resource."""

ROOT = f"{PREFIX}/root"
"""Label: name of the root Execution of a tree."""

WORKER_GROUP = f"{PREFIX}/worker-group"
"""Label: the worker group that serves an Execution or registered a Function."""

WORKER_SCOPE = f"{PREFIX}/worker-scope"
"""Label ``cluster`` on the Lease and Functions of a worker serving every namespace
(``--all-namespaces``): they live in its own namespace, yet speak for all of them."""

CLUSTER_SCOPE = "cluster"
"""The value of :data:`WORKER_SCOPE` for a worker serving every namespace."""

JOURNAL = f"{PREFIX}/journal"
"""Label: the Execution whose compacted journal chunk a ConfigMap holds."""

EVENT = f"{PREFIX}/event"
"""Label: the event a Signal carries (see :mod:`kontinue.api.signals`)."""

STEP = f"{PREFIX}/step"
"""Label: the step name that created a child resource."""

CREATED = f"{PREFIX}/created"
"""Annotation: when the creator built the Execution (microseconds), ordering executions created
within the same second (``creationTimestamp`` has seconds only) for mutex and slot queues."""

DISPLAY_NAME = f"{PREFIX}/display-name"
"""Annotation: the human-readable name of the step that created an object (``StepOptions``)."""

DESCRIPTION = f"{PREFIX}/description"
"""Annotation: the description of the step that created an object (``StepOptions``)."""

JOB_NAME = "batch.kubernetes.io/job-name"
"""Label the Job controller puts on a Job's pods (not ours: read to find a job step's pods)."""

SCHEDULE = f"{PREFIX}/scheduled-execution"
"""Label: the ScheduledExecution that created an Execution."""

SCHEDULED_AT = f"{PREFIX}/scheduled-at"
"""Annotation: the schedule slot (RFC 3339) an Execution was created for."""

SKIP_REASON = f"{PREFIX}/skip-reason"
"""Annotation: why a scheduled run is recorded as Skipped instead of run (it is created with
``spec.cancel`` so no worker claims it; the controller then marks it Skipped)."""

TEST_OUTCOME = "kontinue.test/outcome"
"""Pod label read by the local cluster's kwok stages: ``fail`` makes the pod fail, ``hold``
keeps it Running until the label changes. Absent (or any other value): a Job's pod succeeds."""

TEST_EXIT_CODE = "kontinue.test/exit-code"
"""Pod annotation: exit code of a pod made to fail by :data:`TEST_OUTCOME` (default 1)."""

TEST_MESSAGE = "kontinue.test/message"
"""Pod annotation: termination message of a pod made to fail by :data:`TEST_OUTCOME`."""

TEST_LOGS = "kontinue.test/logs"
"""Pod annotation: the text the local cluster's simulated containers print (``kubectl logs``)."""

TEST_RUN_TIME = "kontinue.test/run-time"
"""Pod annotation: how long a Job's pod stays Running before it finishes (a Go duration,
default ``500ms``)."""

TRACEPARENT = f"{PREFIX}/traceparent"
"""Annotation: the W3C ``traceparent`` of the span a child Execution's spans hang under (its
parent's execution span), set when the parent creates it, so the child joins its parent's trace
whichever worker runs it and however often it resumes. A root may carry one from its creator."""

SPEC_DIGEST = f"{PREFIX}/spec-digest"
"""Annotation on the objects a step creates: the digest of what the step asked for (see
:mod:`kontinue.api.adoption`). Shown to people; kontinue recomputes it, never trusts it."""
