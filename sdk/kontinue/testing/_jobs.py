"""The Jobs of job, pod and script steps: what a test's ``job_handler`` sees and answers.

:class:`JobRequest` and :class:`JobOutcome` are public (``kontinue.testing``); :class:`JobRun`
is the environment's record of one Job, and :func:`end_job` writes the one pod and the status a
Job that ran to its end has on a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kontinue.api.options import DurationLike
from kontinue.api.timestamps import format_time


@dataclass(frozen=True)
class JobRequest:
    """A Job a job, pod or script step asks for, as the ``job_handler`` sees it."""

    name: str
    """The Job's name (derived from the execution and the step)."""
    step: str
    execution: str
    spec: Mapping[str, Any]
    """The Job's spec (for pod and script steps, the one-pod Job built around the pod)."""
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    @property
    def containers(self) -> list[Mapping[str, Any]]:
        """The pod template's containers."""
        template = (self.spec.get("template") or {}).get("spec") or {}
        return list(template.get("containers") or [])

    @property
    def command(self) -> list[str]:
        """The first container's command and arguments (a script step's shell command last)."""
        first = self.containers[0] if self.containers else {}
        return [*(first.get("command") or []), *(first.get("args") or [])]


@dataclass(frozen=True)
class JobOutcome:
    """How a Job the handler ran ends: its one pod's exit codes and logs.

    Args:
        exit_code: the exit code of every container (unless ``exit_codes`` names them).
        logs: what the pod printed (one string for every container, or one per container).
        message: the termination message of a failed container (and the Job's message).
        exit_codes: the exit code of each container by name.
        duration: how long the Job runs on the fake clock (0: done at once).
    """

    exit_code: int = 0
    logs: str | Mapping[str, str] = ""
    message: str | None = None
    exit_codes: Mapping[str, int] | None = None
    duration: DurationLike = 0


JobHandler = Callable[[JobRequest], JobOutcome | None]
"""Answers a Job: its outcome, or None to leave it running (see ``finish_job``)."""


@dataclass
class JobRun:
    """One Job in the environment: its manifest, the request, and how and when it ends."""

    manifest: dict[str, Any]
    request: JobRequest
    finish_at: datetime | None = None
    outcome: JobOutcome | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)


def end_job(job: JobRun, outcome: JobOutcome, now: datetime, namespace: str) -> None:
    """End ``job`` at ``now`` as ``outcome`` says: one more pod, its logs, the Job's status."""
    containers = [c.get("name") or "main" for c in job.request.containers] or ["main"]
    codes = (
        dict(outcome.exit_codes)
        if outcome.exit_codes
        else dict.fromkeys(containers, outcome.exit_code)
    )
    ok = all(code == 0 for code in codes.values())
    pod = f"{job.request.name}-{len(job.pods) + 1:05d}"
    stamp = format_time(now)
    job.pods = [{
        "metadata": {"name": pod, "namespace": namespace,
                     "labels": dict(job.manifest["spec"]["template"]["metadata"]["labels"])},
        "spec": {"containers": [{"name": c.get("name"), "image": c.get("image")}
                                for c in job.request.containers]},
        "status": {
            "phase": "Succeeded" if ok else "Failed",
            "containerStatuses": [
                {"name": name, "state": {"terminated": {
                    "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                    **({"message": outcome.message} if code and outcome.message else {}),
                }}}
                for name, code in codes.items()
            ],
        },
    }]  # fmt: skip
    for name in codes:
        logs = outcome.logs
        job.logs[(pod, name)] = logs if isinstance(logs, str) else logs.get(name, "")
    message = None if ok else (outcome.message or "BackoffLimitExceeded")
    job.manifest["status"] = {
        "succeeded": int(ok),
        "failed": int(not ok),
        "conditions": [{
            "type": "Complete" if ok else "Failed", "status": "True",
            "lastTransitionTime": stamp,
            **({"message": message} if message else {}),
        }],
    }  # fmt: skip
    job.finish_at = None
