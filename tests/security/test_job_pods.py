"""A job step cannot run a pod with anybody's rights.

The chart is installed with default values and its worker runs as the chart describes it, with
its own ServiceAccount's token (kontinue_testkit.standin), serving a workflow that forwards its
caller's input into a Job's pod spec. Asked to run as another ServiceAccount, privileged, or in
the host's namespaces, the Job is refused by the chart's admission policy in the API server and
the step fails with the policy's message; left alone, the pod runs as the job ServiceAccount
(no rights) without an API token. Workflows run outside the release namespace, where the
controller's and the UI's ServiceAccounts live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kontinue.client import Client, kubeapi
from kontinue.devcluster.processes import free_port
from kontinue_testkit.chart import ROOT, InstallChart
from kontinue_testkit.pytest_plugin import TestCluster
from kontinue_testkit.standin import ContainerProcess

FLOWS = Path(__file__).parent / "workflows"


def test_job_steps_run_only_as_the_job_service_account(
    install_chart: InstallChart, kube_cluster: TestCluster, namespace: str, tmp_path: Path
) -> None:
    release = install_chart(
        "worker.replicas=1", "worker.modules={job_pod_flows}", f"worker.paths={{{FLOWS}}}",
        f"worker.metricsPort={free_port()}", "worker.hold=60", "worker.grace=5",
    )  # fmt: skip
    job_account = release.service_account("job")
    worker_args = release.deployment("worker")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--namespace={release.workflows}" in worker_args and release.workflows != namespace
    roles = kube_cluster.get(namespace, "roles")["items"]
    assert not [r for r in roles if r["metadata"]["name"].endswith("-worker")]

    worker = ContainerProcess(
        kube_cluster,
        release.deployment("worker"),
        dockerfile=ROOT / "services" / "worker" / "Dockerfile",
        workdir=tmp_path / "pods",
    )
    worker.start()
    client = Client(namespace=release.workflows, kubeconfig=str(kube_cluster.kubeconfig))
    try:
        worker.wait_ready()

        def run(args: dict[str, Any]) -> dict[str, Any]:
            name = client.create_execution("job-from-input", args)["metadata"]["name"]
            return client.wait(name, timeout=90)

        refused: dict[str, tuple[dict[str, Any], str]] = {
            "a ServiceAccount of the caller's choice": (
                {"pod": {"serviceAccountName": "default"}},
                f"job pods may run as ServiceAccount {job_account} only, not default",
            ),
            "the controller's ServiceAccount": (
                {"pod": {"serviceAccountName": release.service_account("controller")}},
                f"not {release.service_account('controller')}",
            ),
            "a privileged container": (
                {"container": {"securityContext": {"privileged": True}}},
                "job pods may not run privileged containers",
            ),
            "the host's network": (
                {"pod": {"hostNetwork": True}},
                "job pods may not use the host's network, PID or IPC namespace",
            ),
            "a hostPath volume": (
                {"pod": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}},
                "job pods may not mount hostPath volumes",
            ),
        }
        for what, (args, message) in refused.items():
            done = run(args)
            status = done["status"]
            assert status["phase"] == "Failed", (what, status)
            assert message in status["error"]["message"], (what, status["error"])
            assert "ValidatingAdmissionPolicy" in status["error"]["message"], what
            assert status["error"].get("retryable") is not True, what
            assert not client.kube.list(
                kubeapi.JOBS,
                release.workflows,
                label_selector=f"kontinue.cloud/parent={done['metadata']['name']}",
            )["items"], what

        done = run({})
        assert done["status"]["phase"] == "Completed", done["status"]
        job = client.kube.get(kubeapi.JOBS, release.workflows, done["status"]["result"]["job"])
        pod_spec = job["spec"]["template"]["spec"]
        assert pod_spec["serviceAccountName"] == job_account
        assert pod_spec["automountServiceAccountToken"] is False
        assert done["status"]["result"]["ok"] is True
    except BaseException:
        print(worker.log()[-6000:])
        raise
    finally:
        worker.stop()
