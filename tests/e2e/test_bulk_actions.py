"""Bulk cancel and resume by selection (CLI and Client) against the real control plane.

Executions that need no worker are written directly (spec, then status through the status
subresource); the controller of the session turns requested cancellations into Canceled.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from kontinue.api.phases import Phase
from kontinue.client import Client, Result, Selection, kubeapi
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    SessionController,
    StartWorker,
    TestCluster,
    wait_for,
)

FLOWS = Path(__file__).parent / "workflows"


def kontinue(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``kontinue`` command (not in a terminal: it never asks)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "COLUMNS": "200"}
    result = subprocess.run(
        [KONTINUE, *args], env=env, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


def write(
    client: Client,
    name: str,
    *,
    phase: str | None = None,
    labels: Mapping[str, str] | None = None,
    function: str = "work",
    namespace: str | None = None,
) -> None:
    """An Execution as a worker would have left it in ``phase`` (None: just created)."""
    ns = namespace or client.namespace
    client.kube.create(
        kubeapi.EXECUTIONS,
        ns,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "Execution",
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {"function": function},
        },
    )
    if phase is not None:
        status: dict[str, Any] = {"phase": phase}
        if phase == "Executing":  # a worker that is gone (no Lease: nothing takes it over)
            status["workerName"] = "gone-worker"
        if phase in ("Completed", "Failed", "Canceled"):
            status["finishedAt"] = "2030-01-01T10:00:00Z"
        client.kube.merge_patch(
            kubeapi.EXECUTIONS, ns, name, {"status": status}, subresource="status"
        )


def write_many(client: Client, items: list[tuple[str, dict[str, Any]]]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: write(client, item[0], **item[1]), items))


def suspended(client: Client, name: str) -> bool:
    """Whether ``name`` waits (released by its worker: Suspended)."""
    return client.phase(name) == Phase.SUSPENDED


def exists(client: Client, suspension: str) -> bool:
    """Whether the Suspension exists."""
    return client.kube.get_or_none(kubeapi.SUSPENSIONS, client.namespace, suspension) is not None


def cli_patches(kube_cluster: TestCluster, namespace: str) -> list[dict[str, Any]]:
    """The writes the ``kontinue`` command made to Executions in ``namespace``."""
    return [
        e
        for e in kube_cluster.audit_events(namespace)
        if (e.get("objectRef") or {}).get("resource") == "executions"
        and e.get("verb") in ("patch", "update", "create")
        and e.get("userAgent") == "kontinue"
    ]


def test_bulk_cancel_of_200_by_selector_cancels_exactly_those(
    client: Client,
    other_namespace: str,
    kube_cluster: TestCluster,
    kontinue_controller: SessionController,
) -> None:
    ns = client.namespace
    unfinished = ["Pending", "Executing", "Suspended", "Backoff", None]
    targets = [f"pay-{i:03d}" for i in range(200)]
    items: list[tuple[str, dict[str, Any]]] = [
        (n, {"phase": unfinished[i % 5], "labels": {"team": "payments"}})
        for i, n in enumerate(targets)
    ]
    items += [(f"search-{i}", {"phase": "Executing", "labels": {"team": "search"}})
              for i in range(10)]  # fmt: skip
    finished = {f"done-{i}": ("Completed", "Failed", "Canceled")[i % 3] for i in range(9)}
    items += [(n, {"phase": p, "labels": {"team": "payments"}}) for n, p in finished.items()]
    items += [(f"elsewhere-{i}", {"phase": "Executing", "labels": {"team": "payments"},
                                  "namespace": other_namespace}) for i in range(10)]  # fmt: skip
    write_many(client, items)
    before = {e["metadata"]["name"]: e for e in client.list(namespace=ns)}
    writes_before = len(cli_patches(kube_cluster, ns))

    started = time.monotonic()
    result = kontinue(kube_cluster.kubeconfig, "cancel", "-l", "team=payments", "-n", ns,
                      "-o", "json")  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {e["name"]: e for e in report["executions"]}
    assert set(by_name) == set(targets) | set(finished)
    assert report["counts"]["done"] == 200 and report["counts"]["skipped"] == len(finished)
    for name in targets:
        assert by_name[name]["result"] == "done", by_name[name]
        assert by_name[name]["detail"] == "cancel requested"
    for name, phase in finished.items():
        assert by_name[name] == {
            "namespace": ns, "name": name, "phase": phase, "result": "skipped",
            "detail": f"already finished ({phase})",
        }  # fmt: skip
    writes = len(cli_patches(kube_cluster, ns)) - writes_before
    print(f"\nbulk cancel of 200: {elapsed:.2f}s for the command, {writes} API writes")
    assert writes == 200  # one conditional patch per canceled execution, none for the rest

    # every one of the 200 asked to cancel, and the controller canceled each
    wait_for(
        "the 200 canceled",
        lambda: all(
            (e.get("status") or {}).get("phase") == "Canceled"
            for e in client.list(namespace=ns, label_selector="team=payments")
            if e["metadata"]["name"].startswith("pay-")
        ),
        timeout=120,
    )
    after = {e["metadata"]["name"]: e for e in client.list(namespace=ns)}
    for name in targets:
        assert (
            after[name]["spec"]["cancel"] is True and after[name]["status"]["phase"] == "Canceled"
        )
    for name, execution in after.items():
        if name in targets:
            continue
        # the others untouched: the same spec (no cancel asked), not canceled
        assert execution["spec"] == before[name]["spec"], name
        assert not execution["spec"].get("cancel"), name
        if name.startswith("search-"):
            assert execution["status"]["phase"] == "Executing", name
        else:
            assert execution["status"]["phase"] == finished[name], name
    for execution in client.list(namespace=other_namespace):
        assert not execution["spec"].get("cancel"), execution["metadata"]["name"]
        assert execution["status"]["phase"] == "Executing"

    # once more: all of them skipped, nothing written
    again = kontinue(kube_cluster.kubeconfig, "cancel", "-l", "team=payments", "-n", ns)
    assert again.returncode == 0, again.stderr
    assert "cancel: 209 skipped" in again.stderr or "cancel: 209 skipped" in again.stdout
    assert len(cli_patches(kube_cluster, ns)) - writes_before == 200


def test_phase_filters_dry_run_and_nothing_matched(
    client: Client, kube_cluster: TestCluster
) -> None:
    ns = client.namespace
    # phases the session's controller leaves as they are (no timer, no worker to wait for)
    phases = {"p-pending": None, "p-executing": "Executing", "p-failed": "Failed",
              "p-completed": "Completed"}  # fmt: skip
    write_many(client, [(n, {"phase": p, "labels": {"app": "x"}}) for n, p in phases.items()])
    config = kube_cluster.kubeconfig

    dry = kontinue(config, "cancel", "--phase", "executing,Failed", "--phase", "Pending",
                   "-l", "app=x", "-n", ns, "--dry-run", "-o", "json")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["dryRun"] is True
    assert {e["name"]: e["result"] for e in planned["executions"]} == {
        "p-pending": "planned", "p-executing": "planned", "p-failed": "skipped",
    }  # fmt: skip
    assert not any(e["spec"].get("cancel") for e in client.list())  # nothing written

    table = kontinue(config, "cancel", "--phase", "Executing", "--phase", "Completed",
                     "-n", ns, "--all")  # fmt: skip
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "RESULT", "MESSAGE"]
    assert lines[1].split()[:4] == ["p-completed", "Completed", "skipped", "already"]
    assert lines[2].split() == ["p-executing", "Executing", "done", "cancel", "requested"]
    assert "cancel: 1 done, 1 skipped" in table.stdout
    canceled = {e["metadata"]["name"] for e in client.list() if e["spec"].get("cancel")}
    assert canceled == {"p-executing"}

    none = kontinue(config, "cancel", "-l", "app=nobody", "-n", ns)
    assert none.returncode == 3
    assert "no execution matches (namespace" in none.stderr and "labels app=nobody" in none.stderr
    bad = kontinue(config, "cancel", "--phase", "Runing", "-n", ns)
    assert bad.returncode == 1 and "unknown phase 'Runing'" in bad.stderr
    bare = kontinue(config, "cancel", "-n", ns)
    assert bare.returncode == 1 and "give NAME, or select executions" in bare.stderr

    # several names: each reported, a missing one fails the command
    named = kontinue(config, "cancel", "p-pending", "nope", "p-completed", "-n", ns, "-o", "json")
    assert named.returncode == 1
    results = {
        e["name"]: (e["result"], e["detail"]) for e in json.loads(named.stdout)["executions"]
    }
    assert results == {
        "p-pending": ("done", "cancel requested"),
        "p-completed": ("skipped", "already finished (Completed)"),
        "nope": ("failed", "not found"),
    }


def test_a_refused_execution_is_reported_and_the_rest_done(
    client: Client,
    other_namespace: str,
    kube_cluster: TestCluster,
    tmp_path: Path,
) -> None:
    ns = client.namespace
    write_many(client, [(f"r-{i}", {"phase": "Executing", "labels": {"team": "t"}})
                        for i in range(3)])  # fmt: skip
    write_many(client, [(f"o-{i}", {"phase": "Executing", "labels": {"team": "t"},
                                    "namespace": other_namespace}) for i in range(2)])  # fmt: skip
    read = {"apiGroups": ["kontinue.cloud"], "resources": ["executions"],
            "verbs": ["get", "list", "watch"]}  # fmt: skip
    patch = {"apiGroups": ["kontinue.cloud"], "resources": ["executions"], "verbs": ["patch"]}
    for where, rules in ((ns, [read, patch]), (other_namespace, [read])):
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "operator"}, "rules": rules}  # fmt: skip
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "operator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": "operator"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                          "name": "operator"}],
        }  # fmt: skip
        kube_cluster.kubectl("apply", "-n", where, "-f", "-",
                             input=yaml.safe_dump_all([role, binding]))  # fmt: skip
        kube_cluster.wait_allowed("operator", "list", "executions.kontinue.cloud", where)
    kube_cluster.wait_allowed("operator", "patch", "executions.kontinue.cloud", ns)

    admin_view = client.select(Selection(label_selector="team=t", namespace=ns)) + client.select(
        Selection(label_selector="team=t", namespace=other_namespace)
    )
    operator = Client(namespace=ns, kube=client.kube.impersonating("operator"))
    report = operator.cancel_many(admin_view)
    outcomes = {(o.namespace, o.name): o for o in report.outcomes}
    assert not report.ok
    for i in range(3):
        assert outcomes[(ns, f"r-{i}")].result == Result.DONE
    for i in range(2):
        refused = outcomes[(other_namespace, f"o-{i}")]
        assert refused.result == Result.REFUSED
        assert 'User "operator" cannot patch resource "executions"' in refused.detail
        assert not client.get(f"o-{i}", namespace=other_namespace)["spec"].get("cancel")
    assert report.counts == {"done": 3, "planned": 0, "skipped": 0, "refused": 2, "failed": 0}
    assert all(client.get(f"r-{i}")["spec"]["cancel"] for i in range(3))

    # the command: a refusal makes the exit code 1, the table says which
    token = kube_cluster.kubectl("create", "token", "default", "-n", other_namespace).stdout
    role_for_sa = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "sa-reads"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                               "name": "operator"},
                   "subjects": [{"kind": "ServiceAccount", "name": "default",
                                 "namespace": other_namespace}]}  # fmt: skip
    kube_cluster.kubectl("apply", "-n", other_namespace, "-f", "-",
                         input=yaml.safe_dump(role_for_sa))  # fmt: skip
    kube_cluster.wait_allowed(f"system:serviceaccount:{other_namespace}:default", "list",
                              "executions.kontinue.cloud", other_namespace)  # fmt: skip
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    config["users"][0]["user"] = {"token": token.strip()}
    limited = tmp_path / "limited.yaml"
    limited.write_text(yaml.safe_dump(config))
    result = kontinue(limited, "cancel", "-l", "team=t", "-n", other_namespace)
    assert result.returncode == 1, result.stdout
    rows = [line.split(maxsplit=3) for line in result.stdout.splitlines()[1:3]]
    assert [row[:3] for row in rows] == [["o-0", "Executing", "refused"],
                                         ["o-1", "Executing", "refused"]]  # fmt: skip
    assert all("cannot patch resource" in row[3] for row in rows)
    assert "cancel: 2 refused" in result.stdout


def test_bulk_resume_by_function_and_step(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster
) -> None:
    start_worker("bulk_flows", path=FLOWS, hold=1)
    approvals = [client.create_execution("bulk-approval")["metadata"]["name"] for _ in range(4)]
    others = [client.create_execution("bulk-other")["metadata"]["name"] for _ in range(2)]
    for name in approvals + others:
        wait_for(f"{name} waiting", partial(suspended, client, name), timeout=60)
    config = kube_cluster.kubeconfig
    ns = client.namespace

    dry = kontinue(config, "resume", "--function", "bulk-approval", "-n", ns, "--dry-run")
    assert dry.returncode == 0 and "resume (dry run): 4 planned" in dry.stdout
    assert all(client.phase(n) == Phase.SUSPENDED for n in approvals)

    result = kontinue(config, "resume", "--function", "bulk-approval", "-n", ns,
                      "--data", '{"approved": true}', "-o", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {e["name"]: (e["result"], e["detail"]) for e in report["executions"]} == {
        n: ("done", f"resumed {n}--approval") for n in approvals
    }
    for name in approvals:
        done = client.wait(name, timeout=60)
        assert done["status"]["phase"] == "Completed"
        assert done["status"]["result"] == {"approved": True}
        suspension = client.kube.get(kubeapi.SUSPENSIONS, ns, f"{name}--approval")
        assert suspension["status"]["resumedBy"] == "kontinue-admin"
    assert all(client.phase(n) == Phase.SUSPENDED for n in others)  # the other function waits

    # a step that is not waiting yet is skipped; the one that is gets resumed
    second = kontinue(config, "resume", "--function", "bulk-other", "--step", "second", "-n", ns)
    assert second.returncode == 0
    assert second.stdout.count("no waiting suspension at step second") == 2
    first = client.resume_many(Selection(functions=("bulk-other",)), {"n": 1}, step="first")
    assert [o.result for o in first.outcomes] == [Result.DONE, Result.DONE]
    for name in others:
        wait_for(f"{name} at its second gate", partial(exists, client, f"{name}--second"))
    last = client.resume_many(Selection(names=tuple(others)), {"n": 2})
    assert {o.name: o.detail for o in last.outcomes} == {n: f"resumed {n}--second" for n in others}
    for name in others:
        assert client.wait(name, timeout=60)["status"]["result"] == [{"n": 1}, {"n": 2}]
    # all finished now: a bulk resume skips each
    finished = client.resume_many(Selection(functions=("bulk-approval", "bulk-other")))
    assert finished.count(Result.SKIPPED) == 6 and finished.ok


@pytest.mark.parametrize("phase", ["Completed", "Executing"])
def test_a_cancel_racing_with_the_end_is_reported_not_applied(client: Client, phase: str) -> None:
    """The execution was read Executing; it finished before the write arrived."""
    write(client, "racer", phase="Executing")
    seen = client.get("racer")
    client.kube.merge_patch(
        kubeapi.EXECUTIONS, client.namespace, "racer", {"status": {"phase": phase}},
        subresource="status",
    )  # fmt: skip
    report = client.cancel_many([seen])
    [outcome] = report.outcomes
    if phase == "Completed":  # finished meanwhile: skipped, nothing written
        assert outcome.result == Result.SKIPPED and outcome.detail == "already finished (Completed)"
        assert not client.get("racer")["spec"].get("cancel")
    else:  # only its version changed (a step's checkpoint): the phase test still holds
        assert outcome.result == Result.DONE
        assert client.get("racer")["spec"]["cancel"] is True


def test_bulk_retry_by_selector_runs_each_failed_one_again(
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    kontinue_controller: SessionController,
) -> None:
    start_worker("bulk_flows", path=FLOWS, hold=1)
    failing = [
        client.create_execution("bulk-flaky", name=f"flaky-{i}", labels={"batch": "b1"})
        for i in range(4)
    ]
    other = client.create_execution("bulk-flaky", name="flaky-other", labels={"batch": "b2"})
    done = client.create_execution("bulk-approval", name="approved", labels={"batch": "b1"})
    names = [e["metadata"]["name"] for e in failing]
    for name in [*names, other["metadata"]["name"]]:
        assert client.wait(name, timeout=60)["status"]["phase"] == "Failed"
    wait_for("the approval", partial(suspended, client, done["metadata"]["name"]), timeout=60)
    client.resume_execution("approved", data=True)
    assert client.wait("approved", timeout=60)["status"]["phase"] == "Completed"

    result = kontinue(kube_cluster.kubeconfig, "retry", "-l", "batch=b1", "-n", client.namespace,
                      "-o", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = {e["name"]: e["result"] for e in json.loads(result.stdout)["executions"]}
    assert report == {**{n: "done" for n in names}, "approved": "skipped"}
    for name in names:
        status = client.wait_retried(name, timeout=90)["status"]
        assert status["phase"] == "Completed", status
        # the store committed on the failed attempt replayed; the rest ran again
        assert status["result"] == {"stored_on_attempt": 0, "finished_on_attempt": 1}
    assert client.get("flaky-other")["status"]["phase"] == "Failed"  # not selected
    again = client.retry_many(Selection(label_selector="batch=b1"))
    assert again.count(Result.SKIPPED) == 5 and again.ok  # all Completed now
