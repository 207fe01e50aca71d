"""Informer: a local copy of one collection kept current by list-then-watch.

Every long-lived reader of the API (the worker's queues and caches, the UI's list, the CLI's
waits and the benchmarks) follows a collection the same way, so it is written once here, after
client-go's reflector:

- a paged LIST (``page_size`` objects per request), then a WATCH from the listing's
  resourceVersion with bookmarks, resumed from the last version seen whenever it ends;
- 410 Gone (the version is too old) lists again at once; the objects that vanished meanwhile
  are reported as DELETED, so a relist never leaves a deleted object behind (pruning);
- any other failure pauses with a growing, jittered backoff (capped), then resumes;
- ``stop`` ends it promptly, also while a watch request is blocked on the network.

Consumers get ``(type, item)`` calls for ADDED, MODIFIED and DELETED in the order the API server
reported them; a relist reports only what changed. ``transform`` turns each object into what
the consumer keeps (a slim summary instead of the whole object), and :meth:`get`/:meth:`items`
read the informer's own store of those. A handler that raises is logged and skipped: one bad
object never stops the stream.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kontinue.client import kubeapi

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str]  # namespace, name

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def object_key(obj: dict[str, Any]) -> Key:
    """The store key of an object: its namespace (empty when cluster-scoped) and name."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _identity(obj: dict[str, Any]) -> Any:
    return obj


class Informer(Generic[T]):
    """Follows ``resource`` in ``namespace`` (None: every namespace) until :meth:`stop`.

    Args:
        kube: the API client.
        resource: the collection.
        namespace: the namespace, or None for the whole cluster.
        on_event: called with ``(type, item)`` for every change, on the informer's thread.
        transform: what to keep of each object (default: the object itself).
        label_selector: a label selector for the list and the watch.
        field_selector: a field selector for the list and the watch.
        on_synced: called after every complete (re)list, once its changes were reported.
        name: the thread's name (for logs).
        stop: an event that stops the informer when set (default: its own).
        page_size: objects per LIST request.
        watch_timeout: seconds a single WATCH request lasts before it is renewed.
        max_backoff: the longest pause between retries after failures.
    """

    def __init__(
        self,
        kube: kubeapi.Kube,
        resource: kubeapi.Resource,
        namespace: str | None,
        *,
        on_event: Callable[[str, T], None] | None = None,
        transform: Callable[[dict[str, Any]], T] = _identity,
        label_selector: str | None = None,
        field_selector: str | None = None,
        on_synced: Callable[[], None] | None = None,
        name: str = "informer",
        stop: threading.Event | None = None,
        page_size: int = 500,
        watch_timeout: int = 300,
        max_backoff: float = 30.0,
    ) -> None:
        self._kube = kube
        self._resource = resource
        self._namespace = namespace
        self._on_event = on_event
        self._transform = transform
        self._labels = label_selector
        self._fields = field_selector
        self._on_synced = on_synced
        self.name = name
        self._stopping = stop if stop is not None else threading.Event()
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._store: dict[Key, tuple[str, T]] = {}
        self._response: Any = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()
        """Set once the first listing was reported."""
        self.relists = 0
        """Listings done so far (the first included)."""
        self.error: str | None = None
        """The last failure, until the next successful request."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Informer[T]:
        """Start following the collection on a daemon thread; returns the informer."""
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following (a blocked watch request is shut down)."""
        self._stopping.set()
        response = self._response
        if response is not None:
            try:
                response.shutdown()
            except Exception:  # noqa: BLE001,S110 - it may be closing on its own already
                pass

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called (or the shared stop event set)."""
        return self._stopping.is_set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the store -----------------------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> T | None:
        """The kept item of one object, or None."""
        with self._lock:
            entry = self._store.get((namespace or "", name))
        return None if entry is None else entry[1]

    def items(self) -> list[T]:
        """Every kept item."""
        with self._lock:
            return [item for _, item in self._store.values()]

    def keys(self) -> list[Key]:
        """Every kept object's key."""
        with self._lock:
            return list(self._store)

    # -- following -----------------------------------------------------------------------------

    def run(self) -> None:
        """List, then watch; list again after 410; back off after failures. Until stopped."""
        backoff = kubeapi.Backoff(first=0.5, cap=self._max_backoff)
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._relist()
                    backoff.reset()
                version = self._watch(version)
                self.error = None
                backoff.reset()
            except kubeapi.Gone:
                version = None  # too old: list again at once
            except (kubeapi.Unreachable, kubeapi.ServerError) as exc:
                self._failed(exc, backoff)  # resume the watch where it was
            except kubeapi.ApiError as exc:
                version = None
                self._failed(exc, backoff)
            except Exception as exc:  # noqa: BLE001 - an informer never dies
                log.exception("informer %s failed; listing again", self.name)
                version = None
                self._failed(exc, backoff)

    def _failed(self, exc: BaseException, backoff: kubeapi.Backoff) -> None:
        self.error = str(exc)
        if not self._stopping.is_set():
            log.warning("informer %s: %s; retrying", self.name, exc)
            backoff.sleep(self._stopping)

    def _relist(self) -> str:
        """List every page, report the differences with the store, return the version.

        Each page is transformed as it arrives and only what the store keeps is held (nothing
        for an object whose version the store has already): a relist never holds every
        object whole at once.
        """
        listed: dict[Key, tuple[str, T] | None] = {}  # None: unchanged since the store's copy
        token: str | None = None
        while True:
            page = self._kube.list(
                self._resource,
                self._namespace,
                label_selector=self._labels,
                field_selector=self._fields,
                limit=self._page_size,
                continue_token=token,
            )
            for obj in page.get("items") or []:
                key, version = object_key(obj), _version(obj)
                with self._lock:
                    previous = self._store.get(key)
                if previous is not None and previous[0] == version:
                    listed[key] = None
                    continue
                kept = self._transformed(key, obj)  # unreadable: the store's copy stays
                listed[key] = None if kept is None else (version, kept[0])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                version = str((page.get("metadata") or {}).get("resourceVersion") or "")
                break
        with self._lock:
            vanished = [(k, item) for k, (_, item) in self._store.items() if k not in listed]
            for key, _ in vanished:
                del self._store[key]
        for _, item in vanished:
            self._deliver(DELETED, item)
        for key, entry in listed.items():
            if entry is None:
                continue
            with self._lock:
                known = key in self._store
                self._store[key] = entry
            self._deliver(MODIFIED if known else ADDED, entry[1])
        self.relists += 1
        self.synced.set()
        if self._on_synced is not None:
            try:
                self._on_synced()
            except Exception:  # noqa: BLE001
                log.exception("informer %s: the sync handler failed", self.name)
        return version

    def _watch(self, version: str) -> str:
        """Follow one WATCH request from ``version``; return the last version seen."""
        for event, obj in self._kube.watch(
            self._resource,
            self._namespace,
            resource_version=version,
            label_selector=self._labels,
            field_selector=self._fields,
            timeout_seconds=self._watch_timeout,
            on_open=self._opened,
        ):
            version = _version(obj) or version
            if event in (ADDED, MODIFIED, DELETED):
                self._apply(event, object_key(obj), version, obj)
            if self._stopping.is_set():
                break
        self._response = None
        return version

    def _opened(self, response: Any) -> None:
        self._response = response
        if self._stopping.is_set():
            response.shutdown()

    def _transformed(self, key: Key, obj: dict[str, Any]) -> tuple[T] | None:
        """``(transform(obj),)``, or None (logged) when the transform fails."""
        try:
            return (self._transform(obj),)
        except Exception:  # noqa: BLE001 - one bad object never stops the stream
            log.exception("informer %s: cannot read %s/%s; skipped", self.name, *key)
            return None

    def _apply(self, event: str, key: Key, version: str, obj: dict[str, Any]) -> None:
        transformed = self._transformed(key, obj)
        if transformed is None:
            return
        item = transformed[0]
        with self._lock:
            if event == DELETED:
                self._store.pop(key, None)
            else:
                self._store[key] = (version, item)
        self._deliver(event, item)

    def _deliver(self, event: str, item: T) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event, item)
        except Exception:  # noqa: BLE001 - one bad object never stops the stream
            log.exception("informer %s: the %s handler failed; skipped", self.name, event)


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
