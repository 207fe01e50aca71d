"""Concurrency control: named mutexes and per-function concurrency limits.

An execution that asks for a mutex (``spec.mutex.name``), or whose function has a
``concurrencyLimit`` in its Function object, stays Pending until the controller writes a grant
into ``status.grants``; workers only claim what they may run. The third layer, the per-worker
cap, is the worker's own ``--concurrency``.

Mutex: the unfinished executions sharing a name in a namespace queue in creation order; the
oldest gets the mutex and keeps it through Suspended and Backoff until it finishes (or is
deleted), then the next one gets it. Waiters carry the message "waiting for mutex X held by
Y". A worker crash changes nothing: the holder goes back to Pending and still holds it. An
execution asking for a mutex that one of its ancestors holds could only wait forever; it fails
at once with a validation error instead.

Function limit: at most ``concurrencyLimit`` executions of a function in a worker group hold a
slot, and a slot is held only while Pending or Executing: a Suspended or Backoff execution
frees it, and asks again (in creation order) when it is woken. An execution that also waits
for a mutex asks for a slot only once it holds the mutex.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kontinue.api import labels, timestamps, transitions
from kontinue.api.phases import Phase, execution_phase
from kontinue_controller.function_defaults import function_key, function_object_key
from kontinue_controller.keys import Key
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)

_HOLDS_SLOT = (Phase.PENDING, Phase.EXECUTING)


def mutex_of(obj: dict[str, Any]) -> str | None:
    """The mutex an execution asks for."""
    return ((obj.get("spec") or {}).get("mutex") or {}).get("name")


def grants_of(obj: dict[str, Any]) -> dict[str, Any]:
    """What an execution was granted."""
    return dict((obj.get("status") or {}).get("grants") or {})


def _order(obj: dict[str, Any]) -> tuple[str, str, str]:
    """Creation order: the server's second, then the creator's microseconds, then the name."""
    meta = obj["metadata"]
    created = (meta.get("annotations") or {}).get(labels.CREATED) or ""
    return (str(meta.get("creationTimestamp") or ""), created, meta["name"])


class Admission:
    """Grants mutexes and function slots to the executions of the view."""

    def __init__(self, view: ObjectView, timers: Timers, writes: Writes) -> None:
        self._view = view
        self._timers = timers
        self._writes = writes
        self._limits: dict[tuple[str, str, str], int] = {}  # namespace, group, function
        self._mutexes: dict[tuple[str, str], set[str]] = {}  # namespace, mutex -> executions
        self._functions: dict[tuple[str, str, str], set[str]] = {}

    # -- membership ---------------------------------------------------------------------------

    def on_function(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Function object changed: its concurrency limit may have."""
        key = function_object_key(obj)
        limit = (obj.get("spec") or {}).get("concurrencyLimit")
        if event == "DELETED" or not limit:
            self._limits.pop(key, None)
        else:
            self._limits[key] = int(limit)
        self._admit_slots_soon(key)

    def watch(self, event: str | None, key: Key, obj: dict[str, Any]) -> None:
        """An execution changed: update the queues it is in and look at them again."""
        namespace, name = key[1], key[2]
        active = event != "DELETED" and not execution_phase(obj).terminal
        mutex = mutex_of(obj)
        if mutex:
            members = self._mutexes.setdefault((namespace, mutex), set())
            if active:
                members.add(name)
            else:
                members.discard(name)
            mutex_key = ("Mutex", namespace, mutex)
            self._timers.soon("admit", mutex_key, lambda: self.admit_mutex(namespace, mutex))
        function = function_key(obj)
        if active:
            self._functions.setdefault(function, set()).add(name)
        else:
            self._functions.get(function, set()).discard(name)
        if function in self._limits:
            self._admit_slots_soon(function)

    def _admit_slots_soon(self, key: tuple[str, str, str]) -> None:
        namespace, group, function = key
        timer_key = ("FunctionSlots", namespace, f"{group}/{function}")
        self._timers.soon("admit", timer_key, lambda: self.admit_slots(namespace, group, function))

    def _members(self, namespace: str, names: set[str]) -> list[dict[str, Any]]:
        found = [self._view.cached("Execution", namespace, n) for n in sorted(names)]
        return sorted((o for o in found if o is not None), key=_order)

    # -- mutexes ------------------------------------------------------------------------------

    def _ancestor_holding(self, obj: dict[str, Any], mutex: str) -> str | None:
        namespace = obj["metadata"]["namespace"]
        seen: set[str] = set()
        parent = ((obj.get("spec") or {}).get("parent") or {}).get("name")
        while parent and parent not in seen:
            seen.add(parent)
            ancestor = self._view.cached("Execution", namespace, parent)
            if ancestor is None:
                return None
            if grants_of(ancestor).get("mutex") == mutex:
                return str(parent)
            parent = ((ancestor.get("spec") or {}).get("parent") or {}).get("name")
        return None

    def admit_mutex(self, namespace: str, mutex: str) -> None:
        """Grant the mutex to the oldest waiter if nobody holds it; tell the others."""
        members = self._members(namespace, self._mutexes.get((namespace, mutex), set()))
        holder = next((m for m in members if grants_of(m).get("mutex") == mutex), None)
        waiting = [m for m in members if m is not holder]
        for member in list(waiting):
            ancestor = self._ancestor_holding(member, mutex)
            if ancestor is not None:
                waiting.remove(member)
                self._refuse(member, mutex, ancestor)
        if holder is None and waiting:
            head = waiting.pop(0)
            status = {
                "grants": {"mutex": mutex, "mutexSince": timestamps.now()},
                "message": None,
            }
            if self._writes.transition(head, "MutexAcquired", status) is None:
                return  # it changed meanwhile: its event brings us back
            holder = head
        if holder is None:
            return
        message = f"waiting for mutex {mutex} held by {holder['metadata']['name']}"
        for member in waiting:
            if (member.get("status") or {}).get("message") != message:
                self._writes.transition(
                    member, "WaitingForMutex", {"message": message}, event=False
                )

    def _refuse(self, obj: dict[str, Any], mutex: str, ancestor: str) -> None:
        name = obj["metadata"]["name"]
        message = (
            f"execution {name} asks for mutex {mutex}, which its ancestor {ancestor} holds: "
            "it would wait forever"
        )
        status = transitions.refuse(message, datetime.now(UTC))
        self._writes.transition(obj, "MutexDeadlock", status, warning=True)

    # -- function slots -------------------------------------------------------------------------

    def admit_slots(self, namespace: str, group: str, function: str) -> None:
        """Grant free slots of a limited function to its oldest waiters."""
        limit = self._limits.get((namespace, group, function))
        if limit is None:
            return
        members = self._members(namespace, self._functions.get((namespace, group, function), set()))
        holders = [
            m for m in members if grants_of(m).get("slot") and execution_phase(m) in _HOLDS_SLOT
        ]
        waiting = [
            m
            for m in members
            if not grants_of(m).get("slot")
            and execution_phase(m) in _HOLDS_SLOT
            and not (mutex_of(m) and grants_of(m).get("mutex") != mutex_of(m))
            and not (m.get("spec") or {}).get("cancel")
        ]
        free = max(0, limit - len(holders))
        for member in waiting[:free]:
            self._writes.transition(
                member, "SlotGranted", {"grants": {"slot": True}, "message": None}, event=False
            )
        message = f"waiting for a slot of function {function} (at most {limit} at once)"
        for member in waiting[free:]:
            if (member.get("status") or {}).get("message") != message:
                self._writes.transition(member, "WaitingForSlot", {"message": message}, event=False)
