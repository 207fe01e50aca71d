from __future__ import annotations

from datetime import UTC, datetime

from kontinue_ui import formatting, timeline


def test_bars_are_placed_on_the_executions_span() -> None:
    execution = {
        "metadata": {"creationTimestamp": "2030-01-01T10:00:00Z"},
        "status": {
            "startedAt": "2030-01-01T10:00:00Z",
            "finishedAt": "2030-01-01T10:01:40Z",
            "steps": {
                "second": {"index": 1, "type": "sleep", "startedAt": "2030-01-01T10:00:50Z",
                           "finishedAt": "2030-01-01T10:01:40Z"},
                "first": {"index": 0, "type": "store", "displayName": "Build",
                          "startedAt": "2030-01-01T10:00:00Z",
                          "finishedAt": "2030-01-01T10:00:00Z"},
            },
        },
    }  # fmt: skip
    steps = timeline.steps(execution)
    assert [s.name for s in steps] == ["first", "second"]
    assert steps[0].display_name == "Build" and steps[0].width > 0  # an instant stays visible
    assert (steps[1].offset, steps[1].width) == (50.0, 50.0)
    assert steps[1].seconds == 50


def test_a_running_step_extends_to_now() -> None:
    now = datetime(2030, 1, 1, 10, 0, 10, tzinfo=UTC)
    execution = {
        "metadata": {},
        "status": {"startedAt": "2030-01-01T10:00:00Z",
                   "steps": {"s": {"index": 0, "type": "job", "phase": "Executing",
                                   "startedAt": "2030-01-01T10:00:05Z"}}},
    }  # fmt: skip
    (step,) = timeline.steps(execution, now)
    assert (step.offset, step.width, step.phase) == (50.0, 50.0, "Executing")


def test_durations_read_like_kubectl() -> None:
    assert formatting.duration(0.25) == "250ms"
    assert formatting.duration(4.25) == "4.2s"
    assert formatting.duration(184) == "3m 04s"
    assert formatting.duration(7500) == "2h 05m"
    assert formatting.duration(90000) == "1d 1h"
    assert formatting.percent((3, 6)) == 50 and formatting.percent((3, 0)) is None


def test_steps_without_times_sit_between_their_neighbours() -> None:
    execution = {
        "metadata": {},
        "status": {
            "startedAt": "2030-01-01T10:00:00Z",
            "finishedAt": "2030-01-01T10:01:40Z",
            "steps": {
                "build": {"index": 0, "type": "store", "startedAt": "2030-01-01T10:00:00Z",
                          "finishedAt": "2030-01-01T10:00:20Z"},
                "approval": {"index": 1, "type": "suspend"},
                "ship": {"index": 2, "type": "store", "startedAt": "2030-01-01T10:01:30Z",
                         "finishedAt": "2030-01-01T10:01:40Z"},
            },
        },
    }  # fmt: skip
    build, approval, ship = timeline.steps(execution)
    assert (approval.offset, approval.width) == (20.0, 70.0)
    assert approval.seconds is None  # no invented duration is shown
    assert (ship.offset, ship.width) == (90.0, 10.0)
