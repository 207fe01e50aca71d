"""Objects a step would create, created first by someone else, are never adopted.

A namespace user may create objects under the names kontinue derives for a step's child
Execution, Job, Suspension or journal chunk. Whether they leave the owner out or copy the
execution's uid into it, the step fails with a message naming the object; the workflow never
runs against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kontinue.api import names
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import Client, kubeapi
from kontinue_testkit.pytest_plugin import StartWorker, TestCluster, wait_for

FLOWS = Path(__file__).parent / "workflows"


def _owned(uid: str, parent: str) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "kontinue.cloud/v1alpha1", "kind": "Execution", "name": parent,
         "uid": uid, "controller": True}
    ]  # fmt: skip


def _parent(client: Client, function: str, name: str, args: Any = None) -> str:
    """Create the execution first (no worker runs yet), so a squatter can copy its uid."""
    return str(client.create_execution(function, args, name=name)["metadata"]["uid"])


def _failed_with(client: Client, name: str, *fragments: str) -> dict[str, Any]:
    done = client.wait(name, timeout=90)["status"]
    assert done["phase"] == "Failed", done
    for fragment in fragments:
        assert fragment in done["error"]["message"], done["error"]["message"]
    assert done["error"]["retryable"] is False
    return dict(done)


@pytest.mark.parametrize("copy_owner", [False, True], ids=["no-owner", "copied-owner"])
def test_a_squatted_child_execution_is_not_adopted(
    client: Client, start_worker: StartWorker, copy_owner: bool
) -> None:
    uid = _parent(client, "builds-a-child", "parent")
    squatter = names.child_name("parent", "build")
    manifest: dict[str, Any] = {
        "apiVersion": "kontinue.cloud/v1alpha1", "kind": "Execution",
        "metadata": {"name": squatter},
        "spec": {"function": "echo-back", "arguments": {"ok": False, "injected": True},
                 "parent": {"name": "parent", "uid": uid, "step": "build"}, "root": "parent"},
    }  # fmt: skip
    if copy_owner:
        manifest["metadata"]["ownerReferences"] = _owned(uid, "parent")
    client.kube.create(kubeapi.EXECUTIONS, client.namespace, manifest)
    start_worker("adoption_flows", path=FLOWS)
    why = "was not created by this execution" if not copy_owner else "its spec differs"
    done = _failed_with(client, "parent", squatter, why)
    assert "result" not in done  # its result never reached the parent


@pytest.mark.parametrize("copy_owner", [False, True], ids=["no-owner", "copied-owner"])
def test_a_squatted_job_is_not_adopted(
    client: Client, start_worker: StartWorker, copy_owner: bool
) -> None:
    uid = _parent(client, "runs-a-pod", "pods")
    squatter = names.child_name("pods", "pod")
    job: dict[str, Any] = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": squatter},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "attacker/tool:1", "command": ["steal"]}],
        }}},
    }  # fmt: skip
    if copy_owner:
        job["metadata"]["ownerReferences"] = _owned(uid, "pods")
    client.kube.create(kubeapi.JOBS, client.namespace, job)
    start_worker("adoption_flows", path=FLOWS)
    _failed_with(client, "pods", f"Job named {squatter}" if not copy_owner else f"Job {squatter}")


def test_a_squatted_approval_cannot_turn_into_a_sleep(
    client: Client, start_worker: StartWorker
) -> None:
    uid = _parent(client, "waits-for-approval", "gated")
    squatter = names.child_name("gated", "approval")
    client.kube.create(
        kubeapi.SUSPENSIONS,
        client.namespace,
        {
            "apiVersion": "kontinue.cloud/v1alpha1", "kind": "Suspension",
            "metadata": {"name": squatter, "ownerReferences": _owned(uid, "gated")},
            # a "sleep" already due: the controller would end it, approving nothing
            "spec": {"execution": "gated", "step": "approval", "resumeAt": "2020-01-01T00:00:00Z"},
        },
    )  # fmt: skip
    start_worker("adoption_flows", path=FLOWS)
    _failed_with(client, "gated", f"Suspension {squatter}", "its spec differs")


def test_a_squatted_or_changed_journal_chunk_is_never_replayed(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str
) -> None:
    # squatted: the first chunk's name is taken before the history is compacted into it
    _parent(client, "long-history", "taken", {"steps": 70})
    client.kube.create(
        kubeapi.CONFIGMAPS,
        namespace,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "taken-journal-0"},
         "data": {"steps": "{}", "state": "{}"}},
    )  # fmt: skip
    worker = start_worker("adoption_flows", path=FLOWS, hold=0)
    _failed_with(client, "taken", "ConfigMap named taken-journal-0", "the name is taken")

    # changed: a chunk written by kontinue is replaced with other steps while the execution waits
    uid = _parent(client, "long-history", "rewritten", {"steps": 70})
    wait_for(
        "the approval of a compacted history",
        lambda: execution_phase(client.get("rewritten")) == Phase.SUSPENDED,
        timeout=90,
    )
    chunk = client.kube.get(kubeapi.CONFIGMAPS, namespace, "rewritten-journal-0")
    assert chunk["immutable"] is True
    assert client.get("rewritten")["status"]["journal"]["digests"]
    steps = json.loads(chunk["data"]["steps"])
    state = {name: 1000 for name in json.loads(chunk["data"]["state"])}  # other values
    kube_cluster.kubectl("delete", "-n", namespace, "configmap", "rewritten-journal-0")
    client.kube.create(
        kubeapi.CONFIGMAPS,
        namespace,
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "rewritten-journal-0", "labels": chunk["metadata"]["labels"],
                      "ownerReferences": _owned(uid, "rewritten")},
         "data": {"index": "0", "steps": json.dumps(steps), "state": json.dumps(state)}},
    )  # fmt: skip
    client.resume_execution("rewritten")
    _failed_with(client, "rewritten", "journal chunk rewritten-journal-0", "was changed")
    assert worker.process.poll() is None
