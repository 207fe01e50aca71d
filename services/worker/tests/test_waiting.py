"""WaitHub: a change between the engine's check and its wait is not missed."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from kontinue_worker.waiting import WaitHub

KEY = ("Execution", "ns", "child-1")


def child(version: str, phase: str) -> dict[str, Any]:
    meta = {"namespace": "ns", "name": "child-1", "resourceVersion": version}
    return {"metadata": meta, "status": {"phase": phase}}


def hub() -> WaitHub:
    """A hub fed by hand (its watches are not started)."""
    return WaitHub(cast(Any, None), ["ns"], "default", threading.Event())


def test_a_change_after_the_read_ends_the_wait_at_once() -> None:
    waits = hub()
    waits.observe("Execution", child("10", "Executing"))
    mark = waits.changes(KEY)  # the engine reads the child: not finished yet
    waits.observe("Execution", child("11", "Completed"))  # it finishes before the wait starts
    began = time.monotonic()
    waits.wait([KEY], 30.0, threading.Event(), since=[mark])
    assert time.monotonic() - began < 1.0


def test_without_a_change_the_wait_lasts_its_timeout() -> None:
    waits = hub()
    waits.observe("Execution", child("10", "Executing"))
    mark = waits.changes(KEY)
    began = time.monotonic()
    waits.wait([KEY], 0.3, threading.Event(), since=[mark])
    assert time.monotonic() - began >= 0.25


def test_a_change_during_the_wait_wakes_it() -> None:
    waits = hub()
    waits.observe("Execution", child("10", "Executing"))
    mark = waits.changes(KEY)
    timer = threading.Timer(0.2, lambda: waits.observe("Execution", child("11", "Completed")))
    timer.start()
    began = time.monotonic()
    waits.wait([KEY], 30.0, threading.Event(), since=[mark])
    timer.join()
    assert time.monotonic() - began < 5.0


def test_an_older_copy_is_no_change() -> None:
    waits = hub()
    waits.observe("Execution", child("11", "Completed"))
    mark = waits.changes(KEY)
    waits.observe("Execution", child("10", "Executing"))  # a stale read fed back
    assert waits.changes(KEY) == mark
    assert (waits.lookup(*KEY) or {})["status"]["phase"] == "Completed"
