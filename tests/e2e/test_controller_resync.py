"""The controller's resync against the real API server: pages, pruning, newer copies kept."""

from __future__ import annotations

import threading
from typing import Any

from kontinue.client import Client
from kontinue.client.kubeapi import EXECUTIONS
from kontinue_controller.assembly import assemble
from kontinue_controller.resync import Resync
from kontinue_testkit.pytest_plugin import TestCluster


def _planted(namespace: str, name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name, "resourceVersion": version},
        "spec": {"function": "f"},
        "status": {"phase": "Completed"},
    }


def test_a_resync_in_pages_prunes_the_vanished_and_keeps_newer_copies(
    kube_cluster: TestCluster, namespace: str
) -> None:
    client = Client(namespace=namespace, kubeconfig=str(kube_cluster.kubeconfig))
    names = [client.create_execution("f", name=f"item-{i}")["metadata"]["name"] for i in range(7)]
    stop = threading.Event()
    timekeeper = assemble(client.kube, stop, identity="resync-test")  # timers never started
    view = timekeeper.view
    # what a lost DELETED event leaves behind, and a copy newer than any listing
    view.remember("Execution", None, _planted(namespace, "deleted-while-away", "1"))
    newer = _planted(namespace, "item-0", str(10**12))
    view.remember("Execution", None, newer)
    pages: list[int] = []
    listing = client.kube.list

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        page = listing(*args, **kwargs)
        pages.append(len(page.get("items") or []))
        return page

    client.kube.list = counted  # type: ignore[method-assign]
    resync = Resync(client.kube, timekeeper, [namespace], stop, page_size=3)
    resync.resync_once()
    stop.set()
    assert pages[:3] == [3, 3, 1]  # the executions, in pages of 3
    assert view.cached("Execution", namespace, "deleted-while-away") is None
    kept = view.cached("Execution", namespace, "item-0")
    assert kept is not None
    assert kept["metadata"]["resourceVersion"] == str(10**12)
    for name in names[1:]:
        cached = view.cached("Execution", namespace, name)
        assert cached is not None
        assert (
            cached["metadata"]["resourceVersion"] == client.get(name)["metadata"]["resourceVersion"]
        )
    client.kube.delete(EXECUTIONS, namespace, "item-6")  # while no watch runs
    resync.resync_once()
    assert view.cached("Execution", namespace, "item-6") is None
    assert resync.passes == 2
