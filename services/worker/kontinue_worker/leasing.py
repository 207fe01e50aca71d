"""The worker's coordination Lease: its liveness signal, renewed every few seconds.

Invariant: one Lease per worker and served namespace, whatever the number of executions, so
liveness traffic grows with the number of workers only. The Lease also lists the functions the
worker serves (annotation), which tells whether any live worker serves a function.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kontinue.api import labels, names
from kontinue.api.timestamps import format_micro_time
from kontinue.client import _kube

log = logging.getLogger(__name__)

FUNCTIONS_ANNOTATION = f"{labels.PREFIX}/functions"


def lease_name(worker: str) -> str:
    """The Lease object name of a worker."""
    return names.child_name("kontinue-worker", names.sanitize(worker) or "worker")


def cluster_scoped(lease: Mapping[str, Any]) -> bool:
    """Whether the Lease is that of a worker serving every namespace."""
    lease_labels = (lease.get("metadata") or {}).get("labels") or {}
    return lease_labels.get(labels.WORKER_SCOPE) == labels.CLUSTER_SCOPE


def served_functions(lease: Mapping[str, Any]) -> set[str]:
    """Functions a worker's Lease says it serves."""
    raw = (lease.get("metadata") or {}).get("annotations", {}).get(FUNCTIONS_ANNOTATION)
    try:
        return set(json.loads(raw)) if raw else set()
    except ValueError:
        return set()


class LeaseKeeper(threading.Thread):
    """Creates the worker's Leases and renews them until stopped; deletes them on release."""

    def __init__(
        self,
        kube: _kube.Kube,
        namespaces: list[str],
        *,
        worker: str,
        group: str,
        functions: list[str],
        duration: int,
        stop: threading.Event,
        cluster_scope: bool = False,
    ) -> None:
        super().__init__(name="lease", daemon=True)
        self._cluster_scope = cluster_scope
        self._kube = kube
        self._namespaces = namespaces
        self._worker = worker
        self._group = group
        self._functions = functions
        self.duration = duration
        self._stopping = stop
        self.renewals = 0

    def _manifest(self, now: datetime) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {
                "name": lease_name(self._worker),
                "labels": {labels.WORKER_GROUP: self._group,
                           **({labels.WORKER_SCOPE: labels.CLUSTER_SCOPE}
                              if self._cluster_scope else {})},
                "annotations": {FUNCTIONS_ANNOTATION: json.dumps(sorted(self._functions))},
            },
            "spec": {"holderIdentity": self._worker, "leaseDurationSeconds": self.duration,
                     "acquireTime": format_micro_time(now), "renewTime": format_micro_time(now)},
        }  # fmt: skip

    def acquire(self) -> None:
        """Create (or take back) the Leases before serving anything."""
        now = datetime.now(UTC)
        for namespace in self._namespaces:
            self._kube.apply(
                _kube.LEASES,
                namespace,
                lease_name(self._worker),
                self._manifest(now),
                field_manager="kontinue-worker",
            )

    def renew(self) -> None:
        """Renew every Lease once."""
        patch = {"spec": {"renewTime": format_micro_time(datetime.now(UTC))}}
        for namespace in self._namespaces:
            self._kube.merge_patch(_kube.LEASES, namespace, lease_name(self._worker), patch)
        self.renewals += 1

    def run(self) -> None:
        """Renew until stopped (recreating a Lease someone deleted)."""
        interval = max(1.0, self.duration / 3)
        while not self._stopping.wait(interval):
            try:
                self.renew()
            except _kube.NotFound:
                self.acquire()
            except Exception:  # noqa: BLE001 - keep trying; expiry is the failure signal
                log.exception("renewing the worker lease failed")

    def release(self) -> None:
        """Delete the Leases (graceful shutdown)."""
        for namespace in self._namespaces:
            try:
                self._kube.delete(_kube.LEASES, namespace, lease_name(self._worker))
            except _kube.ApiError:
                log.warning("could not delete the lease in %s", namespace)
