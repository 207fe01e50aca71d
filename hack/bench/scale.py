"""Scale benchmark (``make bench-scale``): prints figures, asserts nothing.

One local control plane holds a large population of Executions at once, and each component
is measured against it:
  - ``--total`` Executions (default 50,000; ``QUICK=1``: 5,000), of which ``--sleeping``
    (5,000; 500) sleep for real and ``--pending`` (2,000; 200) are Pending for a function no
    worker takes at first; the rest are finished. The finished ones are written directly (a
    create, then a status subresource patch with a terminal phase, as a worker leaves them)
    instead of running 43,000 workflows: the stored objects and the watches' load are the
    same, the hours of worker time are not spent;
  - the controller, started once the finished and Pending ones exist: its rebuild from the
    initial listing, its memory (VmRSS) with everything loaded, and the wake-up lateness
    (p50/p99) of the sleepers, whose Suspensions it must end within ``--window`` seconds
    (created as ``make bench-sleepers`` creates them, seen by watch events). The window sets
    the wake-up rate: 5,000 over 300 s is 17 per second, about 50 writes/s; over 60 s it is 83
    per second, about 250 writes/s, which is at or past what the API server sustains on a
    2-core machine (the write rate measured below): such a run measures the API server's
    ceiling, not the controller's timers (``--window 60`` makes one);
  - a worker in drain mode (it takes no new executions) following the Pending ones as slim
    summaries: its memory;
  - the UI (one gunicorn worker, every namespace): cache sync time, list page server time
    p50, memory;
  - the API server's and etcd's memory (VmRSS from /proc) at each stage, and etcd's database
    file;
  - the status PATCHes per second the API server sustains here: a burst of conditional merge
    patches on existing finished executions with N threads (one pooled client, a connection
    per thread), and from it the executions/s (3 writes each) and store steps/s (1 write each)
    one cluster can carry; then a real worker runs the Pending ones (a measured drain rate).

Every figure is taken on this machine with everything above on it: the benchmark process
competes with the API server, etcd and the controller for the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sleepers
from apimetrics import pct, write_counts
from benchcluster import create_namespace, start_cluster
from sleepers import ProcessSampler, Recorder, Sleeper, mib
from ui_list import rss_mib, timed

from kontinue.api import manifests
from kontinue.client import Informer, Kube, kubeapi
from kontinue.devcluster import LocalCluster
from kontinue.devcluster.processes import free_port

HERE = Path(__file__).resolve().parent
NAMESPACE = "bench-scale"  # finished and Pending executions; the sleepers live in their own
FINISHED_PHASES = ["Completed"] * 8 + ["Failed", "Canceled"]


def proc_rss_mib(pid: int | None) -> float:
    """VmRSS of one process, MiB (nan when it is gone)."""
    if pid is None:
        return float("nan")
    sample = ProcessSampler(pid, threading.Event()).read()
    return mib(sample.rss) if sample else float("nan")


def proc_cpu(pid: int | None) -> float:
    """CPU seconds a process used so far (nan when it is gone)."""
    if pid is None:
        return float("nan")
    sample = ProcessSampler(pid, threading.Event()).read()
    return sample.cpu if sample else float("nan")


def control_plane(cluster: LocalCluster, label: str, figures: dict[str, Any]) -> None:
    """Record the API server's and etcd's memory now, and etcd's database file."""
    figures[f"apiserver_rss_{label}_mib"] = proc_rss_mib(cluster.component("kube-apiserver").pid)
    figures[f"etcd_rss_{label}_mib"] = proc_rss_mib(cluster.component("etcd").pid)
    database = cluster.workdir / "etcd" / "member" / "snap" / "db"
    if database.exists():
        figures[f"etcd_db_{label}_mib"] = mib(database.stat().st_size)


def create_finished(kube: Kube, count: int, threads: int) -> tuple[float, dict[str, str]]:
    """Create ``count`` finished executions (create + status patch); seconds, name -> version."""
    versions: dict[str, str] = {}
    lock = threading.Lock()

    def create(i: int) -> None:
        name = f"done-{i:05d}"
        body = manifests.execution_manifest(
            "bench-trivial" if i % 3 else "bench-steps", {"i": i}, name=name
        )
        kube.create(kubeapi.EXECUTIONS, NAMESPACE, body)
        phase = FINISHED_PHASES[i % len(FINISHED_PHASES)]
        status: dict[str, Any] = {
            "phase": phase,
            "message": f"{phase.lower()} after {i % 13} steps",
            "attempt": 1,
            "startedAt": f"2030-01-01T10:{i % 60:02d}:00Z",
            "finishedAt": f"2030-01-01T11:{i % 60:02d}:00Z",
            "progress": {"current": i % 13, "max": 13},
        }
        if phase == "Completed":
            status["result"] = {"ok": True, "n": i}
        answer = kube.merge_patch(
            kubeapi.EXECUTIONS, NAMESPACE, name, {"status": status}, subresource="status"
        )
        with lock:
            versions[name] = answer["metadata"]["resourceVersion"]

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(count)))
    return time.monotonic() - started, versions


def create_pending(kube: Kube, count: int, threads: int) -> float:
    """Create ``count`` Pending executions of ``bench-trivial``; seconds taken."""

    def create(i: int) -> None:
        body = manifests.execution_manifest("bench-trivial", name=f"pending-{i:05d}")
        kube.create(kubeapi.EXECUTIONS, NAMESPACE, body)

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(count)))
    return time.monotonic() - started


def patch_burst(
    kube: Kube, versions: dict[str, str], threads: int, seconds: float
) -> tuple[float, int, list[float]]:
    """Conditional status merge patches on finished executions, ``threads`` at once.

    Each thread owns a slice of the executions and patches them in turn, each patch
    conditional on the resourceVersion its previous write returned. Returns the successful
    patches per second, the conflicts and the latencies.
    """
    names = sorted(versions)
    slices = [names[k::threads] for k in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    conflicts = [0] * threads
    deadline = time.monotonic() + seconds

    def run(k: int) -> None:
        mine = slices[k]
        i = 0
        while time.monotonic() < deadline:
            name = mine[i % len(mine)]
            i += 1
            started = time.perf_counter()
            try:
                answer = kube.merge_patch(
                    kubeapi.EXECUTIONS, NAMESPACE, name,
                    {"status": {"message": f"burst write {i}"}},
                    subresource="status", resource_version=versions[name],
                )  # fmt: skip
            except kubeapi.Conflict:
                conflicts[k] += 1
                versions[name] = kube.get(kubeapi.EXECUTIONS, NAMESPACE, name)["metadata"][
                    "resourceVersion"
                ]
                continue
            latencies[k].append(time.perf_counter() - started)
            versions[name] = answer["metadata"]["resourceVersion"]

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    elapsed = time.monotonic() - started
    flat = [value for one in latencies for value in one]
    return len(flat) / elapsed, sum(conflicts), flat


def start_worker(
    kubeconfig: Path, name: str, log_dir: Path, *, drain: bool
) -> subprocess.Popen[bytes]:
    """A worker serving the benchmark workflows in the benchmark namespace."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KONTINUE_LOG_LEVEL": "WARNING"}
    command = [
        sys.executable, "-m", "kontinue_worker", "--module", "bench_flows", "--path", str(HERE),
        "--namespace", NAMESPACE, "--name", name, "--concurrency", "32", "--metrics-port", "0",
    ]  # fmt: skip
    if drain:
        command.append("--drain")
    with (log_dir / f"{name}.log").open("wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


FINISHED = ("Completed", "Failed", "Canceled", "Skipped")
UNFINISHED = ",".join(f"status.phase!={phase}" for phase in FINISHED)


class PendingCount:
    """The benchmark namespace's unfinished executions, followed by a watch."""

    def __init__(self, kube: Kube, stop: threading.Event) -> None:
        self.names: set[str] = set()
        self.lock = threading.Lock()
        self.informer: Informer[dict[str, Any]] = Informer(
            kube, kubeapi.EXECUTIONS, NAMESPACE, field_selector=UNFINISHED,
            on_event=self._event, stop=stop, name="pending-count", watch_timeout=60,
        )  # fmt: skip

    def _event(self, event: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        with self.lock:
            if event == "DELETED" or (obj.get("status") or {}).get("phase") in FINISHED:
                self.names.discard(name)
            else:
                self.names.add(name)

    def count(self) -> int:
        """Pending now."""
        with self.lock:
            return len(self.names)


def measure_sleepers(
    cluster: LocalCluster,
    kube: Kube,
    recorder: Recorder,
    controller: ProcessSampler,
    args: argparse.Namespace,
    figures: dict[str, Any],
) -> None:
    """Create the sleepers (the controller running) and measure their wake-ups."""
    count = args.sleeping
    population = [Sleeper(f"sleeper-{i:05d}") for i in range(count)]
    for sleeper in population:
        sleeper.suspension = f"{sleeper.execution}-sleep-1"
    executions_s = sleepers.create_executions(kube, population, args.threads)
    first = time.time() + 2 * executions_s * 1.5 + 5 + args.lead
    offsets = [args.window * i / max(count - 1, 1) for i in range(count)]
    random.Random(1).shuffle(offsets)
    for sleeper, offset in zip(population, offsets, strict=True):
        sleeper.resume_at = round(first + offset, 6)
    suspend_s = sleepers.put_to_sleep(kube, population, args.threads)
    figures["sleepers_creation_s"] = round(executions_s + suspend_s, 1)
    margin = first - time.time()
    figures["sleepers_margin_before_first_wake_s"] = round(margin, 1)
    if margin > 0:
        time.sleep(max(margin - 0.5, 0))
    before = controller.between(first - 5.5, first - 0.4)
    figures["controller_rss_all_loaded_mib"] = sleepers.median_rss(before)
    control_plane(cluster, "all_loaded", figures)
    last = max(s.resume_at for s in population)
    pids = (cluster.component("kube-apiserver").pid, cluster.component("etcd").pid)
    cpu = [proc_cpu(pid) for pid in pids]
    recorder.all_done.wait(max(last + args.grace - time.time(), 0))
    done = time.time()
    figures["wake_window_cpu_s_apiserver_etcd"] = [
        round(proc_cpu(pid) - before, 1) for pid, before in zip(pids, cpu, strict=True)
    ]
    with recorder.lock:
        woke = dict(recorder.woke)
        ended = dict(recorder.sleep_ended)
    wake_late = [woke[s.execution] - s.resume_at for s in population if s.execution in woke]
    sleep_late = [ended[s.suspension] - s.resume_at for s in population if s.suspension in ended]
    figures.update(sleepers.latency_figures("sleep_end_lateness", sleep_late))
    figures.update(sleepers.latency_figures("wake_up_lateness", wake_late))
    figures["sleepers_never_woke"] = count - len(wake_late)
    figures["sleeps_due_per_s"] = round(count / args.window, 1)
    figures["controller_cpu_s_wake_window"] = sleepers.cpu_between(
        controller.between(first - 1, done + 1)
    )
    samples = controller.between(0, time.time())
    figures["controller_rss_peak_sampled_mib"] = mib(max(s.rss for s in samples))
    figures["controller_rss_peak_vmhwm_mib"] = mib(controller.peak())


def measure_ui(cluster: LocalCluster, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Start the UI over every namespace; its sync time, list pages and memory."""
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "KONTINUE_LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    ui = subprocess.Popen(
        [sys.executable, "-m", "kontinue_ui", "--all-namespaces", "--port", str(port),
         "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() - started < 600:
            try:
                if timed(base + "/readyz")[2] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        figures["ui_cache_sync_s"] = round(time.monotonic() - started, 1)
        views = {
            "first_page": "/executions",
            "phase_filter": "/executions?phase=Failed&function=bench-trivial",
            "text_search": "/executions?q=after+7",
            "deep_page": "/executions?page=100",
        }
        for label, path in views.items():
            timed(base + path)  # warm
            server = [timed(base + path)[0] for _ in range(args.requests)]
            figures[f"ui_{label}_server_p50_ms"] = round(pct(server, 0.5), 1)
            figures[f"ui_{label}_server_p90_ms"] = round(pct(server, 0.9), 1)
        urllib.request.urlopen(base + "/executions", timeout=60).read()
        figures["ui_rss_mib"] = round(rss_mib(ui.pid), 1)
    finally:
        stop_process(ui)


def main() -> int:
    """Set up, measure, print."""
    quick = os.environ.get("QUICK") == "1"
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--total", type=int, default=5_000 if quick else 50_000)
    parser.add_argument("--sleeping", type=int, default=500 if quick else 5_000)
    parser.add_argument("--pending", type=int, default=200 if quick else 2_000)
    parser.add_argument(
        "--window",
        type=float,
        default=60.0 if quick else 300.0,
        help="seconds over which the sleeps come due (the wake-up rate is sleeping / window)",
    )
    parser.add_argument("--lead", type=float, default=15.0)
    parser.add_argument("--grace", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=16, help="threads creating objects")
    parser.add_argument("--burst-threads", default="4,16", help="thread counts of the bursts")
    parser.add_argument("--burst-seconds", type=float, default=5.0 if quick else 15.0)
    parser.add_argument("--requests", type=int, default=10 if quick else 20)
    args = parser.parse_args()
    finished = args.total - args.sleeping - args.pending

    cluster = start_cluster("kontinue-bench-scale-")
    log_dir = cluster.workdir
    stop = threading.Event()
    controller: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    figures: dict[str, Any] = {
        "executions": args.total,
        "finished": finished,
        "sleeping": args.sleeping,
        "pending": args.pending,
        "wake_window_s": args.window,
    }
    began = time.monotonic()
    try:
        kube = Kube(str(cluster.kubeconfig), user_agent="kontinue-bench-scale")
        create_namespace(kube, NAMESPACE)
        create_namespace(kube, sleepers.NAMESPACE)
        control_plane(cluster, "empty", figures)

        seconds, versions = create_finished(kube, finished, args.threads)
        figures["finished_creation_s"] = round(seconds, 1)
        figures["finished_writes_per_s"] = round(2 * finished / seconds, 1)
        figures["pending_creation_s"] = round(create_pending(kube, args.pending, args.threads), 1)
        control_plane(cluster, "finished_and_pending", figures)

        # the controller rebuilds its view from a listing of everything stored so far
        started = time.time()
        controller = sleepers.start_controller(cluster.kubeconfig, log_dir / "controller.log")
        sleepers.wait_leading(kube, controller)
        sampler = ProcessSampler(controller.pid, stop)
        sampler.start()
        # quiet for 10 s: while the listing is on its way the controller waits without CPU
        sampler.wait_idle(600, quiet=10)
        figures["controller_listing_to_idle_s"] = round(time.time() - started, 1)
        figures["controller_rss_idle_mib"] = proc_rss_mib(controller.pid)

        recorder = Recorder(args.sleeping)
        watchers = [
            sleepers.watcher(kube, kubeapi.SUSPENSIONS, recorder.on_suspension, stop),
            sleepers.watcher(kube, kubeapi.EXECUTIONS, recorder.on_execution, stop),
        ]
        for informer in watchers:
            informer.start()
            informer.synced.wait(60)
        measure_sleepers(cluster, kube, recorder, sampler, args, figures)

        # a worker that takes no new executions holds the Pending ones as slim summaries
        worker = start_worker(cluster.kubeconfig, "bench-drain", log_dir, drain=True)
        time.sleep(2)
        ProcessSampler(worker.pid, stop).wait_idle(120)
        figures["worker_rss_with_pending_mib"] = proc_rss_mib(worker.pid)
        stop_process(worker)
        worker = None

        measure_ui(cluster, args, figures)

        writes_before = write_counts(cluster)
        api_pid = cluster.component("kube-apiserver").pid
        etcd_pid = cluster.component("etcd").pid
        for threads in [int(t) for t in args.burst_threads.split(",")]:
            cpu = (proc_cpu(api_pid), proc_cpu(etcd_pid), proc_cpu(controller.pid))
            rate, conflicts, latencies = patch_burst(kube, versions, threads, args.burst_seconds)
            used = (proc_cpu(api_pid), proc_cpu(etcd_pid), proc_cpu(controller.pid))
            figures[f"burst_{threads}_threads_patches_per_s"] = round(rate, 1)
            figures[f"burst_{threads}_threads_patch_p50_ms"] = round(pct(latencies, 0.5) * 1000, 1)
            figures[f"burst_{threads}_threads_patch_p99_ms"] = round(pct(latencies, 0.99) * 1000, 1)
            figures[f"burst_{threads}_threads_conflicts"] = conflicts
            figures[f"burst_{threads}_threads_cpu_s_apiserver_etcd_controller"] = [
                round(b - a, 1) for a, b in zip(cpu, used, strict=True)
            ]
        best = max(v for k, v in figures.items() if k.endswith("_patches_per_s"))
        figures["status_patches_per_s_best"] = best
        figures["trivial_executions_per_s_estimate"] = round(best / 3, 1)
        # a wake-up is 2 writes and an Event: the share of that ceiling the sleepers asked for
        # (near or over 1, the API server, not the controller, sets the lateness)
        figures["wake_writes_share_of_write_ceiling"] = round(
            3 * figures["sleeps_due_per_s"] / best, 2
        )
        figures["store_steps_per_s_estimate"] = round(best, 1)
        writes_after = write_counts(cluster)
        figures["burst_execution_writes_counted"] = (
            writes_after["executions"] - writes_before["executions"]
        )
        control_plane(cluster, "after_burst", figures)

        # a real worker drains the Pending ones: executions/s end to end, under this load
        pending = PendingCount(kube, stop)
        pending.informer.start()
        pending.informer.synced.wait(60)
        figures["pending_before_drain"] = pending.count()
        started = time.time()
        worker = start_worker(cluster.kubeconfig, "bench-serve", log_dir, drain=False)
        deadline = started + 300
        while pending.count() > 0 and time.time() < deadline:
            time.sleep(0.2)
        elapsed = time.time() - started
        figures["drain_s_incl_worker_start"] = round(elapsed, 1)
        figures["drain_executions_per_s"] = round(
            (figures["pending_before_drain"] - pending.count()) / elapsed, 1
        )
        figures["pending_left"] = pending.count()
        control_plane(cluster, "end", figures)
        figures["controller_rss_end_mib"] = proc_rss_mib(controller.pid)
        figures["benchmark_s"] = round(time.monotonic() - began, 1)

        width = max(len(k) for k in figures)
        print("kontinue scale benchmark (local control plane, this machine)")
        for key, value in figures.items():
            print(f"  {key:<{width}}  {value}")
        print(f"  logs: {log_dir}")
        print(json.dumps(figures))
        return 0
    finally:
        stop.set()
        stop_process(worker)
        if controller is not None:
            sleepers.stop_controller(controller)
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
