"""Attempt and overall timeouts.

``timeout.attempt`` counts from the current claim (``claimedAt``) while a worker runs the
execution: it restarts whenever the execution resumes (after a release or a takeover) and does
not run while nobody runs it. When it passes, the controller ends the attempt as a retryable
:class:`~kontinue.errors.AttemptTimeoutError`: Backoff while retries are left, else Failed. A
worker running the attempt sees the change through its watch and stops. The children of the
attempt are left alone, so a retry finds them as the child policy says, except those spawned
with the parent-close policy ``cancel``, which the parent-close duty cancels once the attempt
ended (:mod:`~kontinue_controller.parent_close`).

``timeout.overall`` counts from the execution's creation (time spent Pending counts too) across
all attempts. When it passes, the execution fails for good (a non-retryable timeout) and its
children are canceled.

Both limits are those in effect (:mod:`kontinue.api.policy`: the Execution's own, else its
function's registered default, which the first claim records; before it, the defaults its
Function object states, :mod:`kontinue_controller.function_defaults`).

Both deadlines come from the object alone, so a restarted controller sets the same timers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kontinue import errors
from kontinue.api import deadlines, policy, transitions
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import kubeapi
from kontinue_controller.cancellation import Cancellation
from kontinue_controller.function_defaults import FunctionDefaults, function_key
from kontinue_controller.keys import Key
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)

_RUNNING = (Phase.PENDING, Phase.EXECUTING, Phase.SUSPENDED)
_ATTEMPTS = 5


class Timeouts:
    """Attempt and overall timeout timers of the executions."""

    def __init__(
        self,
        kube: kubeapi.Kube,
        view: ObjectView,
        timers: Timers,
        writes: Writes,
        *,
        defaults: FunctionDefaults,
        cancellation: Cancellation,
    ) -> None:
        self._kube = kube
        self._view = view
        self._timers = timers
        self._writes = writes
        self._defaults = defaults
        self._cancellation = cancellation

    def on_function(self, event: str | None, obj: dict[str, Any]) -> None:
        """A Function changed (or was listed): its defaults may have.

        New defaults move the timeout timers of its executions no claim has recorded a policy
        for yet.
        """
        changed = self._defaults.on_function(event, obj)
        if changed is None:
            return
        for execution in self._view.objects("Execution"):
            if function_key(execution) == changed and not policy.recorded(execution):
                meta = execution["metadata"]
                self.watch(("Execution", meta["namespace"], meta["name"]), execution)

    def watch(self, key: Key, obj: dict[str, Any]) -> None:
        """Set (or move) the timeout timers of an unfinished execution."""
        attempt = deadlines.attempt_deadline(obj)
        if attempt is not None and execution_phase(obj) in _RUNNING:
            self._timers.at("attempt-timeout", key, attempt, lambda: self.attempt(key[1], key[2]))
        overall = deadlines.overall_deadline(obj, self._defaults.of(obj))
        if overall is not None:
            self._timers.at("overall-timeout", key, overall, lambda: self.overall(key[1], key[2]))

    def _due(
        self, namespace: str, name: str, deadline: Callable[[dict[str, Any]], datetime | None]
    ) -> dict[str, Any] | None:
        """The execution if its ``deadline`` passed; else None (re-arming an early timer)."""
        current = self._kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
        if current is None or execution_phase(current).terminal:
            return None
        when = deadline(current)
        if when is None:
            return None
        if when > datetime.now(UTC):
            self.watch(("Execution", namespace, name), current)
            return None
        return current

    def attempt(self, namespace: str, name: str) -> None:
        """End the running attempt if its time is up."""
        for _ in range(_ATTEMPTS):
            current = self._due(namespace, name, deadlines.attempt_deadline)
            if current is None or execution_phase(current) not in _RUNNING:
                return
            limit = policy.timeout_of(current).get("attempt")
            number = (current.get("status") or {}).get("attempt") or 1
            error = errors.AttemptTimeoutError(f"attempt {number} exceeded its timeout of {limit}")
            status = transitions.fail(
                current.get("status"), error, policy.retry_of(current), datetime.now(UTC)
            )
            if self._writes.transition(current, "AttemptTimedOut", status, warning=True):
                return
        log.warning("could not time out the attempt of %s/%s: it kept changing", namespace, name)

    def _overall_deadline(self, execution: dict[str, Any]) -> datetime | None:
        return deadlines.overall_deadline(execution, self._defaults.of(execution))

    def overall(self, namespace: str, name: str) -> None:
        """Fail the execution for good if its overall time is up, and cancel its children."""
        for _ in range(_ATTEMPTS):
            current = self._due(namespace, name, self._overall_deadline)
            if current is None:
                return
            defaults = self._defaults.of(current)
            limit = policy.timeout_of(current, defaults).get("overall")
            error = errors.OverallTimeoutError(
                f"the execution exceeded its overall timeout of {limit}"
            )
            status = transitions.fail(  # not retryable: Failed, no next attempt
                current.get("status"), error, policy.retry_of(current), datetime.now(UTC)
            )
            if self._writes.transition(current, "TimedOut", status, warning=True):
                self._cancellation.cancel_descendants(
                    namespace, name, f"execution {name} exceeded its overall timeout"
                )
                return
        log.warning("could not time out %s/%s: it kept changing", namespace, name)
