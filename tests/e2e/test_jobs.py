"""Job steps end to end: kwok runs the pods, real workers run the workflows."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any, Literal

import pytest

from kontinue.api import labels
from kontinue.client import Client
from kontinue.client.kubeapi import JOBS, PODS
from kontinue.workflow import ExecuteOptions, RetryOptions
from kontinue_testkit.pytest_plugin import StartWorker, wait_for

FLOWS = Path(__file__).parent / "workflows"


def _jobs(client: Client, execution: str) -> dict[str, dict[str, Any]]:
    items = client.kube.list(JOBS, client.namespace, label_selector=f"{labels.PARENT}={execution}")
    return {j["metadata"]["name"]: j for j in items["items"]}


def _condition(job: dict[str, Any]) -> str | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition["status"] == "True" and condition["type"] in ("Complete", "Failed"):
            return str(condition["type"])
    return None


def test_a_script_that_succeeds_and_one_that_fails(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("job_flows", path=FLOWS, hold=1)
    execution = client.create_execution("two-scripts")
    name = execution["metadata"]["name"]
    done = client.wait(name, timeout=90)["status"]
    assert done["phase"] == "Completed", done
    assert done["result"] == [
        {"ok": True, "phase": "Succeeded", "message": None},
        {"ok": False, "phase": "Failed", "message": "disk full"},
    ]
    jobs = _jobs(client, name)
    assert sorted(jobs) == [f"{name}--script-1", f"{name}--script-2"]
    for job in jobs.values():
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"]) == ("Execution", execution["metadata"]["uid"])
        assert job["spec"]["backoffLimit"] == 0
    assert done["steps"]["script-2"]["child"] == f"{name}--script-2"


@pytest.mark.parametrize("policy", ["None", "RetryFailed"])
def test_child_policy_on_a_failed_job(
    client: Client, start_worker: StartWorker, policy: Literal["None", "RetryFailed"]
) -> None:
    start_worker("job_flows", path=FLOWS, hold=1)
    options = ExecuteOptions(retry=RetryOptions(retries=1, backoff="1s", child_policy=policy))
    name = client.create_execution("script-until-it-works", None, options)["metadata"]["name"]
    done = client.wait(name, timeout=90)["status"]
    jobs = {n: _condition(j) for n, j in _jobs(client, name).items()}
    if policy == "None":  # the failed Job is reused: its outcome replays
        assert done["phase"] == "Failed" and len(done["attempts"]) == 2
        assert jobs == {f"{name}--script-1": "Failed"}
    else:  # a fresh Job for the retry
        assert done["phase"] == "Completed"
        assert [a["phase"] for a in done["attempts"]] == ["Failed", "Completed"]
        assert jobs == {f"{name}--script-1": "Failed", f"{name}--script-1-a2": "Complete"}


def _release_pods(client: Client, job: str) -> None:
    pods = client.kube.list(
        PODS, client.namespace, label_selector=f"batch.kubernetes.io/job-name={job}"
    )["items"]
    for pod in pods:
        client.kube.merge_patch(
            PODS, client.namespace, pod["metadata"]["name"],
            {"metadata": {"labels": {labels.TEST_OUTCOME: "done"}}},
        )  # fmt: skip


def test_a_killed_worker_replays_onto_the_same_job(
    client: Client, start_worker: StartWorker
) -> None:
    first = start_worker("job_flows", path=FLOWS, hold=30, lease_duration=3, name="first")
    name = client.create_execution("held-script")["metadata"]["name"]
    job = f"{name}--script-1"
    wait_for("the job's pod to run", lambda: client.kube.list(
        PODS, client.namespace, label_selector=f"batch.kubernetes.io/job-name={job}",
    )["items"], timeout=60)  # fmt: skip
    first.signal(signal.SIGKILL)
    start_worker("job_flows", path=FLOWS, hold=30, name="second")
    wait_for(
        "the second worker to take over",
        lambda: client.get(name)["status"].get("workerName") == "second",
        timeout=60,
    )
    _release_pods(client, job)
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Completed" and done["result"]["ok"] is True
    assert done["resumptions"] == 1
    assert list(_jobs(client, name)) == [job]  # exactly one Job


def test_canceling_stops_the_running_job(client: Client, start_worker: StartWorker) -> None:
    start_worker("job_flows", path=FLOWS, hold=1)
    name = client.create_execution("held-script")["metadata"]["name"]
    job = f"{name}--script-1"
    wait_for("the execution to wait on its job", lambda: client.phase(name) == "Suspended",
             timeout=60)  # fmt: skip
    client.cancel(name)
    assert client.wait(name, timeout=30)["status"]["phase"] == "Canceled"
    stopped = wait_for(
        "the job to be suspended",
        lambda: (j := _jobs(client, name).get(job)) and j["spec"].get("suspend") and j,
        timeout=30,
    )
    assert json.dumps(stopped["spec"]["suspend"]) == "true"


PRINTED = "\n".join(
    ["migrating", "step 1 ok", "ERROR: column 'id' already exists", "rolling back", "done"]
)


def test_logs_return_what_the_pod_printed(client: Client, start_worker: StartWorker) -> None:
    start_worker("job_flows", path=FLOWS, hold=1)
    name = client.create_execution("script-with-logs", {"printed": PRINTED})["metadata"]["name"]
    done = client.wait(name, timeout=90)["status"]
    assert done["phase"] == "Completed", done
    assert done["result"]["tail"] == "rolling back\ndone\n"
    assert done["result"]["summary"] == (
        "container script exited with 2 (Error): migration failed\n"
        "migrating\nstep 1 ok\nERROR: column 'id' already exists"
    )


def test_logs_a_cluster_cannot_serve_are_a_clear_error(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("job_flows", path=FLOWS, hold=1)
    name = client.create_execution("script-with-logs", {})["metadata"]["name"]
    done = client.wait(name, timeout=90)["status"]
    assert done["phase"] == "Completed", done
    error = done["result"]["error"]
    assert error.startswith(f"the logs of pod {name}--script-1-")
    assert "no logs found for container" in error


def test_a_worker_without_job_steps_fails_a_job_step_clearly(
    client: Client, start_worker: StartWorker
) -> None:
    """--no-job-steps (the chart's worker.jobSteps.enabled=false): no Job watch, no Job made."""
    start_worker("job_flows", path=FLOWS, hold=1, extra=("--no-job-steps",))
    name = client.create_execution("two-scripts")["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed", done
    assert done["error"]["kind"] == "validation" and not done["error"]["retryable"]
    assert "--no-job-steps" in done["error"]["message"]
    assert _jobs(client, name) == {}
