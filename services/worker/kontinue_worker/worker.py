"""The worker: claims Pending executions of its group and runs them, many at once.

Claim protocol: a watch (two field-selected watches: phase Pending, and no phase yet) feeds the
candidates; a free slot takes the oldest candidate whose function this worker serves and claims
it with one status write conditional on the resourceVersion it saw: phase Executing, this
worker's name, the claim counter + 1. A conflict means another worker (or a change) won; the
watch brings the candidate back if it is still Pending. Every later write is fenced (see
:mod:`kontinue_worker.journal`). An execution asked to cancel is never claimed (the controller
cancels it), nor one waiting for a mutex or a function slot the controller has not granted.

A third watch (``status.workerName`` = this worker) tells a running attempt at once when its
execution is canceled, or when the controller ends the attempt (a timeout) or hands it to
another worker: the attempt unwinds at its next step boundary and writes nothing more.

Graceful shutdown (SIGTERM): stop claiming, give running attempts a grace period, then release
what is still running (back to Pending) and delete the Lease.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kontinue import errors
from kontinue.api import labels, leases
from kontinue.api.phases import Phase, execution_phase
from kontinue.api.timestamps import format_micro_time, format_time, parse_time
from kontinue.client import _kube
from kontinue.telemetry import execution_metrics, json_logs
from kontinue.workflow import FunctionRegistry, Outcome, finish_status, run_attempt
from kontinue_worker import claim_record, leasing, metrics, registration
from kontinue_worker.attempt_trace import AttemptTrace
from kontinue_worker.journal import KubeJournal
from kontinue_worker.waiting import WaitHub
from kontinue_worker.watching import Informer

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
    version: str = ""
    """The version reported in the Functions it serves (default: see registration)."""
    all_namespaces: bool = False
    """Serve executions in every namespace; ``namespaces`` then holds only its home namespace,
    where its Lease and Functions live (labelled with the cluster scope)."""

    def watched(self) -> list[str | None]:
        """The namespaces its watches cover (None: all of them)."""
        return [None] if self.all_namespaces else list(self.namespaces)


class Worker:
    """One worker process serving the functions of ``registry``."""

    def __init__(self, kube: _kube.Kube, registry: FunctionRegistry, config: WorkerConfig) -> None:
        self.kube = kube
        self.registry = registry
        self.config = config
        self.stop_event = threading.Event()
        self._claiming = threading.Event()
        self._claiming.set()
        self._cond = threading.Condition()
        self._candidates: dict[tuple[str, str], dict[str, Any]] = {}
        self._sources: dict[str, set[tuple[str, str]]] = {}
        self._leases: dict[tuple[str, str], dict[str, Any]] = {}
        self._unserved_noted: dict[tuple[str, str], str] = {}
        self._running: dict[tuple[str, str], KubeJournal] = {}
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
            kube, config.namespaces, worker=config.name, group=config.group,
            functions=registry.names(), duration=config.lease_duration, stop=self.stop_event,
            cluster_scope=config.all_namespaces,
        )  # fmt: skip
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Register, take the Lease, start the watches and the dispatcher."""
        self.lease.acquire()
        for namespace in self.config.namespaces:
            registration.register(
                self.kube,
                namespace,
                list(self.registry),
                worker_group=self.config.group,
                worker=self.config.name,
                version=self.config.version or None,
                cluster_scope=self.config.all_namespaces,
            )
        self.lease.start()
        self.hub.start()
        group = f"spec.workerGroup={self.config.group}"
        for scope in self.config.watched():
            for phase in ("Pending", ""):
                source = f"{scope or '*'}/{phase or 'new'}"
                informer = Informer(
                    self.kube, _kube.EXECUTIONS, scope,
                    field_selector=f"{group},status.phase={phase}",
                    on_event=functools.partial(self._candidate, source),
                    on_sync=functools.partial(self._sync, source),
                    stop=self.stop_event, name=f"pending-{source}",
                )  # fmt: skip
                self._threads.append(informer)
            own = Informer(
                self.kube, _kube.EXECUTIONS, scope,
                field_selector=f"status.workerName={self.config.name}",
                on_event=self._own_event, stop=self.stop_event, name=f"own-{scope or '*'}",
            )  # fmt: skip
            self._threads.append(own)
            lease_watch = Informer(
                self.kube,
                _kube.LEASES,
                scope,
                label_selector=f"{labels.WORKER_GROUP}={self.config.group}",
                on_event=self._lease_event,
                stop=self.stop_event,
                name=f"leases-{scope or '*'}",
            )
            self._threads.append(lease_watch)
        for thread in self._threads:
            thread.start()
        dispatcher = threading.Thread(target=self._dispatch, name="dispatch", daemon=True)
        dispatcher.start()
        self._threads.append(dispatcher)
        log.info(
            "worker %s serving %s in %s (group %s, concurrency %d)",
            self.config.name,
            ", ".join(self.registry.names()),
            "every namespace" if self.config.all_namespaces else ", ".join(self.config.namespaces),
            self.config.group,
            self.config.concurrency,
        )

    def shutdown(self) -> None:
        """Stop claiming, let running attempts finish within the grace period, release the rest."""
        self._claiming.clear()
        deadline = time.monotonic() + self.config.grace
        while self._running and time.monotonic() < deadline:
            time.sleep(0.1)
        for journal in list(self._running.values()):
            journal.cancelled.set()  # unwinds at the next step boundary
            try:
                journal.write(
                    {
                        "phase": Phase.PENDING.value,
                        "workerName": None,
                        "message": f"worker {self.config.name} shut down; resuming",
                    }
                )
            except (errors.Fenced, errors.KontinueError):
                pass
        self.stop_event.set()
        self.hub.notify_all()
        with self._cond:
            self._cond.notify_all()
        self.lease.release()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- candidates --------------------------------------------------------------------------

    def _candidate(self, source: str, event: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        with self._cond:
            if (
                event == "DELETED"
                or execution_phase(obj) != Phase.PENDING
                or (obj.get("spec") or {}).get("cancel")
                or not self._admitted(obj)
            ):
                self._candidates.pop(key, None)
                self._sources.setdefault(source, set()).discard(key)
                if event == "DELETED" or execution_phase(obj) != Phase.PENDING:
                    self._seen_pending.pop(key, None)
            else:
                self._seen_pending.setdefault(key, time.monotonic())
                self._candidates[key] = obj
                self._sources.setdefault(source, set()).add(key)
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
        journal = self._running.get((obj["metadata"]["namespace"], obj["metadata"]["name"]))
        if journal is not None:
            journal.observe(obj, gone=event == "DELETED")

    def _sync(self, source: str, items: list[dict[str, Any]]) -> None:
        listed = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items}
        with self._cond:
            for key in self._sources.pop(source, set()):
                self._candidates.pop(key, None)
                if key not in listed:
                    self._seen_pending.pop(key, None)
        for item in items:
            self._candidate(source, "ADDED", item)

    def _lease_event(self, event: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event == "DELETED":
            self._leases.pop(key, None)
        else:
            self._leases[key] = obj
        with self._cond:
            self._cond.notify_all()

    def _live_servers(self, namespace: str, function: str) -> bool:
        now = datetime.now(UTC)
        return any(
            (ns == namespace or leasing.cluster_scoped(lease))
            and not leases.lease_expired(lease, now)
            and function in leasing.served_functions(lease)
            for (ns, _), lease in list(self._leases.items())
        )

    # -- dispatch ----------------------------------------------------------------------------

    def _next(self) -> dict[str, Any] | None:
        """One of the oldest served candidates, chosen by worker name.

        Spreading the choice keeps every worker from racing for the very same execution.
        """
        served = [
            obj
            for obj in self._candidates.values()
            if self.registry.get((obj.get("spec") or {}).get("function", "")) is not None
        ]
        if not served:
            return None
        served.sort(key=lambda o: (o["metadata"]["creationTimestamp"], o["metadata"]["name"]))
        window = served[: max(1, min(len(served), 8))]
        return window[zlib.crc32(self.config.name.encode()) % len(window)]

    def _dispatch(self) -> None:
        while not self.stop_event.is_set():
            with self._cond:
                candidate = self._next() if self._claiming.is_set() else None
                if candidate is None:
                    unserved = [
                        o
                        for o in self._candidates.values()
                        if self.registry.get((o.get("spec") or {}).get("function", "")) is None
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
            if self.stop_event.is_set():
                self._release_slot()
                return
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
        status = obj.get("status") or {}
        now = format_time(datetime.now(UTC))
        claim = int(status.get("claim") or 0) + 1
        attempt = claim_record.attempt_number(obj)
        patch: dict[str, Any] = {
            "phase": Phase.EXECUTING.value,
            "workerName": self.config.name,
            "claim": claim,
            "claimedAt": format_micro_time(datetime.now(UTC)),
            "attempt": attempt,
            "message": None,
        }
        if status.get("attempt") != attempt or not status.get("attemptStartedAt"):
            patch["attemptStartedAt"] = now
        if not status.get("startedAt"):
            patch["startedAt"] = now
        if claim > 1:
            patch["resumptions"] = int(status.get("resumptions") or 0) + 1
        definition = self.registry.get(self._function_of(obj))
        patch.update(claim_record.claim_additions(obj, definition, self.config.name, now))
        try:
            claimed = self.kube.merge_patch(
                _kube.EXECUTIONS,
                obj["metadata"]["namespace"],
                obj["metadata"]["name"],
                {"status": patch},
                subresource="status",
                resource_version=obj["metadata"]["resourceVersion"],
            )
        except (_kube.Conflict, _kube.NotFound):
            metrics.CLAIM_CONFLICTS.labels(function=self._function_of(obj)).inc()
            return None
        except (_kube.ApiError, _kube.Unreachable):
            log.exception("claiming %s failed", obj["metadata"]["name"])
            return None
        self._count_claim(obj, first=claim == 1)
        return claimed

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
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        function = (obj.get("spec") or {}).get("function", "")
        if self._live_servers(namespace, function):
            return
        message = (
            f"no live worker in group {self.config.group!r} serves function "
            f"{function!r}; waiting for one to register it"
        )
        if (obj.get("status") or {}).get("message") == message:
            return
        if self._unserved_noted.get((namespace, name)) == obj["metadata"]["resourceVersion"]:
            return
        self._unserved_noted[(namespace, name)] = obj["metadata"]["resourceVersion"]
        try:
            self.kube.merge_patch(
                _kube.EXECUTIONS,
                namespace,
                name,
                {"status": {"phase": Phase.PENDING.value, "message": message}},
                subresource="status",
                resource_version=obj["metadata"]["resourceVersion"],
            )
        except (_kube.ApiError, _kube.Unreachable):
            pass

    def _record_breakdown(
        self, execution: dict[str, Any], journal: KubeJournal | None, exc: Exception
    ) -> None:
        """End an attempt the worker itself could not run or record (a retryable failure)."""
        outcome = Outcome(
            "failed",
            error=errors.InfrastructureError(
                f"the worker could not run or record the attempt: {exc}"
            ),
        )
        try:
            if journal is not None:
                journal.finish(outcome)
                return
            meta = execution["metadata"]
            self.kube.merge_patch(
                _kube.EXECUTIONS,
                meta["namespace"],
                meta["name"],
                {"status": finish_status(outcome, execution, datetime.now(UTC))},
                subresource="status",
                resource_version=meta["resourceVersion"],
            )
        except BaseException:  # noqa: BLE001 - takeover or a later claim will retry it
            log.exception("could not record the failure of %s", execution["metadata"]["name"])

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
            self._running.pop(key, None)
            self._release_slot()
            with self._cond:
                self._cond.notify_all()

    def _attempt(
        self, execution: dict[str, Any], key: tuple[str, str], attempt: AttemptTrace
    ) -> None:
        """Run one claim, record how it ended, and report it (metrics, spans)."""
        journal: KubeJournal | None = None
        try:
            journal = KubeJournal(self.kube, execution, worker=self.config.name, hub=self.hub)
            self._running[key] = journal
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
                return  # released by shutdown, not canceled by a user
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
        except errors.Fenced:
            attempt.end("fenced")
            log.warning("execution %s/%s fenced: another worker holds it", *key)
        except Exception as exc:  # noqa: BLE001 - a worker never dies of one execution
            log.exception("execution %s/%s could not be run or finished", *key)
            attempt.end("broken", exc)
            self._record_breakdown(execution, journal, exc)


def _taken_outcome(journal: KubeJournal) -> tuple[str, str | None]:
    """How a claim the controller ended ended: a takeover, a cancellation or a timeout."""
    phase = journal.taken_phase
    if phase in (Phase.PENDING.value, "gone"):
        return "taken", None
    if phase == Phase.CANCELED.value:
        return "canceled", None
    return "failed", journal.taken
