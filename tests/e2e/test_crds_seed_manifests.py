"""The seed documents' manifests apply unchanged, and kubectl presents the kinds as documented."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kontinue_testkit.pytest_plugin import TestCluster, kontinue_object

SEED = Path(__file__).parent / "manifests" / "seed"


def _apply_seed(kube_cluster: TestCluster, namespace: str, name: str) -> None:
    kube_cluster.kubectl("apply", "-n", namespace, "-f", str(SEED / name))


def test_seed_execution_manifests_apply_unchanged(
    kube_cluster: TestCluster, namespace: str
) -> None:
    created = kube_cluster.kubectl(
        "create", "-n", namespace, "-f", str(SEED / "hello-world.yaml"), "-o", "name"
    ).stdout.strip()
    assert created.startswith("execution.kontinue.cloud/hello-world-")
    _apply_seed(kube_cluster, namespace, "process-order.yaml")
    _apply_seed(kube_cluster, namespace, "deploy-cluster.yaml")

    hello = kube_cluster.get(namespace, created)
    # as published, plus the worker group the schema defaults
    assert hello["spec"] == {
        "function": "hello-world",
        "arguments": {"name": "Alice"},
        "workerGroup": "default",
    }
    order = kube_cluster.get(namespace, "execution", "process-order-abc123")
    assert order["spec"] == {
        "function": "processOrder",
        "arguments": {"orderId": "12345"},
        "workerGroup": "default",
    }
    assert "status" not in order  # status is a subresource: create ignores it
    deploy = kube_cluster.get(namespace, "execution", "deploy-cluster-seed")["spec"]
    assert deploy["retry"] == {"retries": 3, "backoff": "10s", "childPolicy": "RetryFailed"}
    assert deploy["timeout"] == {"overall": "1h", "attempt": "15m"}
    assert deploy["ttl"] == {"deleteAfter": "24h"}


def test_seed_status_is_accepted_by_the_status_subresource(
    kube_cluster: TestCluster, namespace: str
) -> None:
    _apply_seed(kube_cluster, namespace, "deploy-cluster.yaml")
    expected = yaml.safe_load((SEED / "execution-status.yaml").read_text())["status"]
    patched = kube_cluster.kubectl(
        "patch", "-n", namespace, "execution", "deploy-cluster-seed", "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": expected}), "-o", "json",
    )  # fmt: skip
    # the object as stored by this write (a running controller may act on the 2025 times later)
    assert json.loads(patched.stdout)["status"] == expected


def test_retry_fields_left_out_stay_out_for_the_function_defaults(
    kube_cluster: TestCluster, namespace: str
) -> None:
    spec = {"function": "f", "retry": {"backoff": "1s"}}
    kube_cluster.create(namespace, kontinue_object("Execution", "defaults", spec))
    retry = kube_cluster.get(namespace, "execution", "defaults")["spec"]["retry"]
    # no schema default fills them in: the function's registered defaults (or the built-in
    # ones) apply to what the Execution leaves out, resolved into status.policy at the claim
    assert retry == {"backoff": "1s"}


def test_seed_suspension_applies_once_owned_by_a_real_execution(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.create(namespace, kontinue_object("Execution", "my-execution", {"function": "f"}))
    uid = kube_cluster.get(namespace, "execution", "my-execution")["metadata"]["uid"]
    manifest = yaml.safe_load((SEED / "suspension.yaml").read_text())
    manifest["metadata"]["ownerReferences"][0]["uid"] = uid
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    got = kube_cluster.get(namespace, "suspension", "my-execution-sleep-abc123")
    assert got["spec"]["resumeAt"] == "2025-01-15T15:30:00Z"
    assert got["metadata"]["ownerReferences"][0]["name"] == "my-execution"


def test_kubectl_get_executions_shows_phase_function_progress_age(
    kube_cluster: TestCluster, namespace: str
) -> None:
    _apply_seed(kube_cluster, namespace, "deploy-cluster.yaml")
    kube_cluster.patch_status(namespace, "execution", "deploy-cluster-seed", {
        "phase": "Executing", "message": "Deploying to production cluster",
        "progress": {"current": 2, "max": 5, "summary": "2/5"},
    })  # fmt: skip
    out = kube_cluster.kubectl("get", "-n", namespace, "executions").stdout.splitlines()
    assert out[0].split() == ["NAME", "PHASE", "FUNCTION", "PROGRESS", "AGE", "MESSAGE"]
    row = out[1].split()
    assert row[:4] == ["deploy-cluster-seed", "Executing", "deploy-cluster", "2/5"]
    assert " ".join(row[5:]) == "Deploying to production cluster"
    short = kube_cluster.kubectl("get", "-n", namespace, "ex", "-o", "name").stdout.strip()
    assert short == "execution.kontinue.cloud/deploy-cluster-seed"


def test_kubectl_get_kontinue_lists_all_five_kinds(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.create(
        namespace,
        kontinue_object("Execution", "e1", {"function": "f"}),
        kontinue_object("Suspension", "s1", {"displayName": "Approve"}),
        kontinue_object("ScheduledExecution", "sx1", {"function": "f", "schedule": "@hourly"}),
        kontinue_object("Function", "f", {"name": "f", "workerGroup": "default",
                                          "description": "Does f"}),
        kontinue_object("ArchivedExecution", "a1", {
            "execution": {"name": "old", "function": "f", "phase": "Completed"},
            "encoding": "gzip+base64", "data": "H4sIAAAAAAAAA4uOBQApu0wNAgAAAA=="}),
    )  # fmt: skip
    listed = kube_cluster.kubectl("get", "kontinue", "-n", namespace, "-o", "name").stdout.split()
    assert set(listed) == {
        "execution.kontinue.cloud/e1",
        "suspension.kontinue.cloud/s1",
        "scheduledexecution.kontinue.cloud/sx1",
        "function.kontinue.cloud/f",
        "archivedexecution.kontinue.cloud/a1",
    }
    functions = kube_cluster.kubectl("get", "-n", namespace, "functions").stdout.splitlines()
    assert functions[0].split()[:4] == ["NAME", "FUNCTION", "DESCRIPTION", "GROUP"]
    assert functions[1].split()[:5] == ["f", "f", "Does", "f", "default"]
