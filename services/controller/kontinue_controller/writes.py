"""The controller's writes to Executions: status transitions and the Events that tell them.

A transition patches an Execution's status only if the Execution did not change since the
duty read it (the write is conditional on that resourceVersion): a refused write means the
watch brings a newer state, and the duty looks again then. Events are posted on a small pool
of their own, best effort (``kubectl describe`` tells the story; losing one loses nothing).
The patches of the lifecycle's transitions (wake, cancel, refuse, fail) come from
:mod:`kontinue.api.transitions`, as the worker's do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kontinue.api import timestamps, transitions
from kontinue.api.phases import execution_phase
from kontinue.client import kubeapi
from kontinue.telemetry import execution_metrics

log = logging.getLogger(__name__)


class Writes:
    """Execution status transitions and Events, as controller replica ``identity``."""

    def __init__(self, kube: kubeapi.Kube, *, identity: str) -> None:
        self._kube = kube
        self._identity = identity
        self._events = ThreadPoolExecutor(max_workers=4, thread_name_prefix="events")

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
            self._kube.create(kubeapi.EVENTS, namespace, event)
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
            updated = self._kube.merge_patch(
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

    def to_pending(
        self, obj: Mapping[str, Any], reason: str, message: str, **extra: Any
    ) -> dict[str, Any] | None:
        """Put an execution back to Pending if it did not change since ``obj``.

        The wake transition (:func:`kontinue.api.transitions.wake`): a woken execution that held
        a function slot while it waited asks for one again. Returns the updated execution, or
        None when it changed or is gone.
        """
        status = transitions.wake(obj.get("status"), message, **extra)
        return self.transition(obj, reason, status)
