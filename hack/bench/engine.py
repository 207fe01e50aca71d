"""Engine benchmark (``make bench-engine``): prints figures, asserts nothing.

Measures on the real local control plane:
  raw status PATCH p50 (conditional merge patch, the same HTTP client the engine uses);
  store-step p50 through the SDK, at steps 1-50 and 951-1,000 of one execution;
  create-to-start latency p50/p99 (client create -> function body running, via a worker);
  trivial-workflow throughput with 1 and 2 workers;
  API writes per trivial execution and lease writes, from the API server's own metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from apimetrics import pct, write_counts
from benchcluster import create_namespace, start_cluster

from kontinue.client import Client, Kube, kubeapi
from kontinue.devcluster import LocalCluster

HERE = Path(__file__).resolve().parent


def ms(value: float) -> str:
    """Seconds as milliseconds."""
    return f"{value * 1000:.2f} ms"


def start_worker(
    kubeconfig: Path, namespace: str, name: str, log_dir: Path
) -> subprocess.Popen[bytes]:
    """A worker process serving the benchmark workflows."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KONTINUE_LOG_LEVEL": "WARNING"}
    log = (log_dir / f"{name}.log").open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kontinue_worker",
            "--module",
            "bench_flows",
            "--path",
            str(HERE),
            "--namespace",
            namespace,
            "--name",
            name,
            "--concurrency",
            "32",
            "--metrics-port",
            "0",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_registered(client: Client, count: int) -> None:
    """Wait until ``count`` workers hold a Lease in the namespace."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        leases = client.kube.list(kubeapi.LEASES, client.namespace).get("items") or []
        if len(leases) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError("workers did not start")


def raw_patch(client: Client, n: int) -> list[float]:
    """Latency of raw conditional status merge patches carrying what a store step writes.

    Each patch adds a stored value and a step record, like a store step, to an Execution
    holding 40 of them (the most the engine's compaction lets the status hold), so the
    comparison with the store step measures what the SDK and the worker add to one API round
    trip.
    """
    obj = client.create_execution("nobody", name="raw-patch")
    version = obj["metadata"]["resourceVersion"]
    latencies = []
    for i in range(n):
        key = f"store-{8 + i % 32}"
        record = {
            "type": "store",
            "index": i,
            "phase": "Completed",
            "attempt": 1,
            "startedAt": "2030-01-01T00:00:00Z",
            "finishedAt": "2030-01-01T00:00:00Z",
        }
        patch = {"state": {key: {"i": i, "payload": "x" * 64}}, "steps": {key: record}}
        if i < 8:
            patch["state"][f"store-{i}"] = {"i": i, "payload": "x" * 64}
            patch["steps"][f"store-{i}"] = record
        started = time.perf_counter()
        obj = client.kube.merge_patch(
            kubeapi.EXECUTIONS,
            client.namespace,
            "raw-patch",
            {"status": patch},
            subresource="status",
            resource_version=version,
        )
        latencies.append(time.perf_counter() - started)
        version = obj["metadata"]["resourceVersion"]
    return latencies[32:]


def throughput(client: Client, n: int) -> tuple[float, list[float]]:
    """Create n trivial executions at once; seconds until all completed, start latencies."""
    created_at: dict[str, float] = {}
    lock = threading.Lock()

    def create(i: int) -> None:
        before = time.time()
        obj = client.create_execution("bench-trivial", name=f"t-{int(before * 1000) % 10**9}-{i}")
        with lock:
            created_at[obj["metadata"]["name"]] = before

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, range(n)))
    latencies = []
    for name, before in created_at.items():
        done = client.wait(name, timeout=300)
        latencies.append(done["status"]["result"]["started"] - before)
    elapsed = time.monotonic() - started
    return n / elapsed, latencies


def measured_run(cluster: LocalCluster, client: Client, n: int, label: str) -> dict[str, float]:
    """Throughput of n trivial executions, with the API writes they and the leases cost."""
    before = write_counts(cluster)
    started = time.monotonic()
    rate, _ = throughput(client, n)
    window = time.monotonic() - started
    after = write_counts(cluster)
    writes = after.get("executions", 0) - before.get("executions", 0)
    leases = after.get("leases", 0) - before.get("leases", 0)
    return {
        f"throughput_{label}_per_s": round(rate, 1),
        f"execution_writes_per_trivial_execution_{label}": round(writes / n, 2),
        f"lease_writes_{label}": leases,
        f"lease_writes_per_second_{label}": round(leases / window, 2),
    }


def start_latency(client: Client, n: int) -> list[float]:
    """Create-to-start latency, one execution at a time (no queueing)."""
    latencies = []
    for i in range(n):
        before = time.time()
        name = client.create_execution("bench-trivial", name=f"lat-{i}")["metadata"]["name"]
        done = client.wait(name, timeout=60)
        latencies.append(done["status"]["result"]["started"] - before)
    return latencies


def main() -> int:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    cluster = start_cluster("kontinue-bench-")
    workdir = cluster.workdir
    workers: list[subprocess.Popen[bytes]] = []
    try:
        kube = Kube(str(cluster.kubeconfig))
        figures: dict[str, Any] = {}
        for namespace in ("bench-1", "bench-2"):
            create_namespace(kube, namespace)
        client = Client(namespace="bench-1", kube=kube)

        # the controller runs through everything below: its writes count in the budget too
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "KONTINUE_LOG_LEVEL": "WARNING"}
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kontinue_controller",
                    "--all-namespaces",
                    "--lease-namespace",
                    "default",
                ],
                env=env,
                stdout=(workdir / "controller.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )

        raw = raw_patch(client, 300)
        figures["raw_status_patch_p50_ms"] = round(statistics.median(raw) * 1000, 2)

        workers.append(start_worker(cluster.kubeconfig, "bench-1", "bench-w1", workdir))
        wait_registered(client, 1)
        runs = []  # three executions of --steps store steps; the median run of each window
        for _ in range(3):
            steps_run = client.create_execution("bench-steps", {"n": args.steps})
            runs.append(client.wait(steps_run["metadata"]["name"], timeout=600)["status"]["result"])
        steps = [latency for run in runs for latency in run]
        figures["store_step_p50_ms"] = round(statistics.median(steps) * 1000, 2)
        figures["store_step_p50_first_50_ms"] = round(
            statistics.median(statistics.median(run[:50]) for run in runs) * 1000, 2
        )
        figures["store_step_p50_last_50_ms"] = round(
            statistics.median(statistics.median(run[-50:]) for run in runs) * 1000, 2
        )

        latencies = start_latency(client, 100)
        figures["create_to_start_p50_ms"] = round(pct(latencies, 0.5) * 1000, 1)
        figures["create_to_start_p99_ms"] = round(pct(latencies, 0.99) * 1000, 1)

        figures.update(measured_run(cluster, client, args.executions, "1_worker"))
        two = Client(namespace="bench-2", kube=kube)
        workers.append(start_worker(cluster.kubeconfig, "bench-2", "bench-w2a", workdir))
        workers.append(start_worker(cluster.kubeconfig, "bench-2", "bench-w2b", workdir))
        wait_registered(two, 2)
        figures.update(measured_run(cluster, two, args.executions, "2_workers"))

        figures["store_step_vs_raw_patch"] = round(
            figures["store_step_p50_ms"] / figures["raw_status_patch_p50_ms"], 2
        )
        figures["store_step_1000_vs_1"] = round(
            figures["store_step_p50_last_50_ms"] / figures["store_step_p50_first_50_ms"], 2
        )
        width = max(len(k) for k in figures)
        print("kontinue engine benchmark (local control plane, this machine)")
        for key, value in figures.items():
            print(f"  {key:<{width}}  {value}")
        print(json.dumps(figures))
        return 0
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
