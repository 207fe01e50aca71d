"""The fault campaign: a mixed workload under faults of every type, bad input, and the checks.

A campaign runs on a control plane of its own (etcd with fsync, as in production), since some
faults pause and restart etcd and the API server. Two workers reach the API server through one
fault proxy and two controller replicas (a leader and a standby) through another; a supervisor
restarts any of them that exits, as a kubelet would. While the load runs, a fault of the next
type is injected every ``fault_interval`` seconds, and bad input is sent alongside.

The checker then requires, for every execution:

- lost: never terminal by the end of the drain;
- wedged: terminal, but later than its bound (its nominal end, or the end of the faults if
  later, plus ``wedge_bound``);
- mismatched: terminal in another phase or with another result than the fault-free reference;
- duplicated: a committed step whose effect ran again after its commit (the ledger), or a job
  step with more than one Job;
- inflight_reruns: runs of a step before its committed run (allowed: at least once for the step
  in flight);

and counts crashes: a component that exited without being made to, or a thread that died.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bad_inputs import BadInputs
from ledger import check_effects, committed_values, read_ledger

from kontinue import ExecuteOptions, RetryOptions
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import Client, Informer, kubeapi
from kontinue.devcluster import LocalCluster, find_testbin
from kontinue_testkit.faultproxy import FaultProxy, proxied_kubeconfig
from kontinue_testkit.pytest_plugin import WorkerProcess, spawn_with_env

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).parent / "flows"
NAMESPACE = "campaign"
CONTROLLER_LEASE = 4
WORKER_LEASE = 6

log = logging.getLogger("campaign")


@dataclass(frozen=True)
class Profile:
    """How big a campaign is."""

    name: str
    executions: int
    """Workload executions created (children come on top)."""
    load_seconds: float
    """Over how long they are created; faults are injected during that time."""
    fault_interval: float
    """Seconds between two faults."""
    bad_inputs: int
    """Bad inputs generated and sent."""
    workers: int = 2
    concurrency: int = 20
    wedge_bound: float = 180.0
    drain_seconds: float = 420.0


SHORT = Profile("short", executions=90, load_seconds=110, fault_interval=5.0, bad_inputs=30)
LONG = Profile("long", executions=1100, load_seconds=1500, fault_interval=9.0, bad_inputs=300)

FAULTS = (
    "worker-kill",
    "worker-restart",
    "worker-pause",
    "worker-drop",
    "controller-drop",
    "apiserver-pause",
    "apiserver-restart",
    "etcd-pause",
    "etcd-restart",
    "leader-kill",
    "leader-pause",
)


@dataclass
class Planned:
    """One workload execution: what it runs and what it must end as."""

    name: str
    function: str
    arguments: dict[str, Any]
    phase: Phase
    result: Any
    nominal: float
    """Seconds it takes without faults (roughly)."""
    created: float = 0.0
    options: ExecuteOptions | None = None


def plan(index: int, rng: random.Random) -> Planned:
    """The ``index``-th execution of the mix, with its reference outcome."""
    shape = rng.choices(
        ["steps", "parent", "fanout", "sleeper", "approval", "job", "retry", "fails"],
        weights=[30, 10, 10, 15, 10, 10, 10, 5],
    )[0]
    name = f"{shape}-{index}"
    if shape == "steps":
        n, k = rng.randint(4, 10), rng.randint(1, 9)
        args = {"n": n, "k": k, "pause": 0.2}
        return Planned(name, "rel-steps", args, Phase.COMPLETED, k * n * (n - 1) // 2, 0.3 * n)
    if shape == "parent":
        return Planned(name, "rel-parent", {"children": 2}, Phase.COMPLETED, [1, 3, 6, 2], 4)
    if shape == "fanout":
        return Planned(name, "rel-fanout", {"width": 3}, Phase.COMPLETED, [0, 1, 2, 3], 4)
    if shape == "sleeper":
        seconds = rng.randint(2, 8)
        return Planned(name, "rel-sleeper", {"seconds": seconds}, Phase.COMPLETED, 3, seconds)
    if shape == "approval":
        payload = {"approved": True, "by": "campaign"}
        return Planned(name, "rel-approval", {}, Phase.COMPLETED, {"approved": payload}, 5)
    if shape == "job":
        return Planned(name, "rel-job", {"seconds": 1}, Phase.COMPLETED, {"succeeded": True}, 4)
    if shape == "retry":
        retry = ExecuteOptions(retry=RetryOptions(retries=2, backoff="1s"))
        return Planned(name, "rel-retry", {}, Phase.COMPLETED, 8, 3, options=retry)
    return Planned(name, "rel-fails", {}, Phase.FAILED, None, 1)


class Supervised:
    """A component process the supervisor keeps running (a pod's restart policy)."""

    def __init__(self, name: str, start: Callable[[int], WorkerProcess]) -> None:
        self.name = name
        self._start = start
        self.restarts = 0
        self.process = start(0)
        self.expected_exit = False
        """Set by a fault that kills (or makes exit) the process on purpose."""
        self.restart_delay = 1.0
        """Seconds the supervisor waits before the next restart (0: at once)."""

    def restart(self) -> None:
        """Start the process again (a container restart in the same pod)."""
        self.restarts += 1
        self.process = self._start(self.restarts)
        self.expected_exit = False
        self.restart_delay = 1.0

    def kill(self, restart_delay: float) -> None:
        """Kill -9 on purpose; the supervisor starts it again after ``restart_delay``."""
        self.restart_delay = restart_delay
        self.expected_exit = True
        self.process.signal(signal.SIGCONT)
        self.process.kill()


@dataclass
class Summary:
    """The campaign's figures."""

    executions: int = 0
    faults: int = 0
    lost: int = 0
    wedged: int = 0
    duplicated: int = 0
    inflight_reruns: int = 0
    invalid_inputs: int = 0
    crashes: int = 0
    mismatched: int = 0
    fault_types: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one summary line."""
        return (
            f"executions={self.executions} faults={self.faults} lost={self.lost} "
            f"wedged={self.wedged} duplicated={self.duplicated} "
            f"inflight_reruns={self.inflight_reruns} invalid_inputs={self.invalid_inputs} "
            f"crashes={self.crashes}"
        )


class Campaign:
    """One run of a profile, from an empty control plane to the summary."""

    def __init__(self, profile: Profile, workdir: Path, seed: int = 14) -> None:
        self.profile = profile
        self.workdir = workdir
        self.rng = random.Random(seed)
        self.summary = Summary()
        self.stop = threading.Event()
        self.faults_over = threading.Event()
        self.fault_log: list[tuple[float, str, str]] = []
        self.faults_ended_at = 0.0
        self.finished: dict[str, tuple[float, str]] = {}
        self.planned: dict[str, Planned] = {}
        self.accepted_bad: dict[str, float] = {}
        self.components: list[Supervised] = []
        self._lock = threading.Lock()
        self.errors: list[str] = []
        self.bad_problems: list[str] = []
        self._keeper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cluster-keeper")

    # -- set-up -------------------------------------------------------------------------------

    def start(self) -> None:
        """Control plane, proxies, workers and controllers."""
        self.ledger = self.workdir / "ledger"
        self.ledger.mkdir(parents=True)
        self.cluster = LocalCluster(
            find_testbin(), self.workdir / "cluster", log=lambda _line: None, fsync=True
        )
        self.cluster.start()
        self.cluster.install_crds(sorted((ROOT / "crds").glob("*.yaml")))
        self.client = Client(namespace=NAMESPACE, kubeconfig=str(self.cluster.kubeconfig))
        self.client.kube.create(
            kubeapi.Resource("/api/v1", "namespaces"),
            None,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        target = ("127.0.0.1", self.cluster.ports["apiserver"])
        self.worker_proxy = FaultProxy(target)
        self.controller_proxy = FaultProxy(target)
        self.worker_kubeconfig = proxied_kubeconfig(
            self.cluster.kubeconfig, self.worker_proxy, self.workdir / "workers.kubeconfig"
        )
        self.controller_kubeconfig = proxied_kubeconfig(
            self.cluster.kubeconfig, self.controller_proxy, self.workdir / "controllers.kubeconfig"
        )
        for index in range(2):
            self.components.append(Supervised(f"c-{index}", self._controller(f"c-{index}")))
        for index in range(self.profile.workers):
            self.components.append(Supervised(f"w-{index}", self._worker(f"w-{index}")))
        self._wait_serving()
        self.tracker: Informer[dict[str, Any]] = Informer(
            self.client.kube,
            kubeapi.EXECUTIONS,
            NAMESPACE,
            on_event=self._tracked,
            name="campaign-tracker",
        ).start()

    def _env(self, kubeconfig: Path) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "PYTHONUNBUFFERED": "1",
            "KONTINUE_LEDGER": str(self.ledger),
        }

    def _worker(self, pod: str) -> Callable[[int], WorkerProcess]:
        def start(restarts: int) -> WorkerProcess:
            command = [
                sys.executable, "-m", "kontinue_worker", "--module", "reliability_flows",
                "--path", str(FLOWS), "--namespace", NAMESPACE, "--name", pod,
                "--concurrency", str(self.profile.concurrency), "--hold", "3",
                "--lease-duration", str(WORKER_LEASE), "--grace", "5", "--metrics-port", "0",
            ]  # fmt: skip
            log_path = self.workdir / f"{pod}.{restarts}.log"
            return spawn_with_env(command, self._env(self.worker_kubeconfig), pod, log_path)

        return start

    def _controller(self, pod: str) -> Callable[[int], WorkerProcess]:
        def start(restarts: int) -> WorkerProcess:
            command = [
                str(Path(sys.executable).parent / "kontinue-controller"),
                "--namespace", NAMESPACE, "--lease-namespace", NAMESPACE,
                "--identity", f"{pod}-{restarts}", "--lease-duration", str(CONTROLLER_LEASE),
                "--metrics-port", "0", "--resync-seconds", "30",
            ]  # fmt: skip
            log_path = self.workdir / f"{pod}.{restarts}.log"
            return spawn_with_env(command, self._env(self.controller_kubeconfig), pod, log_path)

        return start

    def _wait_serving(self) -> None:
        deadline = time.monotonic() + 120
        for component in self.components:
            if not component.name.startswith("w-"):
                continue
            while " serving " not in component.process.log():
                if time.monotonic() > deadline or component.process.process.poll() is not None:
                    log_text = component.process.log()
                    raise RuntimeError(f"{component.name} did not start:\n{log_text}")
                time.sleep(0.2)

    def _tracked(self, event: str, obj: dict[str, Any]) -> None:
        phase = execution_phase(obj)
        if event != "DELETED" and phase.terminal:
            with self._lock:
                self.finished.setdefault(obj["metadata"]["name"], (time.time(), phase.value))

    # -- running -------------------------------------------------------------------------------

    def run(self) -> Summary:
        """The whole campaign; returns the summary (also when a check fails)."""
        threads = [
            threading.Thread(target=self._supervise, name="supervise", daemon=True),
            threading.Thread(target=self._resume_approvals, name="approve", daemon=True),
            threading.Thread(target=self._inject_faults, name="faults", daemon=True),
            threading.Thread(target=self._send_bad_input, name="bad-input", daemon=True),
        ]
        for thread in threads:
            thread.start()
        self._load()
        self.faults_over.wait()
        self._drain()
        self.stop.set()
        for thread in threads:
            thread.join(timeout=120)
        self._check()
        return self.summary

    def _retrying(self, what: str, call: Callable[[], Any], attempts: int = 60) -> Any:
        """The driver's own API calls ride out the faults it injects."""
        for _ in range(attempts):
            try:
                return call()
            except (kubeapi.Unreachable, kubeapi.ServerError):
                time.sleep(1.0)
        raise RuntimeError(f"{what}: the API server stayed out of reach")

    def _load(self) -> None:
        interval = self.profile.load_seconds / self.profile.executions
        started = time.monotonic()
        for index in range(self.profile.executions):
            planned = plan(index, self.rng)
            planned.created = time.time()
            with self._lock:
                self.planned[planned.name] = planned

            def create(p: Planned = planned) -> None:
                try:
                    self.client.create_execution(p.function, p.arguments, p.options, name=p.name)
                except kubeapi.AlreadyExists:
                    pass  # an earlier try landed, its answer did not

            self._retrying(f"creating {planned.name}", create)
            pause = started + (index + 1) * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def _resume_approvals(self) -> None:
        payload = {"approved": True, "by": "campaign"}
        while not self.stop.wait(1.0):
            with self._lock:
                waiting = [
                    p.name
                    for p in self.planned.values()
                    if p.function == "rel-approval"
                    and p.name not in self.finished
                    and time.time() - p.created > 2
                ]
            for name in waiting:
                try:
                    self.client.resume_execution(name, data=payload)
                except (
                    kubeapi.Unreachable,
                    kubeapi.ServerError,
                    kubeapi.Conflict,
                    kubeapi.NotFound,
                ):
                    continue

    def _supervise(self) -> None:
        while not self.stop.wait(0.1):
            for component in self.components:
                process = component.process.process
                if process.poll() is None:
                    continue
                code = process.returncode
                text = component.process.log()
                lost_lead = "lost the leadership" in text[-4000:]
                if not component.expected_exit and not (lost_lead and code == 1):
                    self.summary.crashes += 1
                    self.summary.details.append(
                        f"crash: {component.name} exited with {code}:\n{text[-3000:]}"
                    )
                time.sleep(component.restart_delay)  # a restart delay, as a kubelet keeps one
                component.restart()

    # -- faults --------------------------------------------------------------------------------

    def _inject_faults(self) -> None:
        order = list(FAULTS)
        deadline = time.monotonic() + self.profile.load_seconds
        try:
            while time.monotonic() < deadline and not self.stop.is_set():
                if not order:
                    order = list(FAULTS)
                    self.rng.shuffle(order)
                fault = order.pop(0)
                target = self._fault(fault)
                self.fault_log.append((time.time(), fault, target))
                self.summary.faults += 1
                self.summary.fault_types[fault] += 1
                log.info("fault %s on %s", fault, target)
                self.stop.wait(self.profile.fault_interval)
        except Exception as exc:  # noqa: BLE001 - reported by the check
            self.errors.append(f"fault injection failed: {exc!r}")
        finally:
            self.faults_ended_at = time.time()
            self.faults_over.set()

    def _component(self, prefix: str) -> Supervised:
        return self.rng.choice([c for c in self.components if c.name.startswith(prefix)])

    def _leader(self) -> Supervised:
        lease = self._retrying(
            "reading the leader lease",
            lambda: self.client.kube.get(kubeapi.LEASES, NAMESPACE, "kontinue-controller"),
        )
        holder = str(lease["spec"].get("holderIdentity") or "")
        for component in self.components:
            if holder.startswith(component.name + "-"):
                return component
        return self._component("c-")

    def _fault(self, fault: str) -> str:
        if fault in ("worker-kill", "worker-restart"):
            worker = self._component("w-")
            # restarted under the same pod name: a crash loop's delay, or at once
            worker.kill(restart_delay=3.0 if fault == "worker-kill" else 0.0)
            return worker.name
        if fault == "worker-pause":
            worker = self._component("w-")
            worker.process.signal(signal.SIGSTOP)
            time.sleep(WORKER_LEASE + 3)  # past its lease: the controller takes over
            worker.process.signal(signal.SIGCONT)
            return worker.name
        if fault == "worker-drop":
            self.worker_proxy.refuse(1.0)
            return "workers"
        if fault == "controller-drop":
            self.controller_proxy.refuse(1.0)
            return "controllers"
        if fault in ("apiserver-pause", "etcd-pause"):
            component = "kube-apiserver" if fault == "apiserver-pause" else "etcd"
            self.cluster.pause(component)
            time.sleep(4.0)
            self.cluster.resume(component)
            return component
        if fault in ("apiserver-restart", "etcd-restart"):
            component = "kube-apiserver" if fault == "apiserver-restart" else "etcd"
            # started again from a thread that lives as long as the campaign: a component dies
            # with the thread that started it (PR_SET_PDEATHSIG)
            self._keeper.submit(self.cluster.restart, component).result()
            return component
        if fault == "leader-kill":
            leader = self._leader()
            leader.kill(restart_delay=2.0)  # started again, it campaigns as a standby
            return leader.name
        if fault == "leader-pause":
            leader = self._leader()
            leader.process.signal(signal.SIGSTOP)
            time.sleep(CONTROLLER_LEASE + 3)  # past its leadership: the standby leads
            leader.process.signal(signal.SIGCONT)  # it learns it lost the lead and exits
            return leader.name
        raise ValueError(fault)

    # -- bad input -----------------------------------------------------------------------------

    def _send_bad_input(self) -> None:
        bad = BadInputs(self.client, self.cluster, NAMESPACE, self.workdir)
        try:
            bad.run(self.profile.bad_inputs, self.profile.load_seconds)
        except Exception as exc:  # noqa: BLE001 - reported by the check
            self.errors.append(f"bad input: {exc}")
        self.summary.invalid_inputs = bad.sent
        self.bad_problems = bad.problems
        with self._lock:
            self.accepted_bad.update(bad.accepted)

    # -- the end -------------------------------------------------------------------------------

    def _expected_names(self) -> set[str]:
        with self._lock:
            return set(self.planned) | set(self.accepted_bad)

    def _drain(self) -> None:
        deadline = time.monotonic() + self.profile.drain_seconds
        while time.monotonic() < deadline:
            expected = self._expected_names()
            with self._lock:
                missing = expected - set(self.finished)
            if not missing:
                return
            time.sleep(1.0)

    def _check(self) -> None:
        summary = self.summary
        everything = self._retrying(
            "listing the executions",
            lambda: self.client.kube.list(kubeapi.EXECUTIONS, NAMESPACE)["items"],
        )
        by_name = {e["metadata"]["name"]: e for e in everything}
        summary.executions = len(self.planned) + len(self.accepted_bad)
        for name, planned in self.planned.items():
            self._judge(name, planned.created + planned.nominal, by_name.get(name))
            execution = by_name.get(name)
            if execution is None or name not in self.finished:
                continue
            phase = execution_phase(execution)
            result = (execution.get("status") or {}).get("result")
            if phase != planned.phase or (phase == Phase.COMPLETED and result != planned.result):
                summary.mismatched += 1
                summary.details.append(
                    f"mismatch: {name} ended {phase} with {json.dumps(result)[:200]}, expected "
                    f"{planned.phase} with {json.dumps(planned.result)}"
                )
        for name, created in self.accepted_bad.items():
            self._judge(name, created + 30, by_name.get(name))
        workload = [e for e in everything if str(e["spec"]["function"]).startswith("rel-")]
        values: dict[str, dict[str, Any]] = {}
        for execution in workload:
            values[execution["metadata"]["uid"]] = self._retrying(
                "reading a journal",
                functools.partial(committed_values, self.client.kube, execution),
            )
        effects = check_effects(workload, values, read_ledger(self.ledger))
        summary.duplicated += effects.duplicated
        summary.inflight_reruns += effects.inflight_reruns
        summary.details.extend(effects.details)
        if effects.missing:
            summary.lost += effects.missing
        self._check_jobs()
        self._count_dead_threads()
        summary.details.extend(self.errors)

    def _judge(self, name: str, nominal_end: float, execution: dict[str, Any] | None) -> None:
        bound = max(nominal_end, self.faults_ended_at) + self.profile.wedge_bound
        finished = self.finished.get(name)
        if execution is None or finished is None:
            self.summary.lost += 1
            phase = None if execution is None else execution_phase(execution).value
            message = None if execution is None else (execution.get("status") or {}).get("message")
            self.summary.details.append(f"lost: {name} is {phase or 'gone'} ({message})")
        elif finished[0] > bound:
            self.summary.wedged += 1
            self.summary.details.append(f"wedged: {name} ended {finished[0] - bound:.0f}s late")

    def _check_jobs(self) -> None:
        jobs = self._retrying(
            "listing the jobs", lambda: self.client.kube.list(kubeapi.JOBS, NAMESPACE)["items"]
        )
        per_step = Counter(
            (
                (j["metadata"].get("ownerReferences") or [{}])[0].get("uid"),
                (j["metadata"].get("labels") or {}).get("kontinue.cloud/step"),
            )
            for j in jobs
        )
        for (owner, step), count in per_step.items():
            if count > 1:
                self.summary.duplicated += count - 1
                self.summary.details.append(f"duplicate jobs: {count} for step {step} of {owner}")

    def _count_dead_threads(self) -> None:
        for path in sorted(self.workdir.glob("[cw]-*.log")):
            text = path.read_text(errors="replace")
            dead = text.count("Exception in thread")
            if dead:
                self.summary.crashes += dead
                self.summary.details.append(f"{dead} thread(s) died in {path.name}")

    def close(self) -> None:
        """Stop everything."""
        self.stop.set()
        for component in self.components:
            component.kill(restart_delay=0.0)
        for proxy in (getattr(self, "worker_proxy", None), getattr(self, "controller_proxy", None)):
            if proxy is not None:
                proxy.close()
        if hasattr(self, "tracker"):
            self.tracker.stop()
        if hasattr(self, "cluster"):
            self.cluster.stop()
        self._keeper.shutdown(wait=False)


def new_workdir() -> Path:
    """A fresh directory for a campaign."""
    return Path(tempfile.mkdtemp(prefix="kontinue-campaign-"))
