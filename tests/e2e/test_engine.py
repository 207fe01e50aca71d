"""The durable engine end to end: real worker processes against the real control plane."""

from __future__ import annotations

import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kontinue.client import Client
from kontinue.client.kubeapi import EXECUTIONS, SUSPENSIONS
from kontinue.workflow import ExecuteOptions, RetryOptions
from kontinue_testkit.pytest_plugin import StartWorker, TestCluster, wait_for

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).parent / "workflows"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _state(client: Client, name: str) -> dict[str, Any]:
    return dict(client.get(name).get("status") or {})


def test_hello_world_from_the_seed_manifest(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("kontinue_examples.hello_world", path=ROOT / "examples")
    name = (
        kube_cluster.kubectl(
            "create",
            "-n",
            namespace,
            "-f",
            str(ROOT / "tests/e2e/manifests/seed/hello-world.yaml"),
            "-o",
            "name",
        )
        .stdout.strip()
        .split("/")[1]
    )
    done = client.wait(name, timeout=60)
    assert done["status"]["phase"] == "Completed"
    assert done["status"]["result"] == "Hello, Alice!"
    assert done["status"]["message"] == "Hello, Alice!"  # the workflow's message outlives it
    function = kube_cluster.get(namespace, "function", "hello-world")
    assert function["spec"]["displayName"] == "Hello, World"
    schema = function["spec"]["argumentsSchema"]
    assert schema["properties"]["name"]["default"] == "World"
    assert [w["name"] for w in function["status"]["workers"]] == ["worker-1"]


def test_children_store_sleep_and_suspension(
    client: Client, start_worker: StartWorker, tmp_path: Path, namespace: str
) -> None:
    start_worker("engine_flows", path=FLOWS, hold=1)
    counter = tmp_path / "counter"
    name = client.create_execution("pipeline", {"counter": str(counter)})["metadata"]["name"]
    suspension = f"{name}--approval"

    def suspended_on_approval() -> bool:
        status = _state(client, name)
        return status.get("phase") == "Suspended" and status.get("suspendedOn") == [
            {"kind": "Suspension", "name": suspension}
        ]

    wait_for("the approval suspension", suspended_on_approval, timeout=60)
    status = _state(client, name)
    assert status["steps"]["sleep-1"]["type"] == "sleep"
    assert counter.read_text() == "s"
    client.resume_execution(name, data={"approved_by": "alice"})
    done = client.wait(name, timeout=60)
    assert done["status"]["phase"] == "Completed", done["status"]
    assert done["status"]["result"] == {
        "children": [0, 2, 4],
        "token": "token-1",
        "approval": {"approved_by": "alice"},
    }
    assert counter.read_text() == "s"  # the store ran once across all the replays
    children = client.list(label_selector=f"kontinue.cloud/parent={name}")
    assert sorted(c["metadata"]["name"] for c in children) == [
        f"{name}--child-{i}" for i in range(3)
    ]
    assert all(c["metadata"]["ownerReferences"][0]["name"] == name for c in children)
    assert done["status"]["resumptions"] >= 2  # released and resumed at least twice
    assert "message" not in done["status"]  # "waiting for ..." does not outlive the wait


def test_retries_count_and_non_retryable_errors(client: Client, start_worker: StartWorker) -> None:
    start_worker("engine_flows", path=FLOWS)
    flaky = client.create_execution(
        "flaky", {"failures": 2}, ExecuteOptions(retry=RetryOptions(retries=2, backoff="1s"))
    )
    exhausted = client.create_execution(
        "flaky", {"failures": 5}, ExecuteOptions(retry=RetryOptions(retries=1, backoff="1s"))
    )
    fatal = client.create_execution("gives-up")
    child_failure = client.create_execution("parent-of-failing")

    done = client.wait(flaky["metadata"]["name"], timeout=60)["status"]
    assert done["phase"] == "Completed"
    assert done["result"] == {"attempts_before": 2}  # attempts excludes the current one
    # every attempt is listed, the last one too (it ran as "Executing" until it completed)
    assert [a["phase"] for a in done["attempts"]] == ["Failed", "Failed", "Completed"]
    assert done["attempts"][-1]["startedAt"] == done["attemptStartedAt"]
    gap = _time(done["attemptStartedAt"]) - _time(done["attempts"][-2]["finishedAt"])
    assert gap.total_seconds() >= 1  # the backoff was respected (second precision)

    failed = client.wait(exhausted["metadata"]["name"], timeout=60)["status"]
    assert failed["phase"] == "Failed"
    assert len(failed["attempts"]) == 2  # retries=1: two attempts in all
    assert failed["error"] == {
        "kind": "execution",
        "message": "RuntimeError: attempt 2 fails",
        "retryable": True,
    }

    once = client.wait(fatal["metadata"]["name"], timeout=60)["status"]
    assert once["phase"] == "Failed" and len(once["attempts"]) == 1
    assert once["error"]["retryable"] is False
    assert once["error"]["message"] == "the configuration is invalid"

    parent = client.wait(child_failure["metadata"]["name"], timeout=60)["status"]
    assert parent["phase"] == "Failed" and len(parent["attempts"]) == 1
    assert parent["error"]["kind"] == "child_failed"
    assert "disk full" in parent["error"]["message"]


def test_two_worker_groups_share_a_namespace(client: Client, start_worker: StartWorker) -> None:
    start_worker("group_flows", path=FLOWS, group="green", name="green-worker")
    start_worker("other_group_flows", path=FLOWS, group="blue", name="blue-worker")
    runs = {
        g: [client.create_execution("whoami", worker_group=g)["metadata"]["name"] for _ in range(3)]
        for g in ("green", "blue")
    }
    for group, names in runs.items():
        for name in names:
            done = client.wait(name, timeout=60)["status"]
            assert done["result"] == group
            assert done["workerName"] == f"{group}-worker"


def test_bad_input_ends_in_clear_failures(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str
) -> None:
    worker = start_worker("engine_flows", path=FLOWS)
    typed_ok = client.create_execution("typed", {"service": "api", "replicas": 2})
    typed_bad = client.create_execution("typed", {"service": "api", "replicas": "many"})
    bad_result = client.create_execution("bad-result")
    big = client.create_execution("big-store")
    nobody = client.create_execution("late-function")

    assert client.wait(typed_ok["metadata"]["name"], timeout=60)["status"]["result"] == {
        "service": "API",
        "replicas": 3,
    }
    for created, fragment in (
        (typed_bad, "replicas"),
        (bad_result, "not JSON-serializable"),
        (big, "store step 'store-1' produced"),
    ):
        status = client.wait(created["metadata"]["name"], timeout=60)["status"]
        assert status["phase"] == "Failed"
        assert status["error"]["retryable"] is False
        assert fragment in status["error"]["message"]
    unserved = nobody["metadata"]["name"]
    wait_for(
        "the unserved message",
        lambda: "no live worker" in (_state(client, unserved).get("message") or ""),
        timeout=30,
    )
    assert _state(client, unserved)["phase"] == "Pending"
    assert worker.process.poll() is None  # the worker survived all of it
    executing = client.list(phase="Executing")
    assert executing == []
    start_worker("late_flows", path=FLOWS, name="late-worker")  # registers it later
    late = client.wait(unserved, timeout=60)["status"]
    assert (late["result"], late["workerName"]) == ("finally served", "late-worker")


def test_results_of_a_50_child_fan_out_come_back_in_order(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("engine_flows", path=FLOWS, name="fan-a")
    start_worker("engine_flows", path=FLOWS, name="fan-b")
    name = client.create_execution("fanout", {"n": 50})["metadata"]["name"]
    done = client.wait(name, timeout=180)["status"]
    assert done["phase"] == "Completed", done
    assert done["result"] == [i * 2 for i in range(50)]
    workers = {
        c["status"]["workerName"]
        for c in client.list(label_selector=f"kontinue.cloud/parent={name}")
    }
    assert workers <= {"fan-a", "fan-b"}
    assert done["progress"]["summary"] == "50/50"


def test_a_fan_out_whose_children_finish_within_the_hold_is_never_released(
    client: Client, start_worker: StartWorker
) -> None:
    # children that finish between the parent's check and its wait must wake it: a missed
    # change left the parent waiting out its whole hold, then released and woken again
    start_worker("engine_flows", path=FLOWS, name="holder", hold=120)
    names = [client.create_execution("fanout", {"n": 20})["metadata"]["name"] for _ in range(3)]
    for name in names:
        done = client.wait(name, timeout=110)["status"]
        assert done["phase"] == "Completed", done
        assert done["result"] == [i * 2 for i in range(20)]
        assert done["claim"] == 1 and not done.get("resumptions"), done  # never released


def test_a_killed_worker_loses_no_committed_step(
    client: Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    counter, go = tmp_path / "counter", tmp_path / "go"
    first = start_worker("engine_flows", path=FLOWS, lease_duration=3, name="crash-1")
    name = client.create_execution("crashy", {"counter": str(counter), "go": str(go), "sleep": 8})[
        "metadata"
    ]["name"]
    # between steps: the first store committed, the workflow waits for the go file
    wait_for("store-1 committed", lambda: "store-1" in (_state(client, name).get("steps") or {}))
    first.kill()
    second = start_worker("engine_flows", path=FLOWS, lease_duration=3, name="crash-2")
    go.touch()
    suspension = wait_for(
        "the sleep to start",
        lambda: client.kube.get_or_none(SUSPENSIONS, client.namespace, f"{name}--sleep-1"),
        timeout=60,
    )
    assert _state(client, name)["workerName"] == "crash-2"
    resume_at = _time(suspension["spec"]["resumeAt"])
    time.sleep(1)
    second.kill()  # while it sleeps
    start_worker("engine_flows", path=FLOWS, lease_duration=3, name="crash-3")
    done = client.wait(name, timeout=90)["status"]
    assert done["phase"] == "Completed", done
    assert counter.read_text() == "abc"  # each committed store ran exactly once
    finished = _time(done["finishedAt"])
    assert finished >= resume_at.replace(microsecond=0)  # finishedAt has whole seconds
    # the sleep was not restarted from zero (that would end 8 s after the takeover)
    assert (finished - resume_at).total_seconds() < 5
    assert done["workerName"] == "crash-3"
    assert done["resumptions"] == 2


def _audit_patches(
    kube_cluster: TestCluster, namespace: str, name: str, agent: str
) -> list[dict[str, Any]]:
    return [
        event
        for event in kube_cluster.audit_events(namespace)
        if event["objectRef"].get("name") == name
        and event["objectRef"].get("resource") == "executions"
        and event.get("verb") == "patch"
        and event.get("userAgent", "").startswith(agent)
    ]


def test_a_paused_worker_cannot_write_after_a_takeover(
    client: Client,
    start_worker: StartWorker,
    tmp_path: Path,
    kube_cluster: TestCluster,
    namespace: str,
) -> None:
    counter, go = tmp_path / "counter", tmp_path / "go"
    paused = start_worker("engine_flows", path=FLOWS, lease_duration=3, name="paused")
    name = client.create_execution("crashy", {"counter": str(counter), "go": str(go), "sleep": 1})[
        "metadata"
    ]["name"]
    wait_for("store-1 committed", lambda: "store-1" in (_state(client, name).get("steps") or {}))
    paused.signal(signal.SIGSTOP)
    start_worker("engine_flows", path=FLOWS, lease_duration=3, name="taker")
    go.touch()
    done = client.wait(name, timeout=90)["status"]
    assert done["phase"] == "Completed" and done["workerName"] == "taker"
    before = len(_audit_patches(kube_cluster, namespace, name, "kontinue-worker/paused"))
    paused.signal(signal.SIGCONT)
    # The paused worker wakes up between steps. Either its watch tells it first that the
    # execution was taken (it stops without writing), or it tries to commit its next step and
    # the conditional write is refused: no write of it may land.
    wait_for(
        "the paused worker to let go",
        lambda: "fenced" in paused.log() or f"{name} stopped" in paused.log(),
        timeout=30,
    )
    time.sleep(2)
    after = _audit_patches(kube_cluster, namespace, name, "kontinue-worker/paused")[before:]
    assert all(e["responseStatus"]["code"] == 409 for e in after), [
        e["responseStatus"] for e in after
    ]
    assert client.get(name)["status"]["result"] == "done"


def test_sigterm_releases_running_executions_and_exits(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str
) -> None:
    first = start_worker("engine_flows", path=FLOWS, name="leaving")
    name = client.create_execution("pipeline", {"counter": "/dev/null"})["metadata"]["name"]
    wait_for(
        "the approval suspension",
        lambda: client.kube.get_or_none(SUSPENSIONS, client.namespace, f"{name}--approval"),
        timeout=60,
    )
    assert _state(client, name)["phase"] == "Executing"  # waiting inside the worker
    first.signal(signal.SIGTERM)
    assert first.process.wait(30) == 0
    status = _state(client, name)
    assert status["phase"] == "Pending"
    assert "leaving shut down" in status["message"]
    leases = kube_cluster.get(namespace, "leases")["items"]
    assert [lease["metadata"]["name"] for lease in leases] == []
    start_worker("engine_flows", path=FLOWS, name="arriving")
    client.resume_suspension(f"{name}--approval", {"ok": True})
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Completed" and done["workerName"] == "arriving"
    assert done["result"]["approval"] == {"ok": True}


def test_a_long_history_is_compacted_and_replayed(
    client: Client,
    start_worker: StartWorker,
    tmp_path: Path,
    kube_cluster: TestCluster,
    namespace: str,
) -> None:
    start_worker("engine_flows", path=FLOWS, hold=0)
    counter = tmp_path / "counter"
    n = 300
    name = client.create_execution("many-steps", {"counter": str(counter), "n": n})["metadata"][
        "name"
    ]
    wait_for(
        "the check suspension",
        lambda: _state(client, name).get("phase") == "Suspended",
        timeout=120,
    )
    status = _state(client, name)
    chunks = kube_cluster.get(namespace, "configmaps", "-l", f"kontinue.cloud/journal={name}")
    assert status["journal"]["chunks"] == len(chunks["items"]) >= 2
    assert len(status["steps"]) < 2 * 32 + 2  # the status stays bounded
    assert all(c["metadata"]["ownerReferences"][0]["name"] == name for c in chunks["items"])
    client.resume_suspension(f"{name}--check")
    done = client.wait(name, timeout=120)["status"]
    assert done["phase"] == "Completed"
    assert done["result"] == sum(range(n))  # every value came back from the chunks
    assert counter.read_text() == "." * n  # and no store ran twice


def test_a_history_the_worker_cannot_read_fails_clearly(
    client: Client, start_worker: StartWorker
) -> None:
    name = client.create_execution("trivial")["metadata"]["name"]
    client.kube.merge_patch(
        EXECUTIONS,
        client.namespace,
        name,
        {"status": {"phase": "Pending", "journal": {"chunks": 1}}},
        subresource="status",
    )
    worker = start_worker("engine_flows", path=FLOWS)
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    assert "journal chunk" in done["error"]["message"] and "is missing" in done["error"]["message"]
    assert worker.process.poll() is None
    after = client.create_execution("trivial")["metadata"]["name"]  # and it keeps serving
    assert client.wait(after, timeout=60)["status"]["result"] == "ok"
