"""A sleep's end wakes its execution at once, not when the watch brings the sleep's end back.

Under load the controller's watch events queue behind one another; the execution whose sleep
just ended is woken by the same timer that ended it. These tests drive the wake-up duty on the
real API server with the session controller stopped and no watch feeding the view, so only
that path can wake the execution.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from kontinue.api import manifests, timestamps
from kontinue.client import Client
from kontinue.client.kubeapi import EXECUTIONS, SUSPENSIONS
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.wakeups import Wakeups
from kontinue_controller.writes import Writes
from kontinue_testkit.pytest_plugin import SessionController, wait_for

STEP = "sleep-1"


@pytest.fixture
def alone(kontinue_controller: SessionController) -> Iterator[threading.Event]:
    """The session controller stopped for the test (restarted after it); a stop flag."""
    kontinue_controller.kill()
    stop = threading.Event()
    try:
        yield stop
    finally:
        stop.set()
        kontinue_controller.restart()


def asleep(client: Client) -> tuple[str, str]:
    """An execution Suspended on a sleep, as a worker leaves it.

    The sleep is due in an hour: nothing but ending it wakes the execution (a sleep whose
    ``resumeAt`` passed counts as over, whatever its status), and the tests end it themselves.
    """
    kube, namespace = client.kube, client.namespace
    created = client.create_execution("nobody-runs-this")
    name, uid = created["metadata"]["name"], created["metadata"]["uid"]
    sleep = f"{name}--{STEP}"
    parent = manifests.Parent(name, uid, name, "default", STEP)
    resume_at = timestamps.format_micro_time(datetime.now(UTC) + timedelta(hours=1))
    kube.create(
        SUSPENSIONS,
        namespace,
        manifests.suspension_manifest(
            sleep, parent, resume_at=resume_at, display_name=None, description=None
        ),
    )
    status = {
        "phase": "Suspended",
        "suspendedOn": [{"kind": "Suspension", "name": sleep}],
        "startedAt": timestamps.now(),
        "message": f"sleep '{STEP}' until {resume_at}",
    }
    kube.merge_patch(EXECUTIONS, namespace, name, {"status": status}, subresource="status")
    return name, sleep


class Sleeping(NamedTuple):
    """An execution asleep, and a wake-up duty following it."""

    name: str
    sleep: str
    view: ObjectView
    wakeups: Wakeups


@pytest.fixture
def sleeping(client: Client, alone: threading.Event) -> Sleeping:
    """An execution asleep, and a wake-up duty whose view is as the watches left it.

    The sleep is seen and the execution Suspended on it and waiting (nothing resolved yet);
    the duty's timers run, no watch feeds its view.
    """
    kube, namespace = client.kube, client.namespace
    name, sleep = asleep(client)
    view = ObjectView()
    timers = Timers(alone, leading=lambda: True)
    timers.start()
    wakeups = Wakeups(kube, view, timers, Writes(kube, identity="wakeups-test"))
    view.remember("Suspension", "ADDED", kube.get(SUSPENSIONS, namespace, sleep))
    suspended = kube.get(EXECUTIONS, namespace, name)
    wakeups.on_execution(view.remember("Execution", "MODIFIED", suspended), suspended)
    return Sleeping(name, sleep, view, wakeups)


def test_the_timer_that_ends_a_sleep_wakes_its_execution(
    client: Client, sleeping: Sleeping
) -> None:
    kube, namespace = client.kube, client.namespace
    name, sleep, view, wakeups = sleeping

    wakeups.end_sleep(namespace, sleep)  # its timer fired; no watch event follows

    woken = wait_for(
        "the execution back to Pending",
        lambda: (e := kube.get(EXECUTIONS, namespace, name))["status"]["phase"] == "Pending" and e,
        timeout=30,
    )
    ended = kube.get(SUSPENSIONS, namespace, sleep)["status"]
    assert ended["phase"] == "Completed"
    assert ended["resumedBy"] == "timer"
    assert "suspendedOn" not in woken["status"]
    # the view took both writes' answers: a second look (the sleep's own watch event, when
    # it comes) finds the execution awake and writes nothing
    cached = view.cached("Execution", namespace, name)
    assert cached is not None
    assert cached["metadata"]["resourceVersion"] == woken["metadata"]["resourceVersion"]
    wakeups.evaluate((namespace, name))
    again = kube.get(EXECUTIONS, namespace, name)
    assert again["metadata"]["resourceVersion"] == woken["metadata"]["resourceVersion"]


def test_a_sleep_the_view_has_newer_news_of_is_left_to_its_watch_event(
    client: Client, sleeping: Sleeping
) -> None:
    kube, namespace = client.kube, client.namespace
    name, sleep, view, wakeups = sleeping
    # somebody changed the sleep since the view saw it: the timer's conditional write is
    # refused, the timer reads the sleep again and ends it, but the view (older than what
    # it read) is left for the watch to bring up to date, and nothing wakes early from it
    kube.merge_patch(SUSPENSIONS, namespace, sleep, {"metadata": {"labels": {"touched": "1"}}})
    wakeups.end_sleep(namespace, sleep)
    assert kube.get(SUSPENSIONS, namespace, sleep)["status"]["phase"] == "Completed"
    cached = view.cached("Suspension", namespace, sleep)
    assert cached is not None
    assert "status" not in cached or cached["status"].get("phase") != "Completed"
    assert kube.get(EXECUTIONS, namespace, name)["status"]["phase"] == "Suspended"
    # its watch event then comes, and wakes it
    view.remember("Suspension", "MODIFIED", kube.get(SUSPENSIONS, namespace, sleep))
    wakeups.wake_waiters(("Suspension", namespace, sleep))
    wait_for(
        "the execution back to Pending",
        lambda: kube.get(EXECUTIONS, namespace, name)["status"]["phase"] == "Pending",
        timeout=30,
    )
