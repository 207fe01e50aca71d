"""The duties' timers: one per duty and object, run while leading, retried until done."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from kontinue_controller.timers import Timers

KEY = ("Execution", "ns", "e")


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def started(stop: threading.Event, leading: Callable[[], bool] = lambda: True) -> Timers:
    timers = Timers(stop, leading=leading)
    timers.start()
    return timers


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_one_timer_per_duty_and_object_a_later_call_moves_it(stop: threading.Event) -> None:
    timers = started(stop)
    fired: list[str] = []
    soon = datetime.now(UTC) + timedelta(milliseconds=100)
    timers.at("ttl", KEY, soon, lambda: fired.append("first"))
    timers.at("ttl", KEY, soon + timedelta(milliseconds=100), lambda: fired.append("moved"))
    timers.at("backoff", KEY, soon, lambda: fired.append("other duty"))
    wait_for(lambda: len(fired) == 2)
    time.sleep(0.2)
    assert sorted(fired) == ["moved", "other duty"]


def test_a_forgotten_object_fires_nothing(stop: threading.Event) -> None:
    timers = started(stop)
    fired: list[str] = []
    timers.at(
        "ttl", KEY, datetime.now(UTC) + timedelta(milliseconds=100), lambda: fired.append("x")
    )
    timers.forget(KEY)
    time.sleep(0.3)
    assert fired == []


def test_a_failed_duty_runs_again_after_a_pause(stop: threading.Event) -> None:
    timers = started(stop)
    calls: list[float] = []

    def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("the API server is away")

    before = REGISTRY.get_sample_value("kontinue_controller_duty_retries_total", {"duty": "ttl"})
    timers.soon("ttl", KEY, flaky)
    wait_for(lambda: len(calls) == 2)
    assert calls[1] - calls[0] >= 0.45  # the first retry pause is half a second
    after = REGISTRY.get_sample_value("kontinue_controller_duty_retries_total", {"duty": "ttl"})
    assert (after or 0) - (before or 0) == 1


def test_nothing_fires_while_the_replica_does_not_lead(stop: threading.Event) -> None:
    leading = threading.Event()
    timers = started(stop, leading.is_set)
    fired: list[str] = []
    timers.soon("cancel", KEY, lambda: fired.append("x"))
    time.sleep(0.3)
    assert fired == []
    leading.set()
    wait_for(lambda: fired == ["x"])  # tried again a second later
