"""Leader election over a coordination Lease: two replicas, one active.

The leader renews the Lease every ``duration / 5`` seconds; a standby checks it at the same
pace and takes it over (a write conditional on the resourceVersion it read) once it saw no
renewal for a whole ``duration``, measured on its own monotonic clock from when it last saw
``renewTime`` change (the replicas' wall clocks may disagree), so a standby takes over within
about one lease duration of the leader's death.

A leader acts only while its leadership is current (:meth:`LeaderElector.valid`): renewed
within two thirds of the duration on its own monotonic clock. A leader that was paused (or cut
off) longer does nothing until it has renewed again; if a standby took the Lease meanwhile, it
stops leading (the process exits and is restarted) without having acted on stale leadership.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from kontinue.api.timestamps import format_micro_time
from kontinue.client import kubeapi

log = logging.getLogger(__name__)


class LeaderElector(threading.Thread):
    """Campaigns for the Lease ``name`` in ``namespace`` as ``identity``."""

    def __init__(
        self,
        kube: kubeapi.Kube,
        namespace: str,
        name: str,
        identity: str,
        *,
        duration: int = 10,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="leader-election", daemon=True)
        self._kube = kube
        self._namespace = namespace
        self._name = name
        self.identity = identity
        self.duration = duration
        self._stopping = stop
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._renewed_at = float("-inf")
        self._observed: tuple[Any, Any] | None = None
        self._observed_at = time.monotonic()

    def valid(self) -> bool:
        """Whether this replica leads now: it renewed within 2/3 of the lease duration."""
        return self.leading.is_set() and (
            time.monotonic() - self._renewed_at < self.duration * 2 / 3
        )

    def _manifest(self, now: datetime, transitions: int) -> dict[str, Any]:
        stamp = format_micro_time(now)
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.duration,
                     "acquireTime": stamp, "renewTime": stamp,
                     "leaseTransitions": transitions},
        }  # fmt: skip

    def _try_acquire(self) -> bool:
        now = datetime.now(UTC)
        current = self._kube.get_or_none(kubeapi.LEASES, self._namespace, self._name)
        if current is None:
            try:
                self._kube.create(kubeapi.LEASES, self._namespace, self._manifest(now, 0))
            except kubeapi.AlreadyExists:
                return False
            return True
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity")
        signature = (holder, spec.get("renewTime") or spec.get("acquireTime"))
        if signature != self._observed:
            self._observed, self._observed_at = signature, time.monotonic()
        silent = time.monotonic() - self._observed_at
        seconds = float(spec.get("leaseDurationSeconds") or self.duration)
        if holder and holder != self.identity and silent < seconds:
            return False
        transitions = int((current.get("spec") or {}).get("leaseTransitions") or 0)
        body = self._manifest(now, transitions + (holder != self.identity))
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            self._kube.replace(kubeapi.LEASES, self._namespace, self._name, body)
        except (kubeapi.Conflict, kubeapi.NotFound):
            return False
        return True

    def _renew(self) -> bool:
        patch = {"spec": {"renewTime": format_micro_time(datetime.now(UTC))}}
        current = self._kube.get(kubeapi.LEASES, self._namespace, self._name)
        if (current.get("spec") or {}).get("holderIdentity") != self.identity:
            return False
        self._kube.merge_patch(
            kubeapi.LEASES,
            self._namespace,
            self._name,
            patch,
            resource_version=current["metadata"]["resourceVersion"],
        )
        return True

    def run(self) -> None:
        """Campaign, then renew; set ``lost`` when leadership ends."""
        interval = max(0.5, self.duration / 5)
        while not self._stopping.is_set():
            try:
                if not self.leading.is_set():
                    started = time.monotonic()
                    if self._try_acquire():
                        log.info("%s is now the leader", self.identity)
                        self._renewed_at = started
                        self.leading.set()
                else:
                    started = time.monotonic()
                    if not self._renew():
                        break
                    self._renewed_at = started
            except (kubeapi.ApiError, kubeapi.Unreachable) as exc:
                log.warning("leader election: %s", exc)
                if self.leading.is_set() and time.monotonic() - self._renewed_at > self.duration:
                    break
            self._stopping.wait(interval)
        if self.leading.is_set() and not self._stopping.is_set():
            log.warning("%s lost the leadership", self.identity)
            self.lost.set()

    def release(self) -> None:
        """Give the Lease up at once (graceful shutdown), so a standby needs not wait."""
        if not self.leading.is_set():
            return
        try:
            current = self._kube.get(kubeapi.LEASES, self._namespace, self._name)
            if (current.get("spec") or {}).get("holderIdentity") == self.identity:
                self._kube.delete(kubeapi.LEASES, self._namespace, self._name)
        except (kubeapi.ApiError, kubeapi.Unreachable):
            pass
