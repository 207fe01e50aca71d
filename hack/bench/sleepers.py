"""Sleepers benchmark (``make bench-sleepers``): prints figures, asserts nothing.

The controller holds N (default 5,000) sleeping executions on the real local control plane,
created directly as a worker would leave them (no worker runs): an Execution, a Suspension
owned by it whose ``spec.resumeAt`` falls in a window after creation, and the Execution's
status patched to Suspended on that Suspension. Measured:
  the controller's memory (VmRSS of its process): idle, with every sleeper loaded, peak, end
  (target: under 300 MiB with 5,000 sleepers);
  sleep-end lateness: when a watch delivered the Suspension's phase Completed, minus the exact
  (microsecond) resumeAt written;
  wake-up lateness: when a watch delivered the Execution back to Pending, minus resumeAt
  (target: p99 under 1 s);
  sleepers that never woke within the window plus 30 s (``--grace``; should be 0), and how
  many sleeps the controller ended per second;
  the controller's API writes (its kontinue writes from the audit log, Events from the API
  server's metrics) and CPU time.

By default the controller starts first and sees every object arrive by watch events;
``--controller-after`` starts it once everything exists, measuring the rebuild from its
initial listing instead.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apimetrics import pct, write_counts
from benchcluster import create_namespace, start_cluster

from kontinue.api import manifests, timestamps
from kontinue.client import Informer, Kube, kubeapi

NAMESPACE = "bench-sleepers"
IDENTITY = "bench-sleepers-controller"
LEASE_NAME = "kontinue-controller"
MIB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def audited_writes(audit_log: Path, user_agent_prefix: str) -> Counter[str]:
    """Writes to kontinue resources by the clients named so, from the audit log, by outcome.

    Keys look like ``kontinue-controller patch suspensions/status 200``; the local cluster
    audits (at Metadata level) every create, update, patch and delete of a kontinue resource.
    """
    counts: Counter[str] = Counter()
    if not audit_log.exists():
        return counts
    with audit_log.open() as lines:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("stage") != "ResponseComplete":
                continue
            agent = str(entry.get("userAgent", ""))
            if not agent.startswith(user_agent_prefix):
                continue
            ref = entry.get("objectRef") or {}
            target = str(ref.get("resource", "?"))
            if ref.get("subresource"):
                target += "/" + ref["subresource"]
            code = (entry.get("responseStatus") or {}).get("code", "?")
            name = agent.split("/", 1)[0].split(" ", 1)[0]
            counts[f"{name} {entry.get('verb')} {target} {code}"] += 1
    return counts


@dataclass
class Sleeper:
    """One sleeping execution: its Execution, its Suspension and when the sleep ends."""

    execution: str
    uid: str = ""
    suspension: str = ""
    resume_at: float = 0.0  # epoch seconds, exactly as written (microseconds)


class Recorder:
    """What the watches delivered: when each sleep ended and each execution woke up."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.lock = threading.Lock()
        self.all_done = threading.Event()
        self.sleep_ended: dict[str, float] = {}  # suspension -> wall clock of phase Completed
        self.resumed_by: Counter[str] = Counter()
        self.suspended: set[str] = set()  # executions seen Suspended
        self.woke: dict[str, float] = {}  # execution -> wall clock of Suspended -> Pending
        self.woke_with_suspended_on: int = 0  # woken but suspendedOn not cleared
        self.other_phases: Counter[str] = Counter()

    def _check_done(self) -> None:
        if len(self.sleep_ended) >= self.count and len(self.woke) >= self.count:
            self.all_done.set()

    def on_suspension(self, event: str, obj: dict[str, Any], seen: float) -> None:
        """A Suspension event."""
        status = obj.get("status") or {}
        if event == "DELETED" or status.get("phase") != "Completed":
            return
        name = obj["metadata"]["name"]
        with self.lock:
            if name in self.sleep_ended:
                return
            self.sleep_ended[name] = seen
            self.resumed_by[str(status.get("resumedBy"))] += 1
            self._check_done()

    def on_execution(self, event: str, obj: dict[str, Any], seen: float) -> None:
        """An Execution event."""
        if event == "DELETED":
            return
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        phase = status.get("phase") or "Pending"
        with self.lock:
            if phase == "Suspended":
                self.suspended.add(name)
            elif phase == "Pending":
                if name in self.suspended and name not in self.woke:
                    self.woke[name] = seen
                    if status.get("suspendedOn"):
                        self.woke_with_suspended_on += 1
                    self._check_done()
            else:
                self.other_phases[phase] += 1


def watcher(
    kube: Kube,
    resource: kubeapi.Resource,
    handle: Callable[[str, dict[str, Any], float], None],
    stop: threading.Event,
) -> Informer[dict[str, Any]]:
    """Follows one collection and hands every event on with the time it arrived."""
    return Informer(
        kube,
        resource,
        NAMESPACE,
        on_event=lambda event, obj: handle(event, obj, time.time()),
        stop=stop,
        name=f"watch-{resource.plural}",
        watch_timeout=30,
    )


def _status_kib(status: str, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (0 when absent)."""
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else 0


@dataclass
class Sample:
    """One reading of the controller process."""

    at: float  # wall clock
    rss: int  # bytes
    cpu: float  # user + system seconds so far


class ProcessSampler(threading.Thread):
    """Reads a process's VmRSS and CPU time from /proc every second."""

    def __init__(self, pid: int, stop: threading.Event, interval: float = 1.0) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.stop = stop
        self.interval = interval
        self.samples: list[Sample] = []
        self.lock = threading.Lock()

    def read(self) -> Sample | None:
        """One reading now (None once the process is gone)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        rss = _status_kib(status, "VmRSS") * 1024
        fields = stat.rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        return Sample(time.time(), rss, cpu)

    def peak(self) -> int:
        """The kernel's high-water mark of the process's RSS (VmHWM), in bytes."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        return _status_kib(status, "VmHWM") * 1024

    def run(self) -> None:
        """Sample until stopped or the process ends."""
        while not self.stop.wait(self.interval):
            sample = self.read()
            if sample is None:
                return
            with self.lock:
                self.samples.append(sample)

    def between(self, start: float, end: float) -> list[Sample]:
        """The samples taken in [start, end]."""
        with self.lock:
            return [s for s in self.samples if start <= s.at <= end]

    def wait_idle(self, timeout: float, cpu_per_second: float = 0.05, quiet: int = 3) -> bool:
        """Wait until the process used under ``cpu_per_second`` for ``quiet`` seconds running."""
        deadline = time.time() + timeout
        calm = 0
        last = self.read()
        while time.time() < deadline and last is not None:
            time.sleep(1.0)
            current = self.read()
            if current is None:
                return False
            rate = (current.cpu - last.cpu) / max(current.at - last.at, 1e-3)
            calm = calm + 1 if rate < cpu_per_second else 0
            if calm >= quiet:
                return True
            last = current
        return False


def start_controller(kubeconfig: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """A ``kontinue-controller`` process over every namespace (its output to ``log_path``)."""
    command = [
        str(Path(sys.executable).parent / "kontinue-controller"),
        "--all-namespaces",
        "--lease-namespace",
        "default",
        "--lease-name",
        LEASE_NAME,
        "--identity",
        IDENTITY,
        "--kubeconfig",
        str(kubeconfig),
        "--log-level",
        "WARNING",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as sink:
        return subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)


def wait_leading(kube: Kube, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until the controller holds the leader Lease (it logs nothing at WARNING)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the controller exited with {process.returncode}")
        lease = kube.get_or_none(kubeapi.LEASES, "default", LEASE_NAME)
        if lease and (lease.get("spec") or {}).get("holderIdentity") == IDENTITY:
            return
        time.sleep(0.2)
    raise RuntimeError("the controller did not take the lead")


def stop_controller(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM the controller, SIGKILL it if it does not exit; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


def create_executions(kube: Kube, sleepers: list[Sleeper], threads: int) -> float:
    """Create the Executions (function ``sleeper``, no status yet); seconds taken."""

    def create(sleeper: Sleeper) -> None:
        body = manifests.execution_manifest("sleeper", name=sleeper.execution)
        sleeper.uid = kube.create(kubeapi.EXECUTIONS, NAMESPACE, body)["metadata"]["uid"]

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, sleepers))
    return time.monotonic() - started


def put_to_sleep(kube: Kube, sleepers: list[Sleeper], threads: int) -> float:
    """Create each sleeper's Suspension and mark its Execution Suspended on it; seconds taken."""

    def suspend(sleeper: Sleeper) -> None:
        step = "sleep-1"
        parent = manifests.Parent(
            sleeper.execution, sleeper.uid, sleeper.execution, "default", step
        )
        resume_at = timestamps.format_micro_time(datetime.fromtimestamp(sleeper.resume_at, UTC))
        body = manifests.suspension_manifest(
            sleeper.suspension, parent, resume_at=resume_at, display_name=None, description=None
        )
        kube.create(kubeapi.SUSPENSIONS, NAMESPACE, body)
        status = {
            "phase": "Suspended",
            "suspendedOn": [{"kind": "Suspension", "name": sleeper.suspension}],
            "startedAt": timestamps.now(),
            "message": f"sleep 'sleep-1' until {resume_at}",
        }
        kube.merge_patch(
            kubeapi.EXECUTIONS,
            NAMESPACE,
            sleeper.execution,
            {"status": status},
            subresource="status",
        )

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(suspend, sleepers))
    return time.monotonic() - started


def _own_cpu() -> float:
    """CPU seconds this (benchmark) process used so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mib(value: float) -> float:
    """Bytes as MiB, rounded."""
    return round(value / MIB, 1)


def median_rss(samples: list[Sample]) -> float:
    """The median RSS of samples in MiB (nan when there are none)."""
    return mib(statistics.median(s.rss for s in samples)) if samples else float("nan")


def cpu_between(samples: list[Sample]) -> float:
    """CPU seconds used between the first and the last sample."""
    return round(samples[-1].cpu - samples[0].cpu, 2) if len(samples) > 1 else float("nan")


def latency_figures(prefix: str, values: list[float]) -> dict[str, Any]:
    """p50/p99/max of lateness values, in milliseconds."""
    return {
        f"{prefix}_p50_ms": round(pct(values, 0.5) * 1000, 1),
        f"{prefix}_p99_ms": round(pct(values, 0.99) * 1000, 1),
        f"{prefix}_max_ms": round(max(values) * 1000, 1) if values else float("nan"),
        f"{prefix}_min_ms": round(min(values) * 1000, 1) if values else float("nan"),
        f"{prefix}_over_1s": sum(1 for v in values if v > 1.0),
    }


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=5000, help="sleeping executions")
    parser.add_argument("--window", type=float, default=30.0, help="seconds the wake-ups span")
    parser.add_argument(
        "--lead",
        type=float,
        default=30.0,
        help="seconds between the (estimated) end of creation and the first wake-up",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds after the last resumeAt to wait for the last wake-up",
    )
    parser.add_argument("--threads", type=int, default=32, help="threads creating objects")
    parser.add_argument(
        "--controller-after",
        action="store_true",
        help="start the controller once every sleeper exists (rebuild from its listing)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    count = args.count

    cluster = start_cluster("kontinue-bench-sleepers-")
    controller_log = cluster.workdir / "controller.log"
    stop = threading.Event()
    controller: subprocess.Popen[bytes] | None = None
    figures: dict[str, Any] = {
        "count": count,
        "window_s": args.window,
        "controller_started": "after creation" if args.controller_after else "before creation",
    }
    notes: list[str] = []
    try:
        kube = Kube(str(cluster.kubeconfig), user_agent="kontinue-bench-sleepers")
        create_namespace(kube, NAMESPACE)
        recorder = Recorder(count)
        watchers = [
            watcher(kube, kubeapi.SUSPENSIONS, recorder.on_suspension, stop),
            watcher(kube, kubeapi.EXECUTIONS, recorder.on_execution, stop),
        ]
        for informer in watchers:
            informer.start()
            informer.synced.wait(60)

        sampler: ProcessSampler | None = None
        if not args.controller_after:
            controller = start_controller(cluster.kubeconfig, controller_log)
            wait_leading(kube, controller)
            sampler = ProcessSampler(controller.pid, stop)
            sampler.start()
            sampler.wait_idle(30)
            idle = sampler.read()
            figures["controller_rss_idle_empty_mib"] = mib(idle.rss) if idle else None

        sleepers = [Sleeper(f"sleeper-{i:05d}") for i in range(count)]
        for sleeper in sleepers:
            sleeper.suspension = f"{sleeper.execution}-sleep-1"
        writes_before = write_counts(cluster)
        executions_s = create_executions(kube, sleepers, args.threads)
        # the rest (a Suspension and a status patch each) takes about twice as long; leave room
        # for that, for the controller to catch up (or to start and list), then the lead
        remaining = 2 * executions_s * 1.5 + 5
        if args.controller_after:
            remaining += 20 + count * 0.005  # 5,000 sleepers: listed and idle in ~18 s
        first = time.time() + remaining + args.lead
        offsets = [args.window * i / max(count - 1, 1) for i in range(count)]
        random.Random(args.seed).shuffle(offsets)
        for sleeper, offset in zip(sleepers, offsets, strict=True):
            # whole microseconds, as format_micro_time writes them
            sleeper.resume_at = round(first + offset, 6)
        suspend_s = put_to_sleep(kube, sleepers, args.threads)
        created = time.time()
        figures["creation_s"] = round(executions_s + suspend_s, 1)
        figures["creation_per_s"] = round(count / (executions_s + suspend_s), 1)
        writes_created = write_counts(cluster)

        if args.controller_after:
            controller = start_controller(cluster.kubeconfig, controller_log)
            started = time.time()
            wait_leading(kube, controller)
            sampler = ProcessSampler(controller.pid, stop)
            sampler.start()
            if not sampler.wait_idle(max(first - time.time() - 3, 5)):
                notes.append("the controller was still busy when the first sleep came due")
            figures["controller_load_s"] = round(time.time() - started, 1)
            idle = sampler.read()
            figures["controller_rss_idle_after_listing_mib"] = mib(idle.rss) if idle else None
        assert controller is not None and sampler is not None
        margin = first - time.time()
        figures["margin_before_first_wake_s"] = round(margin, 1)
        if margin < 0:
            notes.append("creation ran past the first resumeAt: early lateness is inflated")

        # all loaded: the controller's state before the first wake-up (idle, if it caught up)
        if margin > 0:
            time.sleep(max(margin - 0.5, 0))
        before_wakes = sampler.between(first - 5.5, first - 0.4)
        figures["controller_rss_loaded_mib"] = median_rss(before_wakes)
        figures["controller_cpu_s_last_5s_before_first_wake"] = cpu_between(before_wakes)
        figures["controller_cpu_s_creation_to_first_wake"] = cpu_between(
            sampler.between(created - 1, first)
        )

        last = max(s.resume_at for s in sleepers)
        deadline = last + args.grace
        bench_cpu = _own_cpu()
        recorder.all_done.wait(max(deadline - time.time(), 0))
        done = time.time()
        bench_cpu = _own_cpu() - bench_cpu
        with recorder.lock:  # what came within the grace period
            sleep_ended = dict(recorder.sleep_ended)
            woke = dict(recorder.woke)
            resumed_by = dict(recorder.resumed_by)
        time.sleep(3)  # settle: the last Events, the audit log, a calm RSS reading
        end = sampler.read()
        writes_end = write_counts(cluster)

        sleep_late = [
            sleep_ended[s.suspension] - s.resume_at for s in sleepers if s.suspension in sleep_ended
        ]
        wake_late = [woke[s.execution] - s.resume_at for s in sleepers if s.execution in woke]
        figures.update(latency_figures("sleep_end_lateness", sleep_late))
        figures.update(latency_figures("wake_up_lateness", wake_late))
        figures["lateness_measured_over"] = f"{len(sleep_late)} sleeps, {len(wake_late)} wake-ups"
        figures["sleeps_never_ended"] = count - len(sleep_late)
        figures["executions_never_woke"] = count - len(wake_late)
        figures["last_wake_after_last_resume_at_s"] = round(
            max(woke.values(), default=float("nan")) - last, 2
        )
        figures["all_woke_after_first_resume_at_s"] = round(done - first, 1)
        due_per_s = count / args.window if args.window > 0 else float("inf")
        figures["sleeps_due_per_s"] = round(due_per_s, 1)
        if sleep_ended:
            span = max(sleep_ended.values()) - min(s.resume_at for s in sleepers)
            figures["sleeps_ended_per_s"] = round(len(sleep_ended) / max(span, 1e-3), 1)
        figures["resumed_by"] = resumed_by
        if recorder.woke_with_suspended_on:
            notes.append(f"{recorder.woke_with_suspended_on} woke with suspendedOn still set")
        if recorder.other_phases:
            notes.append(f"unexpected execution phases: {dict(recorder.other_phases)}")

        samples = sampler.between(0, time.time())
        figures["controller_rss_peak_sampled_mib"] = mib(max(s.rss for s in samples))
        figures["controller_rss_peak_vmhwm_mib"] = mib(sampler.peak())
        figures["controller_rss_end_mib"] = mib(end.rss) if end else None
        figures["controller_cpu_s_wake_window"] = cpu_between(sampler.between(first - 1, done + 3))
        figures["benchmark_cpu_s_wake_window"] = round(bench_cpu, 2)  # its watches, mostly

        during_creation = writes_created - writes_before
        mine = 3 * count  # an Execution, a Suspension, a status patch per sleeper
        figures["controller_kontinue_writes_during_creation"] = (
            during_creation["executions"] + during_creation["suspensions"] - mine
        )
        wake_writes = writes_end - writes_created
        figures["api_writes_during_wakeups"] = {k: v for k, v in sorted(wake_writes.items()) if v}
        audited = audited_writes(cluster.logs_dir / "audit.log", "")
        bench = "kontinue-bench-sleepers "
        figures["kontinue_writes_audited"] = {
            k: v for k, v in sorted(audited.items()) if not k.startswith(bench)
        }
        kontinue_ok = sum(
            v
            for k, v in audited.items()
            if k.startswith("kontinue-controller ") and k.endswith((" 200", " 201"))
        )
        figures["controller_kontinue_writes_per_sleeper"] = round(kontinue_ok / count, 2)
        figures["controller_writes_incl_events_per_sleeper"] = round(
            (kontinue_ok + wake_writes["events"]) / count, 2
        )
        for informer in watchers:
            if informer.relists > 1:
                notes.append(f"{informer.name}: listed {informer.relists} times (a watch expired)")

        width = max(len(k) for k in figures)
        print("kontinue sleepers benchmark (local control plane, this machine)")
        for key, value in figures.items():
            print(f"  {key:<{width}}  {value}")
        for note in notes:
            print(f"  note: {note}")
        print(f"  controller log: {controller_log}")
        print(json.dumps(figures))
        return 0
    finally:
        stop.set()
        if controller is not None:
            code = stop_controller(controller)
            if code not in (0, None):
                print(f"controller exited with {code}; log: {controller_log}", file=sys.stderr)
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
