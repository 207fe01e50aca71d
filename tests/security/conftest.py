"""Fixtures of the security tests: the chart installed for real, and the admin's client.

``install_chart`` runs ``helm install`` of ``charts/kontinue`` into the test's namespace (the
release namespace) with the given values: its RBAC, admission policies, NetworkPolicies and
ServiceAccounts are then live in the API server; its workflow namespace is
``<namespace>-workflows`` unless the values say otherwise. Deployments are created too (kwok
fakes their pods; a test that needs a component's process runs it with
``kontinue_testkit.standin``). Everything is uninstalled afterwards.

``admin`` is a client with the admin's rights; ``admin.impersonating(user)`` acts as anyone,
which is how the tests act as each component's ServiceAccount. ``own_token`` gives a client
authenticating with a component's own ServiceAccount token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kontinue.client import Kube, kubeapi
from kontinue_testkit.chart import CHART, InstallChart, OwnToken, Release
from kontinue_testkit.pytest_plugin import TestCluster, wait_for
from kontinue_testkit.standin import service_account_kubeconfig


@pytest.fixture
def install_chart(kube_cluster: TestCluster, namespace: str) -> Iterator[InstallChart]:
    """``install_chart("key=value", ...)`` installs a release into the test's namespace."""
    installed: list[Release] = []

    def install(*sets: str, workflows: str | None = None) -> Release:
        release = f"sec-{uuid.uuid4().hex[:6]}"
        args = ["install", release, str(CHART), "-n", namespace, "--timeout=120s"]
        for item in sets:
            args += ["--set", item]
        kube_cluster.helm(*args)
        manifest = kube_cluster.helm("get", "manifest", release, "-n", namespace).stdout
        done = Release(
            release,
            namespace,
            workflows or f"{namespace}-workflows",
            [doc for doc in yaml.safe_load_all(manifest) if doc],
        )
        installed.append(done)
        _wait_effective(kube_cluster, done)
        return done

    yield install
    for release in reversed(installed):
        kube_cluster.helm("uninstall", release.name, "-n", namespace, "--wait", check=False)
    kube_cluster.kubectl(
        "delete", "namespace", f"{namespace}-workflows", "--wait=false", check=False
    )


def _wait_effective(cluster: TestCluster, release: Release) -> None:
    """Wait until the release's RBAC and admission policies are enforced.

    The API server learns of new RoleBindings and policies through informers, a moment after
    Helm created them: a test acting at once could see RBAC refuse what the chart allows, or a
    policy not yet refuse what it must.
    """
    admin = Kube(str(cluster.kubeconfig))
    components = {d["metadata"]["labels"]["app.kubernetes.io/component"]
                  for d in release.of_kind("Deployment")}  # fmt: skip
    for component in sorted(components):
        cluster.wait_allowed(
            release.user(component), "list", "executions.kontinue.cloud", release.workflows
        )
    policies = {p["metadata"]["name"] for p in release.of_kind("ValidatingAdmissionPolicy")}
    probes: list[tuple[str, str, str, dict[str, Any], str | None]] = []
    if f"{release.fullname}.{release.namespace}.worker-limits" in policies:
        probes.append((
            release.user("worker"), "POST", kubeapi.CONFIGMAPS.path(release.workflows),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}, None,
        ))  # fmt: skip
    if f"{release.fullname}.{release.namespace}.resume-identity" in policies:
        admin.create(kubeapi.SUSPENSIONS, release.workflows, {
            "apiVersion": "kontinue.cloud/v1alpha1", "kind": "Suspension",
            "metadata": {"name": "policy-probe"}, "spec": {},
        })  # fmt: skip
        probes.append((
            "policy-probe-user", "PATCH",
            kubeapi.SUSPENSIONS.path(release.workflows, "policy-probe", "status"),
            {"status": {"phase": "Completed", "resumedBy": "someone-else"}}, kubeapi.MERGE_PATCH,
        ))  # fmt: skip

    def enforced() -> bool:
        for user, method, path, body, content_type in probes:
            try:
                admin.impersonating(user, ["system:masters"]).request(
                    method, path, body=body, content_type=content_type,
                    params={"dryRun": "All"},
                )  # fmt: skip
            except kubeapi.ApiError as exc:
                if "ValidatingAdmissionPolicy" not in exc.message:
                    raise
                continue
            return False
        return True

    wait_for(f"the admission policies of {release.name}", enforced, timeout=30)
    admin.delete(kubeapi.SUSPENSIONS, release.workflows, "policy-probe")


@pytest.fixture
def admin(kube_cluster: TestCluster) -> Kube:
    """The admin's client (impersonate anyone through it)."""
    return Kube(str(kube_cluster.kubeconfig))


@pytest.fixture
def own_token(kube_cluster: TestCluster, tmp_path: Path) -> OwnToken:
    """``own_token(release, component)``: a client with the ServiceAccount's own token."""

    def own(release: Release, component: str) -> Kube:
        path = tmp_path / f"{release.name}-{component}.kubeconfig"
        if not path.exists():
            service_account_kubeconfig(
                kube_cluster, release.namespace, release.service_account(component), path
            )
        return Kube(str(path))

    return own
