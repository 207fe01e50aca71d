"""The Restate driver of ``make bench-peers``: a Restate server and a Python worker on loopback.

``python hack/bench/peers/drivers/restate.py --engine restate --workdir DIR [--server PATH]``

Starts ``restate-server`` (the npm package ``@restatedev/restate-server``; ``--server`` names
its binary, the npm wrapper or the npm prefix, else it is looked up under the npm prefix in
``$BENCH_RESTATE_NPM``) with its data in ``DIR/restate-data`` and free loopback ports, starts
the worker (``restate_flows.py``: the Restate Python SDK served by hypercorn) in its own
process, registers the worker as a deployment through the admin API, then answers the
workloads of ``protocol.py`` until stdin closes. Workflows are started and awaited through the
HTTP ingress. See ``RESTATE.md`` for what each workload is in Restate terms.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # for protocol.py

from protocol import serve  # noqa: E402 - found through the path set just above

FLOWS = HERE / "restate_flows.py"
NPM_PREFIX_ENV = "BENCH_RESTATE_NPM"
NATIVE_GLOB = "node_modules/@restatedev/restate-server-*/bin/restate-server"
CALL_TIMEOUT = 300.0
"""Seconds one ingress call may take (a recovery call waits out Restate's retries)."""

# The worker is started through runpy so that its script directory (this one, which holds
# restate.py) never comes first on sys.path and shadows the SDK's ``restate`` package.
WORKER_BOOT = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now.

    Returns:
        The port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, deadline: float) -> None:
    """Wait until something accepts connections on ``127.0.0.1:port``.

    Args:
        port: The port.
        deadline: ``time.monotonic()`` value after which to give up.

    Raises:
        TimeoutError: Nothing listened before the deadline.
    """
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def find_server(given: str | None) -> Path:
    """Find the native ``restate-server`` binary.

    The npm package's ``bin`` is a Node wrapper that spawns the platform package's binary;
    the driver runs that binary directly so that signals reach the server itself.

    Args:
        given: ``--server``: the binary, the npm wrapper, or an npm prefix; None to use
            ``$BENCH_RESTATE_NPM``.

    Returns:
        The path of the binary.

    Raises:
        FileNotFoundError: No binary where it was looked for.
    """
    where = given or os.environ.get(NPM_PREFIX_ENV)
    if not where:
        raise FileNotFoundError(f"no restate-server: pass --server or set {NPM_PREFIX_ENV}")
    path = Path(where).resolve()
    if path.is_file():
        with path.open("rb") as fh:
            if fh.read(4) == b"\x7fELF":
                return path
        # The Node wrapper: .../node_modules/@restatedev/restate-server/lib/index.js
        for parent in path.parents:
            if parent.name == "node_modules":
                path = parent.parent
                break
    found = sorted(glob.glob(str(path / NATIVE_GLOB)))
    if not found:
        raise FileNotFoundError(f"no {NATIVE_GLOB} under {path}")
    return Path(found[0])


class Restate:
    """The server and worker processes of one driver run, and the calls into them."""

    def __init__(self, workdir: Path, server: Path) -> None:
        self.workdir = workdir
        self.server_bin = server
        self.ingress_port = free_port()
        self.admin_port = free_port()
        self.node_port = free_port()
        self.worker_port = free_port()
        self.ledger = workdir / "ledger.jsonl"
        self.ingress = f"http://127.0.0.1:{self.ingress_port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.version = subprocess.run(
            [str(server), "--version"], check=True, capture_output=True, text=True
        ).stdout.strip()
        self.round = 0
        self.run_id = uuid.uuid4().hex[:8]

    # -- processes ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and the worker, register the worker and warm both up."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTATE_")}
        env.update(
            {
                "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{self.ingress_port}",
                "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{self.admin_port}",
                "RESTATE_BIND_ADDRESS": f"127.0.0.1:{self.node_port}",
                "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{self.node_port}/",
                "RESTATE_LISTEN_MODE": "tcp",
                "RESTATE_NODE_NAME": "bench",
                "RESTATE_DISABLE_TELEMETRY": "true",
                "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
            }
        )
        log = (self.workdir / "restate-server.log").open("ab")
        self.server = subprocess.Popen(
            [
                str(self.server_bin),
                "--no-logo",
                "--base-dir",
                str(self.workdir / "restate-data"),
            ],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        self._wait_http(f"{self.admin}/health", deadline)
        self._wait_http(f"{self.ingress}/restate/health", deadline)
        self.start_worker()
        reply = httpx.post(
            f"{self.admin}/deployments",
            json={"uri": f"http://127.0.0.1:{self.worker_port}", "force": True},
            timeout=30,
        )
        reply.raise_for_status()
        # The ingress learns the new services asynchronously: call until it knows them.
        while True:
            try:
                asyncio.run(self._warm_up())
                return
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    async def _warm_up(self) -> None:
        async with self.client() as client:
            for workflow, arg in (("OneStep", 0), ("TenSteps", 0), ("Ledgered", None)):
                await self.call(client, workflow, f"warm-{uuid.uuid4().hex}", arg)

    def _wait_http(self, url: str, deadline: float) -> None:
        while True:
            if self.server is not None and self.server.poll() is not None:
                raise RuntimeError(f"restate-server exited with {self.server.returncode}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer")
            time.sleep(0.05)

    def start_worker(self) -> None:
        """Start the worker process on its port and wait until it listens."""
        log = (self.workdir / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER_BOOT,
                str(FLOWS),
                "--port",
                str(self.worker_port),
                "--ledger",
                str(self.ledger),
            ],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_port(self.worker_port, time.monotonic() + 30)

    def kill_worker(self) -> None:
        """SIGKILL the worker and reap it."""
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait()

    def stop(self) -> None:
        """Stop the server, then the worker (SIGTERM, SIGKILL after a grace period).

        The server goes first: it closes its connections to the worker, which hypercorn would
        otherwise wait for.
        """
        for proc, grace in ((self.server, 30), (self.worker, 2)):
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # -- calls -------------------------------------------------------------------------------

    def client(self) -> httpx.AsyncClient:
        """An HTTP/2 client for the ingress (cleartext, prior knowledge), calls multiplexed.

        HTTP/2 costs the driver about half the CPU of one HTTP/1.1 connection per concurrent
        call, which matters in ``burst`` on two cores.

        Returns:
            A new client; use it as an async context manager.
        """
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        return httpx.AsyncClient(
            base_url=self.ingress,
            http1=False,
            http2=True,
            limits=limits,
            timeout=CALL_TIMEOUT,
        )

    async def call(
        self, client: httpx.AsyncClient, workflow: str, key: str, arg: Any, handler: str = "run"
    ) -> Any:
        """Call a workflow handler through the ingress and wait for its result.

        Args:
            client: The ingress client.
            workflow: The workflow's name (``OneStep``, ...).
            key: The workflow id.
            arg: The handler's argument (JSON); None sends no body.
            handler: The handler (``run`` starts the workflow).

        Returns:
            The handler's result (JSON), None when it returns nothing.
        """
        url = f"/{workflow}/{key}/{handler}"
        reply = await (client.post(url) if arg is None else client.post(url, json=arg))
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def ids(self, workload: str, count: int) -> list[str]:
        """Fresh workflow ids for one round of a workload.

        Args:
            workload: The workload's name.
            count: How many ids.

        Returns:
            Ids never used before in this server, even by an earlier driver on the same workdir
            (Restate keeps a workflow's result and answers a second run of its id with it).
        """
        self.round += 1
        return [f"{workload}-{self.run_id}-{self.round}-{i}" for i in range(count)]

    async def timed(self, call: Awaitable[Any]) -> tuple[float, float, Any]:
        """Await a call; return when it was started, when it returned and what.

        Args:
            call: The call, not yet started.

        Returns:
            (start, end, result), times from ``time.time()``.
        """
        start = time.time()
        result = await call
        return start, time.time(), result

    # -- workloads ---------------------------------------------------------------------------

    def sequential(self, workflow: str, n: int) -> Mapping[str, Any]:
        """``n`` workflows one after another; samples ``latency``."""

        async def run() -> list[float]:
            latencies = []
            async with self.client() as client:
                for key in self.ids(workflow, n):
                    start = time.perf_counter()
                    await self.call(client, workflow, key, 0)
                    latencies.append(time.perf_counter() - start)
            return latencies

        return {"figures": {}, "samples": {"latency": asyncio.run(run())}}

    def one_step(self, n: int) -> Mapping[str, Any]:
        """The ``one_step`` workload."""
        return self.sequential("OneStep", n)

    def ten_steps(self, n: int) -> Mapping[str, Any]:
        """The ``ten_steps`` workload."""
        return self.sequential("TenSteps", n)

    def burst(self, count: int) -> Mapping[str, Any]:
        """``count`` one-step workflows started at once; figure ``wall``, samples ``latency``."""

        async def run() -> list[tuple[float, float, Any]]:
            async with self.client() as client:
                calls = [
                    self.timed(self.call(client, "OneStep", key, 0))
                    for key in self.ids("burst", count)
                ]
                return await asyncio.gather(*calls)

        done = asyncio.run(run())
        wall = max(end for _, end, _ in done) - min(start for start, _, _ in done)
        return {
            "figures": {"wall": wall},
            "samples": {"latency": [end - start for start, end, _ in done]},
        }

    def fan_out(self, children: int) -> Mapping[str, Any]:
        """One workflow starting ``children`` one-step workflows; figure ``wall``."""

        async def run() -> tuple[float, float, Any]:
            async with self.client() as client:
                (key,) = self.ids("fanout", 1)
                return await self.timed(self.call(client, "FanOut", key, children))

        start, end, total = asyncio.run(run())
        expected = sum(range(1, children + 1))
        if total != expected:
            raise RuntimeError(f"fan-out returned {total}, expected {expected}")
        return {"figures": {"wall": end - start}, "samples": {}}

    def timers(self, count: int, delay: float) -> Mapping[str, Any]:
        """``count`` workflows on a ``delay`` timer, then an approval sent as soon as each waits.

        Samples ``lateness`` (the step after the sleep ran - armed - delay) and
        ``signal_to_resume`` (approval sent -> the step after the promise ran).
        """
        keys = self.ids("timer", count)
        offset = self.ledger_size()
        sent: dict[str, float] = {}

        async def approve(client: httpx.AsyncClient, key: str) -> None:
            sent[key] = time.time()
            await self.call(client, "Timer", key, "driver", handler="approve")

        async def run() -> list[dict[str, float]]:
            async with self.client() as client:
                started = asyncio.gather(*(self.call(client, "Timer", key, delay) for key in keys))
                watch = asyncio.create_task(
                    self.watch_ledger(offset, set(keys), "fired", lambda key: approve(client, key))
                )
                try:
                    return await started
                finally:
                    watch.cancel()

        results = asyncio.run(run())
        return {
            "figures": {},
            "samples": {
                "lateness": [r["fired"] - r["armed"] - delay for r in results],
                "signal_to_resume": [
                    r["resumed"] - sent[k] for k, r in zip(keys, results, strict=True)
                ],
            },
        }

    def recovery(self, count: int) -> Mapping[str, Any]:
        """A burst of ``count`` ledgered workflows; the worker is SIGKILLed and restarted.

        The kill comes when a third of the steps have written the ledger. Figures ``recovery``
        (kill -> last result), ``duplicated`` (ledger lines beyond one per workflow) and
        ``completed``.
        """
        keys = self.ids("recovery", count)
        wanted = set(keys)
        offset = self.ledger_size()
        killed: list[float] = []

        async def run() -> list[tuple[float, float, Any] | BaseException]:
            seen = 0
            restarted = asyncio.Event()

            async def on_step(_key: str) -> None:
                nonlocal seen
                seen += 1
                if not killed and seen >= max(1, count // 3):
                    self.kill_worker()
                    killed.append(time.time())
                    await asyncio.to_thread(self.start_worker)
                    restarted.set()

            async with self.client() as client:
                watch = asyncio.create_task(self.watch_ledger(offset, wanted, "step", on_step))
                try:
                    done = await asyncio.gather(
                        *(self.timed(self.call(client, "Ledgered", key, None)) for key in keys),
                        return_exceptions=True,
                    )
                finally:
                    watch.cancel()
                if killed:
                    await restarted.wait()
                return done

        done = asyncio.run(run())
        if not killed:
            raise RuntimeError("the worker was never killed")
        lines = [
            entry["id"]
            for entry in self.read_ledger()
            if entry["what"] == "step" and entry["id"] in wanted
        ]
        ok = [result for result in done if not isinstance(result, BaseException)]
        completed = sum(1 for _, _, key in ok if key in wanted)
        return {
            "figures": {
                "recovery": max(end for _, end, _ in ok) - killed[0],
                "duplicated": len(lines) - len(set(lines)),
                "completed": completed,
            },
            "samples": {},
        }

    # -- the ledger --------------------------------------------------------------------------

    def read_ledger(self) -> list[dict[str, Any]]:
        """Every complete line of the ledger.

        Returns:
            The parsed lines, oldest first.
        """
        if not self.ledger.exists():
            return []
        text = self.ledger.read_text()
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def ledger_size(self) -> int:
        """The ledger's size in bytes now, where a watch of what comes next starts.

        Returns:
            The size, 0 before the first line.
        """
        return self.ledger.stat().st_size if self.ledger.exists() else 0

    async def watch_ledger(
        self,
        offset: int,
        keys: set[str],
        what: str,
        act: Callable[[str], Coroutine[Any, Any, None]],
    ) -> None:
        """Tail the ledger, calling ``act(id)`` once per new ``what`` line of one of ``keys``.

        Each call runs as its own task, so a slow one does not delay the next. Runs until
        cancelled.

        Args:
            offset: Where in the ledger to start (``ledger_size()`` before the workflows began).
            keys: The workflow ids to watch.
            what: The kind of line (``fired``, ``step``).
            act: What to do about each.
        """
        tasks: set[asyncio.Task[None]] = set()
        pending = b""
        try:
            while True:
                if self.ledger.exists():
                    with self.ledger.open("rb") as fh:
                        fh.seek(offset)
                        chunk = fh.read()
                    offset += len(chunk)
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        entry = json.loads(line)
                        if entry["what"] == what and entry["id"] in keys:
                            task = asyncio.create_task(act(entry["id"]))
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
                await asyncio.sleep(0.002)
        finally:
            for task in list(tasks):
                if not task.done():
                    await task


def main() -> None:
    """Start Restate, answer the orchestrator until stdin closes, stop Restate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="restate", choices=["restate"])
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--server", help="restate-server binary, npm wrapper or npm prefix")
    args = parser.parse_args()
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    restate = Restate(workdir, find_server(args.server))
    # SIGTERM (the orchestrator giving up) unwinds like stdin EOF, stopping the processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        restate.start()
        sdk = metadata.version("restate-sdk")
        serve(
            args.engine,
            f"{restate.version}; restate-sdk {sdk} on hypercorn {metadata.version('hypercorn')}",
            "single node; the log (Bifrost, replicated loglet, replication 1) on the node's own "
            "log-server: RocksDB, WAL fsync on every write batch (the defaults)",
            {
                "one_step": restate.one_step,
                "ten_steps": restate.ten_steps,
                "burst": restate.burst,
                "fan_out": restate.fan_out,
                "timers": restate.timers,
                "recovery": restate.recovery,
            },
        )
    finally:
        restate.stop()


if __name__ == "__main__":
    main()
