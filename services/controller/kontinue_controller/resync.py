"""Resync: the controller's view listed again from time to time, so no lost event lasts.

kopf's watches resume after a dropped connection and list again after 410 Gone, but a listing
reports only the objects that exist: one deleted while the watch was down stays in the view
(a child deleted by hand would keep its parent Suspended). Every ``interval`` seconds (and once
at start) the resync lists each kind the controller follows, hands every object to the view as
a listing would (timers are derived again from the objects, so a timer lost for any reason is
set again), and reports as DELETED what the view holds but the listing no longer has. An object
newer than the listing (created after it) is left alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kontinue.api import labels
from kontinue.api.versions import resource_version
from kontinue.client import kubeapi
from kontinue_controller.handlers import LIST_PAGE_SIZE
from kontinue_controller.timekeeping import Timekeeper

log = logging.getLogger(__name__)

Handler = Callable[[str | None, dict[str, Any]], None]


class Resync(threading.Thread):
    """Lists the view's kinds every ``interval`` seconds and reconciles the view with them."""

    def __init__(
        self,
        kube: kubeapi.Kube,
        timekeeper: Timekeeper,
        namespaces: list[str],
        stop: threading.Event,
        *,
        interval: float = 300.0,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        super().__init__(name="resync", daemon=True)
        self._kube = kube
        self._view = timekeeper.view
        self._scopes: list[str | None] = list(namespaces) or [None]
        self._stopping = stop
        self.interval = interval
        self._page_size = page_size
        self.passes = 0
        tk = timekeeper
        self._kinds: list[tuple[str, kubeapi.Resource, str | None, Handler]] = [
            ("Execution", kubeapi.EXECUTIONS, None, tk.on_execution),
            ("Suspension", kubeapi.SUSPENSIONS, None, tk.on_suspension),
            ("Signal", kubeapi.SIGNALS, labels.PARENT, tk.on_signal),
            ("Job", kubeapi.JOBS, labels.PARENT, tk.on_job),
            ("Lease", kubeapi.LEASES, labels.WORKER_GROUP, tk.on_worker_lease),
        ]

    def run(self) -> None:
        """Resync every ``interval`` seconds until stopped (kopf's own listing comes first)."""
        while not self._stopping.wait(self.interval):
            try:
                self.resync_once()
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("resync failed; trying again next time")

    def resync_once(self) -> None:
        """One pass over every kind and scope."""
        for kind, resource, selector, handler in self._kinds:
            for scope in self._scopes:
                self._resync(kind, resource, scope, selector, handler)
        self.passes += 1

    def _resync(
        self,
        kind: str,
        resource: kubeapi.Resource,
        scope: str | None,
        selector: str | None,
        handler: Handler,
    ) -> None:
        # each page is handed over as it comes, and only the keys it held are kept: a listing
        # of every stored object, whole, would be the controller's largest allocation
        seen: set[tuple[str, str]] = set()
        token: str | None = None
        while True:
            page = self._kube.list(
                resource,
                scope,
                label_selector=selector,
                limit=self._page_size,
                continue_token=token,
            )
            for obj in page.get("items") or []:
                key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
                seen.add(key)
                cached = self._view.cached(kind, *key)
                if cached is not None and resource_version(cached) > resource_version(obj):
                    continue  # the watch brought a newer version already
                handler(None, obj)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                version = int(page["metadata"].get("resourceVersion") or 0)
                break
        for obj in self._view.objects(kind):
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            if scope is not None and key[0] != scope:
                continue
            if key not in seen and resource_version(obj) <= version:
                log.info("resync: %s %s/%s is gone", kind, *key)
                handler("DELETED", obj)
