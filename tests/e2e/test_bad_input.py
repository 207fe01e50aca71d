"""Bad input is refused with a message naming the field, or ends its execution clearly.

Each test is the history of an input that once crashed or wedged a component: durations that
overflowed the controller and the workers, error messages too long for the status, JSON nested
deeper than Python decodes, fields changed under a running execution, executions of unknown
functions waiting forever, function names that made invalid generated names, cron expressions
that never match.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kontinue import ExecuteOptions, RetryOptions, TimeoutOptions, errors
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import Client, Invalid
from kontinue.client.kubeapi import EXECUTIONS
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    StartUi,
    StartWorker,
    TestCluster,
    wait_for,
)

FLOWS = Path(__file__).parent / "workflows"


def _execution(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kontinue.cloud/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": name},
        "spec": spec,
    }


def _kontinue(
    kube_cluster: TestCluster, namespace: str, *args: str
) -> subprocess.CompletedProcess[str]:
    command = [KONTINUE, "-n", namespace, *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={"KUBECONFIG": str(kube_cluster.kubeconfig), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def test_durations_beyond_the_cap_are_refused_naming_the_field(
    kube_cluster: TestCluster, client: Client, namespace: str
) -> None:
    refused = kube_cluster.create(
        namespace,
        _execution("too-long", {"function": "echo", "timeout": {"overall": "9999999d"}}),
        check=False,
    )
    assert refused.returncode != 0
    assert "spec.timeout.overall" in refused.stderr and "at most 36500d" in refused.stderr
    with pytest.raises(ValueError, match=r"spec\.retry\.backoff: .*at most 36500d"):
        client.create_execution(
            "echo", options=ExecuteOptions(retry=RetryOptions(retries=1, backoff="9999999d"))
        )
    cli = _kontinue(kube_cluster, namespace, "execute", "echo", "--timeout", "9999999d")
    assert cli.returncode == 2, cli.stderr
    assert "--timeout" in cli.stderr and "at most 36500d" in cli.stderr
    schedule = {
        "apiVersion": "kontinue.cloud/v1alpha1",
        "kind": "ScheduledExecution",
        "metadata": {"name": "too-long"},
        "spec": {
            "schedule": "* * * * *",
            "function": "echo",
            "executionDefaults": {"ttl": {"deleteAfter": "99999999999d"}},
        },
    }
    refused = kube_cluster.create(namespace, schedule, check=False)
    assert "spec.executionDefaults.ttl.deleteAfter" in refused.stderr


def test_a_huge_error_message_is_cut_and_kept(client: Client, start_worker: StartWorker) -> None:
    start_worker("durability_flows", path=FLOWS)
    name = client.create_execution("loud-failure", {"size": 100_000})["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    message = done["error"]["message"]
    assert len(message) <= 8192
    assert message.startswith("start xxx") and message.endswith("xxx end")
    assert "characters cut" in message
    assert done["attempts"][0]["message"] == message


def test_arguments_nested_too_deeply_fail_their_execution_and_break_no_reader(
    kube_cluster: TestCluster,
    client: Client,
    namespace: str,
    start_worker: StartWorker,
    start_ui: StartUi,
    tmp_path: Path,
) -> None:
    start_worker("durability_flows", path=FLOWS)
    names = {"deepest": 9990, "deep": 500, "deeper-than-allowed": 101}
    for name, depth in names.items():
        path = tmp_path / f"{name}.json"
        path.write_text(
            '{"apiVersion":"kontinue.cloud/v1alpha1","kind":"Execution","metadata":{"name":"'
            + name
            + '"},"spec":{"function":"echo","arguments":'
            + _nested(depth)
            + "}}"
        )
        kube_cluster.kubectl("create", "-n", namespace, "-f", str(path))
    fine = client.create_execution("echo", {"a": {"b": [1, 2, 3]}})["metadata"]["name"]
    for name in names:
        done = client.wait(name, timeout=60)["status"]
        assert done["phase"] == "Failed", name
        assert "spec.arguments is nested more than 100 levels deep" in done["error"]["message"]
        assert done["error"]["retryable"] is False
    assert client.wait(fine, timeout=60)["status"]["result"] == {"a": {"b": [1, 2, 3]}}
    # every reader of the namespace still works: the CLI, the UI, the watches
    listed = _kontinue(kube_cluster, namespace, "list")
    assert listed.returncode == 0, listed.stderr
    assert all(name in listed.stdout for name in [*names, fine])
    shown = _kontinue(kube_cluster, namespace, "show", "deepest", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["execution"]["status"]["phase"] == "Failed"
    ui = start_ui()
    status, page = ui.get("/")
    assert status == 200 and "deepest" in page
    status, page = ui.get(f"/executions/{namespace}/deep")
    assert status == 200 and "nested more than 100 levels" in page
    # and where such arguments enter through kontinue, they are refused naming them
    with pytest.raises(errors.ValidationError, match="arguments.*nested more than 100"):
        client.create_execution("echo", json.loads(_nested(150)))
    cli = _kontinue(kube_cluster, namespace, "execute", "echo", _nested(150), "--no-check")
    assert cli.returncode == 1 and "nested more than 100" in cli.stderr


def test_arguments_changed_after_the_start_fail_the_next_attempt(
    kube_cluster: TestCluster, client: Client, namespace: str, start_worker: StartWorker
) -> None:
    start_worker("durability_flows", path=FLOWS, hold=0)
    name = client.create_execution("gate", {"target": "staging"})["metadata"]["name"]
    wait_for("the release", lambda: execution_phase(client.get(name)) == Phase.SUSPENDED)
    recorded = client.get(name)["status"]["argumentsDigest"]
    assert recorded.startswith("sha256:")
    kube_cluster.kubectl(
        "patch", "-n", namespace, "execution", name, "--type=merge",
        "-p", json.dumps({"spec": {"arguments": {"target": "production"}}}),
    )  # fmt: skip
    client.resume_execution(name, data={"approved": True})
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    assert "spec.arguments changed after the execution started" in done["error"]["message"]


def test_fields_that_route_or_fence_an_execution_cannot_change(
    kube_cluster: TestCluster, client: Client, namespace: str
) -> None:
    name = client.create_execution("echo", {"a": 1}, ExecuteOptions(), worker_group="nobody")[
        "metadata"
    ]["name"]
    for change, field in (
        ({"spec": {"workerGroup": "other"}}, "spec.workerGroup is immutable"),
        ({"spec": {"mutex": {"name": "m"}}}, "spec.mutex is immutable"),
        ({"spec": {"root": "elsewhere"}}, "spec.root is immutable"),
        ({"spec": {"parent": {"name": "adopter"}}}, "spec.parent is immutable"),
    ):
        with pytest.raises(Invalid, match=field):
            client.kube.merge_patch(EXECUTIONS, namespace, name, change)
    kube_cluster.patch_status(namespace, "execution", name, {"claim": 5})
    refused = kube_cluster.patch_status(namespace, "execution", name, {"claim": 4}, check=False)
    assert "status.claim never goes down" in refused.stderr
    refused = kube_cluster.patch_status(namespace, "execution", name, {"claim": None}, check=False)
    assert "status.claim never goes down" in refused.stderr


def test_an_execution_no_worker_serves_times_out_while_pending(
    client: Client, kontinue_controller: object
) -> None:
    name = client.create_execution(
        "nobody-serves-this", options=ExecuteOptions(timeout=TimeoutOptions(overall="3s"))
    )["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    assert done["error"]["kind"] == "timeout"
    assert "startedAt" not in done  # it never ran


def test_any_function_name_gives_a_valid_generated_name(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("durability_flows", path=FLOWS)
    created = client.create_execution("My_Func")
    assert created["metadata"]["name"].startswith("my-func-")
    assert client.wait(created["metadata"]["name"], timeout=60)["status"]["result"] == "ok"


def test_a_schedule_that_never_fires_says_why(
    kube_cluster: TestCluster, namespace: str, kontinue_controller: object
) -> None:
    schedule = {
        "apiVersion": "kontinue.cloud/v1alpha1",
        "kind": "ScheduledExecution",
        "metadata": {"name": "february-31st"},
        "spec": {"schedule": "0 0 31 2 *", "function": "echo"},
    }
    kube_cluster.create(namespace, schedule)
    status = wait_for(
        "the schedule's message",
        lambda: (kube_cluster.get(namespace, "scheduledexecution", "february-31st").get("status")
                 or {}).get("message"),
        timeout=30,
    )  # fmt: skip
    assert "never matches a date" in status
    long_name = {**schedule, "metadata": {"name": "n" * 53}}
    refused = kube_cluster.create(namespace, long_name, check=False)
    assert "at most 52 characters" in refused.stderr
