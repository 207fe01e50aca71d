"""One scenario, two places: the in-process WorkflowEnvironment and the real control plane.

A workflow with stores, a child, a sleep and an approval runs in the time-skipping environment
and on a real worker and controller; both must record the same steps (names, types, order) for
the parent and the child, and return the same result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from kontinue.client import Client, NotFound
from kontinue.testing import WorkflowEnvironment
from kontinue_testkit.pytest_plugin import TestCluster, wait_for

FLOWS = Path(__file__).parent / "workflows"
ARGUMENTS = {"n": 7}
APPROVAL = {"approved": True, "by": "ann"}
PARENT_STEPS = [
    ("order-id", "store"),
    ("quote", "execute"),
    ("sleep-1", "sleep"),
    ("approval", "suspend"),
    ("store-1", "store"),
]
CHILD_STEPS = [("store-1", "store")]
RESULT = {"order": "order-7", "total": 22, "approval": APPROVAL}


def _steps(execution: dict[str, Any]) -> list[tuple[str, str]]:
    raw = (execution.get("status") or {}).get("steps") or {}
    ordered = sorted(raw.items(), key=lambda item: int(item[1]["index"]))
    assert all(record.get("phase", "Completed") == "Completed" for _, record in ordered)
    return [(name, record["type"]) for name, record in ordered]


def _in_the_environment() -> tuple[dict[str, Any], dict[str, Any]]:
    if str(FLOWS) not in sys.path:
        sys.path.insert(0, str(FLOWS))
    env = WorkflowEnvironment(modules=["parity_flows"])
    run = env.start("parity-order", ARGUMENTS)
    assert [w.step for w in run.waiting] == []  # the sleep comes first
    env.advance("2s")
    assert [w.display_name for w in run.waiting] == ["Approve the order"]
    env.resume(run, "approval", APPROVAL)
    run.wait()
    return run.execution, run.child("quote").execution


def _on_the_cluster(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    cluster: TestCluster = request.getfixturevalue("kube_cluster")
    namespace: str = request.getfixturevalue("namespace")
    request.getfixturevalue("start_worker")("parity_flows", path=FLOWS)
    client = Client(namespace=namespace, kubeconfig=str(cluster.kubeconfig))
    name = client.create_execution("parity-order", ARGUMENTS)["metadata"]["name"]

    def approve() -> bool:
        try:
            client.resume_suspension(f"{name}--approval", APPROVAL)
        except NotFound:
            return False
        return True

    wait_for("the approval to wait", approve, timeout=90)
    done = client.wait(name, timeout=90)
    return done, client.get(f"{name}--quote")


@pytest.mark.parametrize("where", ["environment", "cluster"])
def test_the_environment_records_what_the_cluster_records(
    where: str, request: pytest.FixtureRequest
) -> None:
    if where == "environment":
        parent, child = _in_the_environment()
    else:
        parent, child = _on_the_cluster(request)

    assert parent["status"]["phase"] == "Completed"
    assert parent["status"]["result"] == RESULT
    assert _steps(parent) == PARENT_STEPS
    assert _steps(child) == CHILD_STEPS
    assert child["status"]["result"] == 21
    assert [a["phase"] for a in parent["status"]["attempts"]] == ["Completed"]
    assert parent["status"]["progress"]["current"] == 1


EVENT_STEPS = [("approve", "suspend"), ("event-1", "event")]
EVENT_RESULT = {"approval": "timed out", "event": {"go": 1}}


def _events_in_the_environment() -> dict[str, Any]:
    if str(FLOWS) not in sys.path:
        sys.path.insert(0, str(FLOWS))
    env = WorkflowEnvironment(modules=["parity_flows"])
    run = env.start("parity-events")
    [approval] = run.waiting
    assert approval.deadline is not None
    env.advance("3s")  # nobody approves: the deadline passes
    env.signal(run, "go", {"go": 1})
    run.wait()
    return run.execution


def _events_on_the_cluster(request: pytest.FixtureRequest) -> dict[str, Any]:
    cluster: TestCluster = request.getfixturevalue("kube_cluster")
    namespace: str = request.getfixturevalue("namespace")
    request.getfixturevalue("kontinue_controller")
    request.getfixturevalue("start_worker")("parity_flows", path=FLOWS)
    client = Client(namespace=namespace, kubeconfig=str(cluster.kubeconfig))
    name = client.create_execution("parity-events")["metadata"]["name"]
    client.signal(name, "go", {"go": 1})  # sent early: kept until the workflow waits for it
    return client.wait(name, timeout=90)


@pytest.mark.parametrize("where", ["environment", "cluster"])
def test_a_timed_out_approval_and_an_event_record_the_same_steps(
    where: str, request: pytest.FixtureRequest
) -> None:
    if where == "environment":
        execution = _events_in_the_environment()
    else:
        execution = _events_on_the_cluster(request)

    assert execution["status"]["phase"] == "Completed"
    assert execution["status"]["result"] == EVENT_RESULT
    assert _steps(execution) == EVENT_STEPS
