"""The controller's in-memory view and timers: sleeps, wake-ups, backoff, takeover.

Everything here is driven by watch events (kopf's ``on.event`` handlers call in) and by one
timer heap; nothing polls an object. A restarted controller rebuilds the same timers from the
initial listing, because every deadline comes from the objects themselves. Every write is
conditional on the resourceVersion seen, so a stale view can only cause a refused write.

- a sleep's Suspension completes at its ``resumeAt``;
- a Suspended execution goes back to Pending once everything in ``suspendedOn`` resolved;
- a Backoff execution goes back to Pending at ``nextAttemptAt``;
- takeover: when a worker's Lease expires, is deleted or changes holder, what its processes
  held goes back to Pending (:mod:`~kontinue_controller.takeover`);
- and it hands executions to the other duties: cancellation, timeouts, retention (TTL) and
  schedules (their own modules), each timer keyed by duty and object so that the many events
  of one object never pile up duplicate timers.

The view keeps a slim copy of each object (no step log, stored values or result) and an index
of children and suspensions by parent, so a cancellation finds a tree without a listing.

No duty is lost to one failed call: a duty that raises (the API server unreachable, a 5xx, a
timeout) runs again after a growing pause until it completes; every duty re-reads what it acts
on, so running it again is safe. A resync lists every watched kind from time to time and feeds
the view as a fresh listing would, so an event lost while a watch was down (a deletion above
all) is caught up and every timer is derived again from the objects. Duties run only while this
replica's leadership is current (see :class:`~kontinue_controller.leadership.LeaderElector`).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from kontinue.api import deadlines, fan_out, labels, policy, timestamps, waits
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, suspension_phase
from kontinue.api.slim import slim
from kontinue.client import kubeapi
from kontinue.telemetry import execution_metrics
from kontinue_controller import metrics
from kontinue_controller.function_defaults import FunctionDefaults, function_key

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # kind, namespace, name


class Timers(threading.Thread):
    """Runs callbacks at wall-clock times: one thread keeps the heap, a pool runs what is due.

    The callbacks wait on the API server, so running them one after another would cap the
    rate at which timers can fire (a burst of sleeps ending together would fall behind); a
    pool of ``workers`` threads runs them side by side. Every callback re-reads what it acts
    on and writes conditionally, so their order does not matter.
    """

    def __init__(self, stop: threading.Event, workers: int = 16) -> None:
        super().__init__(name="timers", daemon=True)
        self._heap: list[tuple[datetime, int, Callable[[], object]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopping = stop
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="timer")

    def at(self, when: datetime, callback: Callable[[], object]) -> None:
        """Run ``callback`` at ``when`` (at once if it is past)."""
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._counter), callback))
            self._cond.notify()

    def soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the pool now (the watch's thread goes back to watching)."""
        self._pool.submit(self._call, callback)

    def run(self) -> None:
        """Fire callbacks as they come due."""
        while not self._stopping.is_set():
            with self._cond:
                now = datetime.now(UTC)
                due = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    wait = (self._heap[0][0] - now).total_seconds() if self._heap else 1.0
                    self._cond.wait(timeout=min(max(wait, 0.001), 1.0))
                    continue
            for callback in due:
                self._pool.submit(self._call, callback)

    @staticmethod
    def _call(callback: Callable[[], object]) -> None:
        try:
            callback()
        except Exception:  # noqa: BLE001 - one failed timer must not stop the others
            log.exception("timer callback failed")


class Timekeeper:
    """The controller's event-driven duties."""

    def __init__(
        self,
        kube: kubeapi.Kube,
        stop: threading.Event,
        *,
        identity: str,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self.kube = kube
        self._identity = identity
        self._leading = leading
        self.timers = Timers(stop)
        self._failures: dict[tuple[str, Key], int] = {}
        self._objects: dict[Key, dict[str, Any]] = {}
        self._waiters: dict[Key, set[tuple[str, str]]] = {}
        self._owned: dict[Key, set[str]] = {}  # (kind, namespace, parent) -> names
        self._due: dict[Key, dict[str, datetime]] = {}  # object -> duty -> when
        self._lock = threading.Lock()
        self._events = ThreadPoolExecutor(max_workers=4, thread_name_prefix="events")
        # the duties built on this view (imported here: they need the view's type)
        from kontinue_controller.admission import Admission
        from kontinue_controller.cancellation import Cancellation
        from kontinue_controller.retention import Retention
        from kontinue_controller.schedules import Scheduler
        from kontinue_controller.takeover import Takeover
        from kontinue_controller.timeouts import Timeouts

        self.function_defaults = FunctionDefaults()
        self.admission = Admission(self)
        self.cancellation = Cancellation(self)
        self.timeouts = Timeouts(self)
        self.retention = Retention(self)
        self.scheduler = Scheduler(self)
        self.takeover = Takeover(self)

    def start(self) -> None:
        """Start the timer thread."""
        self.timers.start()

    def at(
        self,
        duty: str,
        key: Key,
        when: datetime,
        callback: Callable[[], object],
        *,
        measured: bool = True,
    ) -> None:
        """Run ``callback`` at ``when``: one timer per duty and object (a later call moves it).

        A ``measured`` timer reports how late it fired
        (``kontinue_controller_timer_lateness_seconds``).
        """
        with self._lock:
            duties = self._due.setdefault(key, {})
            if duties.get(duty) == when:
                return
            duties[duty] = when

        def fire() -> None:
            with self._lock:
                duties = self._due.get(key, {})
                if duties.get(duty) != when:
                    return  # moved or dropped since
                del duties[duty]
                if not duties:
                    del self._due[key]
            if not self._leading():
                # leadership not confirmed (a pause, a lost renewal): try again shortly; a
                # replica that lost it exits, and the new leader derives its own timers
                self.at(duty, key, datetime.now(UTC) + timedelta(seconds=1), callback)
                return
            if measured:
                late = (datetime.now(UTC) - when).total_seconds()
                metrics.TIMER_LATENESS.labels(duty=duty).observe(max(0.0, late))
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 - the duty runs again until it is done
                self._retry(duty, key, callback, exc)
            else:
                self._failures.pop((duty, key), None)

        self.timers.at(when, fire)

    def _retry(self, duty: str, key: Key, callback: Callable[[], object], exc: Exception) -> None:
        """Run a failed duty again after a growing pause (0.5 s doubling, at most 30 s)."""
        failures = self._failures.get((duty, key), 0) + 1
        self._failures[(duty, key)] = failures
        pause = min(30.0, 0.5 * 2 ** min(failures - 1, 6))
        level = logging.WARNING if isinstance(exc, kubeapi.Unreachable | kubeapi.ServerError) else 0
        if level:
            log.warning("%s of %s/%s failed (%s); again in %.1fs", duty, *key[1:], exc, pause)
        else:
            log.exception("%s of %s/%s failed; again in %.1fs", duty, *key[1:], pause)
        metrics.DUTY_RETRIES.labels(duty=duty).inc()
        self.at(duty, key, datetime.now(UTC) + timedelta(seconds=pause), callback)

    def api_trouble_until(self, grace: float) -> float:
        """The monotonic time until which this controller counts as blind to renewals.

        ``grace`` seconds after its last transient API failure: a worker must have had that
        long to show a renewal this controller could see.
        """
        trouble = self.kube.trouble_at
        return float("-inf") if trouble is None else trouble + grace

    def soon(self, duty: str, key: Key, callback: Callable[[], object]) -> None:
        """Run ``callback`` now, once for the calls of the same duty and object in a second."""
        self.at(duty, key, datetime.now(UTC).replace(microsecond=0), callback, measured=False)

    def cached(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The view's copy of an object (slim), if it has one."""
        with self._lock:
            return self._objects.get((kind, namespace, name))

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind`` in the view (slim copies)."""
        with self._lock:
            return [obj for (k, _, _), obj in self._objects.items() if k == kind]

    def owned(self, kind: str, namespace: str, parent: str) -> list[dict[str, Any]]:
        """The view's children (``Execution``) or suspensions (``Suspension``) of ``parent``."""
        with self._lock:
            names = list(self._owned.get((kind, namespace, parent), ()))
            found = [self._objects.get((kind, namespace, n)) for n in names]
        return [o for o in found if o is not None]

    # -- events from the watches --------------------------------------------------------------

    def _remember(self, kind: str, event: str | None, obj: dict[str, Any]) -> Key:
        meta = obj["metadata"]
        key = (kind, meta["namespace"], meta["name"])
        parent = (meta.get("labels") or {}).get(labels.PARENT)
        with self._lock:
            if event == "DELETED":
                self._objects.pop(key, None)
                if parent:
                    self._owned.get((kind, key[1], parent), set()).discard(key[2])
                    if not self._owned.get((kind, key[1], parent), True):
                        del self._owned[(kind, key[1], parent)]
                if kind == "Execution":
                    for owned_kind in ("Execution", "Suspension", "Job"):
                        self._owned.pop((owned_kind, key[1], key[2]), None)
                    self._waiters.pop(key, None)
                self._due.pop(key, None)
            else:
                self._objects[key] = slim(obj)
                if parent:
                    self._owned.setdefault((kind, key[1], parent), set()).add(key[2])
        return key

    def _wake_waiters(self, key: Key) -> None:
        with self._lock:
            parents = list(self._waiters.get(key, ()))
        for parent in parents:
            self.soon("evaluate", ("Execution", *parent), functools.partial(self._evaluate, parent))

    def on_execution(self, event: str | None, obj: dict[str, Any]) -> None:
        """An Execution changed (or was listed)."""
        key = self._remember("Execution", event, obj)
        schedule = _schedule_of(obj)
        phase = execution_phase(obj)
        if schedule and (event == "DELETED" or phase.terminal):
            self.scheduler.touch(key[1], schedule)
        self.admission.watch(event, key, obj)
        if event == "DELETED":
            pass
        elif not phase.terminal and (obj.get("spec") or {}).get("cancel"):
            self.cancellation.request(key)
        else:
            self.timeouts.watch(key, obj)
            self.retention.watch(key, obj)
            if phase == Phase.SUSPENDED:
                with self._lock:
                    for item in (obj.get("status") or {}).get("suspendedOn") or []:
                        target = (item["kind"], key[1], item["name"])
                        self._waiters.setdefault(target, set()).add(key[1:])
                self.soon("evaluate", key, functools.partial(self._evaluate, key[1:]))
            elif phase == Phase.BACKOFF:
                due = deadlines.backoff_end(obj) or datetime.now(UTC)
                self.at("backoff", key, due, lambda: self._end_backoff(key[1], key[2]))
        self._wake_waiters(key)

    def on_function(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Function changed (or was listed): its concurrency limit or its defaults may have.

        New defaults move the timeout timers of its executions no claim has recorded a policy
        for yet.
        """
        self.admission.on_function(event, obj)
        changed = self.function_defaults.on_function(event, obj)
        if changed is None:
            return
        for execution in self.objects("Execution"):
            if function_key(execution) == changed and not policy.recorded(execution):
                meta = execution["metadata"]
                self.timeouts.watch(("Execution", meta["namespace"], meta["name"]), execution)

    def on_suspension(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Suspension changed (or was listed)."""
        key = self._remember("Suspension", event, obj)
        if event != "DELETED":
            phase = suspension_phase(obj)
            resume_at = timestamps.parse_time((obj.get("spec") or {}).get("resumeAt"))
            if resume_at is not None and phase == SuspensionPhase.SUSPENDED:
                self.at("sleep", key, resume_at, lambda: self._end_sleep(key[1], key[2]))
        self._wake_waiters(key)

    def on_job(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Job of a job step changed (or was listed): wake whoever waits on it."""
        key = self._remember("Job", event, obj)
        self._wake_waiters(key)

    def on_worker_lease(self, event: str | None, obj: dict[str, Any]) -> None:
        """A worker's Lease was listed, changed or deleted (see :mod:`.takeover`)."""
        key = self._remember("Lease", event, obj)
        self.takeover.on_lease(event, key, obj)

    # -- transitions ------------------------------------------------------------------------------

    def post_event(
        self, obj: Mapping[str, Any], reason: str, message: str, *, warning: bool = False
    ) -> None:
        """Record a Kubernetes Event on an object (``kubectl describe`` tells the story)."""
        meta = obj["metadata"]
        now = timestamps.format_micro_time(datetime.now(UTC))
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": obj.get("apiVersion", "kontinue.cloud/v1alpha1"),
                               "kind": obj.get("kind", "Execution"), "name": meta["name"],
                               "namespace": meta["namespace"], "uid": meta.get("uid")},
            "reason": reason, "message": message, "type": "Warning" if warning else "Normal",
            "firstTimestamp": timestamps.format_time(datetime.now(UTC)),
            "lastTimestamp": timestamps.format_time(datetime.now(UTC)),
            "eventTime": now, "action": reason, "reportingComponent": "kontinue-controller",
            "reportingInstance": self._identity, "source": {"component": "kontinue-controller"},
        }  # fmt: skip
        self._events.submit(self._post, meta["namespace"], event)

    def _post(self, namespace: str, event: dict[str, Any]) -> None:
        try:
            self.kube.create(kubeapi.EVENTS, namespace, event)
        except (kubeapi.ApiError, kubeapi.Unreachable) as exc:
            log.debug("posting an event failed: %s", exc)

    def transition(
        self,
        obj: Mapping[str, Any],
        reason: str,
        status: Mapping[str, Any],
        *,
        warning: bool = False,
        event: bool = True,
    ) -> dict[str, Any] | None:
        """Patch an Execution's status if it did not change since ``obj``; post an Event.

        Returns the updated object, or None when it changed or is gone (the watch will bring
        the new state).
        """
        meta = obj["metadata"]
        try:
            updated = self.kube.merge_patch(
                kubeapi.EXECUTIONS,
                meta["namespace"],
                meta["name"],
                {"status": dict(status)},
                subresource="status",
                resource_version=meta["resourceVersion"],
            )
        except (kubeapi.Conflict, kubeapi.NotFound):
            return None
        if event:
            self.post_event(obj, reason, str(status.get("message") or reason), warning=warning)
        if execution_phase(updated).terminal:
            execution_metrics.record_finished(updated)
        return updated

    def to_pending(self, obj: Mapping[str, Any], reason: str, message: str, **extra: Any) -> bool:
        """Put an execution back to Pending if it did not change since ``obj``; True if so."""
        status = {"phase": Phase.PENDING.value, "message": message, **extra}
        holds_none = execution_phase(dict(obj)) in (Phase.SUSPENDED, Phase.BACKOFF)
        if holds_none and ((obj.get("status") or {}).get("grants") or {}).get("slot"):
            status["grants"] = {"slot": None}  # a woken execution asks for a slot again
        return self.transition(obj, reason, status) is not None

    def _end_backoff(self, namespace: str, name: str) -> None:
        current = self.kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
        if current is None or execution_phase(current) != Phase.BACKOFF:
            return
        due = deadlines.backoff_end(current)
        if due is not None and due > datetime.now(UTC):
            key = ("Execution", namespace, name)
            self.at("backoff", key, due, lambda: self._end_backoff(namespace, name))
            return
        self.to_pending(current, "BackoffEnded", "retrying after backoff", nextAttemptAt=None)

    def _end_sleep(self, namespace: str, name: str) -> None:
        # the view's copy first (one write, no read); a conflict means it changed: read, retry
        current = self.cached("Suspension", namespace, name)
        for _ in range(2):
            if current is None:
                current = self.kube.get_or_none(kubeapi.SUSPENSIONS, namespace, name)
            if current is None:
                return
            if suspension_phase(current) != SuspensionPhase.SUSPENDED:
                return
            status = {"phase": "Completed", "finishedAt": timestamps.now(), "resumedBy": "timer",
                      "startedAt": current["metadata"].get("creationTimestamp")}  # fmt: skip
            try:
                self.kube.merge_patch(
                    kubeapi.SUSPENSIONS,
                    namespace,
                    name,
                    {"status": status},
                    subresource="status",
                    resource_version=current["metadata"]["resourceVersion"],
                )
            except kubeapi.NotFound:
                return
            except kubeapi.Conflict:
                current = None
                continue
            return  # no Event: the Suspension's status says it, the execution's Resumed Event too

    def _resolved(self, namespace: str, item: Mapping[str, Any], *, look: bool = False) -> bool:
        kind, name = item["kind"], item["name"]
        with self._lock:
            obj = self._objects.get((kind, namespace, name))
        if obj is None:
            if not look:
                return False  # not seen yet (its event wakes the waiter), or gone: see _evaluate
            resource = {
                "Execution": kubeapi.EXECUTIONS,
                "Suspension": kubeapi.SUSPENSIONS,
                "Job": kubeapi.JOBS,
            }.get(kind)
            if resource is None:
                return False
            obj = self.kube.get_or_none(resource, namespace, name)
            if obj is None:
                return True  # gone: the replay finds out
        return waits.resolved(kind, obj, datetime.now(UTC))

    def _evaluate(self, execution: tuple[str, str], *, look: bool = False) -> None:
        """Wake a Suspended execution whose waits all resolved.

        What it waits on is judged from the view; something the view has not seen is looked
        up (``look``) only a few seconds later, so a (re)start that lists executions before
        their suspensions does not read every one of them.
        """
        with self._lock:
            obj = self._objects.get(("Execution", *execution))
        if obj is None or execution_phase(obj) != Phase.SUSPENDED:
            return
        items = (obj.get("status") or {}).get("suspendedOn") or []
        unseen = [i for i in items if self.cached(i["kind"], execution[0], i["name"]) is None]
        if unseen and not look:
            key = ("Execution", *execution)
            self.at(
                "look", key, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5),
                lambda: self._evaluate(execution, look=True),
            )  # fmt: skip
        resolved = [self._resolved(execution[0], item, look=look) for item in items]
        progress = fan_out.progress_update(obj, sum(resolved))
        if all(resolved):
            waited = ", ".join(f"{i['kind'].lower()} {i['name']}" for i in items)
            self.to_pending(
                obj, "Resumed", f"resuming: {waited or 'nothing'} done", suspendedOn=None,
                **({"progress": progress} if progress else {}),
            )  # fmt: skip
        elif progress is not None:  # a released fan-out: its progress follows its children
            self.transition(obj, "Progress", {"progress": progress}, event=False)


def _schedule_of(execution: Mapping[str, Any]) -> str | None:
    """The ScheduledExecution that created ``execution`` (its owner), if any."""
    if not (execution["metadata"].get("labels") or {}).get(labels.SCHEDULE):
        return None
    for owner in execution["metadata"].get("ownerReferences") or []:
        if owner.get("kind") == "ScheduledExecution":
            return str(owner.get("name"))
    return None
