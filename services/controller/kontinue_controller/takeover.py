"""Takeover: executions whose worker process is gone go back to Pending.

A worker process holds its pod's Lease (``holderIdentity`` = the process; the
``kontinue.cloud/worker-pod`` annotation = the pod, which is the ``status.workerName`` of the
executions it claims, ``status.workerId`` being the process). Its executions are handed back:

- when the Lease expires: no renewal seen for ``leaseDurationSeconds``, measured on this
  controller's own monotonic clock from when it last *saw* ``renewTime`` (or the holder)
  change, as the node lifecycle controller does. The workers' clocks and this one's may
  disagree, a watch may lag, this process may have been paused: none of that counts, because
  the decision is taken on a fresh read of the Lease, and time during which this controller
  could not reach the API server does not count against a worker either;
- at once when the Lease's holder changes (a container restarted in the same pod: its new
  process took the Lease over) for the executions of the previous holder;
- at once when the Lease is deleted (a worker's graceful shutdown, which already tried to hand
  its executions back itself, or a takeover by hand).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kontinue.api import labels, leases
from kontinue.client import kubeapi
from kontinue_controller import metrics
from kontinue_controller.lost_attempts import end_lost_attempt

if TYPE_CHECKING:
    from kontinue_controller.timekeeping import Key, Timekeeper

log = logging.getLogger(__name__)

POD_ANNOTATION = f"{labels.PREFIX}/worker-pod"


@dataclass
class _Observed:
    """What this controller last saw of one worker Lease, and when (monotonic)."""

    holder: str | None
    renewed: str | None
    seen_at: float
    duration: float
    pod: str


def _pod(lease: Mapping[str, Any]) -> str:
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(POD_ANNOTATION) or (lease.get("spec") or {}).get("holderIdentity"))


def _signature(lease: Mapping[str, Any]) -> tuple[str | None, str | None]:
    spec = lease.get("spec") or {}
    return spec.get("holderIdentity"), spec.get("renewTime") or spec.get("acquireTime")


class Takeover:
    """Watches worker Leases for the Timekeeper and hands back what dead holders held."""

    def __init__(self, timekeeper: Timekeeper) -> None:
        self._tk = timekeeper
        self._lock = threading.Lock()
        self._observed: dict[Key, _Observed] = {}

    def on_lease(self, event: str | None, key: Key, lease: dict[str, Any]) -> None:
        """A worker Lease was listed, changed or deleted."""
        holder, renewed = _signature(lease)
        if event == "DELETED":
            with self._lock:
                self._observed.pop(key, None)
            self._tk.soon(
                "lease-gone",
                key,
                lambda: self.hand_back(key[1], lease, "deleted its lease", only=holder),
            )
            return
        now = time.monotonic()
        duration = float(
            (lease.get("spec") or {}).get("leaseDurationSeconds") or leases.DEFAULT_DURATION_SECONDS
        )
        with self._lock:
            previous = self._observed.get(key)
            changed = previous is None or (previous.holder, previous.renewed) != (holder, renewed)
            if changed:
                self._observed[key] = _Observed(holder, renewed, now, duration, _pod(lease))
        if previous is None or previous.holder != holder:
            # a new process holds the pod's Lease (or this controller just started): whatever
            # an earlier process of the pod still holds goes back now
            self._tk.soon(
                "lease-holder",
                key,
                lambda: self.hand_back(
                    key[1], lease, "restarted; its new process took over", keep=holder
                ),
            )
        if changed:
            self._arm(key, now + duration)

    def _arm(self, key: Key, monotonic_due: float) -> None:
        when = datetime.now(UTC) + timedelta(seconds=max(0.0, monotonic_due - time.monotonic()))
        self._tk.at("lease", key, when + timedelta(milliseconds=50), lambda: self.check(key))

    def check(self, key: Key) -> None:
        """The Lease may have expired: decide on a fresh read and this controller's clock."""
        with self._lock:
            observed = self._observed.get(key)
        if observed is None:
            return
        lease = self._tk.kube.get_or_none(kubeapi.LEASES, key[1], key[2])
        if lease is None:
            return  # its deletion event hands its executions back
        now = time.monotonic()
        if _signature(lease) != (observed.holder, observed.renewed):
            self.on_lease("MODIFIED", key, lease)  # renewed: the watch was behind
            return
        blind_until = self._tk.api_trouble_until(observed.duration)
        due = max(observed.seen_at + observed.duration, blind_until)
        if now < due:
            self._arm(key, due)
            return
        taken = self.hand_back(key[1], lease, "stopped renewing its lease", unchanged=lease)
        log.info("worker lease %s/%s expired; %d executions handed back", key[1], key[2], taken)
        try:
            self._tk.kube.request(
                "DELETE",
                kubeapi.LEASES.path(key[1], key[2]),
                body={"preconditions": {"resourceVersion": lease["metadata"]["resourceVersion"]}},
            )
        except (kubeapi.Conflict, kubeapi.NotFound):
            pass

    def hand_back(
        self,
        namespace: str,
        lease: Mapping[str, Any],
        why: str,
        *,
        only: str | None = None,
        keep: str | None = None,
        unchanged: Mapping[str, Any] | None = None,
    ) -> int:
        """Put executions held by processes of the Lease's pod back to Pending.

        ``only``: just those of that process; ``keep``: all but those of that process;
        ``unchanged``: only while the Lease is still that version (read right before each).
        Returns how many were handed back.
        """
        pod = _pod(lease)
        lease_labels = (lease.get("metadata") or {}).get("labels", {})
        group = lease_labels.get(labels.WORKER_GROUP, "default")
        # a worker serving every namespace (--all-namespaces) ran executions anywhere
        everywhere = lease_labels.get(labels.WORKER_SCOPE) == labels.CLUSTER_SCOPE
        listing = self._tk.kube.list(
            kubeapi.EXECUTIONS,
            None if everywhere else namespace,
            field_selector=f"spec.workerGroup={group},status.phase=Executing,"
            f"status.workerName={pod}",
        )
        taken = 0
        for obj in listing.get("items") or []:
            process = (obj.get("status") or {}).get("workerId")
            if (only is not None and process not in (only, None)) or (
                keep is not None and process in (keep, None)
            ):
                continue
            if unchanged is not None:
                fresh = self._tk.kube.get_or_none(
                    kubeapi.LEASES, namespace, lease["metadata"]["name"]
                )
                if fresh is None or _signature(fresh) != _signature(unchanged):
                    return taken  # renewed (or replaced) after all
            if self._tk.to_pending(
                obj,
                "TakenOver",
                f"worker {pod} (process {process or 'unknown'}) {why}; resuming",
                workerName=None,
                workerId=None,
            ):
                taken += 1
                metrics.LEASE_TAKEOVERS.labels(namespace=obj["metadata"]["namespace"]).inc()
                end_lost_attempt(obj, pod)
        return taken
