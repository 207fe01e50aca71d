"""Out of the box the UI changes nothing for anyone, and the chart fences it in.

- ``kontinue-ui`` with no flags offers no action and refuses every one, even a well-formed
  form with a valid CSRF token;
- ``helm install`` with default values gives exactly that UI (its Deployment run as the chart
  describes it, with its own ServiceAccount) without write rights, and NetworkPolicies letting
  only the release namespace (and the configured peers) reach the UI, the workers and the
  controller's metrics.
"""

from __future__ import annotations

from pathlib import Path

import requests

from kontinue.api import manifests
from kontinue.client import Kube, kubeapi
from kontinue.devcluster.processes import free_port
from kontinue_testkit.chart import ROOT, InstallChart
from kontinue_testkit.pytest_plugin import StartUi, TestCluster
from kontinue_testkit.standin import ContainerProcess
from kontinue_testkit.ui_session import CSRF_META as _CSRF


def _try_every_action(base: str, namespace: str) -> list[tuple[str, int, str]]:
    """Each action posted as a browser would post it (session cookie and CSRF token)."""
    http = requests.Session()
    page = http.get(f"{base}/executions/{namespace}/target", timeout=30)
    assert page.status_code == 200, page.text[-500:]
    assert "<button" not in page.text  # no Cancel, no Resume
    assert f"{base}/start" not in page.text and 'href="/start"' not in page.text
    found = _CSRF.search(page.text)
    assert found is not None
    token = found.group(1)
    answers = []
    for path, fields in (
        (f"/executions/{namespace}/target/cancel", {}),
        (f"/executions/{namespace}/target/resume", {"data": "{}"}),
        (f"/schedules/{namespace}/nightly/trigger", {}),
        (f"/schedules/{namespace}/nightly/unsuspend", {}),
        (f"/start/{namespace}/default/f", {"__json__": "{}"}),
    ):
        answer = http.post(
            base + path, data={"csrf_token": token, **fields}, allow_redirects=False, timeout=30
        )
        answers.append((path, answer.status_code, answer.text))
    return answers


def test_a_ui_without_an_auth_mode_refuses_every_action(
    start_ui: StartUi, kube_cluster: TestCluster, namespace: str
) -> None:
    admin = Kube(str(kube_cluster.kubeconfig))
    admin.create(kubeapi.EXECUTIONS, namespace, manifests.execution_manifest("f", name="target"))
    ui = start_ui()  # no flags at all
    for path, status, text in _try_every_action(ui.url, namespace):
        assert status == 403 and "read-only" in text, (path, status)
    assert not admin.get(kubeapi.EXECUTIONS, namespace, "target")["spec"].get("cancel")
    assert len(admin.list(kubeapi.EXECUTIONS, namespace)["items"]) == 1


def test_the_default_install_serves_a_read_only_ui_behind_network_policies(
    install_chart: InstallChart, kube_cluster: TestCluster, namespace: str, tmp_path: Path
) -> None:
    port, metrics = free_port(), free_port()
    release = install_chart(f"ui.port={port}", f"ui.metricsPort={metrics}", "ui.workers=1")
    admin = Kube(str(kube_cluster.kubeconfig))
    workflows = release.workflows
    admin.create(kubeapi.EXECUTIONS, workflows, manifests.execution_manifest("f", name="target"))

    # the UI's own rights: reading only
    role = admin.get(
        kubeapi.Resource("/apis/rbac.authorization.k8s.io/v1", "roles"),
        workflows,
        release.service_account("ui"),
    )
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}

    # NetworkPolicies: who reaches what
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in admin.list(
            kubeapi.Resource("/apis/networking.k8s.io/v1", "networkpolicies"), namespace
        )["items"]
    }
    assert set(policies) == {release.service_account(c) for c in ("controller", "worker", "ui")}
    for component in ("controller", "worker", "ui"):
        spec = policies[release.service_account(component)]
        assert spec["policyTypes"] == ["Ingress"]
        selector = spec["podSelector"]
        if component == "worker":  # the workers of every version, the draining older ones too
            assert selector["matchExpressions"] == [
                {
                    "key": "app.kubernetes.io/component",
                    "operator": "In",
                    "values": ["worker", "worker-draining"],
                }
            ]
        else:
            assert selector["matchLabels"]["app.kubernetes.io/component"] == component
        ports = {p["port"]: rule["from"] for rule in spec["ingress"] for p in rule["ports"]}
        expected = {"metrics", "http"} if component == "ui" else {"metrics"}
        assert set(ports) == expected, (component, ports)
        for peers in ports.values():  # only pods of the release namespace by default
            assert peers == [{"podSelector": {}}], (component, peers)

    # the UI as the chart runs it, with its ServiceAccount's token
    ui = ContainerProcess(
        kube_cluster,
        release.deployment("ui"),
        dockerfile=ROOT / "services" / "ui" / "Dockerfile",
        workdir=tmp_path / "pods",
    )
    ui.start()
    try:
        ui.wait_ready()
        for path, status, text in _try_every_action(f"http://127.0.0.1:{port}", workflows):
            assert status == 403 and "read-only" in text, (path, status)
        assert not admin.get(kubeapi.EXECUTIONS, workflows, "target")["spec"].get("cancel")
        assert "forbidden" not in ui.log().lower(), ui.log()[-3000:]
    finally:
        ui.stop()
