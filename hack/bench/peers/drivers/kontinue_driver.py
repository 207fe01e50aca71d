"""kontinue's driver of ``make bench-peers`` (engine ``kontinue``), run with the repository's .venv.

Usage: ``python kontinue_driver.py --engine kontinue --workdir DIR``; the conversation is the
one :mod:`peers.protocol` fixes. Starts what a kontinue installation runs, on loopback: the
local control plane (etcd with fsync on every commit, as in production; kube-apiserver & co.)
with kontinue's CRDs, the controller (``python -m kontinue_controller``) and one worker
(``python -m kontinue_worker``, default concurrency and lease) serving
``hack/bench/peers/kontinue_flows.py``.

Results are followed the way a client of kontinue follows them: one watch on the namespace's
Executions (an :class:`~kontinue.client.Informer`) tells when each one finished; a second on
its Suspensions sees each approval wait appear and resumes it with
``Client.resume_suspension``.

Besides the protocol's figures every workload reports what kontinue costs the cluster per
workflow: ``api_writes_per_workflow`` (successful mutating API requests, Leases left out: they
are a per-worker heartbeat, not a per-workflow cost) from the API server's own metrics, and
``etcd_bytes_per_workflow`` (bytes etcd appended to its write-ahead log, each fsynced) from
etcd's.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent
sys.path.insert(0, str(PEERS.parent))  # hack/bench: benchcluster, apimetrics, peers.protocol

from apimetrics import write_counts  # noqa: E402
from benchcluster import ROOT, create_namespace  # noqa: E402
from peers.protocol import serve  # noqa: E402

import kontinue  # noqa: E402
from kontinue.api import labels  # noqa: E402
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, suspension_phase  # noqa: E402
from kontinue.client import Client, Informer, Kube, SuspensionNotWaiting, kubeapi  # noqa: E402
from kontinue.devcluster import LocalCluster, find_testbin  # noqa: E402

NAMESPACE = "bench"
WAIT = 600.0
"""Seconds a workload may wait for its workflows before it fails."""


class Finished:
    """When each Execution of the namespace was seen in a terminal phase (one watch for all)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, float, dict[str, Any]]] = {}
        self._changed = threading.Condition()

    def raw(self, kind: str, obj: dict[str, Any]) -> None:
        """Record a terminal Execution (the informer's callback, on its thread)."""
        if kind == "DELETED" or not execution_phase(obj).terminal:
            return
        name = obj["metadata"]["name"]
        with self._changed:
            if name not in self._seen:
                self._seen[name] = (time.monotonic(), time.time(), obj.get("status") or {})
                self._changed.notify_all()

    def count(self, names: set[str]) -> int:
        """How many of ``names`` finished so far."""
        with self._changed:
            return sum(1 for name in names if name in self._seen)

    def wait(
        self, names: list[str], timeout: float = WAIT, at_least: int | None = None
    ) -> dict[str, tuple[float, float, dict[str, Any]]]:
        """Wait until ``at_least`` (default: all) of ``names`` finished.

        Returns (monotonic time, wall-clock time, status) of each one that finished.
        """
        wanted = set(names)
        need = len(wanted) if at_least is None else at_least
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for name in wanted if name in self._seen) < need:
                left = deadline - time.monotonic()
                if left <= 0:
                    done = sum(1 for name in wanted if name in self._seen)
                    raise TimeoutError(f"{done} of {len(wanted)} workflows finished in {timeout}s")
                self._changed.wait(min(left, 1.0))
            return {name: self._seen[name] for name in wanted if name in self._seen}


class Approver:
    """Resumes every approval Suspension of a tracked execution as soon as it appears."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.sent: dict[str, float] = {}
        """Execution name -> wall-clock time its approval was sent."""
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="approve")
        self.errors: list[str] = []

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        """An informer callback: a waiting manual Suspension is resumed (on the pool)."""
        if kind == "DELETED" or (obj.get("spec") or {}).get("resumeAt"):
            return  # gone, or a sleep's timer (the controller ends those)
        if suspension_phase(obj) != SuspensionPhase.SUSPENDED:
            return
        parent = (obj["metadata"].get("labels") or {}).get(labels.PARENT, "")
        with self._lock:
            if parent in self.sent:
                return
            self.sent[parent] = 0.0
        self._pool.submit(self._resume, parent, obj["metadata"]["name"])

    def _resume(self, parent: str, name: str) -> None:
        sent = time.time()
        try:
            self.client.resume_suspension(name, {"approved": True})
        except SuspensionNotWaiting:
            return
        except Exception as exc:  # noqa: BLE001 - reported by the workload that waits for it
            self.errors.append(f"resume {name}: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            self.sent[parent] = sent

    def stop(self) -> None:
        """Stop resuming."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def etcd_wal_bytes(port: int) -> float:
    """Bytes etcd wrote to its write-ahead log so far (``etcd_disk_wal_write_bytes_total``)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    match = re.search(r"^etcd_disk_wal_write_bytes_total (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


class Kontinue:
    """The control plane, controller and worker of one driver run, and the workloads."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.cluster = LocalCluster(
            find_testbin(), workdir / "cluster", fsync=True, log=lambda line: None
        )
        self.processes: list[subprocess.Popen[bytes]] = []
        self.informers: list[Informer[Any]] = []
        self._serial = 0
        self._workers = 0
        self.finished = Finished()
        self.approver: Approver | None = None
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.cluster.start()
        self.cluster.install_crds(sorted((ROOT / "crds").glob("*.yaml")))
        self.kube = Kube(str(self.cluster.kubeconfig))
        create_namespace(self.kube, NAMESPACE)
        self.client = Client(namespace=NAMESPACE, kube=self.kube)
        self.env = {
            **os.environ,
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "KONTINUE_LOG_LEVEL": "WARNING",
        }
        self.processes.append(
            self._spawn(
                "controller",
                ["-m", "kontinue_controller", "--all-namespaces", "--lease-namespace", "default"],
            )
        )
        self.worker = self.start_worker()
        self._follow(kubeapi.EXECUTIONS, self.finished.raw, "executions")
        self.approver = Approver(self.client)
        self._follow(kubeapi.SUSPENSIONS, self.approver.event, "suspensions")
        self._wait_worker()

    # -- processes -----------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=(self.logs / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A new worker process (a new name, as a new pod of a Deployment would have)."""
        self._workers += 1
        name = f"bench-worker-{self._workers}"
        worker = self._spawn(
            name,
            [
                "-m", "kontinue_worker", "--module", "kontinue_flows", "--path", str(PEERS),
                "--namespace", NAMESPACE, "--name", name, "--metrics-port", "0",
            ],
        )  # fmt: skip
        self.processes.append(worker)
        return worker

    def _wait_worker(self, timeout: float = 120.0) -> None:
        """Wait until the worker holds its Lease (it serves the functions then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited {self.worker.returncode}: see {self.logs}")
            if self.kube.list(kubeapi.LEASES, NAMESPACE).get("items"):
                return
            time.sleep(0.2)
        raise RuntimeError("the worker did not register")

    def _follow(
        self, resource: kubeapi.Resource, callback: Callable[[str, dict[str, Any]], None], name: str
    ) -> None:
        informer: Informer[dict[str, Any]] = Informer(
            self.kube, resource, NAMESPACE, on_event=callback, name=name
        ).start()
        self.informers.append(informer)
        if not informer.synced.wait(60):
            raise RuntimeError(f"cannot watch {name}: {informer.error}")

    def stop(self) -> None:
        """Stop the watches, the worker(s), the controller and the control plane."""
        if self.approver is not None:
            self.approver.stop()
        for informer in self.informers:
            informer.stop()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.cluster.stop()

    # -- measuring -----------------------------------------------------------------------------

    def names(self, prefix: str, count: int) -> list[str]:
        """``count`` new execution names."""
        self._serial += 1
        return [f"{prefix}-{self._serial}-{i}" for i in range(count)]

    def costs(self) -> tuple[int, float]:
        """(API writes so far but Leases', etcd WAL bytes so far)."""
        counts = write_counts(self.cluster)
        writes = sum(n for resource, n in counts.items() if resource != "leases")
        return writes, etcd_wal_bytes(self.cluster.ports["etcd"])

    def measured(
        self, workflows: Callable[[], int], run: Callable[[], Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """``run()`` with the cluster's writes per workflow added to its figures."""
        writes, wal = self.costs()
        answer = dict(run())
        after_writes, after_wal = self.costs()
        count = max(1, workflows())
        figures = dict(answer.get("figures") or {})
        figures["api_writes_per_workflow"] = round((after_writes - writes) / count, 2)
        figures["etcd_bytes_per_workflow"] = round((after_wal - wal) / count)
        answer["figures"] = figures
        return answer

    def create(self, name: str, function: str, arguments: Any) -> None:
        """Create one Execution."""
        self.client.create_execution(function, arguments, name=name)

    def check(self, done: Mapping[str, tuple[float, float, dict[str, Any]]]) -> None:
        """Raise when a workflow did not complete."""
        failed = [n for n, (_, _, s) in done.items() if s.get("phase") != Phase.COMPLETED]
        if failed:
            status = done[failed[0]][2]
            why = status.get("error") or status.get("message") or ""
            phase = status.get("phase")
            raise RuntimeError(f"{len(failed)} did not complete ({failed[0]}: {phase} {why})")

    # -- workloads -----------------------------------------------------------------------------

    def sequential(self, n: int, steps: int) -> dict[str, Any]:
        """``n`` workflows of ``steps`` store steps, one after another."""
        latencies = []
        for name in self.names(f"seq{steps}", n):
            started = time.monotonic()
            self.create(name, "peer-steps", {"n": steps})
            done = self.finished.wait([name])
            self.check(done)
            latencies.append(done[name][0] - started)
        return {"figures": {}, "samples": {"latency": latencies}}

    def one_step(self, n: int) -> Mapping[str, Any]:
        """Protocol workload ``one_step``."""
        return self.measured(lambda: n, lambda: self.sequential(n, 1))

    def ten_steps(self, n: int) -> Mapping[str, Any]:
        """Protocol workload ``ten_steps``."""
        return self.measured(lambda: n, lambda: self.sequential(n, 10))

    def _burst(
        self, names: list[str], function: str, arguments: Any
    ) -> tuple[float, dict[str, float]]:
        """Create every execution at once (16 requests in flight); start time of each."""
        started: dict[str, float] = {}

        def create(name: str) -> None:
            started[name] = time.monotonic()
            self.create(name, function, arguments)

        first = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(create, names))
        return first, started

    def burst(self, count: int) -> Mapping[str, Any]:
        """Protocol workload ``burst``."""

        def run() -> dict[str, Any]:
            names = self.names("burst", count)
            first, started = self._burst(names, "peer-steps", {"n": 1})
            done = self.finished.wait(names)
            self.check(done)
            last = max(t for t, _, _ in done.values())
            latencies = [done[name][0] - started[name] for name in names]
            return {"figures": {"wall": last - first}, "samples": {"latency": latencies}}

        return self.measured(lambda: count, run)

    def fan_out(self, children: int) -> Mapping[str, Any]:
        """Protocol workload ``fan_out``: the parent's children are child Executions."""

        def run() -> dict[str, Any]:
            (name,) = self.names("fan", 1)
            started = time.monotonic()
            self.create(name, "peer-fan-out", {"children": children})
            done = self.finished.wait([name])
            self.check(done)
            return {"figures": {"wall": done[name][0] - started}, "samples": {}}

        return self.measured(lambda: children + 1, run)

    def timers(self, count: int, delay: float) -> Mapping[str, Any]:
        """Protocol workload ``timers``: ``kontinue.sleep`` then ``kontinue.suspend``."""
        approver = self.approver
        if approver is None:
            raise RuntimeError("not started")

        def run() -> dict[str, Any]:
            names = self.names("timer", count)
            self._burst(names, "peer-approval", {"delay": delay})
            done = self.finished.wait(names, timeout=WAIT + delay)
            if approver.errors:
                raise RuntimeError(approver.errors[0])
            self.check(done)
            lateness, resume = [], []
            for name in names:
                result = done[name][2].get("result") or {}
                lateness.append(result["fired"] - result["due"])
                resume.append(result["resumed"] - approver.sent[name])
            return {
                "figures": {},
                "samples": {"lateness": lateness, "signal_to_resume": resume},
            }

        return self.measured(lambda: count, run)

    def recovery(self, count: int) -> Mapping[str, Any]:
        """Protocol workload ``recovery``: SIGKILL the worker a third of the way, start another."""

        def run() -> dict[str, Any]:
            names = self.names("recover", count)
            ledger = self.workdir / f"ledger-{self._serial}.txt"
            ledger.touch()
            self._burst(names, "peer-ledger", {"ledger": str(ledger)})
            self.finished.wait(names, at_least=max(1, count // 3))
            killed = time.monotonic()
            self.worker.send_signal(signal.SIGKILL)
            self.worker.wait()
            self.worker = self.start_worker()
            done = self.finished.wait(names)
            last = max(t for t, _, _ in done.values())
            entries = [line for line in ledger.read_text().splitlines() if line]
            completed = sum(1 for _, _, s in done.values() if s.get("phase") == Phase.COMPLETED)
            return {
                "figures": {
                    "recovery": last - killed,
                    "duplicated": len(entries) - len(set(entries)),
                    "completed": completed,
                },
                "samples": {},
            }

        return self.measured(lambda: count, run)


def main() -> int:
    """Start kontinue, serve the orchestrator, stop everything when stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="kontinue", choices=["kontinue"])
    parser.add_argument("--workdir", required=True, type=Path)
    args = parser.parse_args()
    protocol: TextIO = sys.stdout
    sys.stdout = sys.stderr  # stdout is the protocol's: nothing else may write there
    args.workdir.mkdir(parents=True, exist_ok=True)
    engine = Kontinue(args.workdir.resolve())
    try:
        etcd = subprocess.run(
            [str(engine.cluster.bin_dir / "etcd"), "--version"], capture_output=True, text=True
        ).stdout.split("\n", 1)[0]
        serve(
            "kontinue",
            f"kontinue {kontinue.__version__}; {etcd}",
            "etcd, fsync on every commit (--unsafe-no-fsync=false)",
            {
                "one_step": engine.one_step,
                "ten_steps": engine.ten_steps,
                "burst": engine.burst,
                "fan_out": engine.fan_out,
                "timers": engine.timers,
                "recovery": engine.recovery,
            },
            stdout=protocol,
        )
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
