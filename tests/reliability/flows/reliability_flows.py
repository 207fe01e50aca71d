"""Workflows of the reliability tests, loaded by real worker processes.

Every side effect goes to a ledger outside the cluster: a JSON line per run of a store step's
function (``$KONTINUE_LEDGER/<pid>.jsonl``) with the execution's uid, the step and a fresh
token. The step records ``{"v": <deterministic value>, "t": <token>}``, so a checker can tell
the run whose value was committed from runs that were not (see ``ledger.py``). Results depend
only on the arguments (and the resume payload), so they can be compared with a fault-free
reference.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import kontinue
from kontinue.api import labels


def effect(ktx: kontinue.ExecutionContext, step: str, value: Any, pause: float = 0.0) -> Any:
    """Run a step's side effect: write it to the ledger (after ``pause`` seconds of work)."""
    if pause:
        time.sleep(pause)
    token = uuid.uuid4().hex
    entry = {
        "uid": ktx.execution["metadata"]["uid"],
        "execution": ktx.name,
        "step": step,
        "token": token,
        "claim": int((ktx.execution.get("status") or {}).get("claim") or 0),
        "time": time.time(),
    }
    directory = os.environ["KONTINUE_LEDGER"]
    with open(os.path.join(directory, f"{os.getpid()}.jsonl"), "a") as ledger:
        ledger.write(json.dumps(entry) + "\n")
        ledger.flush()
        os.fsync(ledger.fileno())
    return {"v": value, "t": token}


def step(ktx: kontinue.ExecutionContext, name: str, value: Any, pause: float = 0.0) -> Any:
    """A store step named ``name`` whose effect goes to the ledger; returns its value."""
    recorded = kontinue.store_named(
        ktx, kontinue.StoreOptions(name=name), lambda: effect(ktx, name, value, pause)
    )
    return recorded["v"]


@kontinue.function("rel-steps")
def rel_steps(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """``n`` store steps of ``pause`` seconds each; returns the sum of their values."""
    total = 0
    for i in range(int(args.get("n", 10))):
        total += step(ktx, f"s{i}", i * int(args.get("k", 1)), float(args.get("pause", 0.2)))
    return total


@kontinue.function("rel-parent")
def rel_parent(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> list[Any]:
    """A store, then ``children`` children one after another, then a store."""
    first = step(ktx, "before", 1)
    results = [
        kontinue.execute(
            ktx,
            "rel-steps",
            {"n": 3, "k": i + 1, "pause": 0.1},
            kontinue.ExecuteOptions(name=f"child-{i}"),
        )  # fmt: skip
        for i in range(int(args.get("children", 2)))
    ]
    last = step(ktx, "after", 2)
    return [first, *results, last]


@kontinue.function("rel-fanout")
def rel_fanout(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> list[Any]:
    """``width`` children at once, then a store."""
    width = int(args.get("width", 4))
    results = kontinue.execute_parallel(
        ktx,
        [
            kontinue.ChildExecutionOptions(
                function="rel-steps",
                arguments={"n": 2, "k": i, "pause": 0.1},
                options=kontinue.ExecuteOptions(name=f"part-{i}"),
            )
            for i in range(width)
        ],
    )
    return [*results, step(ktx, "joined", width)]


@kontinue.function("rel-sleeper")
def rel_sleeper(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """A store, a durable sleep, a store."""
    first = step(ktx, "before", 1)
    kontinue.sleep_named(ktx, kontinue.SleepOptions(name="nap", duration=float(args["seconds"])))
    return int(first) + int(step(ktx, "after", 2))


@kontinue.function("rel-approval")
def rel_approval(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """A store, an approval the test gives, a store of the payload."""
    step(ktx, "request", 1)
    payload = kontinue.suspend(ktx, kontinue.SuspendOptions(name="approval"))
    approved = step(ktx, "record", payload)
    return {"approved": approved}


@kontinue.function("rel-job")
def rel_job(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """A store, a pod that runs for ``seconds`` (kwok), a store of its outcome."""
    step(ktx, "before", 1)
    result = kontinue.run_pod(
        ktx,
        kontinue.PodOptions(
            name="pod",
            spec={"containers": [{"name": "main", "image": "busybox:1", "command": ["true"]}]},
            extra_annotations={labels.TEST_RUN_TIME: f"{args.get('seconds', 1)}s"},
        ),
    )
    return {"succeeded": step(ktx, "after", result.succeeded())}


@kontinue.function("rel-retry", retry=kontinue.RetryOptions(retries=2, backoff="1s"))
def rel_retry(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """A store; the first attempt then fails, the second completes."""
    value = step(ktx, "once", 7)
    if ktx.attempts == 0:
        raise RuntimeError("the first attempt fails on purpose")
    return int(value) + int(step(ktx, "retried", 1))


@kontinue.function("rel-fails")
def rel_fails(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> None:
    """A store, then a failure no retry helps."""
    step(ktx, "before", 1)
    raise kontinue.new_non_retryable_error(None, "this workflow always fails")
