"""The executions this worker process holds: claimed or running, each under its claim counter.

One execution can be released (a wait past the hold), woken by the controller and claimed back
by this same process before the thread of its previous claim has unwound. Each claim therefore
lets go only of what it took itself: the later claim stays held (the reconciler, which hands
back executions recorded under this pod that no claim holds, leaves it alone) and its journal
keeps receiving the execution's events.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar

Key = tuple[str, str]
"""An execution's namespace and name."""


class Claimed(Protocol):
    """What runs a claim (the worker's journal): it knows its claim counter."""

    @property
    def claim(self) -> int:
        """The claim counter it writes under."""
        ...


J = TypeVar("J", bound=Claimed)


class Holdings(Generic[J]):
    """Held executions and the journals running them; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Key, int] = {}
        self._running: dict[Key, J] = {}

    def take(self, key: Key, claim: int) -> None:
        """Hold ``key`` under ``claim`` (before the claim is written: never an unheld gap).

        A claim counter only grows: an earlier claim never replaces a later one.
        """
        with self._lock:
            if claim >= self._held.get(key, 0):
                self._held[key] = claim

    def run(self, key: Key, journal: J) -> bool:
        """Let ``journal`` run ``key``; False when a later claim holds it (this one is stale)."""
        with self._lock:
            if self._held.get(key) != journal.claim:
                return False
            self._running[key] = journal
            return True

    def let_go(self, key: Key, claim: int) -> None:
        """Forget ``key`` unless a later claim has taken it since."""
        with self._lock:
            if self._held.get(key) == claim:
                del self._held[key]
            journal = self._running.get(key)
            if journal is not None and journal.claim == claim:
                del self._running[key]

    def holds(self, key: Key) -> bool:
        """Whether a claim of this process holds ``key``."""
        with self._lock:
            return key in self._held

    def journal(self, key: Key) -> J | None:
        """The journal running ``key``, if one does."""
        with self._lock:
            return self._running.get(key)

    def journals(self) -> list[J]:
        """Every running journal."""
        with self._lock:
            return list(self._running.values())
