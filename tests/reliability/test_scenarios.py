"""Ordinary faults that once left executions Executing for good, now each a regression test.

Workers (and, where said, a controller) reach the API server through a fault proxy that drops
and refuses connections or loses answers on demand; a worker is killed and restarted under the
same pod name. Every execution must end Completed, and the ledger of side effects must show no
committed step run twice.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ledger import check_effects, committed_values, read_ledger

from kontinue.api.phases import Phase, execution_phase
from kontinue.client import Client
from kontinue_testkit.faultproxy import FaultProxy, proxied_kubeconfig
from kontinue_testkit.pytest_plugin import StartWorker, TestCluster, wait_for

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
def proxy(kube_cluster: TestCluster) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(("127.0.0.1", kube_cluster.cluster.ports["apiserver"]))
    try:
        yield fault_proxy
    finally:
        fault_proxy.close()


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "ledger"
    directory.mkdir()
    return directory


def _proxied_env(kube_cluster: TestCluster, proxy: FaultProxy, tmp_path: Path) -> dict[str, str]:
    kubeconfig = proxied_kubeconfig(kube_cluster.kubeconfig, proxy, tmp_path / "proxied.yaml")
    return {"KUBECONFIG": str(kubeconfig)}


def _wait_all(client: Client, names: list[str], timeout: float) -> list[dict[str, Any]]:
    """Every execution once terminal (the assertion names the ones that are not)."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(done) < len(names):
        for item in client.list():
            if item["metadata"]["name"] in names and execution_phase(item).terminal:
                done[item["metadata"]["name"]] = item
        time.sleep(0.5)
    stuck = {
        n: (client.get(n).get("status") or {}).get("phase", "Pending")
        for n in names
        if n not in done
    }
    assert not stuck, f"not terminal after {timeout:.0f}s: {stuck}"
    return [done[n] for n in names]


def _assert_effects_once(
    client: Client, executions: list[dict[str, Any]], ledger_dir: Path
) -> tuple[int, int]:
    values = {e["metadata"]["uid"]: committed_values(client.kube, e) for e in executions}
    report = check_effects(executions, values, read_ledger(ledger_dir))
    assert report.steps, "no step was checked"
    assert report.duplicated == 0, report.details
    assert report.missing == 0, report.details
    return report.steps, report.inflight_reruns


def test_ten_one_second_connection_drops_under_forty_executions(
    kube_cluster: TestCluster,
    client: Client,
    start_worker: StartWorker,
    proxy: FaultProxy,
    ledger_dir: Path,
    tmp_path: Path,
) -> None:
    env = {**_proxied_env(kube_cluster, proxy, tmp_path), "KONTINUE_LEDGER": str(ledger_dir)}
    for name in ("drop-a", "drop-b"):
        start_worker("reliability_flows", path=FLOWS, name=name, concurrency=25, env=env)
    names = [
        client.create_execution(
            "rel-steps", {"n": 10, "pause": 0.4, "k": i}, name=f"ten-steps-{i}"
        )["metadata"]["name"]
        for i in range(40)
    ]
    for _ in range(10):  # ten one-second drops over 40 s
        time.sleep(3)
        proxy.refuse(1.0)
    executions = _wait_all(client, names, timeout=240)
    assert proxy.resets > 0
    assert {execution_phase(e) for e in executions} == {Phase.COMPLETED}
    assert [e["status"]["result"] for e in executions] == [45 * i for i in range(40)]
    steps, _ = _assert_effects_once(client, executions, ledger_dir)
    assert steps == 400


def test_a_worker_killed_and_restarted_at_once_under_the_same_name(
    client: Client, start_worker: StartWorker, ledger_dir: Path
) -> None:
    env = {"KONTINUE_LEDGER": str(ledger_dir)}
    # a lease long enough that its expiry cannot be what recovers the executions
    worker = start_worker(
        "reliability_flows", path=FLOWS, name="same-pod", concurrency=25, env=env,
        lease_duration=300,
    )  # fmt: skip
    names = [
        client.create_execution("rel-steps", {"n": 10, "pause": 0.5, "k": i})["metadata"]["name"]
        for i in range(20)
    ]
    wait_for(
        "executions running",
        lambda: sum(1 for e in client.list() if execution_phase(e) == Phase.EXECUTING) >= 10,
        timeout=60,
    )
    worker.signal(signal.SIGKILL)
    worker.process.wait()
    start_worker(
        "reliability_flows", path=FLOWS, name="same-pod", concurrency=25, env=env,
        lease_duration=300,
    )  # fmt: skip
    executions = _wait_all(client, names, timeout=120)
    assert {execution_phase(e) for e in executions} == {Phase.COMPLETED}
    assert sorted(e["status"]["result"] for e in executions) == sorted(45 * i for i in range(20))
    handed_back = [
        e for e in executions if "restarted" in " ".join(_events_of(client, e["metadata"]["name"]))
    ]
    _assert_effects_once(client, executions, ledger_dir)
    assert handed_back or any(int(e["status"].get("resumptions") or 0) for e in executions)


def _events_of(client: Client, name: str) -> list[str]:
    events = client.kube.request(
        "GET",
        f"/api/v1/namespaces/{client.namespace}/events",
        params={"fieldSelector": f"involvedObject.name={name}"},
    )
    return [str(e.get("message") or "") for e in events.get("items") or []]


def test_answers_lost_after_the_writes_landed_apply_no_step_twice(
    kube_cluster: TestCluster,
    client: Client,
    start_worker: StartWorker,
    proxy: FaultProxy,
    ledger_dir: Path,
    tmp_path: Path,
) -> None:
    env = {**_proxied_env(kube_cluster, proxy, tmp_path), "KONTINUE_LEDGER": str(ledger_dir)}
    worker = start_worker("reliability_flows", path=FLOWS, name="mute", concurrency=10, env=env)
    names = [
        client.create_execution("rel-steps", {"n": 12, "pause": 0.25, "k": i})["metadata"]["name"]
        for i in range(10)
    ]
    stop = threading.Event()

    def mute_now_and_then() -> None:
        while not stop.wait(1.5):
            proxy.mute(1.0)  # requests arrive and apply; their answers never come back

    muter = threading.Thread(target=mute_now_and_then, daemon=True)
    muter.start()
    try:
        executions = _wait_all(client, names, timeout=240)
    finally:
        stop.set()
        muter.join()
    assert {execution_phase(e) for e in executions} == {Phase.COMPLETED}
    _assert_effects_once(client, executions, ledger_dir)
    assert "the write landed" in worker.log()  # the re-read found an unanswered write applied
