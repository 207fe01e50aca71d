"""kopf wiring: watch events of the kontinue resources and worker Leases feed the Timekeeper.

Only ``on.event`` handlers are registered: kopf then keeps no progress or diff-base
annotations and adds no finalizers, so the controller adds no bookkeeping writes to any object
(the design's write budget). kopf's own event posting is off; the Timekeeper posts its Events.

Every event reaches the controller, so what kopf does per event is its CPU floor. Two things
kopf would do for each one serve nothing here and are turned off: the handlers are coroutines
(they only update the in-memory view and arm timers, never wait on the network, so a hop
through a thread pool per event cost more than the handler), and the "essence" kopf builds to
detect changes for change handlers (a deep copy of the whole object) is not built.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
from typing import Any

import kopf

from kontinue.api import group, labels
from kontinue_controller.timekeeping import Timekeeper


def _in_cluster(info: kopf.ConnectionInfo | None) -> kopf.ConnectionInfo | None:
    """A service-account login addressed as client-go addresses it in a pod.

    That is the ``kubernetes`` Service's ``KUBERNETES_SERVICE_HOST`` and ``_PORT``, not its DNS
    name (which needs cluster DNS, and which kopf's own in-cluster login uses).
    """
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT")
    if info is None or not host or not port:
        return info
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a name
    return dataclasses.replace(info, server=f"https://{host}:{port}")


class NoDiffBase(kopf.DiffBaseStorage):
    """A diff-base storage that keeps and builds nothing: there are no change handlers.

    kopf builds each event's "essence" (a deep copy of the object, status left out) to find
    what changed for ``on.create``/``on.update`` handlers; with ``on.event`` handlers only, it
    is thrown away (it took 8 % of the controller's CPU while 5,000 sleeps came due).
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        """An empty essence: nothing is compared."""
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        """Nothing was stored."""
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Store nothing (kopf calls this only for change handlers)."""


LIST_PAGE_SIZE = 500
"""Objects per LIST request of kopf's initial listings (the resync's pages are the same size)."""


def build_registry(timekeeper: Timekeeper) -> kopf.OperatorRegistry:
    """A kopf registry whose handlers feed ``timekeeper``."""
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False
        # the watched resources are fixed and the namespaces named exactly: no need to list
        # and watch CustomResourceDefinitions and Namespaces (cluster-scope rights in RBAC)
        settings.scanning.disabled = True
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 60
        settings.execution.max_workers = 8
        # handlers only update the in-memory view: no need to wait for more events of the same
        # object, nor to keep an idle per-object worker around for long
        settings.batching.batch_window = 0.01
        settings.batching.idle_timeout = 1.0
        # list in pages: one LIST of every stored execution decodes them all at once, and the
        # heap that peak leaves behind stays (pages of 500 cut the controller's memory with
        # 10,000 executions stored from 181 to 117 MiB)
        settings.watching.chunk_size = LIST_PAGE_SIZE
        settings.persistence.diffbase_storage = NoDiffBase()
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs) or _in_cluster(
            kopf.login_with_service_account(**kwargs)
        )

    @kopf.on.event(group.GROUP, group.VERSION, group.EXECUTION.plural, registry=registry)
    async def execution_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_execution(type, dict(body))

    @kopf.on.event(group.GROUP, group.VERSION, group.SUSPENSION.plural, registry=registry)
    async def suspension_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_suspension(type, dict(body))

    @kopf.on.event(group.GROUP, group.VERSION, group.SIGNAL.plural, registry=registry)
    async def signal_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_signal(type, dict(body))

    @kopf.on.event(group.GROUP, group.VERSION, group.SCHEDULED_EXECUTION.plural, registry=registry)
    async def schedule_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_schedule(type, dict(body))

    @kopf.on.event(group.GROUP, group.VERSION, group.ARCHIVED_EXECUTION.plural, registry=registry)
    async def archive_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_archive(type, dict(body))

    @kopf.on.event(group.GROUP, group.VERSION, group.FUNCTION.plural, registry=registry)
    async def function_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_function(type, dict(body))

    @kopf.on.event("batch", "v1", "jobs", registry=registry, labels={labels.PARENT: kopf.PRESENT})
    async def job_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_job(type, dict(body))

    @kopf.on.event(
        "coordination.k8s.io",
        "v1",
        "leases",
        registry=registry,
        labels={labels.WORKER_GROUP: kopf.PRESENT},
    )
    async def worker_lease_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        timekeeper.on_worker_lease(type, dict(body))

    return registry
