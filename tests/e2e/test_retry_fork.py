"""Retry and fork on the real control plane (``kontinue retry``, ``kontinue fork``).

The acceptance scenario: an 8-step deploy pipeline whose step 5 has a bug fails on the workers
of version 1 once its retries are spent; a worker with the fixed code (version 2, a new
"image": the same module, other code) starts, and ``kontinue retry --version 2`` completes the
execution in place. A ledger file every step appends to proves that steps 1-4 ran once and
steps 5-8 once after the fix. A fork from step 3 runs steps 3-8 under a new name and leaves
the original as it was. Then: a canceled execution (its child and the child's approval
canceled with it) retried, a request sent twice, refusals, and the API writes of a retry and
of a fork counted in the API server's audit log.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path

from kontinue.api import retries
from kontinue.client import Client, RetryRefused, kubeapi
from kontinue.workflow import ExecuteOptions, RetryOptions
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    SessionController,
    StartWorker,
    TestCluster,
    wait_for,
)

HERE = Path(__file__).parent
FLOWS = HERE / "workflows"
MODULE = "deploy_retry_flows"
STEPS = ["resolve", "build", "test", "push", "migrate", "rollout", "verify", "announce"]


def write_pipeline(directory: Path, version: str, *, bug: bool) -> Path:
    """The deploy pipeline's module of one version (``bug``: step 5 raises)."""
    directory.mkdir(parents=True)
    source = f'''
from typing import Any

import kontinue

VERSION = {version!r}
BUG = {bug!r}
STEPS = {STEPS!r}


@kontinue.function("deploy-eight")
def deploy(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """Eight steps, each one appending to the ledger once it is done."""
    done = []
    for step in STEPS:
        def run(step: str = step) -> str:
            if BUG and step == "migrate":
                raise RuntimeError("migrate: the migration script has a bug (version 1)")
            with open(args["ledger"], "a") as ledger:
                ledger.write(f"{{ktx.name}}:{{step}}\\n")
            return f"{{step}} by {{VERSION}}"
        done.append(kontinue.store_named(ktx, kontinue.StoreOptions(name=step), run))
    return {{"steps": done, "finished_by": VERSION}}
'''
    (directory / f"{MODULE}.py").write_text(textwrap.dedent(source))
    return directory


def _cli(kube_cluster: TestCluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig)}
    return subprocess.run(
        [KONTINUE, *args, "-n", namespace], env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


def _ledger(path: Path, execution: str) -> list[str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.split(":", 1)[1] for line in lines if line.split(":", 1)[0] == execution]


def _writes(
    kube_cluster: TestCluster, namespace: str, since: int, names: set[str]
) -> tuple[int, list[tuple[str, str, str, str]]]:
    """The audited writes to ``names`` (and their ConfigMaps and Events) after event ``since``."""
    events = kube_cluster.audit_events(namespace)
    found = []
    for event in events[since:]:
        ref = event["objectRef"]
        if event.get("verb") not in ("create", "update", "patch", "delete"):
            continue
        if (event.get("responseStatus") or {}).get("code", 200) >= 300:
            continue
        target = ref.get("name") or ""
        if ref.get("resource") == "events":
            target = ((event.get("requestObject") or {}).get("involvedObject") or {}).get(
                "name", ""
            )
        if not any(target == n or target.startswith(f"{n}-journal-") for n in names):
            continue
        agent = str(event.get("userAgent", "")).split("/")[0]
        found.append((event["verb"], ref.get("resource", ""), ref.get("subresource", ""), agent))
    return len(events), found


def test_a_bug_fixed_by_a_new_worker_image_is_completed_by_retry_and_a_fork_reruns_from_step_3(
    kube_cluster: TestCluster,
    namespace: str,
    client: Client,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "ledger"
    buggy = write_pipeline(tmp_path / "v1", "1", bug=True)
    fixed = write_pipeline(tmp_path / "v2", "2", bug=False)
    start_worker(MODULE, path=buggy, name="worker-v1", hold=2, extra=("--version", "1"))
    name = client.create_execution(
        "deploy-eight",
        {"ledger": str(ledger)},
        ExecuteOptions(retry=RetryOptions(retries=1, backoff="1s")),
        name="deploy-1",
    )["metadata"]["name"]
    failed = client.wait(name, timeout=90)["status"]
    assert failed["phase"] == "Failed", failed
    assert "migration script has a bug" in failed["error"]["message"]
    assert [a["phase"] for a in failed["attempts"]] == ["Failed", "Failed"]  # retries spent
    assert failed["workerVersion"] == "1"
    assert _ledger(ledger, name) == STEPS[:4]

    # the fix ships as a new worker image (version 2); version 1 keeps running beside it
    start_worker(MODULE, path=fixed, name="worker-v2", hold=2, extra=("--version", "2"))
    before, _ = _writes(kube_cluster, namespace, 0, set())
    retried = _cli(kube_cluster, namespace, "retry", name, "--version", "2", "--wait")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "retry requested" in retried.stdout and "Completed" in retried.stdout
    done = client.get(name)
    status = done["status"]
    assert status["phase"] == "Completed"
    assert status["result"]["finished_by"] == "2"
    assert status["result"]["steps"] == [f"{s} by {'1' if i < 4 else '2'}" for i, s in
                                         enumerate(STEPS)]  # fmt: skip
    assert _ledger(ledger, name) == STEPS  # steps 1-4 once (before), 5-8 once (after the fix)
    assert [a["phase"] for a in status["attempts"]] == ["Failed", "Failed", "Completed"]
    assert status["retried"]["count"] == 1 and status["retried"]["attempt"] == 3
    assert status["workerVersion"] == "2" and status["workerName"] == "worker-v2"
    assert "error" not in status and status["finishedAt"] >= status["retried"]["at"]
    _, retry_writes = _writes(kube_cluster, namespace, before, {name})
    print(f"\nretry of {name}: {len(retry_writes)} API writes: {retry_writes}")
    assert retry_writes[:2] == [
        ("patch", "executions", "", "kontinue"),  # the request (spec.retryRequest)
        ("patch", "executions", "status", "kontinue-controller"),  # the retry transition
    ]
    execution_writes = [w for w in retry_writes if w[1] == "executions"]
    # request, transition, claim, the 4 steps run again, the end: nothing else
    assert len(execution_writes) == 2 + 1 + 4 + 1, retry_writes

    # a fork from step 3 runs steps 3-8 under a new name; the original is not touched
    original = client.get(name)
    before, _ = _writes(kube_cluster, namespace, 0, set())
    forked = _cli(
        kube_cluster, namespace, "fork", name, "--from-step", "3", "--name", "deploy-1-fork",
        "--version", "2", "--wait",
    )  # fmt: skip
    assert forked.returncode == 0, forked.stdout + forked.stderr
    assert "deploy-1-fork forked from deploy-1" in forked.stdout
    fork = client.get("deploy-1-fork")
    assert fork["status"]["phase"] == "Completed"
    assert fork["status"]["result"]["steps"] == [
        "resolve by 1", "build by 1", "test by 2", "push by 2", "migrate by 2",
        "rollout by 2", "verify by 2", "announce by 2",
    ]  # fmt: skip
    assert _ledger(ledger, "deploy-1-fork") == STEPS[2:]
    assert _ledger(ledger, name) == STEPS  # the original's effects were not repeated
    assert fork["status"]["forkedFrom"] == {
        "name": name, "uid": original["metadata"]["uid"], "step": "test", "index": 2, "steps": 2,
    }  # fmt: skip
    assert fork["spec"]["forkOf"]["uid"] == original["metadata"]["uid"]
    after = client.get(name)
    assert after["metadata"]["resourceVersion"] == original["metadata"]["resourceVersion"]
    assert after["status"] == original["status"]
    _, fork_writes = _writes(kube_cluster, namespace, before, {"deploy-1-fork"})
    print(f"fork deploy-1-fork: {len(fork_writes)} API writes: {fork_writes}")
    # create, claim (no write of its own for the copy), steps 3-8, the end
    assert [w for w in fork_writes if w[1] == "executions"] == [
        ("create", "executions", "", "kontinue"),
        *[("patch", "executions", "status", "kontinue-worker")] * (1 + 6 + 1),
    ]

    # an unknown step is refused with the steps listed; a completed execution is not retried
    unknown = _cli(kube_cluster, namespace, "fork", name, "--from-step", "deploy")
    assert unknown.returncode == 1
    assert "has no step 'deploy'" in unknown.stderr and "5. migrate" in unknown.stderr
    refused = _cli(kube_cluster, namespace, "retry", name)
    assert refused.returncode == 1
    assert "is Completed: only a Failed or Canceled execution can be retried" in refused.stderr
    assert client.get(name)["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]


def _child_gate(parent: str, attempt: int | None = None) -> tuple[str, str]:
    child = f"{parent}--child" + (f"-a{attempt}" if attempt else "")
    return child, f"{child}--gate"


def test_a_canceled_execution_is_retried_with_its_canceled_child_run_again(
    namespace: str,
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "ledger"
    start_worker("retry_flows", path=FLOWS, hold=1)
    name = client.create_execution("approval-flow", {"ledger": str(ledger)}, name="approve-1")[
        "metadata"
    ]["name"]
    child, gate = _child_gate(name)
    wait_for(
        "the child to wait for its approval",
        lambda: client.kube.get_or_none(kubeapi.SUSPENSIONS, namespace, gate) is not None,
    )
    client.cancel(name)
    canceled = client.wait(name, timeout=60)["status"]
    assert canceled["phase"] == "Canceled"
    assert client.wait(child, timeout=60)["status"]["phase"] == "Canceled"

    # the request, sent twice with the same id (its first answer lost): one write, one retry
    request_id = "lost-answer-1"
    client.request_retry(name, request_id=request_id)
    again = client.request_retry(name, request_id=request_id)
    assert retries.request_of(again) == {
        "id": request_id, "finishedAt": canceled["finishedAt"],
    }  # fmt: skip
    assert "cancel" not in again["spec"]
    spec_patches = [
        e
        for e in kube_cluster.audit_events(namespace)
        if e["objectRef"].get("name") == name
        and e.get("verb") == "patch"
        and not e["objectRef"].get("subresource")
        and not str(e.get("userAgent", "")).startswith("kontinue-controller")
    ]
    assert len(spec_patches) == 2  # the cancel, then one retry request

    new_child, new_gate = _child_gate(name, 2)
    wait_for(
        "the canceled child to run again as a new execution",
        lambda: client.kube.get_or_none(kubeapi.SUSPENSIONS, namespace, new_gate) is not None,
    )
    assert client.get(child)["status"]["phase"] == "Canceled"  # the canceled one stays
    client.resume_suspension(new_gate, {"approved": True})
    status = client.wait(name, timeout=60)["status"]
    assert status["phase"] == "Completed", status
    assert status["result"] == {"first": "first", "child": {"approved": True}, "last": "last"}
    assert _ledger(ledger, name) == ["first", "last"]  # "first" was not run again
    assert [a["phase"] for a in status["attempts"]] == ["Canceled", "Completed"]
    assert status["steps"]["child"]["child"] == new_child

    # the same request written again (a re-sent PATCH) after the retry: nothing happens
    client.kube.merge_patch(
        kubeapi.EXECUTIONS,
        namespace,
        name,
        {"spec": {"retryRequest": again["spec"]["retryRequest"]}},
    )
    version = client.get(name)["metadata"]["resourceVersion"]
    time.sleep(3)  # the controller sees the event within this; it must not act on it
    still = client.get(name)
    assert still["metadata"]["resourceVersion"] == version
    assert still["status"]["phase"] == "Completed" and still["status"]["retried"]["count"] == 1

    # a fork from the last step reuses the completed child of its original (not run again)
    fork = client.fork(name, "last", new_name="approve-1-last")["metadata"]["name"]
    status = client.wait(fork, timeout=60)["status"]
    assert status["phase"] == "Completed", status
    assert status["result"] == {"first": "first", "child": {"approved": True}, "last": "last"}
    assert status["steps"]["child"]["child"] == new_child  # the original's child, read as such
    assert _ledger(ledger, fork) == ["last"]
    assert client.list(label_selector=f"kontinue.cloud/parent={fork}") == []  # no new child
    # its exported history replays offline, the original's child included
    history = tmp_path / "fork-history.json"
    history.write_text(json.dumps(client.export_history(fork)))
    replayed = subprocess.run(
        [KONTINUE, "replay", str(history), "--module", "retry_flows", "--path", str(FLOWS)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr


def test_a_retry_is_refused_while_it_runs_and_a_child_or_an_unknown_execution_is_refused(
    namespace: str, client: Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    start_worker("retry_flows", path=FLOWS, hold=30)
    go = tmp_path / "go"
    name = client.create_execution("blocking", {"go": str(go)})["metadata"]["name"]
    wait_for(
        "it to run",
        lambda: (client.get(name).get("status") or {}).get("phase") == "Executing",
    )
    version = client.get(name)["metadata"]["resourceVersion"]
    try:
        client.retry(name)
    except RetryRefused as exc:
        assert f"execution {name} is Executing" in str(exc)
    else:
        raise AssertionError("a running execution was retried")
    assert client.get(name)["metadata"]["resourceVersion"] == version  # nothing written
    go.touch()
    assert client.wait(name, timeout=60)["status"]["phase"] == "Completed"

    ledger = tmp_path / "ledger"
    parent = client.create_execution("approval-flow", {"ledger": str(ledger)})["metadata"]["name"]
    child, gate = _child_gate(parent)
    wait_for(
        "the child to wait",
        lambda: client.kube.get_or_none(kubeapi.SUSPENSIONS, namespace, gate) is not None,
    )
    client.cancel(parent)
    client.wait(child, timeout=60)
    try:
        client.retry(child)
    except RetryRefused as exc:
        assert f"retry {parent} instead" in str(exc)
    else:
        raise AssertionError("a child was retried on its own")
    try:
        client.retry("no-such-execution")
    except kubeapi.NotFound:
        pass
    else:
        raise AssertionError("a missing execution was retried")


def test_a_controller_restart_performs_a_request_written_while_it_was_down(
    client: Client,
    start_worker: StartWorker,
    kontinue_controller: SessionController,
    tmp_path: Path,
) -> None:
    start_worker("retry_flows", path=FLOWS, hold=1)
    fixed = tmp_path / "fixed"
    name = client.create_execution("needs-fix", {"fixed": str(fixed)})["metadata"]["name"]
    assert client.wait(name, timeout=60)["status"]["phase"] == "Failed"
    fixed.touch()
    kontinue_controller.kill()
    try:
        client.retry(name)  # written while no controller runs
        time.sleep(1)
        assert client.get(name)["status"]["phase"] == "Failed"
    finally:
        kontinue_controller.restart()  # rebuilds from its listing: the request is pending
    status = client.wait_retried(name, timeout=60)["status"]
    assert status["phase"] == "Completed" and status["result"] == "fixed"
    assert status["retried"]["count"] == 1
