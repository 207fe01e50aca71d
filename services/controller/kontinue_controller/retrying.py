"""Manual retries: performing the retry a person requested in an execution's spec.

``kontinue retry`` (the client, the CLI, the UI) writes ``spec.retryRequest`` with a fresh id
and the end it retries; the controller, seeing a Failed or Canceled execution whose request is
pending (its id is not the one ``status.retried`` records, :func:`kontinue.api.retries.pending`),
puts it back to Pending with the :func:`kontinue.api.transitions.retry` transition, conditional
on the version it read. The next claim starts a new attempt that replays the committed steps
and runs the rest again (:mod:`kontinue.api.retries`).

The request lives in the object, so a controller that restarts (or a new leader) finds a
pending request in its listing and performs it; a request sent twice is performed once (same
id). A request that cannot be performed (the execution still runs, completed, is a child, or
the request names an earlier end) is left alone with a Warning Event saying why, once per
request; the client refuses those before writing anything.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kontinue.api import retries, transitions
from kontinue.api.phases import execution_phase
from kontinue.client import kubeapi
from kontinue_controller.keys import Key
from kontinue_controller.timers import Timers
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)

_ATTEMPTS = 5


class Retrying:
    """Performs the pending retry requests of executions."""

    def __init__(self, kube: kubeapi.Kube, timers: Timers, writes: Writes) -> None:
        self._kube = kube
        self._timers = timers
        self._writes = writes
        self._refused: dict[Key, str] = {}  # the request id last refused (one Event each)

    def watch(self, key: Key, obj: dict[str, Any]) -> None:
        """An execution changed (or was listed): perform its pending retry request, if any."""
        if retries.pending(obj) is not None and execution_phase(obj).terminal:
            self._timers.soon("retry", key, lambda: self.perform(key[1], key[2]))

    def forget(self, key: Key) -> None:
        """The execution is gone."""
        self._refused.pop(key, None)

    def perform(self, namespace: str, name: str) -> None:
        """Retry ``name`` if a request is pending and it may be retried (on a fresh read)."""
        key: Key = ("Execution", namespace, name)
        for _ in range(_ATTEMPTS):
            current = self._kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
            if current is None or not execution_phase(current).terminal:
                return
            request = retries.pending(current)
            if request is None:
                return
            refusal = retries.refusal(current) or retries.stale(current, request)
            if refusal is not None:
                if self._refused.get(key) != request["id"]:
                    self._refused[key] = request["id"]
                    self._writes.post_event(current, "RetryRefused", refusal, warning=True)
                    log.info("retry of %s/%s refused: %s", namespace, name, refusal)
                return
            status = transitions.retry(current.get("status"), request, datetime.now(UTC))
            if self._writes.transition(current, "Retried", status) is not None:
                log.info("execution %s/%s retried (request %s)", namespace, name, request["id"])
                return
        log.warning("could not retry %s/%s: it kept changing", namespace, name)
