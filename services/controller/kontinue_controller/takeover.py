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
from datetime import UTC, datetime, timedelta
from typing import Any

from kontinue.api import labels
from kontinue.client import kubeapi
from kontinue_controller import metrics
from kontinue_controller.keys import Key
from kontinue_controller.logic import takeover
from kontinue_controller.logic.takeover import Observed, Verdict
from kontinue_controller.lost_attempts import end_lost_attempt
from kontinue_controller.timers import Timers
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)


class Takeover:
    """Watches worker Leases and hands back what dead holders held."""

    def __init__(self, kube: kubeapi.Kube, timers: Timers, writes: Writes) -> None:
        self._kube = kube
        self._timers = timers
        self._writes = writes
        self._lock = threading.Lock()
        self._observed: dict[Key, Observed] = {}

    def on_lease(self, event: str | None, key: Key, lease: dict[str, Any]) -> None:
        """A worker Lease was listed, changed or deleted."""
        if event == "DELETED":
            holder = takeover.signature(lease)[0]
            with self._lock:
                self._observed.pop(key, None)
            self._timers.soon(
                "lease-gone",
                key,
                lambda: self.hand_back(key[1], lease, "deleted its lease", only=holder),
            )
            return
        now = time.monotonic()
        with self._lock:
            sighting = takeover.observe(self._observed.get(key), lease, now)
            self._observed[key] = sighting.observed
        if sighting.new_holder:
            # a new process holds the pod's Lease (or this controller just started): whatever
            # an earlier process of the pod still holds goes back now
            holder = sighting.observed.holder
            self._timers.soon(
                "lease-holder",
                key,
                lambda: self.hand_back(
                    key[1], lease, "restarted; its new process took over", keep=holder
                ),
            )
        if sighting.changed:
            self._arm(key, now + sighting.observed.duration)

    def _arm(self, key: Key, monotonic_due: float) -> None:
        when = datetime.now(UTC) + timedelta(seconds=max(0.0, monotonic_due - time.monotonic()))
        self._timers.at("lease", key, when + timedelta(milliseconds=50), lambda: self.check(key))

    def check(self, key: Key) -> None:
        """The Lease may have expired: decide on a fresh read and this controller's clock."""
        with self._lock:
            observed = self._observed.get(key)
        if observed is None:
            return
        lease = self._kube.get_or_none(kubeapi.LEASES, key[1], key[2])
        if lease is None:
            return  # its deletion event hands its executions back
        trouble_at = self._kube.trouble_at
        verdict = takeover.verdict(observed, lease, time.monotonic(), trouble_at)
        if verdict is Verdict.RENEWED:
            self.on_lease("MODIFIED", key, lease)  # renewed: the watch was behind
            return
        if verdict is Verdict.WAIT:
            self._arm(key, takeover.stale_at(observed, trouble_at))
            return
        taken = self.hand_back(key[1], lease, "stopped renewing its lease", unchanged=lease)
        log.info("worker lease %s/%s expired; %d executions handed back", key[1], key[2], taken)
        try:
            self._kube.request(
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
        pod = takeover.pod_of(lease)
        lease_labels = (lease.get("metadata") or {}).get("labels", {})
        group = lease_labels.get(labels.WORKER_GROUP, "default")
        # a worker serving every namespace (--all-namespaces) ran executions anywhere
        everywhere = lease_labels.get(labels.WORKER_SCOPE) == labels.CLUSTER_SCOPE
        listing = self._kube.list(
            kubeapi.EXECUTIONS,
            None if everywhere else namespace,
            field_selector=f"spec.workerGroup={group},status.phase=Executing,"
            f"status.workerName={pod}",
        )
        taken = 0
        for obj in listing.get("items") or []:
            process = (obj.get("status") or {}).get("workerId")
            if not takeover.hands_back(process, only=only, keep=keep):
                continue
            if unchanged is not None:
                fresh = self._kube.get_or_none(kubeapi.LEASES, namespace, lease["metadata"]["name"])
                if fresh is None or takeover.signature(fresh) != takeover.signature(unchanged):
                    return taken  # renewed (or replaced) after all
            if self._writes.to_pending(
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
