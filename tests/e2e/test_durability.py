"""Faults around the controller and the watch caches, each the history of a once-wedged run."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kontinue.api.phases import Phase, execution_phase
from kontinue.api.timestamps import format_micro_time, parse_time
from kontinue.client import Client
from kontinue.client.kubeapi import JOBS, LEASES, SUSPENSIONS
from kontinue_testkit.faultproxy import FaultProxy, proxied_kubeconfig
from kontinue_testkit.pytest_plugin import (
    SessionController,
    StartWorker,
    TestCluster,
    WorkerProcess,
    spawn_controller,
    wait_for,
)

FLOWS = Path(__file__).parent / "workflows"
StartController = Callable[..., WorkerProcess]


@pytest.fixture
def controllers(
    kontinue_controller: SessionController,
    kube_cluster: TestCluster,
    namespace: str,
    tmp_path: Path,
) -> Iterator[StartController]:
    """The session's controller stopped; the test starts its own (scoped to its namespace)."""
    kontinue_controller.kill()
    started: list[WorkerProcess] = []

    def start(
        identity: str, *, env: dict[str, str] | None = None, lease_duration: int = 4
    ) -> WorkerProcess:
        process = spawn_controller(
            kube_cluster,
            tmp_path / f"{identity}.log",
            identity=identity,
            lease_name=f"ctl-{namespace}"[:63],
            lease_duration=lease_duration,
            scope=("--namespace", namespace),
            env=env,
        )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.signal(signal.SIGCONT)
            process.kill()
        kontinue_controller.restart()


def _leading(process: WorkerProcess) -> bool:
    return " leading; managing " in process.log()


def test_a_sleep_due_while_the_controller_cannot_reach_the_api_ends_after_all(
    kube_cluster: TestCluster,
    client: Client,
    start_worker: StartWorker,
    controllers: StartController,
    tmp_path: Path,
) -> None:
    proxy = FaultProxy(("127.0.0.1", kube_cluster.cluster.ports["apiserver"]))
    try:
        kubeconfig = proxied_kubeconfig(kube_cluster.kubeconfig, proxy, tmp_path / "ctl.yaml")
        # its leadership outlasts the cut (it would rightly stop leading otherwise)
        controller = controllers("cut-off", env={"KUBECONFIG": str(kubeconfig)}, lease_duration=15)
        wait_for("the controller to lead", lambda: _leading(controller), timeout=60)
        start_worker("durability_flows", path=FLOWS, hold=0)
        name = client.create_execution("napper", {"seconds": 6})["metadata"]["name"]
        suspension = wait_for(
            "the sleep",
            lambda: client.kube.get_or_none(SUSPENSIONS, client.namespace, f"{name}--nap"),
            timeout=60,
        )
        resume_at = parse_time(suspension["spec"]["resumeAt"])
        assert resume_at is not None
        time.sleep(max(0.0, (resume_at - datetime.now(UTC)).total_seconds() - 1.0))
        proxy.refuse(6.0)  # the sleep's timer fires while the controller is cut off
        time.sleep(6.0)
        done = client.wait(name, timeout=90)["status"]
        assert done["phase"] == "Completed"
        assert proxy.resets > 0
        assert " failed (" in controller.log() and "again in" in controller.log()
    finally:
        proxy.close()


def test_takeover_ignores_a_skewed_clock_and_follows_the_renewals(
    kube_cluster: TestCluster, client: Client, namespace: str
) -> None:
    """A worker whose clock runs an hour late renews its Lease: nothing is taken from it."""
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "kontinue-worker-skewed",
            "labels": {"kontinue.cloud/worker-group": "skew"},
            "annotations": {"kontinue.cloud/worker-pod": "skewed"},
        },
        "spec": {"holderIdentity": "skewed-1", "leaseDurationSeconds": 3},
    }
    client.kube.create(LEASES, namespace, lease)
    name = client.create_execution("nobody-serves-this", worker_group="skew")["metadata"]["name"]
    kube_cluster.patch_status(
        namespace,
        "execution",
        name,
        {"phase": "Executing", "workerName": "skewed", "workerId": "skewed-1", "claim": 1},
    )
    stop = threading.Event()

    def renew_an_hour_late() -> None:
        while not stop.wait(0.5):
            late = format_micro_time(datetime.now(UTC) - timedelta(hours=1))
            client.kube.merge_patch(
                LEASES, namespace, "kontinue-worker-skewed", {"spec": {"renewTime": late}}
            )

    renewer = threading.Thread(target=renew_an_hour_late, daemon=True)
    renewer.start()
    try:
        time.sleep(10)  # three lease durations, every renewal an hour "old"
        assert execution_phase(client.get(name)) == Phase.EXECUTING
    finally:
        stop.set()
        renewer.join()
    taken = wait_for(
        "the takeover once the renewals stop",
        lambda: (s := client.get(name).get("status") or {}).get("phase") == "Pending" and s,
        timeout=30,
    )
    assert "stopped renewing its lease" in taken["message"]
    assert "workerId" not in taken


def test_a_leader_paused_past_its_lease_stops_leading_when_it_wakes(
    kube_cluster: TestCluster,
    client: Client,
    start_worker: StartWorker,
    controllers: StartController,
) -> None:
    first = controllers("first")
    wait_for("the first replica to lead", lambda: _leading(first), timeout=60)
    second = controllers("second")
    wait_for("the second replica to campaign", lambda: "campaigning" in second.log(), timeout=30)
    start_worker("durability_flows", path=FLOWS, hold=0)
    name = client.create_execution("napper", {"seconds": 3})["metadata"]["name"]
    first.signal(signal.SIGSTOP)  # paused past its lease (4 s); its sleep timer comes due
    wait_for("the second replica to lead", lambda: _leading(second), timeout=60)
    assert client.wait(name, timeout=60)["status"]["phase"] == "Completed"
    first.signal(signal.SIGCONT)
    assert first.process.wait(timeout=30) == 1  # it learns it lost the lead and exits
    assert "lost the leadership" in first.log()
    assert second.process.poll() is None


def test_a_suspension_deleted_by_hand_fails_its_step_and_is_not_recreated(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str
) -> None:
    start_worker("durability_flows", path=FLOWS, hold=0)
    name = client.create_execution("gate", {"n": 1})["metadata"]["name"]
    wait_for("the release", lambda: execution_phase(client.get(name)) == Phase.SUSPENDED)
    kube_cluster.kubectl("delete", "-n", namespace, "suspension", f"{name}--approval")
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    assert f"Suspension {name}--approval of step 'approval' was deleted" in done["error"]["message"]
    assert done["error"]["retryable"] is False
    assert client.kube.get_or_none(SUSPENSIONS, namespace, f"{name}--approval") is None


def test_a_job_deleted_by_hand_fails_its_step_and_never_runs_again(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str
) -> None:
    start_worker("durability_flows", path=FLOWS, hold=0)
    name = client.create_execution("held-pod")["metadata"]["name"]
    wait_for("the release", lambda: execution_phase(client.get(name)) == Phase.SUSPENDED)
    kube_cluster.kubectl("delete", "-n", namespace, "job", f"{name}--pod", "--wait=false")
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    assert f"Job {name}--pod of step 'pod' was deleted" in done["error"]["message"]
    time.sleep(2)
    jobs = client.kube.list(JOBS, namespace)["items"]
    assert [j for j in jobs if not j["metadata"].get("deletionTimestamp")] == []
