"""An in-memory :class:`~kontinue.engine.journal.Journal`: the same replay engine, no cluster.

It keeps the execution as the same dict shape the API server stores (``status.state``,
``status.steps``), children and suspensions as plain records that a test resolves with
:meth:`MemoryJournal.finish_child` and :meth:`MemoryJournal.resume`, and counts writes. The step
records and stored values are read and recorded as the test environment's own journal does
(:class:`~kontinue.testing._status_journal.StatusJournal`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kontinue import errors
from kontinue.api import history, workflow_labels
from kontinue.api.journal_chunks import CompactedHistory
from kontinue.api.phases import Phase, SuspensionPhase
from kontinue.api.signals import SignalState
from kontinue.api.timestamps import format_time
from kontinue.engine.records import (
    ChildSpec,
    ChildState,
    JobState,
    Progress,
    StepRecord,
    SuspensionState,
)
from kontinue.testing._status_journal import StatusJournal, tail


class MemoryJournal(StatusJournal):
    """Durable history held in memory (survives "replays" within one test)."""

    def __init__(
        self,
        name: str = "test-execution",
        namespace: str = "default",
        arguments: Any = None,
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        obj: dict[str, Any] = {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "function": "test",
                **({"arguments": arguments} if arguments is not None else {}),
                **(spec or {}),
            },
            "status": {"phase": Phase.EXECUTING, "state": {}, "steps": {}},
        }
        super().__init__(obj, namespace, threading.Event())
        self._changed = threading.Condition()
        self.children: dict[str, ChildSpec] = {}
        self.child_states: dict[str, ChildState] = {}
        self.suspensions: dict[str, SuspensionState] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_states: dict[str, JobState] = {}
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.logs: dict[str, str] = {}
        self.writes = 0
        self.clock: datetime | None = None
        self.sent: list[SignalState] = []
        self.timeouts: dict[str, bool] = {}
        self._order = 0

    # -- Journal (name, steps, stored values and records: StatusJournal) ----------------------

    def commit_store(self, record: StepRecord, value: Any) -> None:
        status = self._object["status"]
        if value is not None:
            status["state"][record.name] = copy.deepcopy(value)
        status["steps"][record.name] = record.to_status()
        self.writes += 1

    def create_child(self, spec: ChildSpec) -> None:
        if spec.name not in self.children:
            self.children[spec.name] = spec
            self.child_states[spec.name] = ChildState(spec.name, Phase.PENDING)
            self.writes += 1

    def child(self, name: str) -> ChildState | None:
        return self.child_states.get(name)

    def create_suspension(
        self,
        name: str,
        step: str,
        resume_at: datetime | None,
        display_name: str | None,
        description: str | None,
        timeout: bool = False,
    ) -> SuspensionState:
        if name not in self.suspensions:
            self.suspensions[name] = SuspensionState(name, SuspensionPhase.SUSPENDED, resume_at)
            self.timeouts[name] = timeout
            self.writes += 1
        return self.suspensions[name]

    def suspension(self, name: str) -> SuspensionState | None:
        return self.suspensions.get(name)

    def signals(self) -> list[SignalState]:
        return list(self.sent)

    def create_job(
        self,
        name: str,
        step: str,
        spec: Mapping[str, Any],
        extra_labels: Mapping[str, str],
        extra_annotations: Mapping[str, str],
    ) -> JobState:
        if name not in self.jobs:
            self.jobs[name] = {
                "spec": copy.deepcopy(dict(spec)),
                "labels": dict(extra_labels),
                "annotations": dict(extra_annotations),
            }
            self.job_states[name] = JobState(name, finished=False)
            self.writes += 1
        return self.job_states[name]

    def job(self, name: str) -> JobState | None:
        return self.job_states.get(name)

    def job_pods(self, name: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.pods.get(name, []))

    def pod_logs(self, pod: str, container: str | None, tail_lines: int | None) -> str:
        if pod not in self.logs:
            raise errors.InfrastructureError(f"no logs of pod {pod}")
        return tail(self.logs[pod], tail_lines)

    def wait(self, keys: list[tuple[str, str]], timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def set_message(self, message: str) -> None:
        self._object["status"]["message"] = message
        self.writes += 1

    def set_progress(self, progress: Progress | None) -> None:
        if progress is None:
            self._object["status"].pop("progress", None)
        else:
            self._object["status"]["progress"] = {
                "current": progress.current,
                "max": progress.max,
                **({"automatic": True} if progress.automatic else {}),
            }
        self.writes += 1

    def set_labels(self, change: Mapping[str, str | None]) -> None:
        wanted = workflow_labels.merged(workflow_labels.of(self._object), change)
        self._object["status"][workflow_labels.STATUS_FIELD] = wanted  # rides along: no write

    # -- history ----------------------------------------------------------------------------------

    def history(self) -> dict[str, Any]:
        """This execution's history as an exported history document (see :func:`replay`).

        Children, suspensions and Jobs become the objects a cluster would hold.
        """
        children = [
            {"metadata": {"name": name, "namespace": self._namespace},
             "spec": {"function": self.children[name].function if name in self.children else ""},
             "status": {"phase": state.phase.value, "result": state.result,
                        **({"error": dict(state.error)} if state.error else {}),
                        **({"message": state.message} if state.message else {})}}
            for name, state in self.child_states.items()
        ]  # fmt: skip
        suspensions = [
            {"metadata": {"name": name, "namespace": self._namespace},
             "spec": {"resumeAt": format_time(s.resume_at)} if s.resume_at else {},
             "status": {"phase": s.phase.value, **({"data": s.data} if s.data is not None else {})}}
            for name, s in self.suspensions.items()
        ]  # fmt: skip
        jobs = [
            {"metadata": {"name": name, "namespace": self._namespace},
             "status": {"succeeded": s.succeeded, "failed": s.failed, **({"conditions": [
                 {"type": "Complete" if s.succeeded else "Failed", "status": "True",
                  "message": s.message}]} if s.finished else {})}}
            for name, s in self.job_states.items()
        ]  # fmt: skip
        pods = {name: self.pods.get(name, []) for name in self.job_states}
        logs = {
            pod["metadata"]["name"]: {
                c["name"]: self.logs[pod["metadata"]["name"]]
                for c in (pod.get("status") or {}).get("containerStatuses") or []
            }
            for job_pods in self.pods.values()
            for pod in job_pods
            if pod["metadata"]["name"] in self.logs
        }
        return history.build(
            copy.deepcopy(self._object), CompactedHistory(), children=children,
            suspensions=suspensions, jobs=jobs, pods=pods, logs=logs, exported_at=self.now(),
        )  # fmt: skip

    # -- test controls ----------------------------------------------------------------------------

    def finish_job(
        self,
        name: str,
        *,
        exit_codes: Mapping[str, int],
        message: str | None = None,
        logs: str = "",
    ) -> None:
        """End a job with one pod whose containers exited with ``exit_codes``."""
        ok = all(code == 0 for code in exit_codes.values())
        pod = f"{name}-pod"
        self.pods[name] = [{
            "metadata": {"name": pod, "namespace": self._namespace},
            "status": {
                "phase": "Succeeded" if ok else "Failed",
                "containerStatuses": [
                    {"name": c, "state": {"terminated": {
                        "exitCode": code, "message": None if code == 0 else message,
                    }}}
                    for c, code in exit_codes.items()
                ],
            },
        }]  # fmt: skip
        self.logs[pod] = logs
        self.job_states[name] = JobState(
            name, finished=True, succeeded=int(ok), failed=int(not ok), message=message
        )
        self._notify()

    def finish_child(
        self, name: str, phase: Phase, result: Any = None, message: str | None = None
    ) -> None:
        """Resolve a child execution."""
        error = {"message": message} if message else None
        self.child_states[name] = ChildState(name, phase, result, error, message)
        self._notify()

    def resume(self, name: str, data: Any = None) -> None:
        """Resume a suspension with an optional payload."""
        current = self.suspensions[name]
        self.suspensions[name] = SuspensionState(
            name, SuspensionPhase.COMPLETED, current.resume_at, data, order=self._next()
        )
        self._notify()

    def time_out(self, name: str) -> None:
        """End a suspension at its deadline (``timedOut`` when it is an approval's)."""
        current = self.suspensions[name]
        self.suspensions[name] = SuspensionState(
            name, SuspensionPhase.COMPLETED, current.resume_at,
            timed_out=self.timeouts.get(name, False), order=self._next(),
        )  # fmt: skip
        self._notify()

    def signal(self, event: str, data: Any = None, signal_id: str | None = None) -> SignalState:
        """Send an event to the execution (accepted after every earlier one)."""
        order = self._next()
        sent = SignalState(
            name=f"{self.name}-sig-{order}", event=event, data=copy.deepcopy(data),
            id=signal_id or str(order), order=order,
        )  # fmt: skip
        self.sent.append(sent)
        self._notify()
        return sent

    def _next(self) -> int:
        self._order += 1
        return self._order

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()
