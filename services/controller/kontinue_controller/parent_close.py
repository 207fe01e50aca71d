"""Parent-close policy ``cancel``: the children of an attempt that ended are canceled.

When an attempt of a parent ends (it is Completed, Failed, Canceled or Skipped, or in Backoff
after a failed or timed-out attempt), its unfinished children whose ``spec.parentClosePolicy``
is ``Cancel`` are asked to cancel (``spec.cancel``, which the cancellation duty carries down
their own trees). Which children, and when, is :mod:`kontinue.api.parent_close`'s rule.

Driven by watch events only: the parent's event (it closed) and each child's event (a child
the view saw after its parent closed, as after a restart, when the listing brings parents and
children in any order); the resync hands every object in again, so nothing missed lasts.
Idempotent: a child already finished or asked to cancel is left alone. Before acting, the
parent is read again (a Backoff seen in the view may already be a new attempt), and each
child is checked to be really that parent's (label, controlling owner and ``spec.parent``, by
uid): an object that only claims to be a child is never touched. The patch is conditional on
the child's version that was checked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kontinue.api import parent_close
from kontinue.api.phases import execution_phase
from kontinue.client import kubeapi
from kontinue_controller.keys import Key
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)


class ParentClose:
    """Cancels the ``cancel``-policy children of parents whose attempt ended."""

    def __init__(
        self, kube: kubeapi.Kube, view: ObjectView, timers: Timers, writes: Writes
    ) -> None:
        self._kube = kube
        self._view = view
        self._timers = timers
        self._writes = writes

    def on_execution(self, key: Key, obj: Mapping[str, Any]) -> None:
        """An Execution changed (or was listed): as a closed parent, or as a child of one."""
        namespace, name = key[1], key[2]
        if parent_close.closed(obj) and parent_close.to_cancel(
            obj, self._view.owned("Execution", namespace, name)
        ):
            self._request(namespace, name)
        if parent_close.of(obj) != "cancel" or execution_phase(dict(obj)).terminal:
            return
        parent = ((obj.get("spec") or {}).get("parent") or {}).get("name")
        cached = self._view.cached("Execution", namespace, parent) if parent else None
        if cached is not None and parent_close.to_cancel(cached, [obj]):
            self._request(namespace, str(parent))

    def _request(self, namespace: str, parent: str) -> None:
        key = ("Execution", namespace, parent)
        self._timers.soon("parent-close", key, lambda: self.close(namespace, parent))

    def close(self, namespace: str, name: str) -> int:
        """Cancel the children the close of ``name`` cancels; how many were asked to."""
        parent = self._kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
        if parent is None or not parent_close.closed(parent):
            return 0  # gone (its children go with it) or running a new attempt
        asked = 0
        for child in parent_close.to_cancel(parent, self._view.owned("Execution", namespace, name)):
            if self._cancel(parent, child):
                asked += 1
        return asked

    def _cancel(self, parent: Mapping[str, Any], child: Mapping[str, Any]) -> bool:
        """Ask one child to cancel, on the version checked (re-checked after a conflict)."""
        meta = child["metadata"]
        current: Mapping[str, Any] | None = child
        for _ in range(3):
            if current is None or not parent_close.to_cancel(parent, [current]):
                return False
            try:
                self._kube.merge_patch(
                    kubeapi.EXECUTIONS,
                    meta["namespace"],
                    meta["name"],
                    {"spec": {"cancel": True}},
                    resource_version=current["metadata"]["resourceVersion"],
                )
            except kubeapi.NotFound:
                return False
            except kubeapi.Conflict:
                current = self._kube.get_or_none(
                    kubeapi.EXECUTIONS, meta["namespace"], meta["name"]
                )
                continue
            message = parent_close.close_message(parent)
            log.info("execution %s/%s canceled: %s", meta["namespace"], meta["name"], message)
            self._writes.post_event(child, "ParentClosed", message)
            return True
        return False
