"""A watch-fed, in-memory index of Execution summaries: what the list pages read.

One listing (in pages of 500) and then one watch per namespace in scope (or one cluster-wide)
keep it current, so listing, filtering, sorting and paginating 10,000 executions costs the API
server nothing per page view. Only slim summaries are kept (an execution page reads the full
object from the API server). A watch that expires (410 Gone) lists again; a lost connection is
retried with a growing pause. Each UI process keeps its own cache.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kontinue.api import labels as kontinue_labels
from kontinue.api.timestamps import parse_time
from kontinue.client import _kube

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
    parent: str | None
    resource_version: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Summary:
        """The summary of an Execution object."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        progress = status.get("progress") or {}
        current = progress.get("current")
        labels = dict(meta.get("labels") or {})
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
            parent=labels.get(kontinue_labels.PARENT),
            resource_version=str(meta.get("resourceVersion", "")),
        )


class ExecutionCache:
    """Summaries of every Execution in scope, kept current by watches.

    Args:
        kube: the API client (the UI's own identity).
        namespaces: the namespaces to watch; None watches the whole cluster.
    """

    def __init__(self, kube: _kube.Kube, namespaces: tuple[str, ...] | None) -> None:
        self._kube = kube
        self._scopes: tuple[str | None, ...] = namespaces if namespaces else (None,)
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], Summary] = {}
        self._children: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._synced_scopes: set[str | None] = set()
        self._synced = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start one list-then-watch thread per scope."""
        for scope in self._scopes:
            thread = threading.Thread(
                target=self._run, args=(scope,), name=f"cache-{scope or 'all'}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Ask the watch threads to end (they notice within the watch timeout)."""
        self._stopping.set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until every scope has been listed once."""
        return self._synced.wait(timeout)

    @property
    def synced(self) -> bool:
        """True once every scope has been listed."""
        return self._synced.is_set()

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

    # -- the watch loop ----------------------------------------------------------------------

    def _run(self, scope: str | None) -> None:
        pause = 0.5
        while not self._stopping.is_set():
            try:
                version = self._relist(scope)
                self.error = None
                pause = 0.5
                while not self._stopping.is_set():
                    for event, obj in self._kube.watch(
                        _kube.EXECUTIONS, scope, resource_version=version, timeout_seconds=240
                    ):
                        version = obj["metadata"].get("resourceVersion", version)
                        if event != "BOOKMARK":
                            self._apply(event, obj)
            except _kube.Gone:
                continue  # too old: list again at once
            except (_kube.ApiError, _kube.Unreachable) as exc:
                self.error = str(exc)
                log.warning("execution watch (%s) failed, retrying: %s", scope or "all", exc)
                self._stopping.wait(pause)
                pause = min(pause * 2, 30.0)
            except Exception:  # never let the cache thread die silently
                log.exception("execution cache (%s) failed, retrying", scope or "all")
                self._stopping.wait(pause)
                pause = min(pause * 2, 30.0)

    def _relist(self, scope: str | None) -> str:
        seen: dict[tuple[str, str], Summary] = {}
        token: str | None = None
        while True:
            page = self._kube.list(_kube.EXECUTIONS, scope, limit=500, continue_token=token)
            for obj in page.get("items") or []:
                summary = Summary.of(obj)
                seen[(summary.namespace, summary.name)] = summary
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                version = str(page["metadata"]["resourceVersion"])
                break
        with self._lock:
            for key in [k for k in self._items if scope is None or k[0] == scope]:
                if key not in seen:
                    self._forget(key)
            for summary in seen.values():
                self._store(summary)
            self._synced_scopes.add(scope)
            if len(self._synced_scopes) == len(self._scopes):
                self._synced.set()
        return version

    def _apply(self, event: str, obj: Mapping[str, Any]) -> None:
        summary = Summary.of(obj)
        key = (summary.namespace, summary.name)
        with self._lock:
            if event == "DELETED":
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
