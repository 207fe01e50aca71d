"""An approval names the person who gave it, and nobody can say otherwise.

With the chart installed, ``status.resumedBy`` of a Suspension must be the user making the
request (the chart's admission policy), except for the controller ending a sleep; an ended
Suspension's status is final. The SDK client, the CLI and the UI (behind its proxy) record
the authenticated user.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from kontinue.api import labels, manifests, timestamps
from kontinue.client import Client, Kube, kubeapi
from kontinue_testkit.chart import InstallChart, Release
from kontinue_testkit.pytest_plugin import KONTINUE, StartUi, TestCluster
from kontinue_testkit.ui_session import CSRF_META as _CSRF


def _suspension(admin: Kube, namespace: str, name: str, **spec: Any) -> None:
    owner = admin.create(
        kubeapi.EXECUTIONS, namespace, manifests.execution_manifest("f", name=f"{name}-owner")
    )
    admin.create(
        kubeapi.SUSPENSIONS,
        namespace,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "Suspension",
            "metadata": {
                "name": name,
                "labels": {labels.PARENT: owner["metadata"]["name"]},
            },
            "spec": spec,
        },
    )


def _status(admin: Kube, release: Release, name: str) -> dict[str, Any]:
    found: dict[str, Any] = admin.get(kubeapi.SUSPENSIONS, release.workflows, name)
    return found.get("status") or {}


def _complete(kube: Kube, release: Release, name: str, by: str) -> None:
    status = {"phase": "Completed", "finishedAt": timestamps.now(), "resumedBy": by}
    kube.merge_patch(
        kubeapi.SUSPENSIONS, release.workflows, name, {"status": status}, subresource="status"
    )


def test_a_resume_records_who_made_it_and_nobody_else(
    install_chart: InstallChart, kube_cluster: TestCluster
) -> None:
    release = install_chart()
    admin = Kube(str(kube_cluster.kubeconfig))
    for name in ("gate-1", "gate-2", "gate-3"):
        _suspension(admin, release.workflows, name)
    _suspension(admin, release.workflows, "nap", resumeAt="2099-01-01T00:00:00Z")
    kube_cluster.kubectl(
        "create", "rolebinding", "carol-edits", "-n", release.workflows,
        f"--clusterrole={release.fullname}.{release.namespace}.edit", "--user=carol",
    )  # fmt: skip
    kube_cluster.wait_allowed("carol", "list", "suspensions.kontinue.cloud", release.workflows)
    carol = admin.impersonating("carol")

    # carol approves in her own name: the client asks the API server who she is
    Client(kube=carol, namespace=release.workflows).resume_suspension("gate-1", {"ok": True})
    assert _status(admin, release, "gate-1")["resumedBy"] == "carol"

    # ... and cannot approve in anyone else's, nor rewrite an approval after the fact
    with pytest.raises(kubeapi.ApiError) as refused:
        _complete(carol, release, "gate-2", "release-manager")
    assert refused.value.status == 422
    assert 'status.resumedBy must be "carol", not "release-manager"' in refused.value.message
    with pytest.raises(kubeapi.ApiError, match="its status is final"):
        carol.merge_patch(
            kubeapi.SUSPENSIONS, release.workflows, "gate-1",
            {"status": {"resumedBy": "someone-else", "data": {"ok": False}}},
            subresource="status",
        )  # fmt: skip
    assert _status(admin, release, "gate-1")["data"] == {"ok": True}
    assert _status(admin, release, "gate-2").get("phase") in (None, "Suspended")

    # the controller ends sleeps, but approves nothing
    controller = admin.impersonating(release.user("controller"))
    with pytest.raises(kubeapi.ApiError, match="a resume must record who made it"):
        _complete(controller, release, "gate-2", "timer")
    _complete(controller, release, "nap", "timer")
    assert _status(admin, release, "nap")["resumedBy"] == "timer"

    # the CLI records the kubeconfig's user (here the admin)
    cli = subprocess.run(
        [KONTINUE, "resume", "gate-2",
         "-n", release.workflows, "--kubeconfig", str(kube_cluster.kubeconfig)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert _status(admin, release, "gate-2")["resumedBy"] == "kontinue-admin"


def test_the_ui_records_the_user_its_proxy_names(
    install_chart: InstallChart, start_ui: StartUi, kube_cluster: TestCluster, tmp_path: Path
) -> None:
    release = install_chart()
    admin = Kube(str(kube_cluster.kubeconfig))
    _suspension(admin, release.workflows, "gate")
    kube_cluster.kubectl(
        "create", "rolebinding", "carol-edits", "-n", release.workflows,
        f"--clusterrole={release.fullname}.{release.namespace}.edit", "--user=carol",
    )  # fmt: skip
    kube_cluster.wait_allowed("carol", "list", "suspensions.kontinue.cloud", release.workflows)
    secret = secrets.token_hex(24)
    (tmp_path / "proxy").write_text(secret)
    ui = start_ui(
        "--namespace", release.workflows, "--auth", "proxy",
        "--proxy-secret-file", str(tmp_path / "proxy"),
    )  # fmt: skip
    http = requests.Session()
    http.headers.update({"X-Kontinue-Proxy-Secret": secret, "X-Forwarded-User": "carol"})
    page = http.get(f"{ui.url}/executions/{release.workflows}/gate-owner", timeout=30)
    assert page.status_code == 200, page.text[-1000:]
    token = _CSRF.search(page.text)
    assert token is not None
    answer = http.post(
        f"{ui.url}/executions/{release.workflows}/gate-owner/resume",
        data={"csrf_token": token.group(1), "suspension": "gate", "data": '{"ok": true}'},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, answer.text[-1000:]
    assert _status(admin, release, "gate")["resumedBy"] == "carol"
