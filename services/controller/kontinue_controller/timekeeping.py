"""The controller's event router: each watch event goes to the view and the duties it concerns.

Everything the controller does is driven by watch events (kopf's ``on.event`` handlers call in,
and so does the resync) and by timers; nothing polls an object. The :class:`Timekeeper` holds no
state and takes no decision of its own: it records the event in the view
(:mod:`~kontinue_controller.view`), drops the timers of an object that is gone
(:mod:`~kontinue_controller.timers`), and hands the object to the duties that follow it:

- wake-ups (:mod:`~kontinue_controller.wakeups`): sleeps, backoffs, Suspended executions
  (also those waiting for an event, which a new Signal wakes);
- cancellation, timeouts, retention (TTL), schedules and admission (their own modules);
- the parent-close policy of children whose parent's attempt ended
  (:mod:`~kontinue_controller.parent_close`);
- manual retries (:mod:`~kontinue_controller.retrying`);
- takeover of what a gone worker process held (:mod:`~kontinue_controller.takeover`).

The duties receive the parts they use (the view, the timers, the writes, the API client) when
they are built (:mod:`~kontinue_controller.assembly`); none of them knows this router.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kontinue.api.phases import execution_phase
from kontinue_controller.admission import Admission
from kontinue_controller.cancellation import Cancellation
from kontinue_controller.keys import Key
from kontinue_controller.parent_close import ParentClose
from kontinue_controller.retention import Retention
from kontinue_controller.retrying import Retrying
from kontinue_controller.schedules import Scheduler
from kontinue_controller.takeover import Takeover
from kontinue_controller.timeouts import Timeouts
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.wakeups import Wakeups


@dataclass(frozen=True)
class Duties:
    """The duties the events are routed to."""

    wakeups: Wakeups
    admission: Admission
    cancellation: Cancellation
    timeouts: Timeouts
    retention: Retention
    scheduler: Scheduler
    takeover: Takeover
    parent_close: ParentClose
    retrying: Retrying


class Timekeeper:
    """Routes watch events to the view, the timers and the duties."""

    def __init__(self, view: ObjectView, timers: Timers, duties: Duties) -> None:
        self.view = view
        self._timers = timers
        self._duties = duties

    def start(self) -> None:
        """Start the timers."""
        self._timers.start()

    def _remember(self, kind: str, event: str | None, obj: dict[str, Any]) -> Key:
        key = self.view.remember(kind, event, obj)
        if event == "DELETED":
            self._timers.forget(key)
            if kind == "Execution":
                self._duties.wakeups.forget(key)
                self._duties.retrying.forget(key)
        return key

    def on_execution(self, event: str | None, obj: dict[str, Any]) -> None:
        """An Execution changed (or was listed)."""
        duties = self._duties
        key = self._remember("Execution", event, obj)
        duties.scheduler.on_run(event, obj)
        duties.admission.watch(event, key, obj)
        if event == "DELETED":
            pass
        elif not execution_phase(obj).terminal and (obj.get("spec") or {}).get("cancel"):
            duties.cancellation.request(key)
        else:
            duties.timeouts.watch(key, obj)
            duties.retention.watch(key, obj)
            duties.wakeups.on_execution(key, obj)
            duties.retrying.watch(key, obj)
        if event != "DELETED":
            duties.parent_close.on_execution(key, obj)
        duties.wakeups.wake_waiters(key)

    def on_function(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Function changed (or was listed): its concurrency limit or its defaults may have."""
        self._duties.admission.on_function(event, obj)
        self._duties.timeouts.on_function(event, obj)

    def on_suspension(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Suspension changed (or was listed)."""
        key = self._remember("Suspension", event, obj)
        if event != "DELETED":
            self._duties.wakeups.on_suspension(key, obj)
        self._duties.wakeups.wake_waiters(key)

    def on_signal(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Signal (an event sent to an execution) was listed, created or deleted."""
        key = self._remember("Signal", event, obj)
        if event != "DELETED":
            self._duties.wakeups.on_signal(key, obj)

    def on_job(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Job of a job step changed (or was listed): wake whoever waits on it."""
        key = self._remember("Job", event, obj)
        self._duties.wakeups.wake_waiters(key)

    def on_worker_lease(self, event: str | None, obj: dict[str, Any]) -> None:
        """A worker's Lease was listed, changed or deleted (see :mod:`.takeover`)."""
        key = self._remember("Lease", event, obj)
        self._duties.takeover.on_lease(event, key, obj)

    def on_schedule(self, event: str | None, obj: dict[str, Any]) -> None:
        """A ScheduledExecution was listed, changed or deleted."""
        self._duties.scheduler.on_schedule(event, obj)

    def on_archive(self, event: str | None, obj: dict[str, Any]) -> None:
        """An ArchivedExecution was listed, changed or deleted."""
        self._duties.retention.on_archive(event, obj)
