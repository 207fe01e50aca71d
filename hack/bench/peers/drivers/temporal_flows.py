"""The Temporal side of ``make bench-peers``: the workflows, the activity and the worker process.

The driver (``temporal.py`` beside this file) starts this module as a separate process, ``python
temporal_flows.py --address HOST:PORT --task-queue Q``, so that the ``recovery`` workload can
SIGKILL it and start a new one. The process prints ``ready`` on stdout once its worker polls,
and runs until its stdin (a pipe from the driver) closes, or until SIGTERM.

Every step is the one activity ``step``, run as a local activity or as a regular activity
depending on the ``local`` flag of the workflow's input (the engine the driver was started as).
A step given a ledger path appends a JSON line to it (what ran, for whom, when), which the
driver reads for the ``timers`` and ``recovery`` workloads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

STEP_TIMEOUT = timedelta(seconds=10)
"""``start_to_close_timeout`` of every step: after a worker dies, a regular activity it held is
retried on another worker when this runs out (a local activity goes with its workflow task)."""


@dataclass
class StepInput:
    """One step: what it returns and, with a ledger, the line it appends.

    Attributes:
        value: The number the step returns plus one.
        ledger: Path of the ledger file to append to, or ``""`` for none.
        workflow_id: The workflow the line is about.
        event: What the line records (``"done"``, ``"fired"``, ``"resumed"``).
        at: A time the workflow hands over for the line (seconds since the epoch), or 0.
    """

    value: int = 0
    ledger: str = ""
    workflow_id: str = ""
    event: str = ""
    at: float = 0.0


@dataclass
class StepsInput:
    """Input of :class:`Steps` and of :class:`FanOut`.

    Attributes:
        steps: Sequential steps to run (``Steps``) or child workflows to start (``FanOut``).
        local: Whether the steps are local activities (else regular activities).
        ledger: Ledger path handed to every step, or ``""``.
    """

    steps: int = 1
    local: bool = True
    ledger: str = ""


@dataclass
class ApprovalInput:
    """Input of :class:`Approval`.

    Attributes:
        delay: Seconds of the durable timer.
        local: Whether the steps are local activities (else regular activities).
        ledger: Ledger path the two steps append to.
    """

    delay: float
    local: bool
    ledger: str


@activity.defn
async def step(inp: StepInput) -> int:
    """The unit of work of every workload: optionally appends a ledger line.

    Args:
        inp: What to return and what to write.

    Returns:
        ``inp.value + 1``.
    """
    if inp.ledger:
        line = {"id": inp.workflow_id, "event": inp.event, "t": time.time(), "at": inp.at}
        with open(inp.ledger, "a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(line) + "\n")
    return inp.value + 1


async def run_step(local: bool, inp: StepInput) -> int:
    """Runs :func:`step` from a workflow as a local or a regular activity.

    Args:
        local: Local activity if true, regular activity otherwise.
        inp: The step's input.

    Returns:
        The step's result.
    """
    if local:
        return await workflow.execute_local_activity(step, inp, start_to_close_timeout=STEP_TIMEOUT)
    return await workflow.execute_activity(step, inp, start_to_close_timeout=STEP_TIMEOUT)


@workflow.defn
class Steps:
    """``steps`` sequential steps, each fed the previous one's result."""

    @workflow.run
    async def run(self, inp: StepsInput) -> int:
        """Runs the steps.

        Args:
            inp: How many steps, of which kind, with which ledger.

        Returns:
            The last step's result (``inp.steps``).
        """
        value = 0
        for _ in range(inp.steps):
            value = await run_step(
                inp.local,
                StepInput(
                    value=value,
                    ledger=inp.ledger,
                    workflow_id=workflow.info().workflow_id,
                    event="done",
                ),
            )
        return value


@workflow.defn
class FanOut:
    """Starts ``steps`` one-step child workflows at once and waits for all of them."""

    @workflow.run
    async def run(self, inp: StepsInput) -> int:
        """Runs the children.

        Args:
            inp: ``inp.steps`` is the number of children; ``local`` and ``ledger`` go to each.

        Returns:
            The number of children that completed.
        """
        parent = workflow.info().workflow_id
        children = [
            workflow.execute_child_workflow(
                Steps.run,
                StepsInput(steps=1, local=inp.local, ledger=inp.ledger),
                id=f"{parent}-child-{index}",
            )
            for index in range(inp.steps)
        ]
        results = await asyncio.gather(*children)
        return len(results)


@workflow.defn
class Approval:
    """A durable timer, then a wait for the ``approve`` signal, then one more step.

    After the timer the first step appends ``fired`` to the ledger with ``at`` set to
    ``workflow.now()`` (when the workflow task carrying the fired timer started on the worker:
    the workflow resumed); the driver signals on seeing it. The step after the signal appends
    ``resumed``, stamped with the time it ran.
    """

    def __init__(self) -> None:
        """Not approved yet."""
        self._approved = False

    @workflow.signal
    def approve(self) -> None:
        """The external approval."""
        self._approved = True

    @workflow.run
    async def run(self, inp: ApprovalInput) -> None:
        """Waits for the timer, reports, waits for the approval, reports.

        Args:
            inp: The timer's delay, the kind of steps and the ledger.
        """
        me = workflow.info().workflow_id
        await workflow.sleep(inp.delay)
        resumed = workflow.now().timestamp()
        await run_step(
            inp.local, StepInput(ledger=inp.ledger, workflow_id=me, event="fired", at=resumed)
        )
        await workflow.wait_condition(lambda: self._approved)
        await run_step(inp.local, StepInput(ledger=inp.ledger, workflow_id=me, event="resumed"))


WORKFLOWS = [Steps, FanOut, Approval]
ACTIVITIES = [step]


async def work(address: str, task_queue: str) -> None:
    """Runs a worker for :data:`WORKFLOWS` and :data:`ACTIVITIES` until stdin closes or a signal.

    Args:
        address: ``HOST:PORT`` of the Temporal frontend.
        task_queue: The task queue to poll.
    """
    client = await Client.connect(address)
    worker = Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def stdin_readable() -> None:
        if not os.read(sys.stdin.fileno(), 4096):  # EOF: the driver is gone or done
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    loop.add_reader(sys.stdin.fileno(), stdin_readable)
    async with worker:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await stop.wait()


def main() -> None:
    """The worker process's entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(work(args.address, args.task_queue))


if __name__ == "__main__":
    main()
