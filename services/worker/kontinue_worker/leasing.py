"""The worker's coordination Lease: its liveness signal, renewed every few seconds.

Invariant: one Lease per worker pod and served namespace, whatever the number of executions, so
liveness traffic grows with the number of workers only. The Lease is named after the pod and
held by the worker *process* (``holderIdentity``: the pod name plus a suffix drawn at start),
so a container restarted inside the same pod takes the Lease over as a new holder: the
controller sees the holder change and hands the predecessor's executions back at once, and the
new process does the same for those it finds under its pod's name. The Lease also lists the
functions the worker serves, its version, the versions it upgrades and whether it drains
(annotations), which tells whether any live worker serves a function, and claims an execution
pinned to a given version.

Renewals are conditional on the holder (a JSON patch whose ``test`` operation checks
``holderIdentity``): a process whose Lease was taken over by its successor learns it at its
next renewal and stops (:attr:`LeaseKeeper.lost`), instead of keeping the Lease alive for both.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kontinue.api import labels, names, worker_versions
from kontinue.api.timestamps import format_micro_time
from kontinue.client import kubeapi

log = logging.getLogger(__name__)

FUNCTIONS_ANNOTATION = f"{labels.PREFIX}/functions"
VERSION_ANNOTATION = f"{labels.PREFIX}/worker-version"
"""The version of the worker holding the Lease (what its claims pin executions to)."""
UPGRADE_ANNOTATION = f"{labels.PREFIX}/upgrade-from"
"""The versions whose executions that worker upgrades (comma-separated; absent: none)."""
DRAIN_ANNOTATION = f"{labels.PREFIX}/drain"
""""true" when that worker takes no new executions (it drains its version)."""
POD_ANNOTATION = f"{labels.PREFIX}/worker-pod"
"""The pod (``status.workerName`` of its executions) of the process holding a worker Lease."""


def lease_name(worker: str) -> str:
    """The Lease object name of a worker pod."""
    return names.suffixed("kontinue-worker", names.sanitize(worker) or "worker")


def cluster_scoped(lease: Mapping[str, Any]) -> bool:
    """Whether the Lease is that of a worker serving every namespace."""
    lease_labels = (lease.get("metadata") or {}).get("labels") or {}
    return lease_labels.get(labels.WORKER_SCOPE) == labels.CLUSTER_SCOPE


def process_identity(pod: str) -> str:
    """A new identity for a worker process of ``pod``: the pod name and a per-start suffix."""
    return f"{pod}-{secrets.token_hex(4)}"


def served_functions(lease: Mapping[str, Any]) -> set[str]:
    """Functions a worker's Lease says it serves."""
    raw = (lease.get("metadata") or {}).get("annotations", {}).get(FUNCTIONS_ANNOTATION)
    try:
        return set(json.loads(raw)) if raw else set()
    except ValueError:
        return set()


def lease_claims(lease: Mapping[str, Any]) -> worker_versions.Claims | None:
    """Which executions the worker of ``lease`` claims (None: any, a worker older than versions)."""
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    version = annotations.get(VERSION_ANNOTATION)
    if not version:
        return None
    return worker_versions.Claims(
        version,
        worker_versions.parse_upgrade_from([annotations.get(UPGRADE_ANNOTATION) or ""]),
        drain=annotations.get(DRAIN_ANNOTATION) == "true",
    )


def claims(lease: Mapping[str, Any], pinned: str | None, *, started: bool = True) -> bool:
    """Whether the worker of ``lease`` claims an execution pinned to ``pinned``."""
    found = lease_claims(lease)
    return found is None or found.claims(pinned, started=started)


class LeaseKeeper(threading.Thread):
    """Creates the worker's Leases and renews them until stopped; deletes them on release.

    Args:
        kube: the API client.
        namespaces: one Lease in each.
        worker: the pod name (names the Leases).
        identity: this process's identity (``holderIdentity``).
        group: the worker group (label).
        functions: what this worker serves (annotation).
        duration: ``leaseDurationSeconds``.
        versions: the worker's version, the versions it upgrades and whether it drains
            (annotations), so other workers know who claims what.
        stop: set when the worker stops.
    """

    def __init__(
        self,
        kube: kubeapi.Kube,
        namespaces: list[str],
        *,
        worker: str,
        identity: str,
        group: str,
        functions: list[str],
        duration: int,
        stop: threading.Event,
        cluster_scope: bool = False,
        versions: worker_versions.Claims | None = None,
    ) -> None:
        super().__init__(name="lease", daemon=True)
        self._versions = versions
        self._cluster_scope = cluster_scope
        self._kube = kube
        self._namespaces = namespaces
        self._worker = worker
        self.identity = identity
        self._group = group
        self._functions = functions
        self.duration = duration
        self._stopping = stop
        self.renewals = 0
        self.lost = threading.Event()
        """Set when another process took this worker's Lease over: stop serving."""
        self.renewed_at = time.monotonic()
        """When every Lease was last renewed (monotonic clock)."""

    def _manifest(self, now: datetime) -> dict[str, Any]:
        annotations = {FUNCTIONS_ANNOTATION: json.dumps(sorted(self._functions)),
                       POD_ANNOTATION: self._worker}  # fmt: skip
        if self._versions is not None:
            annotations[VERSION_ANNOTATION] = self._versions.version
            if self._versions.upgrade_from:
                upgrades = ",".join(sorted(self._versions.upgrade_from))
                annotations[UPGRADE_ANNOTATION] = upgrades
            if self._versions.drain:
                annotations[DRAIN_ANNOTATION] = "true"
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {
                "name": lease_name(self._worker),
                "labels": {labels.WORKER_GROUP: self._group,
                           **({labels.WORKER_SCOPE: labels.CLUSTER_SCOPE}
                              if self._cluster_scope else {})},
                "annotations": annotations,
            },
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.duration,
                     "acquireTime": format_micro_time(now), "renewTime": format_micro_time(now)},
        }  # fmt: skip

    def acquire(self, namespace: str | None = None) -> None:
        """Create (or take over) the Leases before serving anything (one namespace, or all)."""
        now = datetime.now(UTC)
        for ns in [namespace] if namespace else self._namespaces:
            self._kube.apply(
                kubeapi.LEASES,
                ns,
                lease_name(self._worker),
                self._manifest(now),
                field_manager="kontinue-worker",
            )

    def renew(self) -> None:
        """Renew every Lease once, if this process still holds it.

        Raises:
            LeaseLost: another process holds a Lease now.
        """
        stamp = format_micro_time(datetime.now(UTC))
        for namespace in self._namespaces:
            operations = [
                {"op": "test", "path": "/spec/holderIdentity", "value": self.identity},
                {"op": "add", "path": "/spec/renewTime", "value": stamp},
            ]
            try:
                self._kube.json_patch(
                    kubeapi.LEASES, namespace, lease_name(self._worker), operations
                )
            except kubeapi.NotFound:
                self.acquire(namespace)  # deleted (a takeover, by hand): take it again
            except kubeapi.Invalid as exc:  # the test failed: the holder changed
                raise LeaseLost(
                    f"the lease of worker {self._worker} in {namespace} is held by another "
                    f"process now ({exc.message})"
                ) from exc
        self.renewals += 1
        self.renewed_at = time.monotonic()

    def run(self) -> None:
        """Renew until stopped or lost (recreating a Lease someone deleted)."""
        interval = max(1.0, self.duration / 3)
        while not self._stopping.wait(interval):
            try:
                self.renew()
            except LeaseLost as exc:
                log.error("%s; this process stops serving", exc)
                self.lost.set()
                return
            except Exception:  # noqa: BLE001 - keep trying; expiry is the failure signal
                log.exception("renewing the worker lease failed")

    def release(self) -> None:
        """Delete the Leases this process holds (graceful shutdown)."""
        for namespace in self._namespaces:
            try:
                current = self._kube.get_or_none(
                    kubeapi.LEASES, namespace, lease_name(self._worker)
                )
                if current is None or current["spec"].get("holderIdentity") != self.identity:
                    continue
                self._kube.request(
                    "DELETE",
                    kubeapi.LEASES.path(namespace, lease_name(self._worker)),
                    body={
                        "preconditions": {"resourceVersion": current["metadata"]["resourceVersion"]}
                    },
                )
            except (kubeapi.ApiError, kubeapi.Unreachable):
                log.warning("could not delete the lease in %s", namespace)


class LeaseLost(Exception):  # noqa: N818 - a condition, like the API errors
    """Another process holds the worker's Lease."""
