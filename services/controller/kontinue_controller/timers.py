"""The controller's timers: one per duty and object, run again with a backoff until done.

:class:`TimerThread` runs callbacks at wall-clock times (one thread keeps the heap, a pool runs
what is due). :class:`Timers`, which the duties receive, keys them by duty and object, so that
the many events of one object never pile up duplicate timers; runs them only while this replica
leads; and runs a duty that raised (the API server unreachable, a 5xx, a timeout) again after a
growing pause (:func:`~kontinue_controller.logic.backoff.retry_pause`) until it completes.
Every duty re-reads what it acts on, so running it again is safe.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from kontinue.client import kubeapi
from kontinue_controller import metrics
from kontinue_controller.keys import Key
from kontinue_controller.logic.backoff import retry_pause

log = logging.getLogger(__name__)


class TimerThread(threading.Thread):
    """Runs callbacks at wall-clock times: one thread keeps the heap, a pool runs what is due.

    The callbacks wait on the API server, so running them one after another would cap the
    rate at which timers can fire (a burst of sleeps ending together would fall behind); a
    pool of ``workers`` threads runs them side by side. Every callback re-reads what it acts
    on and writes conditionally, so their order does not matter.
    """

    def __init__(self, stop: threading.Event, workers: int = 16) -> None:
        super().__init__(name="timers", daemon=True)
        self._heap: list[tuple[datetime, int, Callable[[], object]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopping = stop
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="timer")

    def at(self, when: datetime, callback: Callable[[], object]) -> None:
        """Run ``callback`` at ``when`` (at once if it is past)."""
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._counter), callback))
            self._cond.notify()

    def run(self) -> None:
        """Fire callbacks as they come due."""
        while not self._stopping.is_set():
            with self._cond:
                now = datetime.now(UTC)
                due = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    wait = (self._heap[0][0] - now).total_seconds() if self._heap else 1.0
                    self._cond.wait(timeout=min(max(wait, 0.001), 1.0))
                    continue
            for callback in due:
                self._pool.submit(self._call, callback)

    @staticmethod
    def _call(callback: Callable[[], object]) -> None:
        try:
            callback()
        except Exception:  # noqa: BLE001 - one failed timer must not stop the others
            log.exception("timer callback failed")


class Timers:
    """The duties' timers: one per duty and object, run while leading, retried until done."""

    def __init__(self, stop: threading.Event, *, leading: Callable[[], bool]) -> None:
        self._thread = TimerThread(stop)
        self._leading = leading
        self._lock = threading.Lock()
        self._due: dict[Key, dict[str, datetime]] = {}  # object -> duty -> when
        self._failures: dict[tuple[str, Key], int] = {}

    def start(self) -> None:
        """Start the timer thread."""
        self._thread.start()

    def at(
        self,
        duty: str,
        key: Key,
        when: datetime,
        callback: Callable[[], object],
        *,
        measured: bool = True,
    ) -> None:
        """Run ``callback`` at ``when``: one timer per duty and object (a later call moves it).

        A ``measured`` timer reports how late it fired
        (``kontinue_controller_timer_lateness_seconds``).
        """
        with self._lock:
            duties = self._due.setdefault(key, {})
            if duties.get(duty) == when:
                return
            duties[duty] = when

        def fire() -> None:
            with self._lock:
                duties = self._due.get(key, {})
                if duties.get(duty) != when:
                    return  # moved or dropped since
                del duties[duty]
                if not duties:
                    del self._due[key]
            if not self._leading():
                # leadership not confirmed (a pause, a lost renewal): try again shortly; a
                # replica that lost it exits, and the new leader derives its own timers
                self.at(duty, key, datetime.now(UTC) + timedelta(seconds=1), callback)
                return
            if measured:
                late = (datetime.now(UTC) - when).total_seconds()
                metrics.TIMER_LATENESS.labels(duty=duty).observe(max(0.0, late))
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 - the duty runs again until it is done
                self._retry(duty, key, callback, exc)
            else:
                self._failures.pop((duty, key), None)

        self._thread.at(when, fire)

    def soon(self, duty: str, key: Key, callback: Callable[[], object]) -> None:
        """Run ``callback`` now, once for the calls of the same duty and object in a second."""
        self.at(duty, key, datetime.now(UTC).replace(microsecond=0), callback, measured=False)

    def forget(self, key: Key) -> None:
        """Drop every timer of an object (it is gone)."""
        with self._lock:
            self._due.pop(key, None)

    def _retry(self, duty: str, key: Key, callback: Callable[[], object], exc: Exception) -> None:
        """Run a failed duty again after a growing pause."""
        failures = self._failures.get((duty, key), 0) + 1
        self._failures[(duty, key)] = failures
        pause = retry_pause(failures)
        if isinstance(exc, kubeapi.Unreachable | kubeapi.ServerError):
            log.warning("%s of %s/%s failed (%s); again in %.1fs", duty, *key[1:], exc, pause)
        else:
            log.exception("%s of %s/%s failed; again in %.1fs", duty, *key[1:], pause)
        metrics.DUTY_RETRIES.labels(duty=duty).inc()
        self.at(duty, key, datetime.now(UTC) + timedelta(seconds=pause), callback)
