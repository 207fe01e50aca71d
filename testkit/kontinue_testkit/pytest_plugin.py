"""pytest plugin: the real local Kubernetes control plane for kontinue's tests.

Fixtures:
    kube_cluster  (session) one control plane per test session with the CRDs installed; or the
                  cluster of ``make cluster-up`` when ``KONTINUE_TEST_CLUSTER_DIR`` names its
                  work directory (faster local iteration).
    kube_api      (session) a ``kubernetes.client.ApiClient`` with admin rights.
    namespace     (function) a fresh namespace per test, deleted afterwards.
    other_namespace (function) a second fresh namespace, for tests that span two.
    client        (function) a kontinue ``Client`` (admin rights) for the test's namespace.
    kontinue_controller (session) one controller for every namespace (:class:`SessionController`).
    start_worker  (function) starts ``kontinue-worker`` processes (:data:`StartWorker`).
    start_ui      (function) starts ``kontinue-ui`` processes (:data:`StartUi`).

Invariants: a test that needs the cluster never skips; when the binaries are missing the
fixture fails with the command that builds them. The cluster is stopped when the session ends,
also after a failure or Ctrl-C (and the kernel kills it if the test process is killed). When any
test failed, the components' logs are kept under ``test-artifacts/cluster-logs``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config

from kontinue.client import Client
from kontinue.devcluster import LocalCluster, find_testbin
from kontinue.devcluster.processes import free_port, kill_with_parent

KONTINUE = str(Path(sys.executable).parent / "kontinue")
"""The ``kontinue`` command installed beside the Python running the tests."""

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

    def audit_events(self, namespace: str) -> list[dict[str, Any]]:
        """The API server's completed audit events of objects in ``namespace``, oldest first.

        The control plane audits the writes its audit policy names (kontinue's resources among
        them); none before the log exists.
        """
        path = self.logs_dir / "audit.log"
        if not path.exists():
            return []
        events = [json.loads(line) for line in path.read_text().splitlines()]
        return [
            e
            for e in events
            if e.get("stage") == "ResponseComplete"
            and (e.get("objectRef") or {}).get("namespace") == namespace
        ]

    def execution_writes(self, namespace: str, name: str) -> list[str]:
        """The writes to one Execution, oldest first, as verb and subresource (``patch status``).

        From the API server's audit log (:meth:`audit_events`).
        """
        return [
            f"{event['verb']} {event['objectRef'].get('subresource') or ''}".strip()
            for event in self.audit_events(namespace)
            if event["objectRef"].get("name") == name
            and event["objectRef"].get("resource") == "executions"
            and event.get("verb") in ("create", "update", "patch", "delete")
        ]

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

    def create(
        self, namespace: str, *objects: dict[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl create`` the given objects in ``namespace``."""
        manifest = yaml.safe_dump_all(list(objects))
        return self.kubectl("create", "-n", namespace, "-f", "-", input=manifest, check=check)

    def get(self, namespace: str, *what: str) -> Any:
        """``kubectl get ... -o json``, decoded."""
        return json.loads(self.kubectl("get", "-n", namespace, *what, "-o", "json").stdout)

    def patch_status(
        self, namespace: str, resource: str, name: str, status: dict[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Merge-patch an object's status through the status subresource."""
        patch = json.dumps({"status": status})
        return self.kubectl(
            "patch",
            "-n",
            namespace,
            resource,
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            patch,
            check=check,
        )

    def wait_allowed(
        self,
        user: str,
        verb: str,
        resource: str,
        namespace: str,
        *,
        groups: tuple[str, ...] = (),
        timeout: float = 30.0,
    ) -> None:
        """Wait until RBAC lets ``user`` (in ``groups``) ``verb`` ``resource`` in ``namespace``.

        A Role or RoleBinding just created reaches the API server's authorizer through its
        informer, a moment later: a test that acts at once could be refused for that alone.
        """
        who = ["--as", user, *(f"--as-group={g}" for g in groups)]

        def allowed() -> bool:
            answer = self.kubectl(
                "auth", "can-i", verb, resource, "-n", namespace, *who, check=False
            )
            return answer.stdout.strip() == "yes"

        wait_for(f"{user} to be allowed to {verb} {resource} in {namespace}", allowed, timeout)

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


def kontinue_object(
    kind: str, name: str, spec: dict[str, Any], *, generate_name: bool = False
) -> dict[str, Any]:
    """A manifest of a kontinue resource (``generate_name`` makes ``name`` a prefix)."""
    metadata = {"generateName": name} if generate_name else {"name": name}
    return {
        "apiVersion": "kontinue.cloud/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    }


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


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
def kube_api(kube_cluster: TestCluster) -> Iterator[k8s.ApiClient]:
    """An admin ``ApiClient`` for the local cluster."""
    api: k8s.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kube_cluster.kubeconfig)
    )
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]


def _fresh_namespace(core: k8s.CoreV1Api, request: pytest.FixtureRequest) -> str:
    """Create a namespace named after the test; return once its default ServiceAccount exists."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))

    def has_default_sa() -> bool:
        accounts = core.list_namespaced_service_account(
            name, field_selector="metadata.name=default"
        )
        return bool(accounts.items)

    wait_for(f"the default ServiceAccount in {name}", has_default_sa, timeout=30)
    return name


@pytest.fixture
def namespace(kube_api: k8s.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (with its default ServiceAccount) for one test."""
    core = k8s.CoreV1Api(kube_api)
    name = _fresh_namespace(core, request)
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def other_namespace(
    kube_api: k8s.ApiClient, namespace: str, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A second fresh namespace (besides ``namespace``) for a test that spans two."""
    core = k8s.CoreV1Api(kube_api)
    name = _fresh_namespace(core, request)
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def client(kube_cluster: TestCluster, namespace: str) -> Client:
    """A kontinue :class:`~kontinue.client.Client` with admin rights in the test's namespace."""
    return Client(namespace=namespace, kubeconfig=str(kube_cluster.kubeconfig))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how long the control plane took to start."""
    if _start_seconds:
        terminalreporter.write_line(
            f"kontinue: local control plane started (with CRDs) in {_start_seconds[0]:.1f}s"
        )


class WorkerProcess:
    """A ``kontinue-worker`` (or controller) process started by a test."""

    def __init__(self, process: subprocess.Popen[bytes], name: str, log_path: Path) -> None:
        self.process = process
        self.name = name
        self.log_path = log_path

    def signal(self, signum: int) -> None:
        """Send a signal (SIGKILL, SIGSTOP, SIGCONT, SIGTERM...)."""
        self.process.send_signal(signum)

    def kill(self) -> None:
        """Kill -9 and reap."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for a graceful exit; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return int(self.process.wait())

    def log(self) -> str:
        """What the worker printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def spawn_controller(
    kube_cluster: TestCluster,
    log_path: Path,
    *,
    identity: str,
    lease_duration: int = 4,
    lease_name: str = "kontinue-controller",
    scope: tuple[str, ...] = ("--all-namespaces",),
    metrics_port: int = 0,
    env: Mapping[str, str] | None = None,
) -> WorkerProcess:
    """Start a ``kontinue-controller`` replica (every namespace unless ``scope`` says)."""
    command = [
        str(Path(sys.executable).parent / "kontinue-controller"),
        *scope,
        "--lease-namespace",
        "default",
        "--lease-name",
        lease_name,
        "--identity",
        identity,
        "--lease-duration",
        str(lease_duration),
        "--metrics-port",
        str(metrics_port),
    ]
    return spawn(kube_cluster, command, identity, log_path, env=env)


def spawn(
    kube_cluster: TestCluster,
    command: list[str],
    name: str,
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> WorkerProcess:
    """Start a service process against the test cluster; it dies with the test session.

    ``env`` adds to (or overrides) the test process's environment.
    """
    full_env = {
        **os.environ,
        "KUBECONFIG": str(kube_cluster.kubeconfig),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    return spawn_with_env(command, full_env, name, log_path)


def spawn_with_env(
    command: list[str], env: Mapping[str, str], name: str, log_path: Path
) -> WorkerProcess:
    """Start a process with exactly ``env``; its output goes to ``log_path``.

    It runs in its own session and dies with the test session.
    """
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=kill_with_parent,
        )
    return WorkerProcess(process, name, log_path)


class SessionController:
    """The session's controller; tests may kill and restart it.

    It serves ``/metrics`` on a free port (:attr:`metrics_url`) and writes its spans (the
    attempts it takes over, the executions it ends) as JSON lines to :attr:`traces_file`.
    """

    def __init__(self, kube_cluster: TestCluster, directory: Path) -> None:
        self._cluster = kube_cluster
        self._directory = directory
        self.restarts = 0
        self.traces_file = directory / "controller-traces.jsonl"
        self.metrics_port = free_port()
        self.process = self.start()

    @property
    def metrics_url(self) -> str:
        """The controller's ``/metrics`` URL."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> WorkerProcess:
        """Start a replica and wait until it leads."""
        log_path = self._directory / f"controller-{self.restarts}.log"
        process = spawn_controller(
            self._cluster,
            log_path,
            identity=f"session-controller-{self.restarts}",
            metrics_port=self.metrics_port,
            env=trace_file_env(self.traces_file),
        )
        try:
            wait_for(
                "the controller to lead",
                lambda: "leading" in process.log() or process.process.poll() is not None,
                timeout=60,
            )
        except AssertionError:
            process.kill()
            raise
        assert process.process.poll() is None, process.log()
        return process

    def kill(self) -> None:
        """Kill -9 the running replica (its Lease stays until it expires)."""
        self.process.kill()

    def restart(self) -> None:
        """Start a new replica after :meth:`kill`."""
        self.restarts += 1
        self.process = self.start()


def trace_file_env(path: Path) -> dict[str, str]:
    """The environment that makes a service write its finished spans to ``path``."""
    return {
        "OTEL_TRACES_EXPORTER": "jsonl",
        "KONTINUE_TRACES_FILE": str(path),
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }


StartWorker = Callable[..., WorkerProcess]
"""The ``start_worker`` fixture's function: ``start_worker(module, *, path=None,
group="default", hold=30.0, lease_duration=15, name=None, concurrency=16, extra=(),
metrics_port=0, env=None)`` starts a worker in the test's namespace and returns its
:class:`WorkerProcess` once it serves."""


@pytest.fixture(scope="session")
def kontinue_controller(
    kube_cluster: TestCluster,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[SessionController]:
    """One controller for the session (all namespaces), started before any worker."""
    controller = SessionController(kube_cluster, tmp_path_factory.mktemp("controller"))
    try:
        yield controller
    finally:
        controller.process.stop()
        if request.session.testsfailed:
            print(f"\n--- controller log (tail) ---\n{controller.process.log()[-8000:]}")


@pytest.fixture
def start_worker(
    kube_cluster: TestCluster,
    namespace: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    kontinue_controller: SessionController,
) -> Iterator[StartWorker]:
    """Start ``kontinue-worker`` processes in the test's namespace; all are stopped afterwards.

    ``start_worker(module, path=..., group=..., hold=..., lease_duration=..., name=...,
    metrics_port=..., env=...)``; ``/metrics`` is off unless a ``metrics_port`` is given.
    """
    started: list[WorkerProcess] = []

    def start(
        module: str,
        *,
        path: str | Path | None = None,
        group: str = "default",
        hold: float = 30.0,
        lease_duration: int = 15,
        name: str | None = None,
        concurrency: int = 16,
        extra: tuple[str, ...] = (),
        metrics_port: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> WorkerProcess:
        worker_name = name or f"worker-{len(started) + 1}"
        log_path = tmp_path / f"{worker_name}.log"
        command = [
            sys.executable,
            "-m",
            "kontinue_worker",
            "--module",
            module,
            "--namespace",
            namespace,
            "--group",
            group,
            "--hold",
            str(hold),
            "--lease-duration",
            str(lease_duration),
            "--name",
            worker_name,
            "--concurrency",
            str(concurrency),
            "--grace",
            "5",
            "--metrics-port",
            str(metrics_port),
            *extra,
        ]
        if path is not None:
            command += ["--path", str(path)]
        worker = spawn(kube_cluster, command, worker_name, log_path, env=env)
        started.append(worker)
        wait_for(  # registered its functions and claiming
            f"worker {worker_name} to serve",
            lambda: " serving " in worker.log() or worker.process.poll() is not None,
            timeout=60,
        )
        return worker

    yield start
    failed = getattr(request.node, "rep_call", None)
    for worker in started:
        if worker.process.poll() is None:
            worker.signal(signal.SIGCONT)
            worker.kill()
        if failed is not None and failed.failed:
            print(f"\n--- {worker.name} log ---\n{worker.log()[-6000:]}")


@dataclass
class UiProcess:
    """A running ``kontinue-ui``."""

    url: str
    process: WorkerProcess

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        """GET ``path``; returns the status and body."""
        return self.request("GET", path, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """One plain HTTP request (no browser, no cookies)."""
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


StartUi = Callable[..., UiProcess]
"""The ``start_ui`` fixture's function: ``start_ui(*extra_flags)`` returns the running
:class:`UiProcess` once its cache is synced."""


@pytest.fixture
def start_ui(
    kube_cluster: TestCluster, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StartUi]:
    """Start ``kontinue-ui`` processes for the test's namespace; stopped afterwards.

    ``start_ui(*extra_flags)`` returns once ``/readyz`` answers 200 (its cache is synced):
    one gunicorn worker, pages refreshing every 0.5 s, no metrics unless ``extra`` asks.
    """
    started: list[UiProcess] = []

    def start(*extra: str) -> UiProcess:
        port = free_port()
        command = [
            sys.executable, "-m", "kontinue_ui", "--namespace", namespace,
            "--port", str(port), "--workers", "1", "--refresh-seconds", "0.5",
            "--metrics-port", "0", *extra,
        ]  # fmt: skip
        log = tmp_path / f"ui-{len(started)}.log"
        process = spawn(kube_cluster, command, f"ui-{len(started)}", log)
        ui = UiProcess(f"http://127.0.0.1:{port}", process)
        started.append(ui)
        deadline = time.monotonic() + 60
        while True:
            assert process.process.poll() is None, f"kontinue-ui exited:\n{process.log()}"
            try:
                if ui.get("/readyz")[0] == 200:
                    return ui
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, f"kontinue-ui not ready:\n{process.log()}"
            time.sleep(0.1)

    yield start
    failed = getattr(request.node, "rep_call", None)
    for ui in started:
        ui.process.stop(timeout=10)
        if failed is not None and failed.failed:
            print(f"\n--- {ui.process.name} log ---\n{ui.process.log()[-6000:]}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the test item (fixtures print logs on failure)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
