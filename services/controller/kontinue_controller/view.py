"""The controller's view: a slim copy of each object it follows, indexed by parent.

Watch events (and the resync's listings) feed it; the duties read it instead of the API server
where a slightly stale answer is safe (every write is conditional on the resourceVersion seen,
so a stale view can only cause a refused write). It keeps no step log, stored values or result
(:func:`~kontinue.api.slim.slim`), and indexes children, suspensions and Jobs by their parent
execution, so a cancellation finds a tree without a listing.
"""

from __future__ import annotations

import threading
from typing import Any

from kontinue.api import labels
from kontinue.api.slim import slim
from kontinue_controller.keys import Key


class ObjectView:
    """Slim copies of the followed objects; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[Key, dict[str, Any]] = {}
        self._owned: dict[Key, set[str]] = {}  # (kind, namespace, parent) -> names

    def remember(self, kind: str, event: str | None, obj: dict[str, Any]) -> Key:
        """Take in an event of ``obj`` (a ``DELETED`` one forgets it); return its key."""
        meta = obj["metadata"]
        key = (kind, meta["namespace"], meta["name"])
        parent = (meta.get("labels") or {}).get(labels.PARENT)
        with self._lock:
            if event == "DELETED":
                self._objects.pop(key, None)
                if parent:
                    self._owned.get((kind, key[1], parent), set()).discard(key[2])
                    if not self._owned.get((kind, key[1], parent), True):
                        del self._owned[(kind, key[1], parent)]
                if kind == "Execution":
                    for owned_kind in ("Execution", "Suspension", "Job", "Signal"):
                        self._owned.pop((owned_kind, key[1], key[2]), None)
            else:
                self._objects[key] = slim(obj)
                if parent:
                    self._owned.setdefault((kind, key[1], parent), set()).add(key[2])
        return key

    def advance(self, kind: str, base_version: str, obj: dict[str, Any]) -> bool:
        """Take in the answer to the controller's own write of an object; True if taken.

        The copy is replaced only if it is still the one the write was based on (its
        ``resourceVersion`` is ``base_version``): if a watch event brought a newer state
        meanwhile, that state stays, and the write's own event comes later anyway. So a duty
        that acts on its write at once cannot move the view back in time.
        """
        meta = obj["metadata"]
        key = (kind, meta["namespace"], meta["name"])
        with self._lock:
            current = self._objects.get(key)
            if current is None or current["metadata"].get("resourceVersion") != base_version:
                return False
            self._objects[key] = slim(obj)
        return True

    def cached(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The view's copy of an object (slim), if it has one."""
        with self._lock:
            return self._objects.get((kind, namespace, name))

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind`` in the view (slim copies)."""
        with self._lock:
            return [obj for (k, _, _), obj in self._objects.items() if k == kind]

    def owned(self, kind: str, namespace: str, parent: str) -> list[dict[str, Any]]:
        """The view's children (``Execution``), suspensions, Jobs or Signals of ``parent``."""
        with self._lock:
            names = list(self._owned.get((kind, namespace, parent), ()))
            found = [self._objects.get((kind, namespace, n)) for n in names]
        return [o for o in found if o is not None]
