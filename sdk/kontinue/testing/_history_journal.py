"""A :class:`~kontinue.engine.journal.Journal` backed by an exported history: replay, offline.

It returns every step the history records (stored values, children, suspensions, Jobs, their
pods and logs) and refuses everything else: the first step whose work would run in this replay
(a store function, a child, a sleep, a Job, a marker the history does not have, or a step the
history left running) stops the replay with :class:`EndOfHistory` before anything happens.
The engine announces that work through the step-observer seam
(:class:`~kontinue.engine.observer.StepObserver`), which this journal also implements; the
writes it refuses are a second line of the same rule. Status updates (message, progress) are
kept in memory only.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from kontinue import errors
from kontinue.api import attempts, signals, workflow_labels
from kontinue.api.history import History
from kontinue.api.signals import SignalState
from kontinue.engine.records import (
    ChildSpec,
    ChildState,
    JobState,
    Progress,
    StepRecord,
    SuspensionState,
    child_state,
    job_state,
    suspension_state,
)


class EndOfHistory(errors.Released):
    """The replay reached a step the history does not have (or left running): it stops here."""

    def __init__(self, step: str, step_type: str | None, message: str) -> None:
        super().__init__([], message)
        self.step = step
        self.step_type = step_type


def _as_last_attempt(execution: Mapping[str, Any]) -> dict[str, Any]:
    """The execution as its last attempt saw it: that attempt listed as the running one."""
    replayed = copy.deepcopy(dict(execution))
    status = replayed.setdefault("status", {})
    entries = attempts.listed(status)
    if entries and attempts.running(status) is None:
        entries[-1] = {**entries[-1], "phase": attempts.RUNNING}
        status["attempts"] = entries
    return replayed


class _Refused(AbstractContextManager[None]):
    """A step scope that cannot be entered."""

    def __init__(self, stop: Callable[[], EndOfHistory]) -> None:
        self._stop = stop

    def __enter__(self) -> None:
        raise self._stop()

    def __exit__(self, *exc_info: object) -> None:
        return None


class HistoryJournal:
    """The journal of a replay of ``history``: recorded steps only, nothing written."""

    def __init__(self, history: History) -> None:
        self._history = history
        self._object = _as_last_attempt(history.execution)
        self._steps = {n: StepRecord.from_status(n, raw) for n, raw in history.steps.items()}
        self._canceled = threading.Event()
        self.end: EndOfHistory | None = None
        """Why the replay stopped before the code did, if it did."""
        self.message: str | None = None
        self.progress: Progress | None = None
        self.labels: dict[str, str] = workflow_labels.of(self._object)
        """The workflow's search labels as the replay sets them (nothing is written)."""

    def _stop(self, step: str, step_type: str | None) -> EndOfHistory:
        recorded = self._steps.get(step)
        step_type = step_type or (recorded.type if recorded is not None else None)
        kind = f" ({step_type})" if step_type else ""
        if recorded is not None:
            message = (
                f"the history ends inside step {step!r}{kind}, which was still {recorded.phase} "
                "when it was exported"
            )
        else:
            message = f"the code goes on past the history with step {step!r}{kind}"
        self.end = EndOfHistory(step, step_type, message)
        return self.end

    # -- StepObserver: the work of a step begins ---------------------------------------------

    def step(self, name: str, step_type: str) -> AbstractContextManager[None]:
        """Refuse the work of a step: a replay runs nothing the history does not record."""
        return _Refused(lambda: self._stop(name, step_type))

    # -- Journal -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._history.name

    @property
    def namespace(self) -> str:
        return self._history.namespace

    @property
    def canceled(self) -> threading.Event:
        return self._canceled

    def execution(self) -> Mapping[str, Any]:
        return self._object

    def steps(self) -> Mapping[str, StepRecord]:
        return self._steps

    def stored(self, name: str) -> Any:
        return copy.deepcopy(self._history.state.get(name))

    def commit_store(self, record: StepRecord, value: Any) -> None:
        raise self._stop(record.name, record.type)

    def record(self, record: StepRecord, *, replace: bool = False) -> None:
        if replace or record.name not in self._steps:
            raise self._stop(record.name, record.type)

    def create_child(self, spec: ChildSpec) -> None:
        raise self._stop(spec.step, "execute")

    def child(self, name: str) -> ChildState | None:
        found = self._history.children.get(name)
        return None if found is None else child_state(found)

    def create_suspension(
        self,
        name: str,
        step: str,
        resume_at: datetime | None,
        display_name: str | None,
        description: str | None,
        timeout: bool = False,
    ) -> SuspensionState:
        raise self._stop(step, None)

    def suspension(self, name: str) -> SuspensionState | None:
        found = self._history.suspensions.get(name)
        return None if found is None else suspension_state(found)

    def signals(self) -> list[SignalState]:
        uid = str(self._object["metadata"].get("uid") or "")
        return signals.of_execution(self._history.signals, self.name, uid)

    def create_job(
        self,
        name: str,
        step: str,
        spec: Mapping[str, Any],
        extra_labels: Mapping[str, str],
        extra_annotations: Mapping[str, str],
    ) -> JobState:
        raise self._stop(step, None)

    def job(self, name: str) -> JobState | None:
        found = self._history.jobs.get(name)
        return None if found is None else job_state(found)

    def job_pods(self, name: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self._history.pods.get(name, []))

    def pod_logs(self, pod: str, container: str | None, tail_lines: int | None) -> str:
        texts = self._history.logs.get(pod) or {}
        if container is None and len(texts) == 1:
            container = next(iter(texts))
        if container not in texts:
            raise errors.InfrastructureError(
                f"the history holds no logs of pod {pod}"
                + (f" container {container}" if container else "")
                + " (exported without logs, or the pod was gone)"
            )
        lines = texts[container].splitlines(keepends=True)
        return "".join(lines[-tail_lines:] if tail_lines else lines)

    def wait(self, keys: list[tuple[str, str]], timeout: float) -> None:
        return None  # nothing changes in a history

    def now(self) -> datetime:
        return self._history.exported_at

    def set_message(self, message: str) -> None:
        self.message = message

    def set_progress(self, progress: Progress | None) -> None:
        self.progress = progress

    def set_labels(self, change: Mapping[str, str | None]) -> None:
        self.labels = workflow_labels.merged(self.labels, change)
