"""Time- and event-driven transitions the engine needs until the controller owns them.

- a sleep's Suspension completes at its ``resumeAt`` (timer, no polling);
- a Suspended execution goes back to Pending once everything in ``suspendedOn`` resolved;
- a Backoff execution goes back to Pending at ``nextAttemptAt``;
- takeover: Executing executions of a worker whose Lease expired go back to Pending.

Every worker of the group runs these; all writes are conditional on the resourceVersion seen,
so when several workers race, one wins and the others' conflicts are ignored. The controller
takes these duties over (design section 6); this module then goes away.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kontinue.api.phases import Phase, SuspensionPhase, execution_phase
from kontinue.api.timestamps import format_time, parse_time
from kontinue.client import _kube
from kontinue_worker import leasing
from kontinue_worker.waiting import WaitHub
from kontinue_worker.watching import Informer

if TYPE_CHECKING:
    from kontinue_worker.worker import WorkerConfig

log = logging.getLogger(__name__)


class Timers(threading.Thread):
    """Runs callbacks at wall-clock times (one thread, a heap, a condition)."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__(name="timers", daemon=True)
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stop = stop

    def at(self, when: datetime, callback: Callable[[], None]) -> None:
        """Run ``callback`` at ``when`` (at once if it is past)."""
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._counter), callback))
            self._cond.notify()

    def run(self) -> None:
        """Fire callbacks as they come due."""
        while not self._stop.is_set():
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
                try:
                    callback()
                except Exception:  # noqa: BLE001
                    log.exception("timer callback failed")


class Wakeups:
    """The interim wake-up, backoff and takeover logic of one worker group."""

    def __init__(
        self,
        kube: _kube.Kube,
        config: WorkerConfig,
        hub: WaitHub,
        leases: Mapping[tuple[str, str], dict[str, Any]],
        stop: threading.Event,
    ) -> None:
        self._kube = kube
        self._config = config
        self._hub = hub
        self._leases = leases
        self._stop = stop
        self.timers = Timers(stop)
        self._suspended: dict[tuple[str, str], dict[str, Any]] = {}
        self._waiters: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the timers, the Suspended/Backoff watches and the takeover loop."""
        self.timers.start()
        self._hub.subscribe(self._hub_event)
        group = f"spec.workerGroup={self._config.group}"
        for namespace in self._config.namespaces:
            Informer(
                self._kube,
                _kube.EXECUTIONS,
                namespace,
                field_selector=f"{group},status.phase=Suspended",
                on_event=self._suspended_event,
                stop=self._stop,
                name=f"suspended-{namespace}",
            ).start()
            Informer(
                self._kube,
                _kube.EXECUTIONS,
                namespace,
                field_selector=f"{group},status.phase=Backoff",
                on_event=self._backoff_event,
                stop=self._stop,
                name=f"backoff-{namespace}",
            ).start()
        threading.Thread(target=self._takeover_loop, name="takeover", daemon=True).start()

    # -- transitions -------------------------------------------------------------------------

    def _to_pending(self, obj: Mapping[str, Any], message: str, **extra: Any) -> bool:
        meta = obj["metadata"]
        try:
            self._kube.merge_patch(
                _kube.EXECUTIONS,
                meta["namespace"],
                meta["name"],
                {"status": {"phase": Phase.PENDING.value, "message": message, **extra}},
                subresource="status",
                resource_version=meta["resourceVersion"],
            )
        except (_kube.Conflict, _kube.NotFound):
            return False
        return True

    # -- backoff -----------------------------------------------------------------------------

    def after_finish(self, obj: Mapping[str, Any]) -> None:
        """Schedule the end of a Backoff this worker just wrote."""
        self._backoff_event("MODIFIED", dict(obj))

    def _backoff_event(self, event: str, obj: dict[str, Any]) -> None:
        if event == "DELETED" or execution_phase(obj) != Phase.BACKOFF:
            return
        due = parse_time((obj.get("status") or {}).get("nextAttemptAt")) or datetime.now(UTC)
        self.timers.at(due, lambda: self._end_backoff(obj))

    def _end_backoff(self, seen: dict[str, Any]) -> None:
        meta = seen["metadata"]
        current = self._kube.get_or_none(_kube.EXECUTIONS, meta["namespace"], meta["name"])
        if current is None or execution_phase(current) != Phase.BACKOFF:
            return
        self._to_pending(current, "retrying after backoff", nextAttemptAt=None)

    # -- suspended executions ----------------------------------------------------------------

    def _suspended_event(self, event: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        with self._lock:
            if event == "DELETED" or execution_phase(obj) != Phase.SUSPENDED:
                self._suspended.pop(key, None)
                return
            self._suspended[key] = obj
            for item in (obj.get("status") or {}).get("suspendedOn") or []:
                self._waiters.setdefault((item["kind"], key[0], item["name"]), set()).add(key)
        self._evaluate(key)

    def _hub_event(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        if kind == "Suspension" and event != "DELETED":
            status = obj.get("status") or {}
            resume_at = parse_time((obj.get("spec") or {}).get("resumeAt"))
            if resume_at is not None and (status.get("phase") or "Suspended") == "Suspended":
                self.timers.at(resume_at, lambda: self._complete_sleep(namespace, name))
        with self._lock:
            parents = list(self._waiters.get((kind, namespace, name), ()))
        for parent in parents:
            self._evaluate(parent)

    def _complete_sleep(self, namespace: str, name: str) -> None:
        current = self._kube.get_or_none(_kube.SUSPENSIONS, namespace, name)
        if current is None or (current.get("status") or {}).get("phase", "Suspended") != (
            SuspensionPhase.SUSPENDED
        ):
            return
        try:
            self._kube.merge_patch(
                _kube.SUSPENSIONS,
                namespace,
                name,
                {
                    "status": {
                        "phase": "Completed",
                        "finishedAt": format_time(datetime.now(UTC)),
                        "resumedBy": "timer",
                    }
                },
                subresource="status",
                resource_version=current["metadata"]["resourceVersion"],
            )
        except (_kube.Conflict, _kube.NotFound):
            pass

    def _resolved(self, namespace: str, item: Mapping[str, Any]) -> bool:
        kind, name = item["kind"], item["name"]
        resource = _kube.EXECUTIONS if kind == "Execution" else _kube.SUSPENSIONS
        obj = self._hub.lookup(kind, namespace, name) or self._kube.get_or_none(
            resource, namespace, name
        )
        if obj is None:
            return True  # gone: let the replay find out
        if kind == "Execution":
            return execution_phase(obj).terminal
        phase = (obj.get("status") or {}).get("phase") or "Suspended"
        if phase != "Suspended":
            return True
        resume_at = parse_time((obj.get("spec") or {}).get("resumeAt"))
        return resume_at is not None and resume_at <= datetime.now(UTC)

    def _evaluate(self, key: tuple[str, str]) -> None:
        with self._lock:
            obj = self._suspended.get(key)
        if obj is None:
            return
        items = (obj.get("status") or {}).get("suspendedOn") or []
        if all(self._resolved(key[0], item) for item in items):
            if self._to_pending(obj, "resuming: what it waited for is done", suspendedOn=None):
                with self._lock:
                    self._suspended.pop(key, None)

    # -- takeover ----------------------------------------------------------------------------

    def _takeover_loop(self) -> None:
        interval = max(1.0, self._config.lease_duration / 3)
        while not self._stop.wait(interval):
            try:
                self.take_over_expired()
            except Exception:  # noqa: BLE001
                log.exception("takeover check failed")

    def take_over_expired(self) -> int:
        """Return executions of workers whose Lease expired to Pending; returns how many."""
        now = datetime.now(UTC)
        expired = {
            (ns, (lease.get("spec") or {}).get("holderIdentity")): lease
            for (ns, _), lease in list(self._leases.items())
            if leasing.lease_expired(lease, now)
            and (lease.get("spec") or {}).get("holderIdentity") != self._config.name
        }
        if not expired:
            return 0
        moved = 0
        for namespace in {ns for ns, _ in expired}:
            listing = self._kube.list(
                _kube.EXECUTIONS,
                namespace,
                field_selector=f"spec.workerGroup={self._config.group},status.phase=Executing",
            )
            for obj in listing.get("items") or []:
                holder = (obj.get("status") or {}).get("workerName")
                if (namespace, holder) in expired and self._to_pending(
                    obj, f"worker {holder} stopped renewing its lease; resuming", workerName=None
                ):
                    moved += 1
        for (namespace, _holder), lease in expired.items():
            try:
                self._kube.request(
                    "DELETE",
                    _kube.LEASES.path(namespace, lease["metadata"]["name"]),
                    body={
                        "preconditions": {"resourceVersion": lease["metadata"]["resourceVersion"]}
                    },
                )
            except (_kube.Conflict, _kube.NotFound):
                pass
        return moved
