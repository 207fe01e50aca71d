"""The controller end to end: leadership, timers that survive restarts, Events."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from kontinue.api.timestamps import parse_time
from kontinue.client import Client
from kontinue.client.kubeapi import SUSPENSIONS
from kontinue_testkit.pytest_plugin import (
    SessionController,
    TestCluster,
    WorkerProcess,
    spawn_controller,
    wait_for,
)

FLOWS = Path(__file__).parent / "workflows"


def test_the_standby_takes_over_within_a_lease_period(
    kube_cluster: TestCluster, tmp_path: Path, namespace: str
) -> None:
    lease = f"ha-{uuid.uuid4().hex[:6]}"
    scope = ("--namespace", namespace)
    leader = spawn_controller(
        kube_cluster, tmp_path / "a.log", identity="replica-a", lease_name=lease, scope=scope
    )
    standby: WorkerProcess | None = None
    try:
        wait_for("replica-a to lead", lambda: "leading" in leader.log(), timeout=30)
        standby = spawn_controller(
            kube_cluster, tmp_path / "b.log", identity="replica-b", lease_name=lease, scope=scope
        )
        wait_for("replica-b to campaign", lambda: "campaigning" in standby.log(), timeout=30)
        time.sleep(2)
        assert "leading" not in standby.log()  # one active leader
        leader.kill()
        killed = time.monotonic()
        wait_for("replica-b to lead", lambda: "leading" in standby.log(), timeout=30)
        takeover = time.monotonic() - killed
        assert takeover <= 4 + 2  # the lease duration (4 s) plus the standby's check interval
        holder = kube_cluster.get("default", "lease", lease)["spec"]["holderIdentity"]
        assert holder == "replica-b"
    finally:
        leader.kill()
        if standby is not None:
            standby.stop()


def test_a_restarted_controller_wakes_a_sleep_on_time(
    client: Client,
    start_worker: object,
    kontinue_controller: SessionController,
    kube_cluster: TestCluster,
    namespace: str,
) -> None:
    start_worker("engine_flows", path=FLOWS, hold=0)  # type: ignore[operator]
    name = client.create_execution(
        "crashy", {"counter": "/dev/null", "go": "/dev/null", "sleep": 12}
    )["metadata"]["name"]
    suspension = wait_for(
        "the sleep",
        lambda: client.kube.get_or_none(SUSPENSIONS, client.namespace, f"{name}--sleep-1"),
        timeout=60,
    )
    resume_at = parse_time(suspension["spec"]["resumeAt"])
    assert resume_at is not None
    kontinue_controller.kill()  # mid-sleep
    time.sleep(2)
    kontinue_controller.restart()  # observes the old lease for its duration, rebuilds timers
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Completed"
    woke = parse_time(
        client.kube.get(SUSPENSIONS, client.namespace, f"{name}--sleep-1")["status"]["finishedAt"]
    )
    assert woke is not None
    # resumeAt has milliseconds, finishedAt whole seconds (truncated): on time to the second
    assert 0 <= (woke - resume_at.replace(microsecond=0)).total_seconds() <= 1
    events = json.loads(
        kube_cluster.kubectl(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            f"involvedObject.name={name}",
            "-o",
            "json",
        ).stdout
    )["items"]
    assert "Resumed" in {e["reason"] for e in events}
