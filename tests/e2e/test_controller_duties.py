"""The controller's duties end to end: timeouts, child policies, cancellation, TTL, schedules.

Real worker processes run the workflows of ``workflows/controller_flows.py``; the session's
controller (all namespaces) does the rest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import pytest

from kontinue.api import labels
from kontinue.api.timestamps import parse_time
from kontinue.client import Client, SuspensionNotWaiting
from kontinue.client.kubeapi import ARCHIVED_EXECUTIONS, EXECUTIONS, SUSPENSIONS
from kontinue.workflow import ExecuteOptions, RetryOptions, TimeoutOptions, TTLOptions
from kontinue_testkit.pytest_plugin import (
    StartWorker,
    TestCluster,
    WorkerProcess,
    kontinue_object,
    wait_for,
)

FLOWS = Path(__file__).parent / "workflows"


@pytest.fixture
def worker(start_worker: StartWorker) -> WorkerProcess:
    return start_worker("controller_flows", path=FLOWS, hold=1)


def _events(kube_cluster: TestCluster, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(
        kube_cluster.kubectl(
            "get", "events", "-n", namespace, "--field-selector",
            f"involvedObject.name={name}", "-o", "json",
        ).stdout
    )["items"]  # fmt: skip
    return items


def _seconds(start: str, end: str) -> float:
    a, b = parse_time(start), parse_time(end)
    assert a is not None and b is not None
    return (b - a).total_seconds()


def test_a_sleep_resumed_by_hand_ends_early_and_only_once(
    client: Client, worker: WorkerProcess
) -> None:
    name = client.create_execution("sleeper", {"seconds": 600})["metadata"]["name"]
    sleep = f"{name}--sleep-1"
    wait_for("the sleep", lambda: client.phase(name) == "Suspended", timeout=30)
    client.resume_suspension(sleep, resumed_by="operator")
    done = client.wait(name, timeout=30)["status"]
    assert done["phase"] == "Completed" and done["result"] == "slept"
    status = client.kube.get(SUSPENSIONS, client.namespace, sleep)["status"]
    assert (status["phase"], status["resumedBy"]) == ("Completed", "operator")
    with pytest.raises(SuspensionNotWaiting, match="is not waiting: it is Completed"):
        client.resume_suspension(sleep)


def test_an_attempt_timeout_stops_the_worker_and_a_retry_succeeds(
    client: Client, worker: WorkerProcess, tmp_path: Path, kube_cluster: TestCluster
) -> None:
    counter = tmp_path / "steps"
    name = client.create_execution(
        "slow-first-attempt",
        {"counter": str(counter)},
        ExecuteOptions(
            retry=RetryOptions(retries=2, backoff="1s"), timeout=TimeoutOptions(attempt="3s")
        ),
    )["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Completed"
    assert done["result"] == "finished in attempt 2"
    first, second = done["attempts"]
    assert second["phase"] == "Completed"
    assert first["error"]["kind"] == "timeout" and first["error"]["retryable"] is True
    assert "exceeded its timeout of 3s" in first["error"]["message"]
    assert 3 <= _seconds(first["startedAt"], first["finishedAt"]) <= 4
    # the worker stopped the first attempt: its steps (0.1 s each) ended with the timeout
    steps_then = len(counter.read_text())
    assert steps_then < 3 / 0.1 + 5
    wait_for("the worker to stop", lambda: f"{name} stopped: Backoff" in worker.log(), timeout=10)
    time.sleep(1)
    assert len(counter.read_text()) == steps_then
    assert "AttemptTimedOut" in {e["reason"] for e in _events(kube_cluster, client.namespace, name)}


def test_an_overall_timeout_fails_for_good_and_cancels_the_children(
    client: Client, worker: WorkerProcess
) -> None:
    name = client.create_execution(
        "waits-on-a-sleeper",
        None,
        ExecuteOptions(
            retry=RetryOptions(retries=3, backoff="1s"), timeout=TimeoutOptions(overall="4s")
        ),
    )["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    assert done["error"]["kind"] == "timeout" and done["error"]["retryable"] is False
    assert len(done["attempts"]) == 1  # retries left, but an overall timeout is final
    assert 4 <= _seconds(done["startedAt"], done["finishedAt"]) <= 5.5
    child = client.wait(f"{name}--nap", timeout=30)["status"]
    assert child["phase"] == "Canceled"
    sleep = wait_for(
        "the child's sleep to be canceled",
        lambda: (
            s
            if (s := client.kube.get(SUSPENSIONS, client.namespace, f"{name}--nap--sleep-1"))
            .get("status", {})
            .get("phase")
            == "Canceled"
            else None
        ),
        timeout=30,
    )
    assert sleep["status"]["phase"] == "Canceled"


@pytest.mark.parametrize("policy", ["None", "RetryFailed"])
def test_child_policy_on_retry(
    client: Client, worker: WorkerProcess, tmp_path: Path, policy: Literal["None", "RetryFailed"]
) -> None:
    options = ExecuteOptions(retry=RetryOptions(retries=1, backoff="1s", child_policy=policy))
    name = client.create_execution(
        "retries-its-child", {"counter": str(tmp_path / "runs")}, options
    )["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    children = client.list(label_selector=f"{labels.PARENT}={name}")
    phases = {c["metadata"]["name"]: c["status"]["phase"] for c in children}
    if policy == "None":  # the failed child is reused: its failure replays, nothing reruns
        assert done["phase"] == "Failed" and len(done["attempts"]) == 2
        assert phases == {f"{name}--flaky": "Failed"}
        assert (tmp_path / "runs").read_text() == "r"
    else:  # the failed child runs again as a new execution; the old one stays visible
        assert done["phase"] == "Completed" and done["result"] == "run 2"
        assert [a["phase"] for a in done["attempts"]] == ["Failed", "Completed"]
        assert phases == {f"{name}--flaky": "Failed", f"{name}--flaky-a2": "Completed"}
        assert (tmp_path / "runs").read_text() == "rr"


def test_canceling_a_tree_cancels_children_suspensions_and_the_running_worker(
    client: Client, worker: WorkerProcess, tmp_path: Path, kube_cluster: TestCluster
) -> None:
    counter = tmp_path / "ticks"
    name = client.create_execution("tree", {"counter": str(counter)})["metadata"]["name"]
    wait_for(
        "the parent to wait for approval",
        lambda: client.phase(name) == "Suspended" and counter.exists(),
        timeout=60,
    )
    children = {
        c["spec"]["function"]: c for c in client.list(label_selector=f"{labels.PARENT}={name}")
    }
    sleeper, ticker = (
        children["sleeper"]["metadata"]["name"],
        children["ticker"]["metadata"]["name"],
    )
    wait_for("the sleeper to sleep", lambda: client.phase(sleeper) == "Suspended", timeout=30)
    assert client.phase(ticker) == "Executing"

    client.cancel(name)
    for each in (name, sleeper, ticker):
        assert client.wait(each, timeout=30)["status"]["phase"] == "Canceled"
    suspensions = client.kube.list(
        SUSPENSIONS, client.namespace, label_selector=f"{labels.ROOT}={name}"
    )["items"]
    assert {s["metadata"]["name"]: s["status"]["phase"] for s in suspensions} == {
        f"{name}--approval": "Canceled",
        f"{sleeper}--sleep-1": "Canceled",
    }
    wait_for(
        "the worker to stop the ticker", lambda: f"{ticker} stopped" in worker.log(), timeout=10
    )
    ticks = len(counter.read_text())
    time.sleep(1)
    assert len(counter.read_text()) == ticks  # no step ran after the worker stopped it
    assert "Canceled" in {e["reason"] for e in _events(kube_cluster, client.namespace, name)}


def test_ttl_delete_after_removes_the_whole_tree(client: Client, worker: WorkerProcess) -> None:
    name = client.create_execution("small-tree", None, ttl=TTLOptions(delete_after="2s"))[
        "metadata"
    ]["name"]
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Completed"
    tree = client.list(label_selector=f"{labels.ROOT}={name}")
    assert len(tree) == 2
    wait_for("the root to be deleted", lambda: client.kube.get_or_none(
        EXECUTIONS, client.namespace, name) is None, timeout=30)  # fmt: skip
    wait_for(
        "garbage collection of the tree",
        lambda: (
            not client.list(label_selector=f"{labels.ROOT}={name}")
            and not client.kube.list(
                SUSPENSIONS, client.namespace, label_selector=f"{labels.ROOT}={name}"
            )["items"]
        ),
        timeout=60,
    )


def test_ttl_archive_after_keeps_a_readable_archive_until_delete_after(
    client: Client, worker: WorkerProcess
) -> None:
    name = client.create_execution(
        "small-tree", None, ttl=TTLOptions(archive_after="1s", delete_after="8s")
    )["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    archived = wait_for(
        "the archive",
        lambda: client.kube.get_or_none(ARCHIVED_EXECUTIONS, client.namespace, name),
        timeout=30,
    )
    spec = archived["spec"]
    assert spec["execution"]["phase"] == "Completed"
    assert spec["counts"] == {"executions": 3, "suspensions": 3, "jobs": 0}
    assert _seconds(done["finishedAt"], spec["deleteAt"]) == 8
    assert [a["metadata"]["name"] for a in client.list_archives()] == [name]
    objects = client.archived_tree(name)
    assert objects[0]["metadata"]["name"] == name and objects[0]["status"]["result"] == 2
    assert {o["kind"] for o in objects} == {"Execution", "Suspension"}
    wait_for("the originals to be deleted", lambda: client.kube.get_or_none(
        EXECUTIONS, client.namespace, name) is None, timeout=30)  # fmt: skip
    wait_for("the archive to be deleted at deleteAt", lambda: client.kube.get_or_none(
        ARCHIVED_EXECUTIONS, client.namespace, name) is None, timeout=30)  # fmt: skip
    gone = time.time()
    deadline = parse_time(spec["deleteAt"])
    assert deadline is not None and gone - deadline.timestamp() < 3


def _schedule(kube_cluster: TestCluster, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    body = kontinue_object(
        "ScheduledExecution",
        name,
        {"schedule": "*/2 * * * * *", "function": "scheduled-task", **spec},
    )
    kube_cluster.create(namespace, body)
    created: dict[str, Any] = kube_cluster.get(namespace, "scheduledexecution", name)
    return created


def _runs(client: Client, schedule: str) -> list[dict[str, Any]]:
    runs = client.list(label_selector=f"{labels.SCHEDULE}={schedule}")
    return sorted(runs, key=lambda r: r["metadata"]["name"])


def test_a_schedule_fires_per_slot_and_prunes_its_history(
    client: Client, worker: WorkerProcess, kube_cluster: TestCluster
) -> None:
    schedule = _schedule(kube_cluster, client.namespace, "every-2s", historyLimit=2)

    def completed() -> list[dict[str, Any]]:
        return [
            r for r in _runs(client, "every-2s") if r.get("status", {}).get("phase") == "Completed"
        ]

    def created() -> int:
        events = _events(kube_cluster, client.namespace, "every-2s")
        return sum(1 for e in events if e["reason"] == "Scheduled")

    wait_for("three runs", lambda: created() >= 3 and len(completed()) >= 2, timeout=30)
    done = wait_for(
        "the status",
        lambda: (
            kube_cluster.get(client.namespace, "scheduledexecution", "every-2s")["status"]
            if len(completed()) <= 2
            else None
        ),
        timeout=10,
    )  # the history is pruned to 2 finished runs
    assert done["lastSuccessfulTime"]
    runs = _runs(client, "every-2s")
    for run in runs:
        owner = run["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"]) == ("ScheduledExecution", schedule["metadata"]["uid"])
        slot = parse_time(run["metadata"]["annotations"][labels.SCHEDULED_AT])
        assert slot is not None and slot.second % 2 == 0
        assert run["metadata"]["name"] == f"every-2s-{int(slot.timestamp())}"
    last, following = parse_time(done["lastScheduleTime"]), parse_time(done["nextScheduleTime"])
    assert last is not None and following is not None
    assert (following - last).total_seconds() in (2, 4)
    kube_cluster.kubectl(
        "patch", "scheduledexecution", "every-2s", "-n", client.namespace,
        "--type", "merge", "-p", '{"spec": {"suspend": true}}',
    )  # fmt: skip
    time.sleep(1)
    before = {r["metadata"]["name"] for r in _runs(client, "every-2s")}
    time.sleep(4)
    after = {r["metadata"]["name"] for r in _runs(client, "every-2s")}
    assert after <= before  # suspended: no new runs


def test_forbid_records_skipped_runs_while_one_is_active(
    client: Client, worker: WorkerProcess, kube_cluster: TestCluster, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    _schedule(
        kube_cluster, client.namespace, "forbid", concurrencyPolicy="Forbid",
        arguments={"gate": str(gate)},
    )  # fmt: skip
    wait_for(
        "two skipped runs",
        lambda: (
            len(
                [
                    r
                    for r in _runs(client, "forbid")
                    if r.get("status", {}).get("phase") == "Skipped"
                ]
            )
            >= 2
        ),  # fmt: skip
        timeout=30,
    )
    runs = _runs(client, "forbid")
    running = [r for r in runs if r.get("status", {}).get("phase") == "Executing"]
    skipped = [r for r in runs if r.get("status", {}).get("phase") == "Skipped"]
    assert len(running) == 1
    assert "still running (concurrencyPolicy Forbid)" in skipped[0]["status"]["message"]
    assert running[0]["metadata"]["name"] in skipped[0]["status"]["message"]
    assert all("workerName" not in r["status"] for r in skipped)  # never claimed
    status = kube_cluster.get(client.namespace, "scheduledexecution", "forbid")["status"]
    assert [a["name"] for a in status["active"]] == [running[0]["metadata"]["name"]]
    assert status["lastSkippedTime"]
    gate.write_text("go")
    assert client.wait(running[0]["metadata"]["name"], timeout=30)["status"]["phase"] == "Completed"


def test_replace_cancels_the_active_run_for_the_new_one(
    client: Client, worker: WorkerProcess, kube_cluster: TestCluster, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    _schedule(
        kube_cluster, client.namespace, "replace", concurrencyPolicy="Replace",
        arguments={"gate": str(gate)}, schedule="*/3 * * * * *",
    )  # fmt: skip
    first = wait_for("a run to start", lambda: _runs(client, "replace") or None, timeout=30)[0][
        "metadata"
    ]["name"]
    assert client.wait(first, timeout=30)["status"]["phase"] == "Canceled"
    runs = _runs(client, "replace")
    assert len(runs) >= 2
    assert runs[-1]["metadata"]["name"] != first
    assert runs[-1].get("status", {}).get("phase") in (None, "Pending", "Executing")
    reasons = [e["reason"] for e in _events(kube_cluster, client.namespace, "replace")]
    assert "Replaced" in reasons
    gate.write_text("go")
