"""Cancellation of a whole tree.

Setting ``spec.cancel`` on an Execution (the client, CLI and UI do) asks for it. The controller
then, for that execution:

1. asks each unfinished child to cancel (``spec.cancel`` on the child, whose own cancellation
   cascades the same way down the tree);
2. cancels its waiting Suspensions (phase Canceled) and stops its running Jobs (``suspend``:
   their pods are terminated, the Job stays as a record);
3. sets the execution itself to Canceled (or Skipped, for a scheduled run recorded as skipped),
   whatever its phase. A worker running it sees the change through its watch and stops at the
   next step boundary; its fenced writes cannot land any more.

Overall timeouts use the same descent for the children of the execution that timed out.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from kontinue.api import labels, suspension_ends, transitions
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, job_end, suspension_phase
from kontinue.client import kubeapi
from kontinue_controller.keys import Key
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)

_ATTEMPTS = 5


class Cancellation:
    """Cancels trees: the executions that ask for it, the children of those that timed out."""

    def __init__(
        self, kube: kubeapi.Kube, view: ObjectView, timers: Timers, writes: Writes
    ) -> None:
        self._kube = kube
        self._view = view
        self._timers = timers
        self._writes = writes

    def request(self, key: Key) -> None:
        """An execution asks to be canceled: do it on the timer thread, once."""
        self._timers.soon("cancel", key, lambda: self.cancel(key[1], key[2]))

    def cancel_descendants(self, namespace: str, name: str, reason: str) -> int:
        """Ask every unfinished child of ``name`` to cancel and cancel its waiting Suspensions.

        Returns how many objects were changed.
        """
        changed = 0
        for child in self._view.owned("Execution", namespace, name):
            if execution_phase(child).terminal or (child.get("spec") or {}).get("cancel"):
                continue
            try:
                self._kube.merge_patch(
                    kubeapi.EXECUTIONS,
                    namespace,
                    child["metadata"]["name"],
                    {"spec": {"cancel": True}},
                )
                changed += 1
            except kubeapi.NotFound:
                pass
        for suspension in self._view.owned("Suspension", namespace, name):
            if suspension_phase(suspension) != SuspensionPhase.SUSPENDED:
                continue
            status = suspension_ends.canceled(suspension, datetime.now(UTC), reason)
            try:
                self._kube.merge_patch(
                    kubeapi.SUSPENSIONS,
                    namespace,
                    suspension["metadata"]["name"],
                    {"status": status},
                    subresource="status",
                    resource_version=suspension["metadata"]["resourceVersion"],
                )
                changed += 1
            except (kubeapi.Conflict, kubeapi.NotFound):
                pass  # resumed or gone meanwhile
        for job in self._view.owned("Job", namespace, name):
            if job_end(job) is not None or (job.get("spec") or {}).get("suspend"):
                continue
            try:  # a suspended Job's pods are terminated; the Job stays as a record
                self._kube.merge_patch(
                    kubeapi.JOBS, namespace, job["metadata"]["name"], {"spec": {"suspend": True}}
                )
                changed += 1
            except kubeapi.NotFound:
                pass
        return changed

    def cancel(self, namespace: str, name: str) -> None:
        """Cancel ``name`` and, through its children, its whole tree."""
        for _ in range(_ATTEMPTS):
            current = self._kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
            if current is None or execution_phase(current).terminal:
                return
            if not (current.get("spec") or {}).get("cancel"):
                return
            skip = (current["metadata"].get("annotations") or {}).get(labels.SKIP_REASON)
            message = skip or "canceled"
            if not skip and execution_phase(current) == Phase.EXECUTING:
                message = f"canceled while running on {current['status']['workerName']}"
            self.cancel_descendants(namespace, name, f"execution {name} was canceled")
            status = transitions.cancel(
                current.get("status"), message, datetime.now(UTC), skip=bool(skip)
            )  # a running attempt ends with it
            reason = "Skipped" if skip else "Canceled"
            if self._writes.transition(current, reason, status) is not None:
                log.info("execution %s/%s %s", namespace, name, reason.lower())
                return
        log.warning("could not cancel %s/%s: it kept changing", namespace, name)
