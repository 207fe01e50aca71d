"""pytest plugin: the real local Kubernetes control plane for kontinue's tests.

Fixtures:
    kube_cluster  (session) one control plane per test session with the CRDs installed; or the
                  cluster of ``make cluster-up`` when ``KONTINUE_TEST_CLUSTER_DIR`` names its
                  work directory (faster local iteration).
    kube_api      (session) a ``kubernetes.client.ApiClient`` with admin rights.
    namespace     (function) a fresh namespace per test, deleted afterwards.

Invariants: a test that needs the cluster never skips; when the binaries are missing the
fixture fails with the command that builds them. The cluster is stopped when the session ends,
also after a failure or Ctrl-C (and the kernel kills it if the test process is killed). When any
test failed, the components' logs are kept under ``test-artifacts/cluster-logs``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from kontinue._devcluster import LocalCluster, find_testbin

_CLUSTER_DIR_ENV = "KONTINUE_TEST_CLUSTER_DIR"
_CLUSTER_ROOT_ENV = "KONTINUE_TEST_CLUSTER_ROOT"
_start_seconds: list[float] = []


@dataclass
class TestCluster:
    """What tests get from ``kube_cluster``."""

    __test__ = False  # not a test class, despite its name

    cluster: LocalCluster
    bin_dir: Path
    crd_dir: Path

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig."""
        return self.cluster.kubeconfig

    @property
    def logs_dir(self) -> Path:
        """Where the components' logs (and the audit log) are written."""
        return self.cluster.logs_dir

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against the cluster."""
        result = subprocess.run(
            [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the pinned helm against the cluster."""
        result = subprocess.run(
            [str(self.bin_dir / "helm"), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result


def _repo_root(config: pytest.Config) -> Path:
    return Path(str(config.rootpath))


def _keep_logs(cluster: LocalCluster, root: Path) -> Path:
    target = root / "test-artifacts" / "cluster-logs"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(cluster.logs_dir, target)
    return target


@pytest.fixture(scope="session")
def kube_cluster(request: pytest.FixtureRequest) -> Iterator[TestCluster]:
    """The local control plane, started once per session, with kontinue's CRDs installed."""
    root = _repo_root(request.config)
    crd_dir = root / "crds"
    bin_dir = find_testbin(build=False)
    existing = os.environ.get(_CLUSTER_DIR_ENV)
    if existing:
        cluster = LocalCluster.attach(Path(existing))
        cluster.install_crds(sorted(crd_dir.glob("*.yaml")))
        yield TestCluster(cluster, bin_dir, crd_dir)
        return
    parent = os.environ.get(_CLUSTER_ROOT_ENV)
    workdir = Path(tempfile.mkdtemp(prefix="kontinue-cluster-", dir=parent))
    cluster = LocalCluster(bin_dir, workdir, log=lambda _line: None)
    started = time.monotonic()
    try:
        cluster.start()
        cluster.install_crds(sorted(crd_dir.glob("*.yaml")))
        _start_seconds.append(time.monotonic() - started)
        yield TestCluster(cluster, bin_dir, crd_dir)
    finally:
        cluster.stop()
        if request.session.testsfailed:
            kept = _keep_logs(cluster, root)
            print(f"\nkontinue: control-plane logs of the failed session kept in {kept}")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def kube_api(kube_cluster: TestCluster) -> Iterator[client.ApiClient]:
    """An admin ``ApiClient`` for the local cluster."""
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kube_cluster.kubeconfig)
    )
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]


def _wait_for(what: str, predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def namespace(kube_api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (with its default ServiceAccount) for one test."""
    core = client.CoreV1Api(kube_api)
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def has_default_sa() -> bool:
        accounts = core.list_namespaced_service_account(
            name, field_selector="metadata.name=default"
        )
        return bool(accounts.items)

    _wait_for(f"the default ServiceAccount in {name}", has_default_sa)
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how long the control plane took to start."""
    if _start_seconds:
        terminalreporter.write_line(
            f"kontinue: local control plane started (with CRDs) in {_start_seconds[0]:.1f}s"
        )
