"""Concurrency control end to end: named mutexes and function limits.

The controller grants; workers only claim what was granted.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from kontinue.client import Client
from kontinue.workflow import ExecuteOptions, ExecutionMutex
from kontinue_testkit.pytest_plugin import StartWorker, wait_for

FLOWS = Path(__file__).parent / "workflows"


def _most_at_once(intervals: list[dict[str, float]]) -> int:
    edges = sorted(
        [(i["start"], 1) for i in intervals] + [(i["end"], -1) for i in intervals],
        key=lambda e: (e[0], e[1]),  # an end before a start at the same instant
    )
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_a_mutex_runs_executions_one_at_a_time_in_creation_order(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("concurrency_flows", path=FLOWS)
    options = ExecuteOptions(mutex=ExecutionMutex(name="deploy-prod"))
    names = [
        client.create_execution("exclusive", {"seconds": 0.7}, options)["metadata"]["name"]
        for _ in range(3)
    ]
    waiting = wait_for(
        "a waiting message",
        lambda: next(
            (m for n in names[1:] if (m := client.get(n).get("status", {}).get("message"))),
            None,
        ),
        timeout=30,
    )
    assert waiting == f"waiting for mutex deploy-prod held by {names[0]}"
    results = [client.wait(n, timeout=60)["status"] for n in names]
    assert all(r["phase"] == "Completed" for r in results)
    intervals = [r["result"] for r in results]
    assert _most_at_once(intervals) == 1
    assert [i["start"] for i in intervals] == sorted(i["start"] for i in intervals)  # FIFO


def test_a_crashed_holder_does_not_deadlock_the_others(
    client: Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    first = start_worker("concurrency_flows", path=FLOWS, lease_duration=3, name="first")
    options = ExecuteOptions(mutex=ExecutionMutex(name="db"))
    holder = client.create_execution("exclusive", {"seconds": 0.2, "gate": str(gate)}, options)
    other = client.create_execution("exclusive", {"seconds": 0.2}, options)
    holder_name, other_name = holder["metadata"]["name"], other["metadata"]["name"]
    wait_for("the holder to run", lambda: client.phase(holder_name) == "Executing", timeout=30)
    first.signal(signal.SIGKILL)  # the holder's worker dies mid-step
    start_worker("concurrency_flows", path=FLOWS, name="second")
    gate.touch()
    done = client.wait(holder_name, timeout=60)["status"]
    assert done["phase"] == "Completed" and done["resumptions"] == 1
    assert client.wait(other_name, timeout=60)["status"]["phase"] == "Completed"
    assert done["grants"]["mutex"] == "db"


def test_a_child_asking_for_its_ancestors_mutex_fails_clearly(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("concurrency_flows", path=FLOWS, hold=1)
    options = ExecuteOptions(mutex=ExecutionMutex(name="shared"))
    name = client.create_execution("nested-mutex", None, options)["metadata"]["name"]
    done = client.wait(name, timeout=60)["status"]
    assert done["phase"] == "Failed"
    assert done["error"]["kind"] == "child_failed"
    child = client.get(f"{name}--inner")["status"]
    assert child["error"] == {
        "kind": "validation",
        "message": f"execution {name}--inner asks for mutex shared, which its ancestor "
        f"{name} holds: it would wait forever",
        "retryable": False,
    }


def test_a_function_limit_of_two_never_runs_three(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("concurrency_flows", path=FLOWS, name="a")
    start_worker("concurrency_flows", path=FLOWS, name="b")
    names = [
        client.create_execution("limited", {"seconds": 0.6})["metadata"]["name"] for _ in range(6)
    ]
    results: list[dict[str, Any]] = [client.wait(n, timeout=90)["status"] for n in names]
    assert all(r["phase"] == "Completed" for r in results)
    assert _most_at_once([r["result"] for r in results]) == 2
