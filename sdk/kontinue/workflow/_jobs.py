"""Kubernetes work as steps: run_job, run_pod, run_script, and their results.

A job step creates a batch/v1 Job named after the execution and the step, owned by the
execution and labelled like its other children (extra labels and annotations go on the Job
and its pods). It waits for the Job's Complete or Failed condition through the watch, and
releases the worker slot like any other long wait. When the Job finishes, its outcome (pod
counts, message, each pod's phase and container exit codes) is recorded as the step's value:
a replay returns that recorded outcome, a replay while it runs waits on the same Job, and a
failed Job is an outcome, not an exception (check ``succeeded()``).

With ``childPolicy: RetryFailed`` a later attempt of the execution runs a Job whose recorded
outcome failed again, as a new Job named after the step and the attempt (``-a2``); with the
default policy the replay returns the failed outcome. A manual retry (:mod:`kontinue.api.retries`)
runs again, whatever the policy, a Job that failed or that a cancellation stopped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from kontinue import errors
from kontinue.api import manifests, names
from kontinue.api.options import (
    JobOptions,
    LogOptions,
    PodOptions,
    ScriptOptions,
    StepOptions,
)
from kontinue.api.phases import Phase
from kontinue.engine.context import ExecutionContext
from kontinue.engine.records import JobState

_ERROR_LINE = re.compile(
    r"error|fail|fatal|exception|traceback|panic|denied|refused|not found|no such|cannot",
    re.IGNORECASE,
)
RECORDED_PODS = 20
"""Pods of one job step whose Pod facts are recorded (a wide Job keeps its history small)."""
SUMMARY_CONTEXT = 5
"""Lines before the last error line that :meth:`PodResult.log_error_summary` keeps."""


@dataclass(frozen=True)
class ContainerResult:
    """How one container of a pod ended."""

    name: str
    exit_code: int | None = None
    """None while it has not terminated."""
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class PodResult:
    """One pod of a job step: phase, message and every container's exit."""

    name: str
    namespace: str
    phase: str
    """The pod phase (Succeeded, Failed, ...)."""
    message: str | None = None
    """Why it ended as it did: a container's termination message or the pod's status."""
    containers: tuple[ContainerResult, ...] = ()
    pod: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The Pod as it ended: the whole object when read in this run; on replay, the recorded
    part a workflow needs (metadata, node, images, times, container states; see
    :func:`recorded_pod`)."""

    def succeeded(self) -> bool:
        """True only when the pod succeeded and every container exited with 0."""
        return (
            self.phase == "Succeeded"
            and bool(self.containers)
            and all(c.exit_code == 0 for c in self.containers)
        )

    def raise_if_failed(self) -> None:
        """Raise :class:`~kontinue.errors.JobFailedError` unless the pod succeeded."""
        if not self.succeeded():
            raise errors.JobFailedError(
                f"pod {self.name or '(none)'} failed: {self.message or self.phase}",
                child=self.name or None,
            )

    def logs(self, ktx: ExecutionContext, options: LogOptions | None = None) -> str:
        """What the pod printed (the last ``tail_lines`` lines of one container).

        Raises:
            InfrastructureError: the cluster cannot serve the logs (or the pod is gone).
        """
        options = options or LogOptions()
        container = options.container or (self.containers[0].name if self.containers else None)
        return ktx.journal.pod_logs(self.name, container, options.tail_lines)

    def log_error_summary(self, ktx: ExecutionContext) -> str:
        """The lines a person needs to see why the pod failed.

        The termination message and exit code of each failed container, then from its log the
        last error-looking line with the few lines before it (or the last lines when none
        looks like an error).
        """
        parts: list[str] = []
        for container in self.containers:
            if container.exit_code in (None, 0):
                continue
            head = f"container {container.name} exited with {container.exit_code}"
            if container.reason:
                head += f" ({container.reason})"
            parts.append(head + (f": {container.message}" if container.message else ""))
            lines = self.logs(ktx, LogOptions(tail_lines=200, container=container.name))
            parts.extend(_error_lines(lines.splitlines()))
        if not parts:
            parts.append(self.message or f"pod {self.name} is {self.phase}")
        return "\n".join(parts)

    def to_json(self, *, with_pod: bool = True) -> dict[str, Any]:
        """The recorded form (with the part of the Pod :func:`recorded_pod` keeps)."""
        data: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "phase": self.phase,
            "message": self.message,
            "containers": [vars(c) for c in self.containers],
        }
        if self.pod is not None and with_pod:
            data["pod"] = recorded_pod(self.pod)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PodResult:
        """Read the recorded form."""
        return cls(
            name=data["name"],
            namespace=data["namespace"],
            phase=data["phase"],
            message=data.get("message"),
            containers=tuple(ContainerResult(**c) for c in data.get("containers") or []),
            pod=data.get("pod"),
        )

    @classmethod
    def from_pod(cls, pod: Mapping[str, Any]) -> PodResult:
        """Summarize a Pod object."""
        status = pod.get("status") or {}
        containers = []
        messages = []
        for cs in status.get("containerStatuses") or []:
            terminated = (cs.get("state") or {}).get("terminated") or {}
            code = terminated.get("exitCode")
            containers.append(
                ContainerResult(
                    name=cs["name"],
                    exit_code=int(code) if code is not None else None,
                    reason=terminated.get("reason"),
                    message=(terminated.get("message") or "").strip() or None,
                )
            )
            if code not in (None, 0):
                text = (terminated.get("message") or "").strip()
                messages.append(text or f"{cs['name']} exited with {code}")
        message = "; ".join(messages) or status.get("message") or status.get("reason")
        return cls(
            name=pod["metadata"]["name"],
            namespace=pod["metadata"]["namespace"],
            phase=status.get("phase") or "Unknown",
            message=message,
            containers=tuple(containers),
            pod=pod,
        )


def recorded_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What a job step records of a Pod, so a replay hands the workflow the same facts.

    Metadata (name, namespace, uid, labels, annotations, creation), the node and each
    container's name and image, and the status (phase, reason, message, times, IPs, each
    container's state). The spec's environment, volumes and the like are left out: they are the
    step's own input, and recording them would copy secrets' references and bulk into the
    execution's history.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    kept_meta = ("name", "namespace", "uid", "labels", "annotations", "creationTimestamp")
    kept_status = (
        "phase", "reason", "message", "startTime", "hostIP", "podIP", "qosClass",
        "conditions", "initContainerStatuses", "containerStatuses",
    )  # fmt: skip
    return {
        "metadata": {k: meta[k] for k in kept_meta if k in meta},
        "spec": {
            **({"nodeName": spec["nodeName"]} if spec.get("nodeName") else {}),
            "containers": [
                {"name": c.get("name"), "image": c.get("image")}
                for c in spec.get("containers") or []
            ],
        },
        "status": {k: status[k] for k in kept_status if k in status},
    }


def _error_lines(lines: Sequence[str]) -> list[str]:
    for index in range(len(lines) - 1, -1, -1):
        if _ERROR_LINE.search(lines[index]):
            return list(lines[max(0, index - SUMMARY_CONTEXT) : index + 1])
    return list(lines[-SUMMARY_CONTEXT:])


@dataclass(frozen=True)
class JobResult:
    """The outcome of a job step."""

    name: str
    """The Job's name."""
    succeeded_pods: int
    failed_pods: int
    message: str | None
    """The Job's Failed (or Complete) condition message."""
    pods: tuple[PodResult, ...] = ()

    def succeeded(self) -> bool:
        """At least one pod succeeded and none failed."""
        return self.succeeded_pods > 0 and self.failed_pods == 0

    def raise_if_failed(self) -> None:
        """Raise :class:`~kontinue.errors.JobFailedError` unless the Job succeeded."""
        if not self.succeeded():
            raise errors.JobFailedError(
                f"job {self.name} failed ({self.succeeded_pods} pods succeeded, "
                f"{self.failed_pods} failed): {self.message or 'no message'}",
                child=self.name,
            )

    def to_json(self) -> dict[str, Any]:
        """The recorded form."""
        return {
            "name": self.name,
            "succeededPods": self.succeeded_pods,
            "failedPods": self.failed_pods,
            "message": self.message,
            "pods": [p.to_json(with_pod=i < RECORDED_PODS) for i, p in enumerate(self.pods)],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        """Read the recorded form."""
        return cls(
            name=data["name"],
            succeeded_pods=int(data.get("succeededPods") or 0),
            failed_pods=int(data.get("failedPods") or 0),
            message=data.get("message"),
            pods=tuple(PodResult.from_json(p) for p in data.get("pods") or []),
        )


def _run(
    ktx: ExecutionContext,
    step_type: str,
    options: StepOptions,
    spec: Mapping[str, Any],
    extra_labels: Mapping[str, str],
    extra_annotations: Mapping[str, str],
) -> JobResult:
    if not isinstance(spec.get("template"), Mapping):
        raise errors.ValidationError(f"the {step_type} step's Job spec needs a pod template")
    name, index, recorded = ktx.begin_step(step_type, options)
    with ExitStack() as scope:  # the step's observed scope, opened when the Job is created
        job_name = (recorded.child if recorded is not None else None) or names.child_name(
            ktx.name, name
        )
        rerun = False
        if recorded is not None and recorded.phase == Phase.COMPLETED:
            result = JobResult.from_json(ktx.journal.stored(name))
            rerun = not result.succeeded() and ktx.reruns(recorded)
            if not rerun:
                return result
            job_name = names.child_name(ktx.name, f"{name}-a{ktx.attempts + 1}")
        elif recorded is not None:  # running when the last attempt ended
            found = ktx.journal.job(job_name)
            if found is None:
                raise ktx.object_deleted("Job", job_name, name)
            if found.stopped and ktx.reruns(recorded):  # a canceled attempt stopped it
                rerun = True
                job_name = names.child_name(ktx.name, f"{name}-a{ktx.attempts + 1}")
        if recorded is None or rerun:  # creates, or adopts what an unrecorded run created
            scope.enter_context(ktx.observe_step(name, step_type))
            annotations = {
                **extra_annotations,
                **manifests.step_annotations(options.display_name, options.description),
            }
            made = ktx.journal.create_job(job_name, name, spec, extra_labels, annotations)
            if recorded is None and made.stopped and ktx.reruns_unrecorded(None, ended_only=True):
                rerun = True  # a canceled attempt stopped it before recording it
                job_name = names.child_name(ktx.name, f"{name}-a{ktx.attempts + 1}")
                ktx.journal.create_job(job_name, name, spec, extra_labels, annotations)
        running = ktx.record(name, index, step_type, options, child=job_name)
        running.phase = "Running"
        ktx.journal.record(running, replace=rerun)

        def finished() -> JobState | None:
            state = ktx.journal.job(job_name)
            if state is None:
                raise ktx.object_deleted("Job", job_name, name)
            return state if state.finished else None

        state = ktx.await_resolution([("Job", job_name)], finished, f"job {job_name}")
        pods = tuple(PodResult.from_pod(p) for p in ktx.journal.job_pods(job_name))
        result = JobResult(job_name, state.succeeded, state.failed, state.message, pods)
        ktx.journal.commit_store(
            ktx.record(name, index, step_type, options, child=job_name), result.to_json()
        )
        return result


def run_job(ktx: ExecutionContext, options: JobOptions) -> JobResult:
    """Run a Kubernetes Job and wait for it; replay-safe (never a second Job)."""
    return _run(ktx, "job", options, options.spec, options.extra_labels, options.extra_annotations)


def _pod_job_spec(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "backoffLimit": 0,
        "template": {"spec": {"restartPolicy": "Never", **pod_spec}},
    }


def _single_pod(result: JobResult) -> PodResult:
    if result.pods:
        return result.pods[-1]
    return PodResult(name="", namespace="", phase="Failed", message=result.message)


def run_pod(ktx: ExecutionContext, options: PodOptions) -> PodResult:
    """Run one pod (a Job with ``backoffLimit: 0``) and return how it ended."""
    result = _run(
        ktx, "pod", options, _pod_job_spec(options.spec), options.extra_labels,
        options.extra_annotations,
    )  # fmt: skip
    return _single_pod(result)


def run_script(ktx: ExecutionContext, options: ScriptOptions) -> PodResult:
    """Run ``command`` through a shell in one pod of ``image``."""
    if not options.image or not options.command:
        raise errors.ValidationError("run_script needs an image and a command")
    pod_spec = {
        "containers": [
            {"name": "script", "image": options.image, "command": [*options.shell, options.command]}
        ]
    }
    result = _run(
        ktx, "script", options, _pod_job_spec(pod_spec), options.extra_labels,
        options.extra_annotations,
    )  # fmt: skip
    return _single_pod(result)
