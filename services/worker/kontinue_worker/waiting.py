r"""WaitHub: watch-fed caches of child Executions, Suspensions, Jobs and Signals; waiting on them.

Signals (events sent to an execution) are filed under the execution their label names: a wait
for an event waits on the key ``("Signal", namespace, execution)``, which every new Signal of
that execution changes. Steps that wait (a child, a sleep, a suspension, an event) block in
:meth:`WaitHub.wait` until the watch reports a change of one of the objects they wait on, the
hold time passes, or the execution is canceled: no polling. The caches are fed by
:class:`~kontinue.client.Informer`\ s, so an object deleted while a watch was down leaves the
cache at the next listing (and wakes its waiters).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from kontinue.api import labels
from kontinue.api.versions import resource_version
from kontinue.client import kubeapi
from kontinue.client.informer import Informer

Key = tuple[str, str, str]  # kind, namespace, name


class WaitHub:
    """Caches the children and suspensions of one worker group."""

    def __init__(
        self,
        kube: kubeapi.Kube,
        namespaces: list[str | None],
        group: str,
        stop: threading.Event,
        *,
        jobs: bool = True,
    ) -> None:
        self._kube = kube
        self._namespaces = namespaces
        self._group = group
        self._stop = stop
        self._jobs = jobs
        self._cache: dict[Key, dict[str, Any]] = {}
        self._changes: dict[Key, int] = {}
        self._cond = threading.Condition()
        self.informers: list[Informer[dict[str, Any]]] = []
        self._signals: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        """(namespace, execution) -> the Signals labelled for it, by name."""
        self._signal_informers: dict[str | None, Informer[dict[str, Any]]] = {}

    def start(self) -> None:
        """Start the watches (children of the group's executions, its suspensions and Jobs)."""
        group = f"{labels.WORKER_GROUP}={self._group}"
        watched = [
            ("Execution", kubeapi.EXECUTIONS, f"{group},{labels.PARENT}"),
            ("Suspension", kubeapi.SUSPENSIONS, group),
            ("Signal", kubeapi.SIGNALS, group),
        ]
        if self._jobs:
            watched.append(("Job", kubeapi.JOBS, group))
        for namespace in self._namespaces:
            for kind, resource, selector in watched:
                informer: Informer[dict[str, Any]] = Informer(
                    self._kube,
                    resource,
                    namespace,
                    label_selector=selector,
                    stop=self._stop,
                    on_event=functools.partial(self._event, kind),
                    name=f"hub-{kind.lower()}-{namespace or '*'}",
                )
                self.informers.append(informer.start())
                if kind == "Signal":
                    self._signal_informers[namespace] = informer

    @property
    def jobs(self) -> bool:
        """Whether this worker runs Job steps (and so watches Jobs)."""
        return self._jobs

    def _event(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        if kind == "Signal":
            self._signal_event(event, obj)
            return
        key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        with self._cond:
            if event == "DELETED":
                self._cache.pop(key, None)
            else:
                cached = self._cache.get(key)
                if cached is not None and resource_version(cached) > resource_version(obj):
                    return
                self._cache[key] = obj
            self._changes[key] = self._changes.get(key, 0) + 1
            self._cond.notify_all()

    def _signal_event(self, event: str, obj: dict[str, Any]) -> None:
        """A Signal changed: file it under its execution; wake that execution's event waits."""
        meta = obj["metadata"]
        execution = (meta.get("labels") or {}).get(labels.PARENT)
        if not execution:
            return
        key = ("Signal", meta["namespace"], execution)
        with self._cond:
            held = self._signals.setdefault((meta["namespace"], execution), {})
            if event == "DELETED":
                held.pop(meta["name"], None)
                if not held:
                    del self._signals[(meta["namespace"], execution)]
            else:
                held[meta["name"]] = obj
            self._changes[key] = self._changes.get(key, 0) + 1
            self._cond.notify_all()

    def signals(self, namespace: str, execution: str) -> list[dict[str, Any]] | None:
        """The Signals labelled for ``execution``; None until the watch listed them once."""
        informer = self._signal_informers.get(namespace) or self._signal_informers.get(None)
        if informer is None or not informer.synced.is_set():
            return None
        with self._cond:
            return list(self._signals.get((namespace, execution), {}).values())

    def observe(self, kind: str, obj: dict[str, Any]) -> None:
        """Feed an object this worker read or wrote itself (newer versions win)."""
        self._event(kind, "MODIFIED", obj)

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The cached object, if the watch (or this worker) has seen it."""
        with self._cond:
            return self._cache.get((kind, namespace, name))

    def changes(self, key: Key) -> int:
        """How many changes of ``key`` this hub has seen: a mark for a later :meth:`wait`."""
        with self._cond:
            return self._changes.get(key, 0)

    def wait(
        self,
        keys: list[Key],
        timeout: float,
        canceled: threading.Event,
        since: list[int] | None = None,
    ) -> None:
        """Block until one of ``keys`` changes, ``timeout`` passes or ``canceled`` is set.

        ``since`` holds each key's :meth:`changes` from when its state was last read: a change
        that came between that read and this call ends the wait at once instead of being
        missed (without it, only changes after this call count).
        """
        with self._cond:
            seen = since if since is not None else [self._changes.get(k, 0) for k in keys]
            self._cond.wait_for(
                lambda: (
                    canceled.is_set()
                    or self._stop.is_set()
                    or [self._changes.get(k, 0) for k in keys] != seen
                ),
                timeout=max(0.0, timeout),
            )

    def notify_all(self) -> None:
        """Wake every waiter (cancellation, shutdown)."""
        with self._cond:
            self._cond.notify_all()
