"""The journal the environment runs the engine with: one claim of one execution.

:class:`ClaimJournal` is the :class:`~kontinue.engine.journal.Journal` of one attempt. Its
writes go to the environment's objects (:class:`~kontinue.testing._cluster.Cluster`) as the
worker's writes go to the API server: fenced once a timeout struck, children, suspensions and
Jobs created from the same manifests, and the test's ``crash_after`` steps crash the worker as
soon as they became durable.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kontinue import errors
from kontinue.api import manifests, signals, workflow_labels
from kontinue.api.digests import json_digest
from kontinue.api.messages import truncate_message
from kontinue.api.phases import SuspensionPhase, execution_phase
from kontinue.api.signals import SignalState
from kontinue.api.timestamps import format_time, format_time_ceil
from kontinue.engine.records import (
    ChildSpec,
    ChildState,
    JobState,
    Progress,
    StepRecord,
    SuspensionState,
    job_state,
    suspension_state,
)
from kontinue.testing._cluster import Cluster, ExecutionRecord, merge_patch
from kontinue.testing._controller import check_attempt
from kontinue.testing._jobs import JobRequest, JobRun
from kontinue.testing._status_journal import StatusJournal, tail


class ClaimJournal(StatusJournal):
    """The :class:`~kontinue.engine.journal.Journal` of one claim of an execution."""

    def __init__(self, cluster: Cluster, record: ExecutionRecord) -> None:
        super().__init__(record.obj, cluster.namespace, record.canceled)
        self._cluster = cluster
        self._record = record
        self.workflow_message = False
        """Whether the workflow set ``status.message`` itself (a completion keeps it then)."""

    def write(self, patch: Mapping[str, Any]) -> None:
        """One status write of this claim (fenced once the attempt timed out)."""
        check_attempt(self._cluster, self._record)
        status = self._status()
        if "argumentsDigest" not in status:
            status["argumentsDigest"] = json_digest(
                (self._record.obj.get("spec") or {}).get("arguments")
            )
        merge_patch(status, patch)
        self._cluster.stamp(self._record.obj)

    def commit_store(self, record: StepRecord, value: Any) -> None:
        self.write({"state": {record.name: copy.deepcopy(value)}} if value is not None else {})
        self._status().setdefault("steps", {})[record.name] = record.to_status()
        if record.phase == "Completed":
            self._record.maybe_crash(record.name)

    def _parent(self, step: str) -> manifests.Parent:
        obj = self._record.obj
        return manifests.Parent(
            name=self.name,
            uid=obj["metadata"]["uid"],
            root=manifests.root_of(obj),
            worker_group=obj["spec"].get("workerGroup") or "default",
            step=step,
        )

    def create_child(self, spec: ChildSpec) -> None:
        existing = self._cluster.executions.get(spec.name)
        if existing is not None:  # adopt what an earlier claim created, if it asked the same
            asked = (spec.function, spec.arguments)
            found = (existing.obj["spec"]["function"], existing.obj["spec"].get("arguments"))
            if asked != found:
                raise errors.ValidationError(
                    f"the Execution {spec.name} of step {spec.step!r} runs {found[0]} with other "
                    f"arguments than the step asks for now ({asked[0]}): its name is taken, so "
                    "the step cannot use it (is the workflow deterministic?)"
                )
            return
        manifest = manifests.execution_manifest(
            spec.function, spec.arguments, name=spec.name,
            worker_group=self._parent(spec.step).worker_group, retry=spec.retry,
            timeout=spec.timeout, mutex=spec.mutex, display_name=spec.display_name,
            description=spec.description, parent=self._parent(spec.step),
            parent_close_policy=spec.parent_close_policy,
        )  # fmt: skip
        self._cluster.create(manifest, crash_after=())

    def child(self, name: str) -> ChildState | None:
        found = self._cluster.executions.get(name)
        if found is None:
            return None
        status = found.obj.get("status") or {}
        state = ChildState(
            name=name,
            phase=execution_phase(found.obj),
            result=copy.deepcopy(status.get("result")),
            error=status.get("error"),
            message=status.get("message"),
        )
        if state.phase.terminal:
            self._record.maybe_crash(found.obj["spec"]["parent"]["step"], "execute")
        return state

    def create_suspension(
        self,
        name: str,
        step: str,
        resume_at: datetime | None,
        display_name: str | None,
        description: str | None,
        timeout: bool = False,
    ) -> SuspensionState:
        if name not in self._cluster.suspensions:
            manifest = manifests.suspension_manifest(
                name,
                self._parent(step),
                resume_at=format_time_ceil(resume_at) if resume_at else None,
                display_name=display_name,
                description=description,
                timeout=timeout,
            )
            manifest["metadata"].update(
                namespace=self.namespace, creationTimestamp=format_time(self._cluster.now)
            )
            manifest["status"] = {"phase": SuspensionPhase.SUSPENDED}
            self._cluster.stamp(manifest)
            self._cluster.suspensions[name] = manifest
        return suspension_state(self._cluster.suspensions[name])

    def suspension(self, name: str) -> SuspensionState | None:
        obj = self._cluster.suspensions.get(name)
        if obj is None:
            return None
        state = suspension_state(obj)
        done = state.phase == SuspensionPhase.COMPLETED or (
            state.resume_at is not None and state.resume_at <= self._cluster.now
        )
        if done and state.phase != SuspensionPhase.CANCELED:
            self._record.maybe_crash(obj["spec"]["step"], "sleep", "suspend")
        return state

    def signals(self) -> list[SignalState]:
        uid = self._record.obj["metadata"]["uid"]
        return signals.of_execution(self._cluster.signals.values(), self.name, uid)

    def create_job(
        self,
        name: str,
        step: str,
        spec: Mapping[str, Any],
        extra_labels: Mapping[str, str],
        extra_annotations: Mapping[str, str],
    ) -> JobState:
        if name not in self._cluster.jobs:
            manifest = manifests.job_manifest(
                name, self._parent(step), spec, extra_labels=extra_labels,
                extra_annotations=extra_annotations,
            )  # fmt: skip
            manifest["metadata"]["namespace"] = self.namespace
            request = JobRequest(
                name=name, step=step, execution=self.name, spec=copy.deepcopy(dict(spec)),
                labels=dict(extra_labels), annotations=dict(extra_annotations),
            )  # fmt: skip
            self._cluster.start_job(JobRun(manifest, request))
        return job_state(self._cluster.jobs[name].manifest)

    def job(self, name: str) -> JobState | None:
        job = self._cluster.jobs.get(name)
        return None if job is None else job_state(job.manifest)

    def job_pods(self, name: str) -> list[dict[str, Any]]:
        job = self._cluster.jobs.get(name)
        return copy.deepcopy(job.pods) if job is not None else []

    def pod_logs(self, pod: str, container: str | None, tail_lines: int | None) -> str:
        for job in self._cluster.jobs.values():
            for (pod_name, name), text in job.logs.items():
                if pod_name == pod and (container is None or container == name):
                    return tail(text, tail_lines)
        raise errors.InfrastructureError(f"the logs of pod {pod} cannot be read: no such pod")

    def wait(self, keys: list[tuple[str, str]], timeout: float) -> None:
        """Never reached: with a hold time of zero every wait releases the execution."""

    def now(self) -> datetime:
        return self._cluster.now

    def set_message(self, message: str) -> None:
        text = truncate_message(message)
        self.write({"message": text})
        self.workflow_message = True
        self._record.messages.append(text)

    def set_progress(self, progress: Progress | None) -> None:
        if progress is None:
            self.write({"progress": None})
            return
        value = progress.status()
        self._status().pop("progress", None)  # replaced whole, not merged
        self.write({"progress": value})

    def set_labels(self, change: Mapping[str, str | None]) -> None:
        # the environment's objects are its store: what the worker writes with its next
        # checkpoint is there at once (no write is counted here)
        status = self._status()
        wanted = workflow_labels.merged(workflow_labels.of(self._record.obj), change)
        if wanted:
            status[workflow_labels.STATUS_FIELD] = wanted
        else:
            status.pop(workflow_labels.STATUS_FIELD, None)
