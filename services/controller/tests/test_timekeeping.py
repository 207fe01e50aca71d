"""The router hands each event to the view and the duties it concerns, and decides nothing."""

from __future__ import annotations

from typing import Any
from unittest import mock

from kontinue_controller.admission import Admission
from kontinue_controller.cancellation import Cancellation
from kontinue_controller.parent_close import ParentClose
from kontinue_controller.retention import Retention
from kontinue_controller.retrying import Retrying
from kontinue_controller.schedules import Scheduler
from kontinue_controller.takeover import Takeover
from kontinue_controller.timekeeping import Duties, Timekeeper
from kontinue_controller.timeouts import Timeouts
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.wakeups import Wakeups

KEY = ("Execution", "ns", "e")


def router() -> tuple[Timekeeper, Any, Any]:
    duties = Duties(
        wakeups=mock.create_autospec(Wakeups, instance=True),
        admission=mock.create_autospec(Admission, instance=True),
        cancellation=mock.create_autospec(Cancellation, instance=True),
        timeouts=mock.create_autospec(Timeouts, instance=True),
        retention=mock.create_autospec(Retention, instance=True),
        scheduler=mock.create_autospec(Scheduler, instance=True),
        takeover=mock.create_autospec(Takeover, instance=True),
        parent_close=mock.create_autospec(ParentClose, instance=True),
        retrying=mock.create_autospec(Retrying, instance=True),
    )
    timers = mock.create_autospec(Timers, instance=True)
    return Timekeeper(ObjectView(), timers, duties), duties, timers


def execution(phase: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "e", "resourceVersion": "1"},
        "spec": {"function": "f", **spec},
        "status": {"phase": phase},
    }


def test_an_unfinished_execution_goes_to_the_duties_that_follow_it() -> None:
    timekeeper, duties, timers = router()
    obj = execution("Suspended")
    timekeeper.on_execution("MODIFIED", obj)
    assert timekeeper.view.cached(*KEY) is not None
    duties.scheduler.on_run.assert_called_once_with("MODIFIED", obj)
    duties.admission.watch.assert_called_once_with("MODIFIED", KEY, obj)
    duties.timeouts.watch.assert_called_once_with(KEY, obj)
    duties.retention.watch.assert_called_once_with(KEY, obj)
    duties.wakeups.on_execution.assert_called_once_with(KEY, obj)
    duties.retrying.watch.assert_called_once_with(KEY, obj)
    duties.wakeups.wake_waiters.assert_called_once_with(KEY)
    duties.parent_close.on_execution.assert_called_once_with(KEY, obj)
    duties.cancellation.request.assert_not_called()
    timers.forget.assert_not_called()


def test_a_cancel_request_goes_to_the_cancellation_only() -> None:
    timekeeper, duties, _ = router()
    timekeeper.on_execution(None, execution("Executing", cancel=True))
    duties.cancellation.request.assert_called_once_with(KEY)
    duties.timeouts.watch.assert_not_called()
    duties.wakeups.on_execution.assert_not_called()


def test_a_deleted_execution_leaves_the_view_and_its_timers() -> None:
    timekeeper, duties, timers = router()
    obj = execution("Pending")
    timekeeper.on_execution(None, obj)
    timekeeper.on_execution("DELETED", obj)
    assert timekeeper.view.cached(*KEY) is None
    timers.forget.assert_called_once_with(KEY)
    duties.wakeups.forget.assert_called_once_with(KEY)
    duties.timeouts.watch.assert_called_once()  # from the first event only
    duties.parent_close.on_execution.assert_called_once()  # from the first event only
    assert duties.wakeups.wake_waiters.call_count == 2


def test_the_other_kinds() -> None:
    timekeeper, duties, _ = router()
    lease = {"metadata": {"namespace": "ns", "name": "w"}, "spec": {}}
    timekeeper.on_worker_lease(None, lease)
    duties.takeover.on_lease.assert_called_once_with(None, ("Lease", "ns", "w"), lease)
    suspension = {"metadata": {"namespace": "ns", "name": "s"}, "spec": {}}
    timekeeper.on_suspension(None, suspension)
    duties.wakeups.on_suspension.assert_called_once_with(("Suspension", "ns", "s"), suspension)
    function = {"metadata": {"namespace": "ns", "name": "f"}, "spec": {"name": "f"}}
    timekeeper.on_function(None, function)
    duties.admission.on_function.assert_called_once_with(None, function)
    duties.timeouts.on_function.assert_called_once_with(None, function)
    timekeeper.on_schedule(None, function)
    duties.scheduler.on_schedule.assert_called_once_with(None, function)
    timekeeper.on_archive(None, function)
    duties.retention.on_archive.assert_called_once_with(None, function)
