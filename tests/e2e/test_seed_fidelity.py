"""What the seed documents promise, end to end: real workers, controller, CLI and UI processes.

Function defaults, fan-out progress across releases, polls that free the worker, waiting
Suspensions, the attempt list and timeout, job results and errors, untyped arguments, archives
with their Jobs, the step annotations, recursive resumes, the kubectl plugin, a worker serving
every namespace, and the CLI's execute and bench flags.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

from kontinue.api import labels
from kontinue.client import Client, kubeapi
from kontinue.workflow import TTLOptions
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    StartUi,
    StartWorker,
    TestCluster,
    WorkerProcess,
    kontinue_object,
    spawn,
    wait_for,
)
from kontinue_testkit.ui_session import UiSession

FLOWS = Path(__file__).parent / "workflows"
BIN = Path(sys.executable).parent


def _status(client: Client, name: str) -> dict[str, Any]:
    return dict(client.get(name).get("status") or {})


def _cli(
    kube_cluster: TestCluster, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig), **(env or {})}
    result = subprocess.run(
        [KONTINUE, *args], env=full_env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result


# -- function defaults --------------------------------------------------------------------------


def test_function_defaults_apply_to_executions_however_they_are_created(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS)
    for name, function in (("bare-flaky", "defaulted-flaky"), ("bare-slow", "defaulted-slow")):
        kube_cluster.create(namespace, kontinue_object("Execution", name, {"function": function}))
    stored = kube_cluster.get(namespace, "execution", "bare-flaky")
    assert "retry" not in stored["spec"]  # nothing defaulted by the API server

    flaky = client.wait("bare-flaky", timeout=60)["status"]
    assert flaky["phase"] == "Completed" and flaky["result"] == 2
    assert [a["phase"] for a in flaky["attempts"]] == ["Failed", "Failed", "Completed"]
    assert flaky["policy"]["retry"] == {"retries": 2, "backoff": "1s", "childPolicy": "None"}

    slow = client.wait("bare-slow", timeout=60)["status"]
    assert slow["phase"] == "Failed"  # the controller timed it out with the function's limit
    assert slow["error"]["kind"] == "timeout"
    assert "exceeded its timeout of 2s" in slow["error"]["message"]
    assert slow["policy"]["timeout"] == {"attempt": "2s"}

    # the CLI: options it sets win, the others come from the function, and it says so
    own = _cli(kube_cluster, "execute", "defaulted-flaky", "--retries", "0", "--wait",
               "-n", namespace, check=False)  # fmt: skip
    assert own.returncode == 1 and "attempt 1 fails" in own.stderr
    assert "policy: no retries" in own.stdout
    shown = _cli(kube_cluster, "execute", "defaulted-flaky", "--backoff", "2s", "-n", namespace)
    assert "policy: retries 2 (backoff 2s)" in shown.stdout
    defaulted = shown.stdout.split()[0].split("/")[1]
    assert client.wait(defaulted, timeout=60)["status"]["policy"]["retry"]["retries"] == 2

    # recording the policy rides on the claim: a trivial execution still costs three writes
    trivial = client.create_execution("defaulted-trivial", name="trivial")["metadata"]["name"]
    done = client.wait(trivial, timeout=60)["status"]
    assert done["policy"]["retry"]["retries"] == 3
    writes = wait_for(
        "the audit events of the trivial execution",
        lambda: w if len(w := kube_cluster.execution_writes(namespace, trivial)) >= 3 else None,
        timeout=20,
    )
    assert writes == ["create", "patch status", "patch status"]


def test_a_function_default_overall_timeout_bounds_the_time_before_any_claim(
    kube_cluster: TestCluster, namespace: str, client: Client
) -> None:
    """No worker claims the execution: its Function's default overall limit still ends it.

    The limit counts from creation, as one in the Execution's own spec does; the execution never
    ran, so no attempt is listed.
    """
    kube_cluster.create(
        namespace,
        kontinue_object(
            "Function",
            "unserved-default",
            {"name": "unserved", "workerGroup": "default", "timeout": {"overall": "3s"}},
        ),
        kontinue_object("Execution", "waits-for-a-worker", {"function": "unserved"}),
    )
    done = client.wait("waits-for-a-worker", timeout=60)["status"]
    assert done["phase"] == "Failed", done
    assert done["error"]["kind"] == "timeout"
    assert "exceeded its overall timeout of 3s" in done["error"]["message"]
    assert not done.get("attempts"), done["attempts"]
    assert "policy" not in done  # no claim recorded one


def test_the_ui_start_form_shows_and_honours_the_function_defaults(
    namespace: str, client: Client, start_worker: StartWorker, start_ui: StartUi
) -> None:
    start_worker("fidelity_flows", path=FLOWS)
    ui = UiSession(start_ui("--anonymous-actions").url)
    form_path = f"/start/{namespace}/default/defaulted-flaky"
    page = ui.page(form_path)
    assert "retries 2 (backoff 1s)" in page
    assert 'id="opt-retries"' in page and 'placeholder="2"' in page
    assert 'id="opt-backoff"' in page and 'placeholder="1s"' in page
    where = ui.submit(form_path, form_path, {"retries": "", "backoff": ""})
    assert where.startswith(f"/executions/{namespace}/"), where
    ui.page(where)
    name = where.rsplit("/", 1)[1]
    created = client.get(name)
    assert "retry" not in created["spec"]  # the form left them to the function
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Completed" and len(done["attempts"]) == 3


# -- progress -----------------------------------------------------------------------------------


def test_a_released_fan_out_ends_at_20_of_20_and_the_ui_shows_it_moving(
    namespace: str, client: Client, start_worker: StartWorker, start_ui: StartUi
) -> None:
    start_worker("fidelity_flows", path=FLOWS, hold=1)
    ui = start_ui()
    name = client.create_execution("wide-fan-out", {"n": 20, "stagger": 0.4})["metadata"]["name"]
    seen: set[int] = set()
    released = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, page = ui.get(f"/executions/{namespace}/{name}")
        assert status == 200
        found = re.search(r'id="progress" data-current="(\d+)" data-max="20"', page)
        if found:
            seen.add(int(found[1]))
        phase = _status(client, name).get("phase")
        released = released or phase == "Suspended"
        if phase == "Completed":
            break
        time.sleep(0.2)
    done = client.wait(name, timeout=30)["status"]
    assert done["phase"] == "Completed", done
    assert released  # the children's waits released it: progress had to survive that
    assert done["progress"] == {"current": 20, "max": 20, "summary": "20/20", "automatic": True}
    print(f"progress the UI showed: {sorted(seen)}")  # a figure for the record (pytest -s)
    between = {v for v in seen if 0 < v < 20}
    assert len(between) >= 3, seen  # the UI showed it moving, not 0/20 then 20/20
    _, final = ui.get(f"/executions/{namespace}/{name}")
    assert 'data-current="20" data-max="20"' in final


def test_execute_sequential_sleep_named_and_clear_progress(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS, hold=0.5)
    name = client.create_execution("sequence", 3)["metadata"]["name"]

    def sleeping() -> dict[str, Any] | None:
        status = _status(client, name)
        return status if "cool-down" in (status.get("steps") or {}) else None

    status = wait_for("the named sleep", sleeping, timeout=60)
    assert status["progress"]["current"] == status["progress"]["max"] == 3
    children = [status["steps"][f"execute-{i}"]["child"] for i in (1, 2, 3)]
    assert children == [f"{name}--execute-{i}" for i in (1, 2, 3)]
    sleep = status["steps"]["cool-down"]
    assert (sleep["type"], sleep["displayName"], sleep["description"]) == (
        "sleep", "Cool down", "Lets it settle",
    )  # fmt: skip
    suspension = client.kube.get(kubeapi.SUSPENSIONS, client.namespace, f"{name}--cool-down")
    assert suspension["spec"]["displayName"] == "Cool down"
    done = client.wait(name, timeout=60)["status"]
    assert done["result"] == [0, 2, 4]
    assert "progress" not in done  # cleared
    starts = [client.get(c)["status"]["startedAt"] for c in children]
    ends = [client.get(c)["status"]["finishedAt"] for c in children]
    assert all(ends[i] <= starts[i + 1] for i in range(2))  # one after the other


# -- polls --------------------------------------------------------------------------------------


def test_a_long_poll_frees_the_worker_slot_between_checks(
    client: Client,
    start_worker: StartWorker,
    tmp_path: Path,
    namespace: str,
    kube_cluster: TestCluster,
) -> None:
    start_worker("fidelity_flows", path=FLOWS, hold=5, concurrency=1)
    marker = tmp_path / "ready"
    poller = client.create_execution("wait-for-file", str(marker))["metadata"]["name"]
    wait_for(
        "the poll to release the execution",
        lambda: _status(client, poller).get("phase") == "Suspended",
        timeout=60,
    )
    waiting = _status(client, poller)
    assert waiting["steps"]["file-ready"]["phase"] == "Running"
    timer = waiting["suspendedOn"][0]["name"]
    assert timer.startswith(f"{poller}--file-ready-")
    # the only slot is free: another execution runs meanwhile (and makes the poll succeed)
    toucher = client.create_execution("touch-file", str(marker))["metadata"]["name"]
    touched = client.wait(toucher, timeout=60)["status"]
    assert touched["phase"] == "Completed"
    assert _status(client, poller)["phase"] != "Completed"
    done = client.wait(poller, timeout=60)["status"]
    assert done["phase"] == "Completed" and done["result"] == "found"
    assert done["steps"]["file-ready"]["phase"] == "Completed"
    assert done["finishedAt"] >= touched["finishedAt"]
    timers = client.kube.list(
        kubeapi.SUSPENSIONS, namespace, label_selector=f"{labels.PARENT}={poller}"
    )["items"]
    assert timers and all(t["spec"]["displayName"] == "File ready?" for t in timers)

    def all_ended() -> bool:
        found = client.kube.list(
            kubeapi.SUSPENSIONS, namespace, label_selector=f"{labels.PARENT}={poller}"
        )["items"]
        return all(t["status"]["phase"] == "Completed" for t in found)

    wait_for("every timer to end", all_ended, timeout=20)
    writes = kube_cluster.execution_writes(namespace, poller)
    print(f"poll: {len(timers)} timers, {len(writes)} writes to the execution: {writes}")


# -- suspensions --------------------------------------------------------------------------------


def test_a_waiting_suspension_shows_its_phase(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS, hold=1)
    name = client.create_execution("approval-child")["metadata"]["name"]
    suspension = f"{name}--child-gate"
    wait_for(
        "the suspension",
        lambda: client.kube.get_or_none(kubeapi.SUSPENSIONS, namespace, suspension),
    )
    table = kube_cluster.kubectl("get", "suspensions", "-n", namespace).stdout
    header, row = table.splitlines()[:2]
    assert header.split()[:2] == ["NAME", "PHASE"]
    assert row.split()[:2] == [suspension, "Suspended"]
    assert kube_cluster.get(namespace, "suspension", suspension)["status"] == {"phase": "Suspended"}
    client.resume_suspension(suspension, {"ok": 1})
    done = kube_cluster.get(namespace, "suspension", suspension)["status"]
    created = kube_cluster.get(namespace, "suspension", suspension)["metadata"]
    assert done["phase"] == "Completed" and done["startedAt"] == created["creationTimestamp"]
    assert client.wait(name, timeout=60)["status"]["result"] == {"ok": 1}


# -- attempts -----------------------------------------------------------------------------------


def test_the_running_attempt_is_listed_and_its_timeout_restarts_on_resume(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS, hold=1)
    name = client.create_execution("attempt-timeout-after-sleep", 6)["metadata"]["name"]

    def running_attempt() -> dict[str, Any] | None:
        listed = _status(client, name).get("attempts") or []
        return listed[-1] if listed and listed[-1]["phase"] == "Executing" else None

    attempt = wait_for("the running attempt", running_attempt, timeout=60)
    assert attempt["workerName"] == "worker-1" and attempt["startedAt"]
    done = client.wait(name, timeout=60)["status"]
    # 6 s of sleep outlast the 4 s attempt limit, but the limit counts per claim
    assert done["phase"] == "Completed", done
    assert done["result"] == "woke up in time"
    assert [a["phase"] for a in done["attempts"]] == ["Completed"]
    assert done["resumptions"] >= 1
    function = kube_cluster.get(namespace, "function", "attempt-timeout-after-sleep")
    (worker,) = function["status"]["workers"]
    assert worker["name"] == "worker-1" and worker["version"].startswith("kontinue ")


# -- jobs and errors ----------------------------------------------------------------------------


def test_a_replayed_pod_result_keeps_its_pod_and_a_failed_job_can_be_an_error(
    namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS, hold=1)
    good = client.create_execution("pod-facts", "succeed")["metadata"]["name"]
    bad = client.create_execution("pod-facts", "fail")["metadata"]["name"]
    done = client.wait(good, timeout=90)["status"]
    assert done["phase"] == "Completed", done
    assert done["resumptions"] >= 1  # released while the pod ran: the result was replayed
    assert done["result"] == {
        "phase": "Succeeded", "image": "busybox:1.36", "pod": done["result"]["pod"],
    }  # fmt: skip
    assert done["result"]["pod"].startswith(f"{good}--the-pod-")
    job = client.kube.get(kubeapi.JOBS, namespace, f"{good}--the-pod")
    assert job["metadata"]["annotations"][labels.DISPLAY_NAME] == "The pod"
    assert job["metadata"]["annotations"][labels.DESCRIPTION] == "Runs busybox once"
    failed = client.wait(bad, timeout=90)["status"]
    assert failed["phase"] == "Failed", failed
    assert failed["error"]["kind"] == "execution" and failed["error"]["retryable"] is True
    assert "pod " in failed["error"]["message"] and "bad input" in failed["error"]["message"]

    parent = client.create_execution("child-error-kind")["metadata"]["name"]
    assert client.wait(parent, timeout=60)["status"]["result"] == {
        "kind": "execution", "message": "no capacity left", "retryable": False,
    }  # fmt: skip


# -- untyped arguments --------------------------------------------------------------------------


def test_untyped_arguments_are_accepted_by_the_cli_the_ui_and_the_worker(
    kube_cluster: TestCluster, namespace: str, start_worker: StartWorker, start_ui: StartUi
) -> None:
    start_worker("fidelity_flows", path=FLOWS)
    done = _cli(kube_cluster, "execute", "untyped", '{"n": 21}', "--wait", "-n", namespace)
    assert "Completed" in done.stdout and "42" in done.stdout
    refused = _cli(kube_cluster, "execute", "no-arguments", '{"n": 1}', "-n", namespace,
                   check=False)  # fmt: skip
    assert refused.returncode == 1 and "function no-arguments takes no arguments" in refused.stderr
    ui = start_ui("--anonymous-actions")  # the start form
    _, form = ui.get(f"/start/{namespace}/default/untyped")
    assert "takes no arguments" not in form and 'name="arguments"' in form
    _, none = ui.get(f"/start/{namespace}/default/no-arguments")
    assert "This function takes no arguments." in none


# -- archives -----------------------------------------------------------------------------------


def test_an_archive_holds_the_jobs_and_the_ui_shows_archives(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker,
    start_ui: StartUi,
) -> None:  # fmt: skip
    start_worker("fidelity_flows", path=FLOWS, hold=1)
    client.create_execution(
        "pod-facts", "succeed", name="archived-pod", ttl=TTLOptions(archive_after="1s")
    )
    archive = wait_for(
        "the archive",
        lambda: client.kube.get_or_none(kubeapi.ARCHIVED_EXECUTIONS, namespace, "archived-pod"),
        timeout=120,
    )
    assert archive["spec"]["counts"] == {"executions": 1, "suspensions": 0, "jobs": 1}
    jobs = [o for o in client.archived_tree("archived-pod") if o["kind"] == "Job"]
    assert [j["metadata"]["name"] for j in jobs] == ["archived-pod--the-pod"]
    assert jobs[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert jobs[0]["status"]["succeeded"] == 1
    ui = start_ui()
    status, listing = ui.get("/archives")
    assert status == 200 and 'data-archive="archived-pod"' in listing and "pod-facts" in listing
    status, page = ui.get(f"/archives/{namespace}/archived-pod")
    assert status == 200
    assert 'data-job="archived-pod--the-pod"' in page and 'data-step="the-pod"' in page
    assert "busybox:1.36" in page
    assert ui.get(f"/archives/{namespace}/no-such")[0] == 404
    archives = _cli(kube_cluster, "archives", "-n", namespace).stdout
    assert "archived-pod" in archives


# -- trees: recursive resume, spawn_execute, annotations -----------------------------------------


def test_recursive_resume_from_the_cli_and_the_client_and_step_annotations(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS, hold=1)
    handles = [client.spawn_execute("approval-tree") for _ in range(2)]
    assert all(h.namespace == namespace for h in handles)

    def both_waiting(name: str) -> bool:
        found = client.kube.list(
            kubeapi.SUSPENSIONS, namespace, label_selector=f"{labels.ROOT}={name}"
        )["items"]
        return len(found) == 2

    for handle in handles:
        wait_for("two suspensions in the tree", partial(both_waiting, handle.name), timeout=60)
    first, second = handles
    child = client.get(f"{first.name}--reviewer")
    assert child["metadata"]["annotations"][labels.DISPLAY_NAME] == "Reviewer"
    assert child["metadata"]["annotations"][labels.DESCRIPTION] == "Asks the reviewer"
    gate = client.kube.get(kubeapi.SUSPENSIONS, namespace, f"{first.name}--gate")
    assert gate["metadata"]["annotations"][labels.DISPLAY_NAME] == "Approve"

    flat = _cli(kube_cluster, "resume", first.name, "-n", namespace, "--data", '{"by": "cli"}')
    assert flat.stdout.count("resumed") == 1  # its own suspension only
    deep = _cli(kube_cluster, "resume", first.name, "-r", "-n", namespace, "--data", '"deep"')
    assert f"{first.name}--reviewer--child-gate" in deep.stdout
    assert first.wait(timeout=60)["status"]["result"] == {"own": {"by": "cli"}, "child": "deep"}

    resumed = client.resume_execution(second.name, recursive=True, data="all")
    assert sorted(resumed) == sorted(
        [f"{second.name}--gate", f"{second.name}--reviewer--child-gate"]
    )
    assert second.wait(timeout=60)["status"]["result"] == {"own": "all", "child": "all"}


def test_kubectl_kontinue_is_a_kubectl_plugin(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    kubectl = str(kube_cluster.bin_dir / "kubectl")

    def plugin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [kubectl, "kontinue", *args],
            env={**env, "KUBECONFIG": str(kube_cluster.kubeconfig)},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    plugins = subprocess.run(
        [kubectl, "plugin", "list"], env=env, capture_output=True, text=True, check=False
    )
    assert str(BIN / "kubectl-kontinue") in plugins.stdout
    done = plugin("execute", "doubler", "21", "--wait", "-n", namespace)
    assert done.returncode == 0, done.stderr
    assert "42" in done.stdout
    listed = plugin("list", "-n", namespace)
    assert listed.returncode == 0 and "doubler" in listed.stdout and "Completed" in listed.stdout


# -- a worker for every namespace -----------------------------------------------------------------


def test_a_worker_with_all_namespaces_serves_and_is_taken_over_anywhere(
    kube_cluster: TestCluster, namespace: str, other_namespace: str, tmp_path: Path,
    kontinue_controller: object,
) -> None:  # fmt: skip
    group = f"everywhere-{uuid.uuid4().hex[:6]}"

    def worker(name: str) -> WorkerProcess:
        command = [
            sys.executable, "-m", "kontinue_worker", "--module", "fidelity_flows",
            "--path", str(FLOWS), "--all-namespaces", "--home-namespace", namespace,
            "--group", group, "--name", name, "--lease-duration", "3", "--grace", "2",
            "--metrics-port", "0",
        ]  # fmt: skip
        process = spawn(kube_cluster, command, name, tmp_path / f"{name}.log")
        wait_for(f"{name} to serve", lambda: " serving " in process.log(), timeout=60)
        assert "every namespace" in process.log()
        return process

    first = worker("wide-1")
    try:
        lease = kube_cluster.get(namespace, "leases")["items"][0]
        assert lease["metadata"]["labels"][labels.WORKER_SCOPE] == labels.CLUSTER_SCOPE
        function = kube_cluster.get(namespace, "function", f"doubler.{group}")
        assert function["metadata"]["labels"][labels.WORKER_SCOPE] == labels.CLUSTER_SCOPE
        # the CLI finds the function in the worker's home namespace
        done = _cli(kube_cluster, "execute", "doubler", "4", "--group", group, "--wait",
                    "-n", other_namespace)  # fmt: skip
        assert "8" in done.stdout
        elsewhere = Client(namespace=other_namespace, kubeconfig=str(kube_cluster.kubeconfig))
        marker = tmp_path / "marker"
        name = elsewhere.create_execution("wait-for-file", str(marker), worker_group=group)[
            "metadata"
        ]["name"]
        wait_for(
            "the poll to run on wide-1",
            lambda: (elsewhere.get(name).get("status") or {}).get("workerName") == "wide-1",
            timeout=60,
        )
        first.kill()  # its executions in any namespace go to the next worker
        second = worker("wide-2")
        try:
            wait_for(
                "the takeover",
                lambda: (elsewhere.get(name).get("status") or {}).get("workerName") == "wide-2",
                timeout=60,
            )
            marker.touch()
            result = elsewhere.wait(name, timeout=60)["status"]
            assert result["phase"] == "Completed" and result["workerName"] == "wide-2"
            assert result["resumptions"] >= 1
        finally:
            second.kill()
    finally:
        first.kill()


# -- CLI flags ----------------------------------------------------------------------------------


def test_execute_flags_of_the_seed_and_bench_parameters(
    kube_cluster: TestCluster, namespace: str, client: Client, start_worker: StartWorker
) -> None:
    start_worker("fidelity_flows", path=FLOWS)
    created = json.loads(
        _cli(
            kube_cluster, "execute", "untyped", "--args", '{"n": 5}', "--ttl", "1h",
            "--archive-after", "30m", "--child-policy", "RetryFailed", "--retries", "1",
            "--name", "flagged", "-n", namespace, "-o", "json",
        ).stdout
    )  # fmt: skip
    spec = created["spec"]
    assert spec["arguments"] == {"n": 5}
    assert spec["ttl"] == {"deleteAfter": "1h", "archiveAfter": "30m"}
    assert spec["retry"] == {"retries": 1, "childPolicy": "RetryFailed"}
    done = client.wait("flagged", timeout=60)["status"]
    assert done["result"] == 10
    assert done["policy"]["retry"] == {"retries": 1, "backoff": "5s", "childPolicy": "RetryFailed"}
    both = _cli(kube_cluster, "execute", "untyped", "{}", "--args", "{}", "-n", namespace,
                check=False)  # fmt: skip
    assert both.returncode == 1 and "not both" in both.stderr
    report = json.loads(
        _cli(
            kube_cluster, "bench", "untyped", "--parameters", '{"n": 2}', "--qps", "10",
            "--duration", "1s", "-n", namespace, "-o", "json",
        ).stdout
    )  # fmt: skip
    assert report["created"] >= 5 and report["phases"] == {"Completed": report["created"]}
    bench_runs = client.list(label_selector=report["label"])
    assert {e["spec"]["arguments"]["n"] for e in bench_runs} == {2}
    from kontinue.cli._bench import bench

    defaults = {p.name: p.default for p in bench.params}
    assert (defaults["max_concurrency"], defaults["client_qps"], defaults["client_burst"]) == (
        10, 100.0, 200,
    )  # fmt: skip
