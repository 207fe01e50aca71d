"""Wake-ups: sleeps end, Backoff and Suspended executions go back to Pending.

- a sleep's Suspension completes at its ``resumeAt`` (``resumedBy: timer``);
- a Backoff execution goes back to Pending at ``nextAttemptAt``;
- a Suspended execution goes back to Pending once everything in ``suspendedOn`` resolved (or
  one item marked ``first``); each event of something it waits on makes it look again, and so
  does a new Signal sent to it (an event it may wait for). A released fan-out's automatic progress
  follows its children meanwhile.

When each is due is decided by :mod:`kontinue_controller.logic.wakeups`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kontinue.api import labels, suspension_ends, waits
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, suspension_phase
from kontinue.client import kubeapi
from kontinue_controller.keys import Key
from kontinue_controller.logic import wakeups
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)

_RESOURCES = {
    "Execution": kubeapi.EXECUTIONS,
    "Suspension": kubeapi.SUSPENSIONS,
    "Job": kubeapi.JOBS,
}


class Wakeups:
    """Ends sleeps and backoffs and wakes Suspended executions whose waits resolved."""

    def __init__(
        self, kube: kubeapi.Kube, view: ObjectView, timers: Timers, writes: Writes
    ) -> None:
        self._kube = kube
        self._view = view
        self._timers = timers
        self._writes = writes
        self._lock = threading.Lock()
        self._waiters: dict[Key, set[tuple[str, str]]] = {}  # waited on -> (namespace, name)

    def on_execution(self, key: Key, obj: dict[str, Any]) -> None:
        """An unfinished execution changed: wait for what it waits on, or for its backoff."""
        phase = execution_phase(obj)
        if phase == Phase.SUSPENDED:
            with self._lock:
                for item in (obj.get("status") or {}).get("suspendedOn") or []:
                    target = (item["kind"], key[1], item["name"])
                    self._waiters.setdefault(target, set()).add(key[1:])
            evaluate = functools.partial(self.evaluate, key[1:])
            self._timers.soon("evaluate", key, evaluate)
        elif phase == Phase.BACKOFF:
            due = wakeups.backoff_due(obj, datetime.now(UTC))
            assert due is not None  # in Backoff
            self._timers.at("backoff", key, due, lambda: self.end_backoff(key[1], key[2]))

    def on_suspension(self, key: Key, obj: dict[str, Any]) -> None:
        """A Suspension changed: a sleep's ends at its ``resumeAt``."""
        due = wakeups.sleep_due(obj)
        if due is not None:
            self._timers.at("sleep", key, due, lambda: self.end_sleep(key[1], key[2]))

    def on_signal(self, key: Key, obj: dict[str, Any]) -> None:
        """A Signal came: the execution it is sent to looks again (if it waits for events)."""
        execution = ((obj.get("metadata") or {}).get("labels") or {}).get(labels.PARENT)
        if execution:
            target = (key[1], execution)
            self._timers.soon(
                "evaluate", ("Execution", *target), functools.partial(self.evaluate, target)
            )

    def forget(self, key: Key) -> None:
        """An execution is gone: forget who waited on it."""
        with self._lock:
            self._waiters.pop(key, None)

    def wake_waiters(self, key: Key) -> None:
        """Something changed: the executions waiting on it look again."""
        with self._lock:
            parents = list(self._waiters.get(key, ()))
        for parent in parents:
            evaluate = functools.partial(self.evaluate, parent)
            self._timers.soon("evaluate", ("Execution", *parent), evaluate)

    def end_backoff(self, namespace: str, name: str) -> None:
        """Put a Backoff execution back to Pending if its ``nextAttemptAt`` passed."""
        current = self._kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
        if current is None:
            return
        now = datetime.now(UTC)
        due = wakeups.backoff_due(current, now)
        if due is None:
            return
        if due > now:
            key = ("Execution", namespace, name)
            self._timers.at("backoff", key, due, lambda: self.end_backoff(namespace, name))
            return
        self._writes.to_pending(
            current, "BackoffEnded", "retrying after backoff", nextAttemptAt=None
        )

    def end_sleep(self, namespace: str, name: str) -> None:
        """Complete a sleep's Suspension (its timer fired at ``resumeAt``)."""
        # the view's copy first (one write, no read); a conflict means it changed: read, retry
        current = self._view.cached("Suspension", namespace, name)
        for _ in range(2):
            if current is None:
                current = self._kube.get_or_none(kubeapi.SUSPENSIONS, namespace, name)
            if current is None:
                return
            if suspension_phase(current) != SuspensionPhase.SUSPENDED:
                return
            status = suspension_ends.timer_ended(current, datetime.now(UTC))
            base = current["metadata"]["resourceVersion"]
            try:
                ended = self._kube.merge_patch(
                    kubeapi.SUSPENSIONS,
                    namespace,
                    name,
                    {"status": status},
                    subresource="status",
                    resource_version=base,
                )
            except kubeapi.NotFound:
                return
            except kubeapi.Conflict:
                current = None
                continue
            # no Event: the Suspension's status says it, the execution's Resumed Event too.
            # Its waiter wakes now, not when the watch brings the write back: under load, that
            # event waits behind every other one the controller has to handle
            if self._view.advance("Suspension", base, ended):
                self.wake_waiters(("Suspension", namespace, name))
            return

    def _resolved(
        self,
        namespace: str,
        item: Mapping[str, Any],
        execution: Mapping[str, Any],
        *,
        look: bool = False,
    ) -> bool:
        kind, name = item["kind"], item["name"]
        if kind == "Signal":  # an event: a Signal of it accepted after the ones consumed
            owned = self._view.owned("Signal", namespace, execution["metadata"]["name"])
            return waits.signal_resolved(item, execution, owned)
        obj = self._view.cached(kind, namespace, name)
        if obj is None:
            if not look:
                return False  # not seen yet (its event wakes the waiter), or gone: see evaluate
            resource = _RESOURCES.get(kind)
            if resource is None:
                return False
            obj = self._kube.get_or_none(resource, namespace, name)
            if obj is None:
                return True  # gone: the replay finds out
        return waits.resolved(kind, obj, datetime.now(UTC))

    def evaluate(self, execution: tuple[str, str], *, look: bool = False) -> None:
        """Wake a Suspended execution whose waits all resolved.

        What it waits on is judged from the view; something the view has not seen is looked
        up (``look``) only a few seconds later, so a (re)start that lists executions before
        their suspensions does not read every one of them.
        """
        obj = self._view.cached("Execution", *execution)
        if obj is None or execution_phase(obj) != Phase.SUSPENDED:
            return
        items = (obj.get("status") or {}).get("suspendedOn") or []
        objects = [i for i in items if i["kind"] != "Signal"]  # a Signal item names an event
        unseen = [
            i for i in objects if self._view.cached(i["kind"], execution[0], i["name"]) is None
        ]
        if unseen and not look:
            key = ("Execution", *execution)
            self._timers.at(
                "look", key, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5),
                lambda: self.evaluate(execution, look=True),
            )  # fmt: skip
        wake = wakeups.wake_up(
            obj, [self._resolved(execution[0], i, obj, look=look) for i in items]
        )
        progress = {"progress": wake.progress} if wake.progress else {}
        if wake.resume:
            woken = self._writes.to_pending(
                obj, "Resumed", wake.message, suspendedOn=None, **progress
            )
            if woken is not None:  # the view says so at once: a second look does not write
                self._view.advance("Execution", obj["metadata"]["resourceVersion"], woken)
        elif wake.progress is not None:  # a released fan-out: its progress follows its children
            self._writes.transition(obj, "Progress", progress, event=False)
