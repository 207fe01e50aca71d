"""What the environment holds in place of a cluster: its objects, and the fake clock's reading.

:class:`Cluster` keeps the Executions, Suspensions, Signals and Jobs as the dicts an API server
would store (each write gives the object the next resourceVersion, which orders signals and
the ends of what a select waits for), in creation order, and the fake clock's current time;
every other part of the environment (the controller's transitions, the timers, the claim
journal, the runner) reads and changes them there.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kontinue.api import labels
from kontinue.api.options import to_timedelta
from kontinue.api.timestamps import format_micro_time, format_time
from kontinue.engine.registry import FunctionDef, FunctionRegistry
from kontinue.testing._errors import WorkerCrash
from kontinue.testing._jobs import JobHandler, JobOutcome, JobRun, end_job


@dataclass
class ExecutionRecord:
    """One Execution: its object, the function it runs, and what the test injected."""

    obj: dict[str, Any]
    definition: FunctionDef | None
    crash_after: set[str]
    messages: list[str] = field(default_factory=list)
    canceled: threading.Event = field(default_factory=threading.Event)
    seq: int = 0

    def maybe_crash(self, step: str, *types: str) -> None:
        """Crash the worker if ``step`` is one to crash after (of one of ``types``, if given)."""
        recorded = ((self.obj.get("status") or {}).get("steps") or {}).get(step) or {}
        if types and recorded.get("type") not in types:
            return
        if step in self.crash_after:
            self.crash_after.discard(step)
            raise WorkerCrash(step)


def merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Apply a JSON merge patch (RFC 7386) to ``target`` in place, as JSON (enums as strings)."""
    for key, value in json.loads(json.dumps(patch)).items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = value


class Cluster:
    """The objects of one environment, the fake clock, and what ran so far."""

    def __init__(
        self,
        registry: FunctionRegistry,
        namespace: str,
        now: datetime,
        job_handler: JobHandler | None,
    ) -> None:
        self.registry = registry
        self.namespace = namespace
        self.now = now
        """The fake clock."""
        self.job_handler = job_handler
        self.executions: dict[str, ExecutionRecord] = {}
        self.suspensions: dict[str, dict[str, Any]] = {}
        self.signals: dict[str, dict[str, Any]] = {}
        """The Signals (events) sent, by name, in the order they were accepted."""
        self.revisions = itertools.count(1)
        self.jobs: dict[str, JobRun] = {}
        self.ids = itertools.count(1)
        self.running: ExecutionRecord | None = None
        """The execution whose attempt runs now (workflow code runs on the calling thread)."""
        self.crashes: list[tuple[str, str]] = []
        self.claims = 0

    # -- Executions --------------------------------------------------------------------------

    def create(self, manifest: dict[str, Any], *, crash_after: Iterable[str]) -> ExecutionRecord:
        """Store a new Execution (the API server's part: namespace, uid, creation time)."""
        meta = manifest["metadata"]
        meta.update(
            namespace=self.namespace,
            uid=f"00000000-0000-4000-8000-{next(self.ids):012d}",
            creationTimestamp=format_time(self.now),
        )
        meta.setdefault("annotations", {})[labels.CREATED] = format_micro_time(self.now)
        manifest["status"] = {}
        self.stamp(manifest)
        definition = self.registry.get(manifest["spec"]["function"])
        record = ExecutionRecord(manifest, definition, set(crash_after), seq=len(self.executions))
        self.executions[meta["name"]] = record
        return record

    def owned(self, parent: str) -> list[ExecutionRecord]:
        """The child executions of execution ``parent``, in creation order."""
        return [
            e for e in self.executions.values()
            if (e.obj["spec"].get("parent") or {}).get("name") == parent
        ]  # fmt: skip

    def object(self, kind: str, name: str) -> Mapping[str, Any] | None:
        """The stored object of ``kind`` (Execution, Suspension or Job) named ``name``."""
        if kind == "Execution":
            found = self.executions.get(name)
            return found.obj if found is not None else None
        if kind == "Suspension":
            return self.suspensions.get(name)
        if kind == "Signal":
            return self.signals.get(name)
        if kind == "Job":
            job = self.jobs.get(name)
            return job.manifest if job is not None else None
        return None

    def apply(self, record: ExecutionRecord, patch: Mapping[str, Any]) -> None:
        """Merge-patch the status of ``record``."""
        merge_patch(record.obj.setdefault("status", {}), patch)
        self.stamp(record.obj)

    def stamp(self, obj: dict[str, Any]) -> None:
        """Give ``obj`` the next resourceVersion (it was just written), as the API server does."""
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self.revisions))

    def defaults(self, record: ExecutionRecord) -> dict[str, Any] | None:
        """The policy defaults of the function ``record`` runs (None: not registered)."""
        return record.definition.defaults() if record.definition is not None else None

    # -- Jobs --------------------------------------------------------------------------------

    def start_job(self, job: JobRun) -> None:
        """Store a new Job and ask the handler how it ends (now, later, or when the test says)."""
        self.jobs[job.request.name] = job
        outcome = self.job_handler(job.request) if self.job_handler else JobOutcome()
        if outcome is None:
            return
        duration = to_timedelta(outcome.duration)
        if duration > timedelta(0):
            job.outcome, job.finish_at = outcome, self.now + duration
        else:
            self.finish_job(job, outcome)

    def finish_job(self, job: JobRun, outcome: JobOutcome) -> None:
        """End ``job`` now as ``outcome`` says."""
        end_job(job, outcome, self.now, self.namespace)
