"""A watch-fed, in-memory index of Execution summaries: what the list pages read.

One :class:`~kontinue.client.Informer` per namespace in scope (or one cluster-wide) keeps it
current (a listing in pages of 500, then a watch), so listing, filtering, sorting and paginating
10,000 executions costs the API server nothing per page view. Only slim summaries are kept (an
execution page reads the full object from the API server). A watch that expires (410 Gone)
lists again and drops what was deleted meanwhile; a lost connection is retried with a growing
pause. Each UI process keeps its own cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kontinue.api import labels as kontinue_labels
from kontinue.api import worker_versions, workflow_labels
from kontinue.api.timestamps import parse_time
from kontinue.client import kubeapi
from kontinue.client.informer import DELETED, Informer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Summary:
    """What a list row shows of one Execution."""

    namespace: str
    name: str
    function: str
    phase: str
    message: str
    progress: tuple[float, float] | None
    created: datetime | None
    started: datetime | None
    finished: datetime | None
    labels: Mapping[str, str]
    """Search labels: the metadata labels with those the workflow set over them."""
    parent: str | None
    resource_version: str
    worker_group: str = "default"
    worker_version: str = ""
    """The worker version the execution is pinned to ("" when none yet)."""

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Summary:
        """The summary of an Execution object."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        progress = status.get("progress") or {}
        current = progress.get("current")
        own = meta.get("labels") or {}
        # the search labels: the workflow's own (status.labels) over the metadata's
        labels = workflow_labels.effective(obj)
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            function=str(spec.get("function", "")),
            phase=str(status.get("phase") or "Pending"),
            message=str(status.get("message") or ""),
            progress=(float(current), float(progress.get("max") or 0))
            if current is not None
            else None,
            # the SDK's microsecond creation annotation orders executions created in one second
            created=parse_time((meta.get("annotations") or {}).get(kontinue_labels.CREATED))
            or parse_time(meta.get("creationTimestamp")),
            started=parse_time(status.get("startedAt")),
            finished=parse_time(status.get("finishedAt")),
            labels=labels,
            parent=own.get(kontinue_labels.PARENT),
            resource_version=str(meta.get("resourceVersion", "")),
            worker_group=str(spec.get("workerGroup") or "default"),
            worker_version=worker_versions.recorded(obj) or "",
        )


class ExecutionCache:
    """Summaries of every Execution in scope, kept current by watches.

    Args:
        kube: the API client (the UI's own identity).
        namespaces: the namespaces to watch; None watches the whole cluster.
    """

    def __init__(self, kube: kubeapi.Kube, namespaces: tuple[str, ...] | None) -> None:
        self._kube = kube
        self._scopes: tuple[str | None, ...] = namespaces if namespaces else (None,)
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], Summary] = {}
        self._children: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._stopping = threading.Event()
        self._informers: list[Informer[Summary]] = [
            Informer(
                kube,
                kubeapi.EXECUTIONS,
                scope,
                transform=Summary.of,
                on_event=self._apply,
                stop=self._stopping,
                name=f"cache-{scope or 'all'}",
                watch_timeout=240,
            )
            for scope in self._scopes
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start following every scope."""
        for informer in self._informers:
            informer.start()

    def stop(self) -> None:
        """Stop following (blocked watches are shut down)."""
        for informer in self._informers:
            informer.stop()

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until every scope has been listed once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for informer in self._informers:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not informer.synced.wait(left):
                return False
        return True

    @property
    def synced(self) -> bool:
        """True once every scope has been listed."""
        return all(informer.synced.is_set() for informer in self._informers)

    @property
    def error(self) -> str | None:
        """The last failure of a scope's listing or watch, until it recovers."""
        return next((i.error for i in self._informers if i.error), None)

    # -- reads -------------------------------------------------------------------------------

    def snapshot(self) -> list[Summary]:
        """Every summary now (a copy of the references; summaries are immutable)."""
        with self._lock:
            return list(self._items.values())

    def get(self, namespace: str, name: str) -> Summary | None:
        """One summary, or None."""
        with self._lock:
            return self._items.get((namespace, name))

    def children(self, namespace: str, name: str) -> list[Summary]:
        """The summaries of an execution's direct children."""
        with self._lock:
            names = self._children.get((namespace, name), set())
            return [s for n in names if (s := self._items.get((namespace, n))) is not None]

    def functions(self) -> list[str]:
        """The distinct function names among the cached executions (for the filter menu)."""
        with self._lock:
            return sorted({s.function for s in self._items.values()})

    # -- what the informers report -------------------------------------------------------------

    def _apply(self, event: str, summary: Summary) -> None:
        key = (summary.namespace, summary.name)
        with self._lock:
            if event == DELETED:
                self._forget(key)
            else:
                self._store(summary)

    def _store(self, summary: Summary) -> None:
        key = (summary.namespace, summary.name)
        previous = self._items.get(key)
        if previous is not None and previous.parent and previous.parent != summary.parent:
            self._children[(summary.namespace, previous.parent)].discard(summary.name)
        self._items[key] = summary
        if summary.parent:
            self._children[(summary.namespace, summary.parent)].add(summary.name)

    def _forget(self, key: tuple[str, str]) -> None:
        previous = self._items.pop(key, None)
        if previous is not None and previous.parent:
            siblings = self._children.get((key[0], previous.parent))
            if siblings is not None:
                siblings.discard(key[1])
                if not siblings:
                    del self._children[(key[0], previous.parent)]
