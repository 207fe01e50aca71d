"""The workflows of kontinue's side of ``make bench-peers`` (served by the driver's worker).

Each workload of :mod:`peers.protocol` written as a kontinue user would: a step is a store
step (its result checkpointed into the Execution), a child workflow is a child Execution, the
durable timer is ``kontinue.sleep`` and the approval ``kontinue.suspend`` (resumed from outside
through ``Client.resume_suspension``).
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import kontinue


def _next(total: int, i: int) -> int:
    return total + i


@kontinue.function("peer-steps")
def steps(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """``n`` sequential store steps (one_step: n=1, ten_steps: n=10, the fan-out's children)."""
    total = 0
    for i in range(int(args["n"])):
        total = kontinue.store(ktx, functools.partial(_next, total, i))
    return total


@kontinue.function("peer-fan-out")
def fan_out(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """Start ``children`` one-step child executions at once and wait for all of them."""
    children = [
        kontinue.ChildExecutionOptions(function="peer-steps", arguments={"n": 1})
        for _ in range(int(args["children"]))
    ]
    return len(kontinue.execute_parallel(ktx, children))


def _due(delay: float) -> float:
    return time.time() + delay


@kontinue.function("peer-approval")
def approval(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """A durable timer of ``delay`` seconds, then a wait for an approval (a suspension).

    Returns the wall-clock times the driver derives its figures from: ``due`` (when the timer
    should fire, recorded just before it was armed), ``fired`` (the first step after it) and
    ``resumed`` (the first step after the approval).
    """
    delay = float(args["delay"])
    due = kontinue.store(ktx, functools.partial(_due, delay))
    kontinue.sleep(ktx, delay)
    fired = kontinue.store(ktx, time.time)
    approved = kontinue.suspend(ktx, kontinue.SuspendOptions(name="approval"))
    resumed = kontinue.store(ktx, time.time)
    return {"due": due, "fired": fired, "resumed": resumed, "approved": approved}


def _append(ledger: str, name: str) -> str:
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{name}\n".encode())
    finally:
        os.close(fd)
    return name


@kontinue.function("peer-ledger")
def ledger(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """One step that appends the execution's name to the ledger file (recovery workload)."""
    return kontinue.store(ktx, functools.partial(_append, str(args["ledger"]), ktx.name))
