"""The local control plane behaves like a real cluster: garbage collection, Jobs run by kwok,
RBAC and admission, audit of kontinue writes."""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client
from kubernetes.client import ApiException

from kontinue_testkit.pytest_plugin import TestCluster, kontinue_object, wait_for

GROUP, VERSION = "kontinue.cloud", "v1alpha1"


def test_deleting_an_execution_garbage_collects_its_suspension(
    kube_api: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(kube_api)
    execution: Any = custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "executions",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Execution",
            "metadata": {"name": "parent"},
            "spec": {"function": "f"},
        },
    )
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "suspensions",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Suspension",
            "metadata": {
                "name": "parent-approval",
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "Execution",
                        "name": "parent",
                        "uid": execution["metadata"]["uid"],
                    }
                ],
            },
            "spec": {"execution": "parent"},
        },
    )
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "executions", "parent")

    def suspension_gone() -> bool:
        try:
            custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "suspensions", "parent-approval"
            )
        except ApiException as exc:
            return bool(exc.status == 404)
        return False

    wait_for("the garbage collector to delete the owned Suspension", suspension_gone)


def _job(
    name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels or {}, "annotations": annotations or {}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
                },
            },
        },
    }


def _job_outcome(kube_cluster: TestCluster, namespace: str, name: str) -> str | None:
    job = kube_cluster.get(namespace, "job", name)
    for condition in job.get("status", {}).get("conditions", []):
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return str(condition["type"])
    return None


def _pods(kube_cluster: TestCluster, namespace: str, job: str) -> list[Any]:
    return list(kube_cluster.get(namespace, "pods", "-l", f"job-name={job}")["items"])


def test_a_job_pod_runs_to_succeeded_and_the_job_completes(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.create(namespace, _job("ok"))
    outcome = wait_for("the Job to finish", lambda: _job_outcome(kube_cluster, namespace, "ok"))
    assert outcome == "Complete"
    (pod,) = _pods(kube_cluster, namespace, "ok")
    assert pod["spec"]["nodeName"] == "kwok-node-0"
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


def test_a_pod_marked_to_fail_makes_the_job_fail(kube_cluster: TestCluster, namespace: str) -> None:
    kube_cluster.create(
        namespace,
        _job(
            "bad",
            labels={"kontinue.test/outcome": "fail"},
            annotations={"kontinue.test/exit-code": "3", "kontinue.test/message": "disk full"},
        ),
    )
    outcome = wait_for("the Job to finish", lambda: _job_outcome(kube_cluster, namespace, "bad"))
    assert outcome == "Failed"
    (pod,) = _pods(kube_cluster, namespace, "bad")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["message"]) == (3, "disk full")


def test_a_held_pod_keeps_running_until_released(kube_cluster: TestCluster, namespace: str) -> None:
    kube_cluster.create(namespace, _job("held", labels={"kontinue.test/outcome": "hold"}))

    def running_pod() -> Any:
        pods = _pods(kube_cluster, namespace, "held")
        return pods[0] if pods and pods[0]["status"].get("phase") == "Running" else None

    name = wait_for("the held pod to run", running_pod)["metadata"]["name"]
    time.sleep(2)  # well past the 500ms a Job pod normally runs
    assert kube_cluster.get(namespace, "pod", name)["status"]["phase"] == "Running"
    assert _job_outcome(kube_cluster, namespace, "held") is None
    kube_cluster.kubectl(
        "label", "-n", namespace, "pod", name, "--overwrite", "kontinue.test/outcome=release"
    )
    outcome = wait_for("the released Job", lambda: _job_outcome(kube_cluster, namespace, "held"))
    assert outcome == "Complete"


def test_rbac_is_enforced_and_service_account_admission_runs(
    kube_cluster: TestCluster, namespace: str
) -> None:
    user = f"--as=system:serviceaccount:{namespace}:default"
    can_i = ("auth", "can-i", "create", "executions.kontinue.cloud", "-n", namespace, user)
    assert kube_cluster.kubectl(*can_i, check=False).stdout.strip() == "no"
    role = f"{namespace}-kontinue"
    kube_cluster.kubectl(
        "create", "clusterrole", role, "--verb=create,get", "--resource=executions.kontinue.cloud"
    )
    try:
        kube_cluster.kubectl(
            "create",
            "rolebinding",
            "kontinue",
            "-n",
            namespace,
            f"--clusterrole={role}",
            f"--serviceaccount={namespace}:default",
        )
        assert kube_cluster.kubectl(*can_i, check=False).stdout.strip() == "yes"
    finally:
        kube_cluster.kubectl("delete", "clusterrole", role)
    # The ServiceAccount admission plugin fills in the service account and its token volume.
    pod = json.loads(
        kube_cluster.kubectl(
            "run", "probe", "-n", namespace, "--image=busybox", "--restart=Never", "-o", "json"
        ).stdout
    )
    assert pod["spec"]["serviceAccountName"] == "default"
    assert any(v["name"].startswith("kube-api-access-") for v in pod["spec"]["volumes"])


def test_writes_to_kontinue_resources_are_audited(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.create(namespace, kontinue_object("Execution", "audited", {"function": "f"}))

    def audited() -> bool:
        return any(
            event["objectRef"].get("name") == "audited" and event["verb"] == "create"
            for event in kube_cluster.audit_events(namespace)
        )

    wait_for("the audit event of the create", audited, timeout=20)
