"""The chart installed on a real node whose kubelet runs the images built here.

One release for the whole module, the tests in order: install (default values plus the test's
image names) and every Pod Ready through its real probes; the release train through the UI
Service, approval included; a job step running a real container whose logs come back; a worker
pod deleted, one frozen (a lease takeover) and one killed mid-execution; ``helm upgrade`` to a
new worker image; every query of every panel of the three Grafana dashboards evaluated by a
real Prometheus scraping the release; ``helm uninstall`` leaving only the CRDs.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from kontinue.api import labels
from kontinue.client import Client
from kontinue.client.kubeapi import JOBS, PODS
from kontinue.workflow import ExecuteOptions, TimeoutOptions
from kontinue_testkit.prometheus import PrometheusServer, dashboard_queries, scrape_configs
from kontinue_testkit.pytest_plugin import wait_for
from kontinue_testkit.realnode import RealNodeEnv, pod_logs, report
from kontinue_testkit.ui_session import UiSession

pytestmark = [pytest.mark.real_node, pytest.mark.timeout(900)]

RELEASE = "kontinue"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"


@dataclass
class Release:
    """The module's release and what the tests learned about it."""

    env: RealNodeEnv
    namespace: str
    """The release namespace (the controller, the workers, the UI)."""
    workflows: str
    """Where workflows run: the chart's default, ``<release namespace>-workflows``."""
    client: Client
    values: list[str]
    install_to_ready: float = 0.0
    started: list[str] = field(default_factory=list)
    """Every execution the tests started (none may be lost)."""

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """kubectl in the release namespace."""
        return self.env.cluster.kubectl("-n", self.namespace, *args, check=check)

    def get(self, *what: str) -> Any:
        """``kubectl get -o json`` in the release namespace."""
        return self.env.cluster.get(self.namespace, *what)

    def in_workflows(self, *what: str) -> Any:
        """``kubectl get -o json`` in the workflows' namespace."""
        return self.env.cluster.get(self.workflows, *what)

    def pods(self, component: str) -> list[dict[str, Any]]:
        """The release's pods of one component (not terminating)."""
        items = self.get("pods", "-l", f"{INSTANCE}={RELEASE},{COMPONENT}={component}")["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ui_base(self) -> str:
        """The UI Service's address, reached from this machine through kube-proxy."""
        service = self.get("service", f"{RELEASE}-ui")
        return f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"

    def start(self, function: str, data: Any) -> str:
        """Create an execution; remember it."""
        name = str(self.client.create_execution(function, data)["metadata"]["name"])
        self.started.append(name)
        return name


def release_args(release: Release) -> list[str]:
    """The release's ``--set`` arguments."""
    return [a for value in release.values for a in ("--set", value)]


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _all_ready(release: Release, expected: dict[str, int]) -> bool:
    for component, count in expected.items():
        pods = release.pods(component)
        if len(pods) != count or not all(_ready(p) for p in pods):
            return False
    return True


@pytest.fixture(scope="module")
def release(real_node: RealNodeEnv) -> Iterator[Release]:
    """``helm install`` with the default values and the test's image names; uninstalled last."""
    env = real_node
    namespace = "kontinue-system"
    env.cluster.kubectl("create", "namespace", namespace)
    values = [
        f"controller.image.repository={env.images['controller'].name.split(':')[0]}",
        f"controller.image.tag={env.tag}",
        f"worker.image.repository={env.images['example-worker'].name.split(':')[0]}",
        f"worker.image.tag={env.tag}",
        f"ui.image.repository={env.images['ui'].name.split(':')[0]}",
        f"ui.image.tag={env.tag}",
        # the tests drive the UI's forms, which a default install keeps read-only
        "ui.auth.anonymousActions=true",
    ]
    workflows = f"{namespace}-workflows"
    client = Client(namespace=workflows, kubeconfig=str(env.cluster.kubeconfig))
    state = Release(env, namespace, workflows, client, values)
    try:
        yield state
    finally:
        env.cluster.helm("uninstall", RELEASE, "-n", namespace, "--wait", check=False)


@pytest.fixture(scope="module")
def prometheus(
    release: Release, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A Prometheus server scraping the release as the chart's ServiceMonitor/PodMonitor say."""
    env = release.env
    rendered = env.cluster.helm(
        "template", RELEASE, str(env.repo / "charts" / "kontinue"), "-n", release.namespace,
        "--set", "metrics.enabled=true", "--set", "metrics.interval=5s", *release_args(release),
    ).stdout  # fmt: skip
    objects = [o for o in yaml.safe_load_all(rendered) if o]
    jobs = scrape_configs(objects, env.cluster.kubeconfig)
    assert {j["job_name"].split("/")[0] for j in jobs} == {"serviceMonitor", "podMonitor"}
    server = PrometheusServer(env.tools_bin / "prometheus", tmp_path_factory.mktemp("prom"), jobs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- install -------------------------------------------------------------------------------------


def test_install_with_default_values_pods_ready_through_real_probes(
    release: Release, prometheus: PrometheusServer
) -> None:
    env = release.env
    args = release_args(release)
    started = time.monotonic()
    env.cluster.helm("install", RELEASE, str(env.repo / "charts" / "kontinue"),
                     "-n", release.namespace, *args)  # fmt: skip
    expected = {"controller": 2, "worker": 2, "ui": 1}
    wait_for("every pod Ready", lambda: _all_ready(release, expected), timeout=240)
    release.install_to_ready = time.monotonic() - started
    report(f"helm install -> all {sum(expected.values())} pods Ready: "
           f"{release.install_to_ready:.1f}s")  # fmt: skip
    for component in expected:
        for pod in release.pods(component):
            assert pod["spec"]["nodeName"] == env.node.name, pod["metadata"]["name"]
            (status,) = pod["status"]["containerStatuses"]
            assert status["ready"] and status["state"].get("running"), status
            assert status["imageID"], status  # the runtime ran an image of its own store
            spec = pod["spec"]["containers"][0]
            assert spec["readinessProbe"] and spec["livenessProbe"]
    # the probes were answered for real: Ready came from the readiness probes (which fail until
    # a process serves), and no liveness probe ever failed, so nothing was restarted
    events = release.get("events")["items"]
    unhealthy = [e.get("message", "") for e in events if e.get("reason") == "Unhealthy"]
    liveness = [message for message in unhealthy if "Liveness" in message]
    assert not liveness, liveness
    for component in expected:
        for pod in release.pods(component):
            assert pod["status"]["containerStatuses"][0]["restartCount"] == 0, pod["metadata"]
    # two controller replicas, one leads (its Lease names it)
    lease = release.get("lease", f"{RELEASE}-controller")
    holder = lease["spec"]["holderIdentity"]
    controllers = {p["metadata"]["name"] for p in release.pods("controller")}
    assert holder in controllers, (holder, controllers)
    leading = [
        name for name in controllers
        if "leading" in release.kubectl("logs", name).stdout
    ]  # fmt: skip
    assert leading == [holder]
    # the containers run as the images' non-root user with a read-only root file system
    worker = release.pods("worker")[0]["metadata"]["name"]
    probe = "import os; print(os.getuid()); open('/x', 'w')"
    out = release.kubectl("exec", worker, "--", "python", "-c", probe, check=False)
    assert out.stdout.split()[0] == "10001"
    assert "Read-only file system" in out.stderr


# -- workflows -----------------------------------------------------------------------------------


def _phase(release: Release, name: str) -> str:
    status = release.client.get(name).get("status") or {}
    return str(status.get("phase") or "Pending")


def _finished(release: Release, name: str, timeout: float = 180) -> dict[str, Any]:
    try:
        wait_for(
            f"{name} to finish",
            lambda: _phase(release, name) in ("Completed", "Failed", "Canceled"),
            timeout=timeout,
        )
    except AssertionError:
        status = json.dumps(release.client.get(name).get("status"), indent=1)
        leases = release.kubectl("get", "leases", "-o", "wide").stdout
        raise AssertionError(
            f"{name} did not finish in {timeout:.0f}s; its status:\n{status}\nleases:\n{leases}"
            f"\n{pod_logs(release.env, release.namespace, tail=60)}"
        ) from None
    return dict(release.client.get(name)["status"])


def test_release_train_through_the_ui_service_with_its_approval(release: Release) -> None:
    ui = UiSession(release.ui_base())
    assert ui.page("/readyz").strip() == "ok"
    start = f"/start/{release.workflows}/default/release-train"
    page = ui.submit(start, start, {"service": "payments", "version": "3.1.0"})
    name = page.rsplit("/", 1)[-1]
    release.started.append(name)

    def awaiting_approval() -> bool:
        status = release.client.get(name).get("status") or {}
        return status.get("phase") == "Suspended" and "approval" in json.dumps(
            status.get("suspendedOn") or []
        )

    wait_for("the approval to be awaited", awaiting_approval, timeout=120)
    (approval,) = release.in_workflows("suspensions", "-l", f"{labels.PARENT}={name}")["items"]
    assert approval["metadata"]["name"] in ui.page(page)
    payload = {"approved": True, "by": "release-manager"}
    fields = {"suspension": approval["metadata"]["name"], "data": json.dumps(payload)}
    assert ui.submit(f"{page}/resume", page, fields) == page
    done = _finished(release, name)
    assert done["phase"] == "Completed", done
    assert done["result"] == {
        "image": "registry.local/payments:3.1.0",
        "approval": payload,
        "shipped": "registry.local/payments:3.1.0 shipped",
    }
    assert "registry.local/payments:3.1.0 shipped" in ui.page(page)


def _jobs_of(release: Release, execution: str) -> list[dict[str, Any]]:
    selector = f"{labels.PARENT}={execution}"
    return list(release.client.kube.list(JOBS, release.workflows, label_selector=selector)["items"])


def _pods_of_job(release: Release, job: str) -> list[dict[str, Any]]:
    selector = f"batch.kubernetes.io/job-name={job}"
    return list(release.client.kube.list(PODS, release.workflows, label_selector=selector)["items"])


def test_a_job_step_runs_a_real_container_and_its_logs_come_back(release: Release) -> None:
    image = release.env.python_image
    command = 'echo "smoke test on $(uname -n) as $(id -u)"; echo done'
    name = release.start("release-smoke-test", {"image": image, "command": command})
    done = _finished(release, name)
    assert done["phase"] == "Completed", done
    (job,) = _jobs_of(release, name)
    (pod,) = _pods_of_job(release, job["metadata"]["name"])
    assert pod["spec"]["nodeName"] == release.env.node.name
    # the pod's host name is its own name: the output came from the container that ran
    assert done["result"] == {
        "pod": pod["metadata"]["name"],
        "output": f"smoke test on {pod['metadata']['name']} as 0\ndone",
    }
    # a container that fails: its exit code and its last lines fail the execution
    failing = release.start(
        "release-smoke-test", {"image": image, "command": "echo 'migration 7 failed' >&2; exit 7"}
    )
    failed = _finished(release, failing)
    assert failed["phase"] == "Failed", failed
    message = json.dumps(failed)
    assert "exited with 7" in message and "migration 7 failed" in message


def _executing_on(release: Release, names: list[str]) -> dict[str, str]:
    """Execution -> the worker pod running it, for those Executing now.

    A worker's name is its host name (the pod's name) with a suffix of its own.
    """
    pods = [p["metadata"]["name"] for p in release.pods("worker")]
    running = {}
    for name in names:
        status = release.client.get(name).get("status") or {}
        worker = str(status.get("workerName") or "")
        pod = next((p for p in pods if worker.startswith(p)), None)
        if status.get("phase") == "Executing" and pod:
            running[name] = pod
    return running


def _check_nothing_lost_or_twice(release: Release, names: list[str], marker: str) -> int:
    """Every execution Completed, each with one Job, one pod, the step's output once."""
    duplicated = 0
    for name in names:
        done = _finished(release, name, timeout=300)
        assert done["phase"] == "Completed", (name, done)
        jobs = _jobs_of(release, name)
        pods = [p for j in jobs for p in _pods_of_job(release, j["metadata"]["name"])]
        duplicated += len(jobs) - 1 + len(pods) - 1
        assert done["result"]["output"].count(marker) == 1, done["result"]
    return duplicated


def _claimed(release: Release, names: list[str]) -> dict[str, str]:
    claimed: dict[str, str] = wait_for(
        "the executions to be claimed",
        lambda: r if len(r := _executing_on(release, names)) == len(names) else None,
        timeout=120,
    )
    return claimed


SLOW_STEP = "sleep 12; echo step-ran-once"  # well inside the workers' hold (30 s)


def test_worker_pod_deleted_mid_execution(release: Release) -> None:
    """``kubectl delete pod`` of a worker running executions: nothing lost, nothing twice."""
    image = release.env.python_image
    names = [release.start("release-smoke-test", {"image": image, "command": SLOW_STEP})
             for _ in range(6)]  # fmt: skip
    running = _claimed(release, names)
    workers = sorted(set(running.values()))
    victim = workers[0]
    started = time.monotonic()
    release.kubectl("delete", "pod", victim, "--wait=false")
    wait_for(
        "the Deployment to replace the deleted worker",
        lambda: (
            _all_ready(release, {"worker": 2})
            and victim not in {p["metadata"]["name"] for p in release.pods("worker")}
        ),
        timeout=180,
    )
    duplicated = _check_nothing_lost_or_twice(release, names, "step-ran-once")
    lost = sum(1 for n in names if _phase(release, n) != "Completed")
    report(
        f"worker pod deleted mid-execution ({len(names)} executions, {len(workers)} workers): "
        f"executions lost {lost}, steps duplicated {duplicated}, all done "
        f"{time.monotonic() - started:.0f}s after the delete"
    )
    assert (lost, duplicated) == (0, 0)


def _container_id(release: Release, pod: str) -> str:
    status = release.get("pod", pod)["status"]["containerStatuses"][0]
    return str(status["containerID"].split("://", 1)[1])


def test_a_frozen_worker_is_taken_over(release: Release) -> None:
    """A worker that stops answering (its container frozen) loses its executions to a lease
    takeover; the others finish them, and when it thaws it commits nothing of theirs."""
    image = release.env.python_image
    names = [release.start("release-smoke-test", {"image": image, "command": SLOW_STEP})
             for _ in range(4)]  # fmt: skip
    victim = sorted(set(_claimed(release, names).values()))[0]
    frozen = [n for n, w in _executing_on(release, names).items() if w == victim]
    container = _container_id(release, victim)
    release.env.node.ctr("tasks", "pause", container)
    try:
        wait_for(
            "the controller to take the frozen worker's executions over",
            lambda: all(_phase(release, n) != "Executing"
                        or _executing_on(release, [n]).get(n) != victim for n in frozen),
            timeout=90,
        )  # fmt: skip
    finally:
        with contextlib.suppress(AssertionError):
            release.env.node.ctr("tasks", "resume", container)
    duplicated = _check_nothing_lost_or_twice(release, names, "step-ran-once")
    report(f"worker frozen mid-execution ({len(frozen)} of {len(names)} executions on it): "
           f"taken over, executions lost 0, steps duplicated {duplicated}")  # fmt: skip
    assert duplicated == 0


def test_a_killed_worker_container_is_restarted_and_nothing_is_lost(release: Release) -> None:
    """The runtime kills a worker container (as an OOM kill does); the kubelet restarts it."""
    image = release.env.python_image
    names = [release.start("release-smoke-test", {"image": image, "command": SLOW_STEP})
             for _ in range(2)]  # fmt: skip
    release.started = [n for n in release.started if n not in names]  # counted here
    victim = sorted(set(_claimed(release, names).values()))[0]
    release.env.node.ctr("tasks", "kill", "--signal", "SIGKILL", _container_id(release, victim))
    for name in names:  # a lease (15 s) and a claim later, well within this
        assert _finished(release, name, timeout=90)["phase"] == "Completed"


def test_helm_upgrade_rolls_the_workers_without_losing_an_execution(release: Release) -> None:
    env = release.env
    old_image = env.images["example-worker"].name
    new_tag = f"{env.tag}-upgrade"
    repository = old_image.split(":")[0]
    # a new image (a layer of its own, so a different image ID), loaded like the others
    build = subprocess.run(
        [env.docker, "build", "-t", f"{repository}:{new_tag}", "-"],
        input=f"FROM {old_image}\nLABEL org.opencontainers.image.version={new_tag}\n",
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    env.node.load_images([f"{repository}:{new_tag}"], docker=env.docker)
    old_pods = {p["metadata"]["name"] for p in release.pods("worker")}

    image = env.python_image
    command = SLOW_STEP.replace("step-ran-once", "upgraded-once")
    names = [release.start("release-smoke-test", {"image": image, "command": command})
             for _ in range(4)]  # fmt: skip
    train = release.start("release-train", {"service": "ledger", "version": "9.0.0"})
    wait_for("the executions to be claimed",
             lambda: len(_executing_on(release, names)) == len(names), timeout=120)  # fmt: skip
    # the same workflows in a new image: a compatible change, so the operator lets the new
    # workers take over what the old version started (by default it would stay pinned to it)
    old_tag = old_image.split(":")[-1]
    args = ["--set", f"worker.image.tag={new_tag}", "--set", f"worker.upgradeFrom[0]={old_tag}"]
    env.cluster.helm("upgrade", RELEASE, str(env.repo / "charts" / "kontinue"),
                     "-n", release.namespace, "--reuse-values", *args, "--wait",
                     "--timeout=300s")  # fmt: skip
    pods = release.pods("worker")
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {f"{repository}:{new_tag}"}
    assert not old_pods & {p["metadata"]["name"] for p in pods}
    assert _check_nothing_lost_or_twice(release, names, "upgraded-once") == 0
    # the release train started before the upgrade waits for its approval on the new workers
    wait_for("the train's approval", lambda: _phase(release, train) == "Suspended", timeout=180)
    (approval,) = release.in_workflows("suspensions", "-l", f"{labels.PARENT}={train}")["items"]
    release.client.resume_suspension(approval["metadata"]["name"], {"approved": True})
    finished = _finished(release, train)
    assert finished["phase"] == "Completed"
    assert finished["workerVersion"] == new_tag  # moved from the old version to the new


def test_every_dashboard_query_has_data(release: Release, prometheus: PrometheusServer) -> None:
    """Each query of each panel of the three dashboards, evaluated after the workflows ran."""
    repo = release.env.repo
    targets = wait_for(
        "Prometheus to scrape the controllers, the workers and the UI",
        lambda: t if len(t := prometheus.healthy_targets()) >= 5 else None,
        timeout=120,
    )
    assert {t["labels"]["pod"] for t in targets} >= {
        p["metadata"]["name"] for c in ("controller", "worker", "ui") for p in release.pods(c)
    }
    # the UI's own route series, and a burst of executions racing two workers for claims
    ui = UiSession(release.ui_base())
    ui.page("/")
    burst = [release.start("release-build", {"service": f"s{i}"}) for i in range(20)]
    # an execution outliving its overall timeout: the controller's timer ends it
    slow = {"image": release.env.python_image, "command": "sleep 60"}
    timed = release.client.create_execution(
        "release-smoke-test", slow, ExecuteOptions(timeout=TimeoutOptions(overall="5s"))
    )["metadata"]["name"]
    for name in burst:
        assert _finished(release, name)["phase"] == "Completed"
    assert _finished(release, timed)["phase"] == "Failed"
    dashboards = sorted((repo / "charts" / "kontinue" / "dashboards").glob("*.json"))
    queries = dashboard_queries(dashboards)
    assert len(queries) >= 40
    empty: dict[str, str] = {}

    def evaluate() -> bool:  # over the module's run, as a panel over that time range would
        empty.clear()
        for query in queries:
            if not prometheus.has_data(query.expr, since=prometheus.started):
                empty[query.where] = query.expr
        return not empty

    # counters need two scrapes inside the rate window; give them a few scrape intervals
    try:
        wait_for("every dashboard query to return data", evaluate, timeout=150)
    except AssertionError:
        raise AssertionError(f"queries without data: {json.dumps(empty, indent=1)}") from None
    report(f"dashboards: {len(queries)} queries in 3 dashboards evaluated by Prometheus, "
           f"none empty, no PromQL error")  # fmt: skip


# -- uninstall -----------------------------------------------------------------------------------


def test_uninstall_leaves_only_the_crds(release: Release) -> None:
    env = release.env
    lost = [n for n in release.started if _phase(release, n) not in ("Completed", "Failed")]
    assert not lost, lost
    env.cluster.helm("uninstall", RELEASE, "-n", release.namespace, "--wait", "--timeout=180s")
    kinds = ("deployments,replicasets,pods,services,serviceaccounts,secrets,configmaps,roles,"
             "rolebindings,poddisruptionbudgets,horizontalpodautoscalers,ingresses")  # fmt: skip
    selector = f"{INSTANCE}={RELEASE}"

    def leftovers() -> list[str]:
        names = release.kubectl("get", kinds, "-l", selector, "-o", "name").stdout.split()
        names += env.cluster.kubectl(
            "get", "clusterroles,clusterrolebindings", "-l", selector, "-o", "name"
        ).stdout.split()
        return names

    wait_for("the release's objects to be gone", lambda: not leftovers(), timeout=120)
    crds = env.cluster.kubectl("get", "crd", "-o", "name").stdout
    assert "executions.kontinue.cloud" in crds

    # the release's containers are gone from the node too (the job pods' may remain: Jobs
    # belong to their executions, which stay)
    def running_release_containers() -> list[str]:
        lines = env.node.ctr("containers", "list").splitlines()[1:]
        return [line for line in lines if "kontinue-controller" in line or "kontinue-ui" in line
                or "kontinue-example-worker" in line]  # fmt: skip

    wait_for("the release's containers to be removed", lambda: not running_release_containers(),
             timeout=120)  # fmt: skip
