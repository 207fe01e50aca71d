"""The Restate services of the peer benchmark, served by one worker process.

Started by the driver as ``restate_flows.py --port PORT --ledger FILE`` through ``runpy`` (run
directly from this directory, ``import restate`` would find the driver, ``restate.py``): an
ASGI app (the Restate Python SDK) served by hypercorn on ``127.0.0.1:PORT`` over HTTP/2
without TLS, which the Restate server calls once the deployment is registered. The driver kills
this process with SIGKILL in the ``recovery`` workload and starts it again on the same port.

Every workload is a Restate *workflow* (one run per workflow id, the id is the key), so each
run has an id, runs exactly once and keeps its result, like a kontinue, Temporal or DBOS
workflow. Steps are ``ctx.run`` blocks: their result is journaled by the server before the
handler goes on. Steps that the driver must see append one JSON line to the ledger file
(``{"id": ..., "what": ..., "t": unix time}``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import timedelta
from typing import Any

import restate

LEDGER = os.environ.get("BENCH_RESTATE_LEDGER", "ledger.jsonl")
"""The ledger file the noting steps append to (set by ``--ledger``)."""


def note(workflow_id: str, what: str) -> float:
    """Append one line to the ledger and return the time written.

    Args:
        workflow_id: The workflow the line is about.
        what: What happened (``step``, ``fired``, ``resumed``).

    Returns:
        The wall-clock time (seconds since the epoch) recorded in the line.
    """
    now = time.time()
    line = json.dumps({"id": workflow_id, "what": what, "t": now}) + "\n"
    fd = os.open(LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return now


def now() -> float:
    """The wall-clock time (seconds since the epoch)."""
    return time.time()


def step(n: int) -> int:
    """The work of one step: nothing beyond returning its input plus one."""
    return n + 1


one_step = restate.Workflow("OneStep")


@one_step.main(name="run")
async def one_step_run(ctx: restate.WorkflowContext, n: int) -> int:
    """One step."""
    return await ctx.run_typed("step", step, n=n)


ten_steps = restate.Workflow("TenSteps")


@ten_steps.main(name="run")
async def ten_steps_run(ctx: restate.WorkflowContext, n: int) -> int:
    """Ten sequential steps, each fed the previous one's result."""
    for i in range(10):
        n = await ctx.run_typed(f"step-{i}", step, n=n)
    return n


fan_out = restate.Workflow("FanOut")


@fan_out.main(name="run")
async def fan_out_run(ctx: restate.WorkflowContext, children: int) -> int:
    """Start ``children`` OneStep workflows at once and wait for all of them."""
    parent = ctx.key()
    calls = [ctx.workflow_call(one_step_run, key=f"{parent}-{i}", arg=i) for i in range(children)]
    await restate.gather(*calls)
    total = 0
    for call in calls:
        total += await call
    return total


timer = restate.Workflow("Timer")


@timer.main(name="run")
async def timer_run(ctx: restate.WorkflowContext, delay: float) -> dict[str, Any]:
    """Arm a durable timer, then wait for the ``approval`` promise.

    The first step records when the timer is armed (due = armed + delay); the step after the
    sleep records when the workflow resumed (``fired`` in the ledger, which the driver watches to
    send the approval); the step after the promise records ``resumed``.
    """
    wid = ctx.key()
    armed = await ctx.run_typed("armed", now)
    await ctx.sleep(timedelta(seconds=delay))
    fired = await ctx.run_typed("fired", note, workflow_id=wid, what="fired")
    await ctx.promise("approval", type_hint=str).value()
    resumed = await ctx.run_typed("resumed", note, workflow_id=wid, what="resumed")
    return {"armed": armed, "fired": fired, "resumed": resumed}


@timer.handler()
async def approve(ctx: restate.WorkflowSharedContext, who: str) -> None:
    """The external signal: resolve the workflow's ``approval`` promise."""
    await ctx.promise("approval", type_hint=str).resolve(who)


ledgered = restate.Workflow("Ledgered")


@ledgered.main(name="run")
async def ledgered_run(ctx: restate.WorkflowContext) -> str:
    """One step that appends the workflow id to the ledger."""
    wid = ctx.key()
    await ctx.run_typed("step", note, workflow_id=wid, what="step")
    return wid


app = restate.app([one_step, ten_steps, fan_out, timer, ledgered])


def main() -> None:
    """Serve the app with hypercorn on loopback until killed."""
    global LEDGER  # noqa: PLW0603 - the steps read it; set once before serving
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ledger", required=True)
    args = parser.parse_args()
    LEDGER = args.ledger

    import hypercorn.asyncio
    import hypercorn.config

    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    asyncio.run(hypercorn.asyncio.serve(app, config))


if __name__ == "__main__":
    main()
