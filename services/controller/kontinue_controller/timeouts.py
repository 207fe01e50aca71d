"""Attempt and overall timeouts.

``timeout.attempt`` counts from the current claim (``claimedAt``) while a worker runs the
execution: it restarts whenever the execution resumes (after a release or a takeover) and does
not run while nobody runs it. When it passes, the controller ends the attempt as a retryable
:class:`~kontinue.errors.AttemptTimeoutError`: Backoff while retries are left, else Failed. A
worker running the attempt sees the change through its watch and stops. The children of the
attempt are left alone, so a retry finds them as the child policy says.

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
from typing import TYPE_CHECKING, Any

from kontinue import errors
from kontinue.api import deadlines, policy
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import kubeapi
from kontinue.engine.outcomes import Outcome, finish_status

if TYPE_CHECKING:
    from kontinue_controller.timekeeping import Key, Timekeeper

log = logging.getLogger(__name__)

_RUNNING = (Phase.PENDING, Phase.EXECUTING, Phase.SUSPENDED)
_ATTEMPTS = 5


class Timeouts:
    """Attempt and overall timeout timers for the Timekeeper."""

    def __init__(self, timekeeper: Timekeeper) -> None:
        self._tk = timekeeper

    def watch(self, key: Key, obj: dict[str, Any]) -> None:
        """Set (or move) the timeout timers of an unfinished execution."""
        attempt = deadlines.attempt_deadline(obj)
        if attempt is not None and execution_phase(obj) in _RUNNING:
            self._tk.at("attempt-timeout", key, attempt, lambda: self.attempt(key[1], key[2]))
        overall = deadlines.overall_deadline(obj, self._tk.function_defaults.of(obj))
        if overall is not None:
            self._tk.at("overall-timeout", key, overall, lambda: self.overall(key[1], key[2]))

    def _due(
        self, namespace: str, name: str, deadline: Callable[[dict[str, Any]], datetime | None]
    ) -> dict[str, Any] | None:
        """The execution if its ``deadline`` passed; else None (re-arming an early timer)."""
        current = self._tk.kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
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
            status = finish_status(Outcome("failed", error=error), current, datetime.now(UTC))
            if self._tk.transition(current, "AttemptTimedOut", status, warning=True):
                return
        log.warning("could not time out the attempt of %s/%s: it kept changing", namespace, name)

    def _overall_deadline(self, execution: dict[str, Any]) -> datetime | None:
        return deadlines.overall_deadline(execution, self._tk.function_defaults.of(execution))

    def overall(self, namespace: str, name: str) -> None:
        """Fail the execution for good if its overall time is up, and cancel its children."""
        for _ in range(_ATTEMPTS):
            current = self._due(namespace, name, self._overall_deadline)
            if current is None:
                return
            defaults = self._tk.function_defaults.of(current)
            limit = policy.timeout_of(current, defaults).get("overall")
            error = errors.OverallTimeoutError(
                f"the execution exceeded its overall timeout of {limit}"
            )
            status = finish_status(Outcome("failed", error=error), current, datetime.now(UTC))
            status["nextAttemptAt"] = None
            if self._tk.transition(current, "TimedOut", status, warning=True):
                self._tk.cancellation.cancel_descendants(
                    namespace, name, f"execution {name} exceeded its overall timeout"
                )
                return
        log.warning("could not time out %s/%s: it kept changing", namespace, name)
