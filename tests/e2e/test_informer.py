"""The sdk's Informer against the real API server: pages, pruning on relist, prompt stop."""

from __future__ import annotations

import threading
import time
from typing import Any

from kontinue.client import Client, Informer
from kontinue.client.kubeapi import EXECUTIONS
from kontinue_testkit.pytest_plugin import TestCluster, wait_for


def test_a_relist_reports_what_vanished_and_lists_in_pages(
    kube_cluster: TestCluster, namespace: str
) -> None:
    client = Client(namespace=namespace, kubeconfig=str(kube_cluster.kubeconfig))
    names = [client.create_execution("f", name=f"item-{i}")["metadata"]["name"] for i in range(5)]
    events: list[tuple[str, str]] = []
    informer: Informer[dict[str, Any]] = Informer(
        client.kube,
        EXECUTIONS,
        namespace,
        on_event=lambda event, obj: events.append((event, obj["metadata"]["name"])),
        page_size=2,
    )
    informer._relist()  # noqa: SLF001 - what a 410 Gone makes the running informer do
    assert sorted(events) == [("ADDED", n) for n in names]
    assert sorted(o["metadata"]["name"] for o in informer.items()) == names
    events.clear()
    client.kube.delete(EXECUTIONS, namespace, "item-2")  # while no watch runs
    client.kube.merge_patch(EXECUTIONS, namespace, "item-3", {"metadata": {"labels": {"x": "y"}}})
    informer._relist()  # noqa: SLF001
    assert sorted(events) == [("DELETED", "item-2"), ("MODIFIED", "item-3")]
    assert informer.get(namespace, "item-2") is None


def test_a_relist_transforms_only_what_changed_and_keeps_an_unreadable_copy(
    kube_cluster: TestCluster, namespace: str
) -> None:
    client = Client(namespace=namespace, kubeconfig=str(kube_cluster.kubeconfig))
    for i in range(5):
        client.create_execution("f", name=f"item-{i}")
    read: list[str] = []
    broken: set[str] = set()

    def transform(obj: dict[str, Any]) -> str:
        name = str(obj["metadata"]["name"])
        read.append(name)
        if name in broken:
            raise ValueError(name)
        return f"{name}@{obj['metadata']['resourceVersion']}"

    informer: Informer[str] = Informer(
        client.kube, EXECUTIONS, namespace, transform=transform, page_size=2
    )
    informer._relist()  # noqa: SLF001
    assert sorted(read) == [f"item-{i}" for i in range(5)]
    first = informer.get(namespace, "item-1")
    read.clear()
    for name in ("item-1", "item-4"):
        client.kube.merge_patch(EXECUTIONS, namespace, name, {"metadata": {"labels": {"x": "y"}}})
    broken.add("item-1")
    informer._relist()  # noqa: SLF001
    assert sorted(read) == ["item-1", "item-4"]  # the three unchanged ones are not read again
    assert informer.get(namespace, "item-1") == first  # unreadable now: the last copy stays
    changed = informer.get(namespace, "item-4")
    assert changed is not None
    assert changed.endswith(client.get("item-4")["metadata"]["resourceVersion"])


def test_the_watch_follows_changes_and_stop_ends_it_at_once(
    kube_cluster: TestCluster, namespace: str
) -> None:
    client = Client(namespace=namespace, kubeconfig=str(kube_cluster.kubeconfig))
    seen: list[tuple[str, str]] = []
    informer: Informer[str] = Informer(
        client.kube,
        EXECUTIONS,
        namespace,
        transform=lambda obj: str(obj["metadata"]["name"]),
        on_event=lambda event, name: seen.append((event, name)),
        watch_timeout=300,
    ).start()
    assert informer.synced.wait(30)
    client.create_execution("f", name="later")
    wait_for("the ADDED event", lambda: ("ADDED", "later") in seen, timeout=30)
    client.kube.delete(EXECUTIONS, namespace, "later")
    wait_for("the DELETED event", lambda: ("DELETED", "later") in seen, timeout=30)
    assert informer.items() == []
    started = time.monotonic()
    informer.stop()  # its watch request is blocked for up to 300 s
    informer.join(timeout=10)
    assert time.monotonic() - started < 5
    assert not any(t.name == informer.name for t in threading.enumerate())
