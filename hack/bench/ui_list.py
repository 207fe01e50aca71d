"""UI list benchmark (``make bench-ui``): prints figures, asserts nothing.

Creates N (default 10,000) Executions in mixed phases and two functions on the real local
control plane (written directly, no worker), starts ``kontinue-ui`` (one gunicorn worker) and
measures, over loopback:
  the execution cache's initial sync (process start to /readyz) and the UI's memory;
  the list page's server time (the app's own ``Server-Timing``) and round trip, p50/p90/max,
  for the first page, a phase+function filter, a text search, a deep page and a sort by
  duration;
  an unchanged live refresh (answered 204 from the cache).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from apimetrics import pct
from benchcluster import create_namespace, start_cluster

from kontinue.client import Kube, kubeapi
from kontinue.devcluster.processes import free_port

NAMESPACE = "bench-ui"
PHASES = ["Completed"] * 5 + ["Failed"] * 2 + ["Canceled"] + ["Pending", "Suspended"]


def create(kube: Kube, i: int) -> None:
    """One execution, its status written as a worker would have left it."""
    name = f"run-{i:05d}"
    kube.create(
        kubeapi.EXECUTIONS,
        NAMESPACE,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "Execution",
            "metadata": {"name": name, "labels": {"team": f"t{i % 7}"}},
            "spec": {"function": "alpha" if i % 3 else "beta"},
        },
    )
    phase = PHASES[i % len(PHASES)]
    if phase != "Pending":
        status = {
            "phase": phase,
            "message": f"step {i % 13} of 13",
            "startedAt": "2030-01-01T10:00:00Z",
            "progress": {"current": i % 13, "max": 13},
        }
        if phase not in ("Suspended",):
            status["finishedAt"] = f"2030-01-01T10:{i % 60:02d}:00Z"
        kube.merge_patch(
            kubeapi.EXECUTIONS, NAMESPACE, name, {"status": status}, subresource="status"
        )


def timed(url: str) -> tuple[float, float, int]:
    """(server ms, round-trip ms, status) of one GET."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
        header = answer.headers.get("Server-Timing", "app;dur=nan")
        status = answer.status
    total = (time.perf_counter() - started) * 1000
    return float(header.split("dur=")[1]), total, status


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn master + worker), MiB."""
    total = 0
    pids = [str(pid)] + subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True
    ).stdout.split()
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def main() -> int:
    """Set up, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    cluster = start_cluster("kontinue-bench-ui-")
    ui: subprocess.Popen[bytes] | None = None
    try:
        kube = Kube(str(cluster.kubeconfig))
        create_namespace(kube, NAMESPACE)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: create(kube, i), range(args.executions)))
        print(f"created {args.executions} executions in {time.monotonic() - started:.0f}s")

        port = free_port()
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "KONTINUE_LOG_LEVEL": "WARNING"}
        started = time.monotonic()
        ui = subprocess.Popen(
            [sys.executable, "-m", "kontinue_ui", "--namespace", NAMESPACE, "--port", str(port),
             "--workers", "1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if timed(base + "/readyz")[2] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        print(f"UI ready (cache synced) {time.monotonic() - started:.1f}s after start")

        views = {
            "first page": "/executions",
            "phase+function filter": "/executions?phase=Failed&function=alpha",
            "text search": "/executions?q=step+7",
            "deep page (100 of 200)": "/executions?page=100",
            "sort by duration": "/executions?sort=duration",
            "label selector": "/executions?label=team+in+(t1,t2)",
        }
        for label, path in views.items():
            timed(base + path)  # warm
            results = [timed(base + path) for _ in range(args.requests)]
            server = [r[0] for r in results]
            total = [r[1] for r in results]
            print(
                f"{label:24s} server p50 {pct(server, 0.5):6.1f} ms  p90 {pct(server, 0.9):6.1f} ms"
                f"  max {max(server):6.1f} ms | round trip p50 {pct(total, 0.5):6.1f} ms"
            )
        page = urllib.request.urlopen(base + "/executions").read().decode()
        token = page.split("since=", 1)[1].split("&", 1)[0].split('"', 1)[0]
        live = [timed(f"{base}/executions?since={token}") for _ in range(args.requests)]
        codes = {r[2] for r in live}
        print(
            f"{'unchanged live refresh':24s} server p50 {pct([r[0] for r in live], 0.5):6.1f} ms"
            f"  (status {sorted(codes)})"
        )
        print(f"UI memory (master + worker): {rss_mib(ui.pid):.0f} MiB")
    finally:
        if ui is not None:
            ui.terminate()
            ui.wait(timeout=30)
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
