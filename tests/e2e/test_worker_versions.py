"""Worker versions on the real control plane: pinned executions, draining, auto-upgrade.

Each test writes the workflow module of every version it runs into its own directory (the same
module and function name, other code), and starts real worker processes on them.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kontinue.client import Client
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    StartWorker,
    TestCluster,
    WorkerProcess,
    wait_for,
)

MODULE = "versioned_flows"

STORE_THEN_WAIT = """
    first = kontinue.store_named(
        ktx, kontinue.StoreOptions(name="first"), lambda: "stored by " + VERSION
    )
    approval = kontinue.suspend(ktx, kontinue.SuspendOptions(name="gate"))
    child = kontinue.execute(ktx, "versioned-child", {}, kontinue.ExecuteOptions(name="child"))
"""
"""Version 1: a stored value, then a manual suspension, then a child."""

WAIT_THEN_STORE = """
    approval = kontinue.suspend(ktx, kontinue.SuspendOptions(name="gate"))
    first = kontinue.store_named(
        ktx, kontinue.StoreOptions(name="first"), lambda: "stored by " + VERSION
    )
    child = kontinue.execute(ktx, "versioned-child", {}, kontinue.ExecuteOptions(name="child"))
"""
"""An incompatible change: the same steps in another order (a replay of version 1's history
reaches the suspension where the history records the stored value)."""

PATCHED_INSERTION = """
    first = kontinue.store_named(
        ktx, kontinue.StoreOptions(name="first"), lambda: "stored by " + VERSION
    )
    if kontinue.patched(ktx, "audit"):
        extra = kontinue.store_named(
            ktx, kontinue.StoreOptions(name="audit"), lambda: "audited by " + VERSION
        )
    approval = kontinue.suspend(ktx, kontinue.SuspendOptions(name="gate"))
    child = kontinue.execute(ktx, "versioned-child", {}, kontinue.ExecuteOptions(name="child"))
"""
"""A compatible change made with a patch: a new step inserted before the suspension, taken only
by executions that reach it for the first time (old ones replay their history past it)."""


def write_flows(directory: Path, version: str, *parts: str) -> Path:
    """The module ``versioned_flows`` of one version in ``directory``."""
    directory.mkdir(parents=True)
    body = "".join(textwrap.dedent(part) for part in parts)
    source = f'''
from typing import Any

import kontinue

VERSION = {version!r}


@kontinue.function("versioned")
def versioned(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """Stores a value and waits for a go, in the order of its version."""
    extra = None
{textwrap.indent(body, "    ")}
    return {{
        "first": first, "approval": approval, "child": child, "finished_by": VERSION,
        "extra": extra,
    }}


@kontinue.function("versioned-child")
def versioned_child(ktx: kontinue.ExecutionContext) -> str:
    """Says which version ran it."""
    return VERSION
'''
    (directory / f"{MODULE}.py").write_text(source)
    return directory


def _status(client: Client, name: str) -> dict[str, Any]:
    return dict(client.get(name).get("status") or {})


def _suspended_on(client: Client, names: list[str], version: str) -> bool:
    for name in names:
        status = _status(client, name)
        if status.get("phase") != "Suspended" or status.get("workerVersion") != version:
            return False
    return True


def _functions_wide(kube_cluster: TestCluster, namespace: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig), "COLUMNS": "300"}
    result = subprocess.run(
        [KONTINUE, "functions", "-o", "wide", "-n", namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _worker(
    start_worker: StartWorker, flows: Path, name: str, version: str, *extra: str
) -> WorkerProcess:
    return start_worker(MODULE, path=flows, name=name, hold=1, extra=("--version", version, *extra))


def test_pinned_executions_finish_on_their_version_beside_an_incompatible_one(
    kube_cluster: TestCluster,
    namespace: str,
    client: Client,
    start_worker: StartWorker,
    start_ui: Callable[..., Any],
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    v1 = write_flows(tmp_path / "v1", "1", STORE_THEN_WAIT)
    v2 = write_flows(tmp_path / "v2", "2", WAIT_THEN_STORE)
    first = _worker(start_worker, v1, "worker-v1", "1")
    old = [client.create_execution("versioned", {"i": i})["metadata"]["name"] for i in range(20)]
    straggler = client.create_execution("versioned", {"i": 20})["metadata"]["name"]
    wait_for(
        "21 executions suspended (released) on version 1",
        lambda: _suspended_on(client, [*old, straggler], "1"),
        timeout=120,
    )

    # the rollout: version 1 goes on beside version 2, draining (it takes no new executions)
    assert first.stop() == 0
    draining = _worker(start_worker, v1, "worker-v1-draining", "1", "--drain")
    _worker(start_worker, v2, "worker-v2", "2")
    new = [client.create_execution("versioned", {"i": i})["metadata"]["name"] for i in range(5)]
    wait_for(
        "the new executions suspended on version 2",
        lambda: _suspended_on(client, new, "2"),
        timeout=60,
    )
    listing = _functions_wide(kube_cluster, namespace)
    assert "1=21 2=5" in listing, listing
    assert "1 (1, draining)" in listing and "2 (1)" in listing, listing
    ui = start_ui()
    code, page = ui.get("/functions")
    assert code == 200
    assert '<div data-version="1">1: 21</div>' in page, page
    assert '<div data-version="2">2: 5</div>' in page, page

    for name in [*old, *new]:
        client.resume_suspension(f"{name}--gate", {"go": True})
    for name in old:
        done = client.wait(name, timeout=60)
        status = done["status"]
        assert status["phase"] == "Completed", status.get("error")
        assert status["workerVersion"] == "1"
        assert status["result"]["finished_by"] == "1"
        assert status["result"]["first"] == "stored by 1"
        assert status["result"]["child"] == "1"  # the child inherits its parent's version
    for name in new:
        status = client.wait(name, timeout=60)["status"]
        assert status["phase"] == "Completed", status.get("error")
        assert (status["workerVersion"], status["result"]["finished_by"]) == ("2", "2")
        assert status["result"]["child"] == "2"
    assert "Nondeterminism" not in draining.log()

    # version 1 gone: its last execution waits, saying for which version
    assert draining.stop() == 0
    client.resume_suspension(f"{straggler}--gate", {"go": True})
    wait_for(
        "the straggler to wait for version 1",
        lambda: (
            "waits for a worker of version '1'" in (_status(client, straggler).get("message") or "")
        ),
        timeout=30,
    )
    assert _status(client, straggler)["phase"] == "Pending"

    # and version 2's code would indeed break it: a worker that upgrades it anyway fails it
    _worker(start_worker, v2, "worker-v2-upgrading", "2", "--upgrade-from", "1")
    status = client.wait(straggler, timeout=60)["status"]
    assert status["phase"] == "Failed"
    assert status["error"]["kind"] == "internal" and not status["error"]["retryable"]
    assert "not deterministic" in status["error"]["message"]
    assert status["workerVersion"] == "2"
    print(f"\npinned rollout with 20 old and 5 new executions: {time.monotonic() - began:.1f}s")


def test_auto_upgrade_moves_old_executions_to_a_new_version_changed_behind_a_patch(
    client: Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    began = time.monotonic()
    v1 = write_flows(tmp_path / "v1", "1", STORE_THEN_WAIT)
    v2 = write_flows(tmp_path / "v2", "2", PATCHED_INSERTION)
    first = _worker(start_worker, v1, "worker-v1", "1")
    names = [client.create_execution("versioned", {"i": i})["metadata"]["name"] for i in range(10)]
    wait_for(
        "10 executions suspended on version 1",
        lambda: _suspended_on(client, names, "1"),
        timeout=90,
    )
    assert first.stop() == 0

    # a pinned version 2 leaves them alone, and says what they wait for
    pinned = _worker(start_worker, v2, "worker-v2", "2")
    for name in names:
        client.resume_suspension(f"{name}--gate", {"go": True})
    wait_for(
        "every execution to wait for version 1",
        lambda: all(
            "waits for a worker of version '1'" in (_status(client, n).get("message") or "")
            for n in names
        ),
        timeout=30,
    )
    assert all(_status(client, n)["phase"] == "Pending" for n in names)

    # the same code, allowed to upgrade version 1: they move to version 2 and complete, past
    # the patched step they never reached (the old branch), with no nondeterminism
    assert pinned.stop() == 0
    upgrading = _worker(start_worker, v2, "worker-v2-upgrading", "2", "--upgrade-from", "1")
    for name in names:
        status = client.wait(name, timeout=60)["status"]
        assert status["phase"] == "Completed", status.get("error")
        assert status["workerVersion"] == "2"
        assert status["result"]["first"] == "stored by 1"  # replayed from version 1's history
        assert status["result"]["finished_by"] == "2"
        assert status["result"]["extra"] is None  # the old branch
        assert status["result"]["child"] == "2"  # created after the upgrade: version 2's
        assert "audit" not in (status.get("steps") or {})
    assert "upgraded from version 1 to 2" in upgrading.log()

    # a new execution takes the new branch: the marker, then the inserted step
    fresh = client.create_execution("versioned", {"i": "new"})["metadata"]["name"]
    wait_for("a new execution to suspend", lambda: _suspended_on(client, [fresh], "2"), timeout=60)
    client.resume_suspension(f"{fresh}--gate", {"go": True})
    result = client.wait(fresh, timeout=60)["status"]["result"]
    assert result["extra"] == "audited by 2" and result["first"] == "stored by 2"
    print(f"\nauto-upgrade of 10 executions: {time.monotonic() - began:.1f}s")
