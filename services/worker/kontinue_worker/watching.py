"""List-then-watch loops (a minimal informer) that feed the worker's caches and queues.

Invariant: after every (re)list, ``on_sync`` receives the complete current set, so a consumer
that missed events while the watch was down (410 Gone, a dropped connection) catches up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kontinue.client import _kube

log = logging.getLogger(__name__)

EventHandler = Callable[[str, dict[str, Any]], None]
SyncHandler = Callable[[list[dict[str, Any]]], None]


class Informer(threading.Thread):
    """Lists ``resource`` in ``namespace`` and follows it with a watch until ``stop`` is set."""

    def __init__(
        self,
        kube: _kube.Kube,
        resource: _kube.Resource,
        namespace: str | None,
        *,
        on_event: EventHandler,
        on_sync: SyncHandler | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        stop: threading.Event,
        name: str,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._kube = kube
        self._resource = resource
        self._namespace = namespace
        self._on_event = on_event
        self._on_sync = on_sync
        self._labels = label_selector
        self._fields = field_selector
        self._stopping = stop
        self.synced = threading.Event()

    def run(self) -> None:
        """List, then watch; list again after any failure."""
        while not self._stopping.is_set():
            try:
                listing = self._kube.list(
                    self._resource,
                    self._namespace,
                    label_selector=self._labels,
                    field_selector=self._fields,
                )
                items = listing.get("items") or []
                if self._on_sync is not None:
                    self._on_sync(items)
                else:
                    for item in items:
                        self._on_event("ADDED", item)
                self.synced.set()
                version = listing["metadata"]["resourceVersion"]
                while not self._stopping.is_set():
                    for event, obj in self._kube.watch(
                        self._resource,
                        self._namespace,
                        resource_version=version,
                        label_selector=self._labels,
                        field_selector=self._fields,
                        timeout_seconds=60,
                    ):
                        version = obj["metadata"].get("resourceVersion", version)
                        if event != "BOOKMARK":
                            self._on_event(event, obj)
                        if self._stopping.is_set():
                            return
            except _kube.Gone:
                continue
            except _kube.ApiError as exc:
                log.warning("watch of %s: %s; listing again", self.name, exc)
                self._stopping.wait(1.0)
            except Exception:  # noqa: BLE001 - keep watching whatever happens
                log.exception("watch of %s failed; listing again", self.name)
                self._stopping.wait(1.0)
