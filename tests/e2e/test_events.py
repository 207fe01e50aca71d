"""Events and deadlines end to end: approvals with a deadline, signals, wait_first.

Real worker and controller processes against the real control plane; the CLI as users run it.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kontinue.api import labels
from kontinue.api.timestamps import parse_time
from kontinue.client import Client, SignalRejected
from kontinue.client.kubeapi import EXECUTIONS, SIGNALS, SUSPENSIONS
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    SessionController,
    StartWorker,
    TestCluster,
    kontinue_object,
    wait_for,
)

FLOWS = Path(__file__).parent / "workflows"


def _cli(
    kube_cluster: TestCluster, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig), "COLUMNS": "200"}
    result = subprocess.run([KONTINUE, *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _writes(kube_cluster: TestCluster, namespace: str) -> list[tuple[str, str, str, str]]:
    """Every write to kontinue resources in the namespace: (verb, resource, subresource, name)."""
    return [
        (
            e["verb"],
            e["objectRef"].get("resource") or "",
            e["objectRef"].get("subresource") or "",
            e["objectRef"].get("name") or "",
        )
        for e in kube_cluster.audit_events(namespace)
        if e.get("verb") in ("create", "update", "patch", "delete")
        and e["objectRef"].get("resource") in ("executions", "suspensions", "signals")
        and (e.get("responseStatus") or {}).get("code", 200) < 300
    ]


def _suspended_on(client: Client, name: str, kind: str) -> bool:
    status = client.get(name).get("status") or {}
    return status.get("phase") == "Suspended" and any(
        i["kind"] == kind for i in status.get("suspendedOn") or []
    )


def _finished(client: Client, suspension: str) -> datetime:
    found = parse_time(
        client.kube.get(SUSPENSIONS, client.namespace, suspension)["status"]["finishedAt"]
    )
    assert found is not None
    return found


# -- approvals with a deadline ---------------------------------------------------------------


def test_an_approval_nobody_gives_times_out_and_takes_the_timeout_branch(
    client: Client, start_worker: StartWorker, kontinue_controller: SessionController
) -> None:
    start_worker("event_flows", path=FLOWS)
    name = client.create_execution("approval-with-deadline", {"deadline": "10s"})["metadata"][
        "name"
    ]
    suspension = wait_for(
        "the approval",
        lambda: client.kube.get_or_none(SUSPENSIONS, client.namespace, f"{name}--approve"),
        timeout=60,
    )
    assert suspension["spec"]["timeout"] is True
    resume_at = parse_time(suspension["spec"]["resumeAt"])
    assert resume_at is not None

    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Completed"
    assert done["result"] == {"branch": "timeout"}
    ended = client.kube.get(SUSPENSIONS, client.namespace, f"{name}--approve")["status"]
    assert ended["timedOut"] is True and ended["resumedBy"] == "timer"
    late = _finished(client, f"{name}--approve") - resume_at.replace(microsecond=0)
    assert 0 <= late.total_seconds() <= 1  # finishedAt has whole seconds


def test_an_approval_given_at_five_seconds_takes_the_approval_branch(
    client: Client, start_worker: StartWorker, kontinue_controller: SessionController
) -> None:
    start_worker("event_flows", path=FLOWS)
    name = client.create_execution("approval-with-deadline", {"deadline": "10s"})["metadata"][
        "name"
    ]
    suspension = f"{name}--approve"
    created = wait_for(
        "the approval",
        lambda: client.kube.get_or_none(SUSPENSIONS, client.namespace, suspension),
        timeout=60,
    )
    time.sleep(5)
    client.resume_suspension(suspension, {"user": "alice"})

    done = client.wait(name, timeout=60)["status"]
    assert done["result"] == {"branch": "approved", "by": {"user": "alice"}}
    ended = client.kube.get(SUSPENSIONS, client.namespace, suspension)["status"]
    assert "timedOut" not in ended
    waited = _finished(client, suspension) - parse_time(created["metadata"]["creationTimestamp"])  # type: ignore[operator]
    assert 4 <= waited.total_seconds() <= 7
    time.sleep(6)  # past the deadline: the timer found it ended and wrote nothing
    assert client.kube.get(SUSPENSIONS, client.namespace, suspension)["status"] == ended


def test_a_restarted_controller_still_times_out_a_pending_deadline(
    client: Client, start_worker: StartWorker, kontinue_controller: SessionController
) -> None:
    start_worker("event_flows", path=FLOWS, hold=0)  # released: the deadline is the controller's
    name = client.create_execution("approval-with-deadline", {"deadline": "15s"})["metadata"][
        "name"
    ]
    wait_for("the release", lambda: _suspended_on(client, name, "Suspension"), timeout=60)
    suspension = client.kube.get(SUSPENSIONS, client.namespace, f"{name}--approve")
    resume_at = parse_time(suspension["spec"]["resumeAt"])
    assert resume_at is not None
    kontinue_controller.kill()  # mid-deadline
    time.sleep(2)
    kontinue_controller.restart()  # rebuilds its timers from the Suspensions it lists

    done = client.wait(name, timeout=60)["status"]
    assert done["result"] == {"branch": "timeout"}
    late = _finished(client, f"{name}--approve") - resume_at.replace(microsecond=0)
    assert 0 <= late.total_seconds() <= 2  # finishedAt has whole seconds


# -- events -----------------------------------------------------------------------------------


def test_an_event_sent_before_the_wait_is_delivered_with_one_write_each(
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    kontinue_controller: SessionController,
    namespace: str,
) -> None:
    # no worker yet: the signal surely comes before the workflow waits
    name = client.create_execution("one-event", {"event": "go"})["metadata"]["name"]
    sent = _cli(kube_cluster, "signal", name, "go", "--data", '{"ok": true}', "-n", namespace)
    assert "sent (go to" in sent.stdout
    shown = _cli(kube_cluster, "show", name, "-n", namespace)
    assert "buffered event 'go'" in shown.stdout
    start_worker("event_flows", path=FLOWS)

    done = client.wait(name, timeout=60)["status"]
    assert done["result"] == {"ok": True}
    assert done["steps"]["event-1"]["type"] == "event"
    writes = wait_for(
        "the audit events",
        lambda: w if len(w := _writes(kube_cluster, namespace)) >= 5 else None,
        timeout=20,
    )
    # create, the signal (1 write), claim, the wait's record (1 write), complete
    assert [(verb, resource, sub) for verb, resource, sub, _ in writes] == [
        ("create", "executions", ""),
        ("create", "signals", ""),
        ("patch", "executions", "status"),
        ("patch", "executions", "status"),
        ("patch", "executions", "status"),
    ]
    assert "buffered" not in _cli(kube_cluster, "show", name, "-n", namespace).stdout


def test_two_events_are_received_in_the_order_they_were_sent(
    client: Client, start_worker: StartWorker, kontinue_controller: SessionController
) -> None:
    start_worker("event_flows", path=FLOWS, hold=0)  # each wait releases: the controller wakes it
    name = client.create_execution("two-events", {})["metadata"]["name"]
    wait_for("the first wait", lambda: _suspended_on(client, name, "Signal"), timeout=60)
    assert client.signal(name, "item", {"n": 1}).duplicate is False
    client.signal(name, "item", {"n": 2})

    done = client.wait(name, timeout=60)["status"]
    assert done["result"] == [{"n": 1}, {"n": 2}]
    consumed = [done["steps"][s]["child"] for s in ("event-1", "event-2")]
    assert consumed == [s["metadata"]["name"] for s in client.signals(name)]


def test_a_signal_sent_again_with_its_id_is_delivered_once(
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    kontinue_controller: SessionController,
    namespace: str,
) -> None:
    start_worker("event_flows", path=FLOWS)
    name = client.create_execution("two-events", {"deadline": "12s"})["metadata"]["name"]
    args = ("signal", name, "item", "--data", '"pay-42"', "--id", "order-42", "-n", namespace)
    assert "sent" in _cli(kube_cluster, *args).stdout
    again = _cli(kube_cluster, *args)  # the first answer was lost: the user sends it again
    assert "already sent (id order-42): not sent again" in again.stdout
    other = _cli(kube_cluster, "signal", name, "item", "--data", '"x"', "--id", "order-42",
                 "-n", namespace, check=False)  # fmt: skip
    assert other.returncode == 1 and "already used" in other.stderr

    done = client.wait(name, timeout=60)["status"]
    assert done["result"] == ["pay-42", "timed out"]  # delivered once: the second wait timed out
    assert len(client.signals(name)) == 1


def test_signals_to_unknown_or_finished_executions_are_refused_and_leave_nothing(
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    kontinue_controller: SessionController,
    namespace: str,
) -> None:
    start_worker("event_flows", path=FLOWS)
    unknown = _cli(kube_cluster, "signal", "nope", "go", "-n", namespace, check=False)
    assert unknown.returncode == 1 and "execution nope does not exist" in unknown.stderr
    name = client.create_execution("one-event", {})["metadata"]["name"]
    client.signal(name, "go", 1)
    assert client.wait(name, timeout=60)["status"]["result"] == 1
    finished = _cli(kube_cluster, "signal", name, "go", "-n", namespace, check=False)
    assert finished.returncode == 1 and "already finished (Completed)" in finished.stderr
    try:
        client.signal(name, "go")
    except SignalRejected as exc:
        assert "already finished" in str(exc)
    else:
        raise AssertionError("a signal to a finished execution was accepted")
    bad = _cli(kube_cluster, "signal", name, "no spaces", "-n", namespace, check=False)
    assert bad.returncode == 1 and "is not valid" in bad.stderr
    assert len(client.kube.list(SIGNALS, namespace)["items"]) == 1  # the one delivered


def test_a_planted_signal_for_another_execution_is_not_delivered(
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    kontinue_controller: SessionController,
    namespace: str,
) -> None:
    start_worker("event_flows", path=FLOWS)
    name = client.create_execution("two-events", {"deadline": "5s"})["metadata"]["name"]
    planted = kontinue_object(
        "Signal", f"{name}-planted", {"execution": name, "event": "item", "id": "x", "data": "evil"}
    )
    planted["metadata"]["labels"] = {labels.PARENT: name, labels.WORKER_GROUP: "default"}
    planted["metadata"]["ownerReferences"] = [{
        "apiVersion": "kontinue.cloud/v1alpha1", "kind": "Execution", "name": name,
        "uid": "00000000-0000-0000-0000-000000000000", "controller": True,
    }]  # fmt: skip
    kube_cluster.create(namespace, planted)
    client.signal(name, "item", "genuine")

    done = client.wait(name, timeout=60)["status"]
    assert done["result"] == ["genuine", "timed out"]


# -- wait_first -------------------------------------------------------------------------------


def test_wait_first_returns_the_child_or_the_timer_that_comes_first(
    client: Client, start_worker: StartWorker, kontinue_controller: SessionController
) -> None:
    start_worker("event_flows", path=FLOWS)
    child_first = client.create_execution("select", {"child": 1, "timer": "20s"})
    timer_first = client.create_execution("select", {"child": 30, "timer": "3s"})

    child_won = client.wait(child_first["metadata"]["name"], timeout=60)["status"]["result"]
    assert child_won == {"kind": "child", "key": f"{child_first['metadata']['name']}--child",
                         "value": 1}  # fmt: skip
    timer_won = client.wait(timer_first["metadata"]["name"], timeout=60)["status"]["result"]
    assert timer_won == {"kind": "timer", "key": "timer", "value": None}


def test_wait_first_replays_the_recorded_winner_after_a_worker_crash(
    client: Client,
    start_worker: StartWorker,
    kontinue_controller: SessionController,
    tmp_path: Path,
) -> None:
    go = tmp_path / "go"
    worker = start_worker("event_flows", path=FLOWS, lease_duration=4, name="first-worker")
    name = client.create_execution("select", {"child": 3, "timer": "6s", "go": str(go)})[
        "metadata"
    ]["name"]
    child = f"{name}--child"
    wait_for("the child", lambda: client.kube.get_or_none(EXECUTIONS, client.namespace, child))
    client.signal(name, "stop", {"why": "operator"})

    def recorded() -> Any:
        return ((client.get(name).get("status") or {}).get("steps") or {}).get("first-1")

    record = wait_for("the select's record", recorded, timeout=60)
    worker.kill()  # after the select was recorded, before the workflow went on
    # meanwhile (a worker serving the child only) the child ends and the timer fires
    start_worker("event_child_flows", path=FLOWS, name="child-worker")
    assert client.wait(f"{name}--child", timeout=60)["status"]["phase"] == "Completed"
    wait_for(
        "the timer",
        lambda: (
            client.kube.get(SUSPENSIONS, client.namespace, f"{name}--first-1")
            .get("status", {})
            .get("phase")
            == "Completed"
        ),
        timeout=60,
    )
    go.write_text("go")
    start_worker("event_flows", path=FLOWS, name="second-worker")

    done = client.wait(name, timeout=90)["status"]
    assert done["result"] == {"kind": "event", "key": "stop", "value": {"why": "operator"}}
    assert done["resumptions"] >= 1
    assert done["steps"]["first-1"] == record  # decided once, never again
