"""The worker: claims Pending executions of its group and runs them, many at once.

Claim protocol: a watch (two field-selected watches: phase Pending, and no phase yet) feeds the
candidates; a free slot takes the oldest candidate whose function this worker serves and claims
it with one status write conditional on the resourceVersion it saw: phase Executing, this
worker's name, the claim counter + 1. A conflict means another worker (or a change) won; the
watch brings the candidate back if it is still Pending. Every later write is fenced (see
:mod:`kontinue_worker.journal`). An execution asked to cancel is never claimed (the controller
cancels it), nor one waiting for a mutex or a function slot the controller has not granted.

Versions: the first claim pins an execution to this worker's version (``status.workerVersion``,
part of the claim's one write); a worker claims only executions pinned to its own version, to
none yet (unless it drains: no new work), or to a version it upgrades (``upgrade_from``, see
:mod:`kontinue.api.worker_versions`). A Pending execution that no live worker claims because of
its version is noted as waiting for a worker of that version.

A third watch (``status.workerName`` = this worker's pod) tells a running attempt at once when
its execution is canceled, or when the controller ends the attempt (a timeout) or hands it to
another worker: the attempt unwinds at its next step boundary and writes nothing more.

Nothing is left Executing under this pod without a live attempt: the same watch feeds a
reconciler that hands back (phase Pending) every execution Executing under this pod that no
attempt of this process runs, whether a predecessor process (a container restarted in the same
pod) held it, or an attempt ended without its outcome written (the API server was out of reach
for longer than the patience). Transient API failures are retried (see
:mod:`kontinue_worker.patience`), never turned into a failed attempt.

Graceful shutdown (SIGTERM): stop claiming, give running attempts a grace period, then release
what is still running (back to Pending) and delete the Lease.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kontinue import errors
from kontinue.api import labels, leases, transitions, worker_versions
from kontinue.api.phases import Phase, execution_phase
from kontinue.api.slim import slim
from kontinue.api.timestamps import format_time, parse_time
from kontinue.client import kubeapi
from kontinue.client.informer import Informer
from kontinue.engine.outcomes import Outcome, finish_status
from kontinue.engine.registry import FunctionRegistry
from kontinue.engine.run import run_attempt
from kontinue.telemetry import execution_metrics, json_logs
from kontinue_worker import claim_record, leasing, metrics, registration
from kontinue_worker.attempt_trace import AttemptTrace
from kontinue_worker.claims import holds
from kontinue_worker.holdings import Holdings
from kontinue_worker.jobpods import JobPodDefaults
from kontinue_worker.journal import KubeJournal
from kontinue_worker.patience import DEFAULT_PATIENCE
from kontinue_worker.waiting import WaitHub

log = logging.getLogger(__name__)


@dataclass
class WorkerConfig:
    """Settings of one worker process."""

    name: str
    namespaces: list[str]
    group: str = "default"
    concurrency: int = 16
    hold: float = 30.0
    lease_duration: int = 15
    grace: float = 20.0
    job_steps: bool = True
    """Whether this worker may run Job steps (watches Jobs); without, a Job step fails."""
    patience: float = DEFAULT_PATIENCE
    """Seconds an API operation of an attempt rides out transient failures."""
    identity: str = ""
    """This process's identity (default: ``name`` plus a suffix drawn at start)."""
    version: str = ""
    """Its version: reported in the Functions it serves, recorded by its first claims
    (default: see :func:`kontinue_worker.registration.worker_version`)."""
    upgrade_from: frozenset[str] = frozenset()
    """Versions whose executions it claims as well, moving them to its own ("*": any)."""
    drain: bool = False
    """Take no new executions: only finish those pinned to its version (an old version)."""
    all_namespaces: bool = False
    """Serve executions in every namespace; ``namespaces`` then holds only its home namespace,
    where its Lease and Functions live (labelled with the cluster scope)."""
    job_pods: JobPodDefaults = field(default_factory=JobPodDefaults)
    """ServiceAccount and token mount of job-step pods that do not say."""

    def __post_init__(self) -> None:
        if not self.identity:
            self.identity = leasing.process_identity(self.name)

    def watched(self) -> list[str | None]:
        """The namespaces its watches cover (None: all of them)."""
        return [None] if self.all_namespaces else list(self.namespaces)


_NOT_CANDIDATES = tuple(phase.value for phase in Phase if phase != Phase.PENDING)
"""Phases a worker never claims from: what is left is Pending and no phase yet."""


class Worker:
    """One worker process serving the functions of ``registry``."""

    def __init__(
        self, kube: kubeapi.Kube, registry: FunctionRegistry, config: WorkerConfig
    ) -> None:
        self.kube = kube
        self.registry = registry
        self.config = config
        self.identity = config.identity
        self.version = registration.worker_version(config.version or None)
        self.versions = worker_versions.Claims(self.version, config.upgrade_from, config.drain)
        """Which executions it claims, by the version they are pinned to."""
        self.stop_event = threading.Event()
        self._claiming = threading.Event()
        self._claiming.set()
        self._cond = threading.Condition()
        self._candidates: dict[tuple[str, str], dict[str, Any]] = {}
        self._leases: dict[tuple[str, str], dict[str, Any]] = {}
        self._unserved_noted: dict[tuple[str, str], str] = {}
        self._holdings: Holdings[KubeJournal] = Holdings()
        """Executions this process claims or runs: the reconciler leaves them alone."""
        self._orphans: dict[tuple[str, str], str] = {}
        """Executing under this pod, unheld, as last seen (resourceVersion): released next."""
        self._seen_pending: dict[tuple[str, str], float] = {}
        self._busy = 0
        metrics.WORKER_SLOTS.labels(state="busy").set_function(lambda: self._busy)
        metrics.WORKER_SLOTS.labels(state="free").set_function(
            lambda: config.concurrency - self._busy
        )
        self._slots = threading.Semaphore(config.concurrency)
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="run")
        self.hub = WaitHub(
            kube, config.watched(), config.group, self.stop_event, jobs=config.job_steps
        )
        self.lease = leasing.LeaseKeeper(
            kube, config.namespaces, worker=config.name, identity=self.identity,
            group=config.group, functions=registry.names(), duration=config.lease_duration,
            stop=self.stop_event, cluster_scope=config.all_namespaces,
            versions=self.versions,
        )  # fmt: skip
        self._informers: list[Informer[dict[str, Any]]] = []
        self._own: list[Informer[dict[str, Any]]] = []
        self._threads: list[threading.Thread] = []
        self.reconcile_interval = max(1.0, config.lease_duration / 3)
        self.lost = threading.Event()
        """Set when another process took this worker's Lease over: this one must exit."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, abort: threading.Event | None = None) -> None:
        """Take the Lease, register, start the watches, the reconciler and the dispatcher.

        Transient API failures at start are retried until they pass or ``abort`` is set.
        """
        abort = abort or self.stop_event
        self._until_done("taking the worker lease", self.lease.acquire, abort)
        for namespace in self.config.namespaces:
            self._until_done(
                f"registering the functions in {namespace}",
                functools.partial(
                    registration.register, self.kube, namespace, list(self.registry),
                    worker_group=self.config.group, worker=self.config.name,
                    version=self.version, upgrade_from=self.config.upgrade_from,
                    drain=self.config.drain,
                    cluster_scope=self.config.all_namespaces,
                ),
                abort,
            )  # fmt: skip
        self.lease.start()
        self.hub.start()
        not_candidates = ",".join(f"status.phase!={phase}" for phase in _NOT_CANDIDATES)
        for scope in self.config.watched():  # None: every namespace (--all-namespaces)
            self._informers.append(
                Informer(
                    self.kube,
                    kubeapi.EXECUTIONS,
                    scope,
                    field_selector=f"spec.workerGroup={self.config.group},{not_candidates}",
                    transform=slim,
                    on_event=self._candidate,
                    stop=self.stop_event,
                    name=f"pending-{scope or '*'}",
                )  # fmt: skip
            )
            own: Informer[dict[str, Any]] = Informer(
                self.kube, kubeapi.EXECUTIONS, scope,
                field_selector=f"status.workerName={self.config.name}", transform=slim,
                on_event=self._own_event, stop=self.stop_event, name=f"own-{scope or '*'}",
            )  # fmt: skip
            self._own.append(own)
            self._informers.append(own)
            self._informers.append(
                Informer(
                    self.kube,
                    kubeapi.LEASES,
                    scope,
                    label_selector=f"{labels.WORKER_GROUP}={self.config.group}",
                    on_event=self._lease_event,
                    stop=self.stop_event,
                    name=f"leases-{scope or '*'}",
                )  # fmt: skip
            )
        for informer in self._informers:
            informer.start()
        for target, name in ((self._dispatch, "dispatch"), (self._reconcile, "reconcile"),
                             (self._watch_lease, "lease-watch")):  # fmt: skip
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info(
            "worker %s (process %s) serving %s in %s (group %s, concurrency %d, version %s%s)",
            self.config.name,
            self.identity,
            ", ".join(self.registry.names()),
            "every namespace" if self.config.all_namespaces else ", ".join(self.config.namespaces),
            self.config.group,
            self.config.concurrency,
            self.version,
            (
                f", upgrading {', '.join(sorted(self.config.upgrade_from))}"
                if self.config.upgrade_from
                else ""
            )
            + (", draining: no new executions" if self.config.drain else ""),
        )

    @staticmethod
    def _until_done(what: str, call: Callable[[], object], abort: threading.Event) -> None:
        backoff = kubeapi.Backoff(first=0.5, cap=10.0)
        while True:
            try:
                call()
                return
            except (kubeapi.Unreachable, kubeapi.ServerError, kubeapi.Conflict) as exc:
                log.warning("%s failed (%s); retrying", what, exc)
                if backoff.sleep(abort):
                    raise

    def _watch_lease(self) -> None:
        """Stop serving when another process took this worker's Lease over."""
        while not self.stop_event.is_set():
            if self.lease.lost.wait(1.0):
                self._claiming.clear()
                for journal in self._holdings.journals():
                    journal.canceled.set()  # its writes are fenced anyway: unwind now
                self.lost.set()
                return

    def shutdown(self) -> None:
        """Stop claiming, let running attempts finish within the grace period, release the rest."""
        self._claiming.clear()
        deadline = time.monotonic() + self.config.grace
        while self._holdings.journals() and time.monotonic() < deadline:
            time.sleep(0.1)
        for journal in self._holdings.journals():
            journal.canceled.set()  # unwinds at the next step boundary
            journal.patience = min(journal.patience, 5.0)
            try:
                journal.write(transitions.release(f"worker {self.config.name} shut down; resuming"))
            except (errors.WorkflowInterrupt, errors.KontinueError):
                pass  # the Lease's deletion (or expiry) hands it back through the controller
        self.stop_event.set()
        self.hub.notify_all()
        with self._cond:
            self._cond.notify_all()
        for informer in self._informers:
            informer.stop()
        self.lease.release()
        if not self.lost.is_set():  # a successor under this name registered itself
            for namespace in self.config.namespaces:
                registration.deregister(
                    self.kube, namespace, list(self.registry),
                    worker_group=self.config.group, worker=self.config.name,
                )  # fmt: skip
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- candidates --------------------------------------------------------------------------

    def _candidate(self, event: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        with self._cond:
            if (
                event == "DELETED"
                or execution_phase(obj) != Phase.PENDING
                or (obj.get("spec") or {}).get("cancel")
                or not self._admitted(obj)
            ):
                self._candidates.pop(key, None)
                if event == "DELETED" or execution_phase(obj) != Phase.PENDING:
                    self._seen_pending.pop(key, None)
            else:
                self._seen_pending.setdefault(key, time.monotonic())
                self._candidates[key] = obj
            self._cond.notify_all()

    def _admitted(self, obj: dict[str, Any]) -> bool:
        """Whether the controller granted what the execution needs to run (see admission)."""
        spec = obj.get("spec") or {}
        grants = (obj.get("status") or {}).get("grants") or {}
        mutex = (spec.get("mutex") or {}).get("name")
        if mutex and grants.get("mutex") != mutex:
            return False
        definition = self.registry.get(spec.get("function", ""))
        return not (definition is not None and definition.concurrency and not grants.get("slot"))

    def _own_event(self, event: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        journal = self._holdings.journal(key)
        if journal is not None:
            journal.observe(obj, gone=event == "DELETED")

    def _lease_event(self, event: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event == "DELETED":
            self._leases.pop(key, None)
        else:
            self._leases[key] = obj
        with self._cond:
            self._cond.notify_all()

    def _live_servers(
        self, namespace: str, function: str, claiming: dict[str, Any] | None = None
    ) -> bool:
        """Whether a live worker serves ``function`` (and would claim execution ``claiming``)."""
        now = datetime.now(UTC)
        pinned = worker_versions.recorded(claiming) if claiming is not None else None
        started = claiming is None or worker_versions.started(claiming)
        return any(
            (ns == namespace or leasing.cluster_scoped(lease))
            and not leases.lease_expired(lease, now)
            and function in leasing.served_functions(lease)
            and leasing.claims(lease, pinned, started=started)
            for (ns, _), lease in list(self._leases.items())
        )

    def _claimable(self, obj: dict[str, Any]) -> bool:
        """Whether this worker claims ``obj`` by its version (pinned to it, to none, upgraded)."""
        return self.versions.claims_execution(obj)

    # -- reconciling ---------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Hand back what is Executing under this pod without an attempt of this process."""
        while not self.stop_event.wait(self.reconcile_interval):
            try:
                self.reconcile_once()
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("reconciling this worker's executions failed")

    def reconcile_once(self) -> None:
        """One pass: release orphans seen twice in a row (a predecessor's at once)."""
        seen: dict[tuple[str, str], str] = {}
        for informer in self._own:
            for obj in informer.items():
                meta, status = obj["metadata"], obj.get("status") or {}
                key = (meta["namespace"], meta["name"])
                if execution_phase(obj) != Phase.EXECUTING or status.get("workerName") != (
                    self.config.name
                ):
                    continue
                if self._holdings.holds(key):
                    continue
                version = str(meta.get("resourceVersion"))
                predecessor = status.get("workerId") not in (None, self.identity)
                if predecessor or self._orphans.get(key) == version:
                    self._release_orphan(obj, predecessor)
                else:
                    seen[key] = version
        self._orphans = seen

    def _release_orphan(self, obj: dict[str, Any], predecessor: bool) -> None:
        meta, status = obj["metadata"], obj.get("status") or {}
        if predecessor:
            message = (
                f"worker {self.config.name} restarted: its previous process "
                f"{status.get('workerId')} stopped; resuming"
            )
        else:
            message = (
                f"worker {self.config.name} lost the attempt before its outcome was written; "
                "resuming"
            )
        try:
            self.kube.merge_patch(
                kubeapi.EXECUTIONS,
                meta["namespace"],
                meta["name"],
                {"status": transitions.release(message)},
                subresource="status",
                resource_version=meta["resourceVersion"],
            )
        except (kubeapi.Conflict, kubeapi.NotFound):
            return  # it changed meanwhile: the watch brings the news
        except (kubeapi.ApiError, kubeapi.Unreachable) as exc:
            log.warning("handing back %s failed (%s); next pass", meta["name"], exc)
            return
        log.info("execution %s/%s handed back: %s", meta["namespace"], meta["name"], message)

    # -- dispatch ----------------------------------------------------------------------------

    def _next(self) -> dict[str, Any] | None:
        """One of the oldest served candidates, chosen by worker name.

        Spreading the choice keeps every worker from racing for the very same execution.
        """
        served = [
            obj
            for obj in self._candidates.values()
            if self.registry.get((obj.get("spec") or {}).get("function", "")) is not None
            and self._claimable(obj)
        ]
        if not served:
            return None
        served.sort(key=lambda o: (o["metadata"]["creationTimestamp"], o["metadata"]["name"]))
        window = served[: max(1, min(len(served), 8))]
        return window[zlib.crc32(self.identity.encode()) % len(window)]

    def _dispatch(self) -> None:
        while not self.stop_event.is_set():
            with self._cond:
                candidate = self._next() if self._claiming.is_set() else None
                if candidate is None:
                    unserved = [
                        o
                        for o in self._candidates.values()
                        if self.registry.get((o.get("spec") or {}).get("function", "")) is None
                        or not self._claimable(o)
                    ]
                    self._cond.wait(timeout=2.0)
                else:
                    key = (candidate["metadata"]["namespace"], candidate["metadata"]["name"])
                    self._candidates.pop(key, None)
                    unserved = []
            for obj in unserved:
                self._note_unserved(obj)
            if candidate is None:
                continue
            self._acquire_slot()
            if self.stop_event.is_set() or not self._claiming.is_set():
                self._release_slot()
                continue
            claimed = self._claim(candidate)
            if claimed is None:
                self._release_slot()
                continue
            self._pool.submit(self._run, claimed)

    def _acquire_slot(self) -> None:
        self._slots.acquire()
        with self._cond:
            self._busy += 1

    def _release_slot(self) -> None:
        with self._cond:
            self._busy -= 1
        self._slots.release()

    def _claim(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Claim with one conditional status write; None when another worker won.

        The execution counts as held from before the write, so the reconciler never hands
        back a claim in flight. A write whose answer was lost is settled by a re-read.
        """
        meta, status = obj["metadata"], obj.get("status") or {}
        key = (meta["namespace"], meta["name"])
        moment = datetime.now(UTC)
        now = format_time(moment)
        patch = transitions.claim(
            status,
            worker=self.config.name,
            identity=self.identity,
            attempt=claim_record.attempt_number(obj),
            now=moment,
            version=self.version,
        )
        claim = int(patch["claim"])
        self._holdings.take(key, claim)
        claimed: dict[str, Any] | None = None
        definition = self.registry.get(self._function_of(obj))
        try:
            claimed = self.kube.json_patch(  # the patch, the policy and the running attempt
                kubeapi.EXECUTIONS,
                meta["namespace"],
                meta["name"],
                claim_record.claim_operations(obj, patch, definition, self.config.name, now),
                subresource="status",
                resource_version=meta["resourceVersion"],
            )
        except (kubeapi.Conflict, kubeapi.NotFound):
            metrics.CLAIM_CONFLICTS.labels(function=self._function_of(obj)).inc()
        except (kubeapi.Unreachable, kubeapi.ServerError) as exc:
            claimed = self._settle_claim(meta["namespace"], meta["name"], claim, exc)
        except kubeapi.ApiError:
            log.exception("claiming %s failed", meta["name"])
        if claimed is None:
            self._holdings.let_go(key, claim)
            return None
        self._count_claim(obj, first=claim == 1)
        pinned = worker_versions.recorded(obj)
        if pinned is not None and pinned != self.version:
            log.info("execution %s/%s upgraded from version %s to %s", *key, pinned, self.version)
        return claimed

    def _settle_claim(
        self, namespace: str, name: str, claim: int, error: BaseException
    ) -> dict[str, Any] | None:
        """After a claim without an answer: the execution if the claim landed, else None."""
        try:
            current = self.kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
        except (kubeapi.ApiError, kubeapi.Unreachable):
            log.warning("claiming %s: %s; the reconciler settles it", name, error)
            return None  # if it landed, the reconciler hands it back
        if current is not None and holds(current, self.identity, claim):
            return current
        return None

    @staticmethod
    def _function_of(obj: dict[str, Any]) -> str:
        return str((obj.get("spec") or {}).get("function") or "")

    def _count_claim(self, obj: dict[str, Any], *, first: bool) -> None:
        """Claim latency (from creation for a first claim), starts and resumptions."""
        meta = obj["metadata"]
        function = self._function_of(obj)
        seen = self._seen_pending.pop((meta["namespace"], meta["name"]), None)
        created = parse_time((meta.get("annotations") or {}).get(labels.CREATED))
        if first and created is not None:
            latency = (datetime.now(UTC) - created).total_seconds()
        else:
            latency = time.monotonic() - seen if seen is not None else 0.0
        metrics.CLAIM_LATENCY.labels(function=function).observe(max(0.0, latency))
        if first:
            metrics.EXECUTIONS_STARTED.labels(function=function).inc()
        else:
            metrics.RESUMPTIONS.labels(function=function).inc()

    def _note_unserved(self, obj: dict[str, Any]) -> None:
        """Say why a Pending execution this worker does not claim waits, if no one claims it.

        No live worker serves its function, or none of the version it is pinned to.
        """
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        function = (obj.get("spec") or {}).get("function", "")
        pinned = worker_versions.recorded(obj)
        if self.registry.get(function) is None:
            if self._live_servers(namespace, function):
                return
            message = (
                f"no live worker in group {self.config.group!r} serves function "
                f"{function!r}; waiting for one to register it"
            )
        elif self._live_servers(namespace, function, obj):
            return
        elif pinned is None:
            message = (
                f"waits for a worker that takes new executions: the live workers in group "
                f"{self.config.group!r} serving {function!r} only drain their versions"
            )
        else:
            message = (
                f"waits for a worker of version {pinned!r}: it started on that version and "
                f"no live worker in group {self.config.group!r} serves {function!r} at it "
                f"(this one is {self.version!r}; one run with --upgrade-from {pinned} "
                "would take it over)"
            )
        if (obj.get("status") or {}).get("message") == message:
            return
        if self._unserved_noted.get((namespace, name)) == obj["metadata"]["resourceVersion"]:
            return
        self._unserved_noted[(namespace, name)] = obj["metadata"]["resourceVersion"]
        try:
            self.kube.merge_patch(
                kubeapi.EXECUTIONS,
                namespace,
                name,
                {"status": transitions.note(message)},
                subresource="status",
                resource_version=obj["metadata"]["resourceVersion"],
            )
        except (kubeapi.ApiError, kubeapi.Unreachable):
            pass

    def _record_breakdown(
        self, execution: dict[str, Any], journal: KubeJournal | None, exc: Exception
    ) -> None:
        """End an attempt the worker itself could not run or record (a retryable failure).

        If even that cannot be written, the reconciler hands the execution back later.
        """
        error: errors.KontinueError = (
            exc
            if isinstance(exc, errors.ValidationError)  # a history that cannot be trusted
            else errors.InfrastructureError(
                f"the worker could not run or record the attempt: {exc}"
            )
        )
        outcome = Outcome("failed", error=error)
        try:
            if journal is not None:
                journal.finish(outcome)
                return
            meta = execution["metadata"]
            self.kube.merge_patch(
                kubeapi.EXECUTIONS,
                meta["namespace"],
                meta["name"],
                {"status": finish_status(outcome, execution, datetime.now(UTC))},
                subresource="status",
                resource_version=meta["resourceVersion"],
            )
        except BaseException:  # noqa: BLE001 - the reconciler hands it back
            log.exception(
                "could not record the failure of %s; it is handed back later",
                execution["metadata"]["name"],
            )

    # -- running -----------------------------------------------------------------------------

    def _run(self, execution: dict[str, Any]) -> None:
        key = (execution["metadata"]["namespace"], execution["metadata"]["name"])
        attempt = AttemptTrace(execution, self.config.name)
        running = metrics.EXECUTIONS_RUNNING.labels(
            function=attempt.function, namespace=key[0], worker=self.config.name
        )
        running.inc()
        try:
            with (
                json_logs.execution_scope(key[0], key[1], attempt.function),
                attempt.active(),
            ):
                self._attempt(execution, key, attempt)
        finally:
            running.dec()
            # the same execution may be claimed again (released, woken, claimed back) before
            # this attempt has let go: only this claim's own entries go
            self._holdings.let_go(key, int(execution["status"]["claim"]))
            self._release_slot()
            with self._cond:
                self._cond.notify_all()

    def _attempt(
        self, execution: dict[str, Any], key: tuple[str, str], attempt: AttemptTrace
    ) -> None:
        """Run one claim, record how it ended, and report it (metrics, spans)."""
        journal: KubeJournal | None = None
        try:
            journal = KubeJournal(
                self.kube, execution, worker=self.identity, hub=self.hub,
                patience=self.config.patience, stop=self.stop_event,
                job_pods=self.config.job_pods,
            )  # fmt: skip
            if not self._holdings.run(key, journal):
                # claimed again by this process (a takeover, then a claim) while this thread
                # was still loading the journal: the later claim runs it
                raise errors.Fenced("a later claim of this process holds the execution")
            definition = self.registry.get(execution["spec"]["function"])
            assert definition is not None
            outcome = run_attempt(
                definition,
                journal,
                hold=self.config.hold,
                logger=logging.getLogger(f"kontinue.workflow.{key[1]}"),
                observer=attempt,
            )
            if outcome.kind == "canceled" and not self._claiming.is_set():
                attempt.end("shutdown")
                return  # released by shutdown (or a lost Lease), not canceled by a user
            if journal.taken is not None:
                log.info("execution %s/%s stopped: %s", *key, journal.taken)
                attempt.end(*_taken_outcome(journal))
                return
            journal.finish(outcome)
            attempt.end(outcome.kind, outcome.error)
            if execution_phase(dict(journal.execution())).terminal:
                execution_metrics.record_finished(journal.execution(), worker=self.config.name)
            if outcome.kind == "canceled":
                log.info("execution %s/%s stopped: canceled (%s)", *key, outcome.message)
            if outcome.kind == "failed":
                log.info("execution %s/%s attempt failed: %s", *key, outcome.error)
            if outcome.kind == "interrupted":
                log.warning("execution %s/%s handed back: %s", *key, outcome.message)
        except errors.Fenced:
            attempt.end("fenced")
            log.warning("execution %s/%s fenced: another worker holds it", *key)
        except errors.Interrupted as exc:
            attempt.end("interrupted")
            log.warning("execution %s/%s interrupted (%s); handed back later", *key, exc)
        except Exception as exc:  # noqa: BLE001 - a worker never dies of one execution
            log.exception("execution %s/%s could not be run or finished", *key)
            attempt.end("broken", exc)
            self._record_breakdown(execution, journal, exc)


def _taken_outcome(journal: KubeJournal) -> tuple[str, str | None]:
    """How a claim the controller ended ended: a takeover, a cancellation or a timeout."""
    phase = journal.taken_phase
    if phase in (Phase.PENDING, "gone"):
        return "taken", None
    if phase == Phase.CANCELED:
        return "canceled", None
    return "failed", journal.taken
