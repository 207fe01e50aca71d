"""How long the worker keeps retrying API calls that fail transiently within one attempt.

A connection drop, a restarting API server or etcd, a 5xx or a 429 pass: the call is retried
with a growing pause. If the API server stays out of reach for longer than the patience (or the
worker shuts down meanwhile), the attempt is interrupted with
:class:`~kontinue.errors.Interrupted`: the worker hands the execution back for a later claim
instead of failing it, because an unreachable API server says nothing about the workflow.
"""

from __future__ import annotations

import logging
import threading
import time

from kontinue import errors
from kontinue.client import kubeapi

log = logging.getLogger(__name__)

DEFAULT_PATIENCE = 60.0
"""Seconds of transient failures one operation rides out before the attempt is interrupted."""


class Patience:
    """Retry pacing for one operation: backoff pauses until ``seconds`` have passed."""

    def __init__(self, seconds: float, stop: threading.Event | None = None) -> None:
        self._deadline = time.monotonic() + seconds
        self._seconds = seconds
        self._stop = stop
        self._backoff = kubeapi.Backoff(first=0.2, cap=3.0)

    def wait(self, what: str, error: BaseException) -> None:
        """Pause before the next try, or raise Interrupted when patience ran out.

        Raises:
            Interrupted: the patience is spent, or the worker is stopping.
        """
        pause = self._backoff.pause()
        if time.monotonic() + pause > self._deadline:
            raise errors.Interrupted(
                f"{what} failed for {self._seconds:.0f}s: {error}; handing the execution back"
            ) from error
        if self._backoff.attempts == 1 or self._backoff.attempts % 10 == 0:
            log.warning("%s failed (%s); retrying", what, error)
        if self._stop is not None:
            if self._stop.wait(pause):
                raise errors.Interrupted(f"{what} failed ({error}) while the worker stops")
        else:
            time.sleep(pause)
