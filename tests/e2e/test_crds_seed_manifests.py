"""The seed documents' manifests apply unchanged, and kubectl presents the kinds as documented."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kontinue_testkit.pytest_plugin import TestCluster

SEED = Path(__file__).parent / "manifests" / "seed"


def test_seed_execution_manifests_apply_unchanged(
    kube_cluster: TestCluster, namespace: str
) -> None:
    created = kube_cluster.kubectl(
        "create", "-n", namespace, "-f", str(SEED / "hello-world.yaml"), "-o", "name"
    ).stdout.strip()
    assert created.startswith("execution.kontinue.cloud/hello-world-")
    kube_cluster.kubectl("apply", "-n", namespace, "-f", str(SEED / "process-order.yaml"))
    kube_cluster.kubectl("apply", "-n", namespace, "-f", str(SEED / "deploy-cluster.yaml"))

    hello = json.loads(kube_cluster.kubectl("get", "-n", namespace, created, "-o", "json").stdout)
    assert hello["spec"] == {"function": "hello-world", "arguments": {"name": "Alice"}}
    order = json.loads(
        kube_cluster.kubectl(
            "get", "-n", namespace, "execution", "process-order-abc123", "-o", "json"
        ).stdout
    )
    assert order["spec"] == {"function": "processOrder", "arguments": {"orderId": "12345"}}
    assert "status" not in order  # status is a subresource: create ignores it
    deploy = json.loads(
        kube_cluster.kubectl(
            "get", "-n", namespace, "execution", "deploy-cluster-seed", "-o", "json"
        ).stdout
    )
    assert deploy["spec"]["retry"] == {"retries": 3, "backoff": "10s", "childPolicy": "RetryFailed"}
    assert deploy["spec"]["timeout"] == {"overall": "1h", "attempt": "15m"}
    assert deploy["spec"]["ttl"] == {"deleteAfter": "24h"}


def test_seed_status_is_accepted_by_the_status_subresource(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.kubectl("apply", "-n", namespace, "-f", str(SEED / "deploy-cluster.yaml"))
    kube_cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "execution",
        "deploy-cluster-seed",
        "--subresource=status",
        "--type=merge",
        "--patch-file",
        str(SEED / "execution-status.yaml"),
    )
    status = json.loads(
        kube_cluster.kubectl(
            "get", "-n", namespace, "execution", "deploy-cluster-seed", "-o", "json"
        ).stdout
    )["status"]
    expected = yaml.safe_load((SEED / "execution-status.yaml").read_text())["status"]
    assert status == expected


def test_retry_defaults_are_applied(kube_cluster: TestCluster, namespace: str) -> None:
    kube_cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump(
            {
                "apiVersion": "kontinue.cloud/v1alpha1",
                "kind": "Execution",
                "metadata": {"name": "defaults"},
                "spec": {"function": "f", "retry": {}},
            }
        ),
    )
    spec = json.loads(
        kube_cluster.kubectl("get", "-n", namespace, "execution", "defaults", "-o", "json").stdout
    )["spec"]
    assert spec["retry"] == {"retries": 0, "backoff": "5s", "childPolicy": "None"}


def test_seed_suspension_applies_once_owned_by_a_real_execution(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump(
            {
                "apiVersion": "kontinue.cloud/v1alpha1",
                "kind": "Execution",
                "metadata": {"name": "my-execution"},
                "spec": {"function": "deploy"},
            }
        ),
    )
    uid = kube_cluster.kubectl(
        "get", "-n", namespace, "execution", "my-execution", "-o", "jsonpath={.metadata.uid}"
    ).stdout
    manifest = yaml.safe_load((SEED / "suspension.yaml").read_text())
    manifest["metadata"]["ownerReferences"][0]["uid"] = uid
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    got = json.loads(
        kube_cluster.kubectl(
            "get", "-n", namespace, "suspension", "my-execution-sleep-abc123", "-o", "json"
        ).stdout
    )
    assert got["spec"]["resumeAt"] == "2025-01-15T15:30:00Z"
    assert got["metadata"]["ownerReferences"][0]["name"] == "my-execution"


def test_kubectl_get_executions_shows_phase_function_progress_age(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.kubectl("apply", "-n", namespace, "-f", str(SEED / "deploy-cluster.yaml"))
    kube_cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "execution",
        "deploy-cluster-seed",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(
            {
                "status": {
                    "phase": "Executing",
                    "message": "Deploying to production cluster",
                    "progress": {"current": 2, "max": 5, "summary": "2/5"},
                }
            }
        ),
    )
    out = kube_cluster.kubectl("get", "-n", namespace, "executions").stdout.splitlines()
    header = out[0].split()
    assert header[:5] == ["NAME", "PHASE", "FUNCTION", "PROGRESS", "AGE"]
    assert header[5] == "MESSAGE"
    row = out[1].split()
    assert row[:4] == ["deploy-cluster-seed", "Executing", "deploy-cluster", "2/5"]
    assert " ".join(row[5:]) == "Deploying to production cluster"
    short = kube_cluster.kubectl("get", "-n", namespace, "ex", "-o", "name").stdout.strip()
    assert short == "execution.kontinue.cloud/deploy-cluster-seed"


def test_kubectl_get_kontinue_lists_all_five_kinds(
    kube_cluster: TestCluster, namespace: str
) -> None:
    objects = [
        {"kind": "Execution", "metadata": {"name": "e1"}, "spec": {"function": "f"}},
        {"kind": "Suspension", "metadata": {"name": "s1"}, "spec": {"displayName": "Approve"}},
        {
            "kind": "ScheduledExecution",
            "metadata": {"name": "sx1"},
            "spec": {"function": "f", "schedule": "@hourly"},
        },
        {
            "kind": "Function",
            "metadata": {"name": "f"},
            "spec": {"name": "f", "workerGroup": "default", "description": "Does f"},
        },
        {
            "kind": "ArchivedExecution",
            "metadata": {"name": "a1"},
            "spec": {
                "execution": {"name": "old", "function": "f", "phase": "Completed"},
                "encoding": "gzip+base64",
                "data": "H4sIAAAAAAAAA4uOBQApu0wNAgAAAA==",
            },
        },
    ]
    docs = [{"apiVersion": "kontinue.cloud/v1alpha1", **o} for o in objects]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs))
    names = set(
        kube_cluster.kubectl("get", "kontinue", "-n", namespace, "-o", "name").stdout.split()
    )
    assert names == {
        "execution.kontinue.cloud/e1",
        "suspension.kontinue.cloud/s1",
        "scheduledexecution.kontinue.cloud/sx1",
        "function.kontinue.cloud/f",
        "archivedexecution.kontinue.cloud/a1",
    }
    functions = kube_cluster.kubectl("get", "-n", namespace, "functions").stdout.splitlines()
    assert functions[0].split()[:4] == ["NAME", "FUNCTION", "DESCRIPTION", "GROUP"]
    assert functions[1].split()[:5] == ["f", "f", "Does", "f", "default"]
