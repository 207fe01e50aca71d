from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kontinue.api import waits
from kontinue_controller.logic import wakeups

NOW = datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def execution(phase: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "e"}, "spec": {}, "status": {"phase": phase, **status}}


def suspension(phase: str | None, resume_at: str | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "s"},
        "spec": {"resumeAt": resume_at} if resume_at else {},
        "status": {"phase": phase} if phase else {},
    }


def job(*conditions: str) -> dict[str, Any]:
    return {"status": {"conditions": [{"type": c, "status": "True"} for c in conditions]}}


@pytest.mark.parametrize(
    ("obj", "due"),
    [
        (execution("Backoff", nextAttemptAt="2030-01-01T10:00:05Z"), at("2030-01-01T10:00:05")),
        (execution("Backoff", nextAttemptAt="2029-12-31T10:00:00Z"), at("2029-12-31T10:00:00")),
        (execution("Backoff"), NOW),  # no time written: at once
        (execution("Pending", nextAttemptAt="2030-01-01T10:00:05Z"), None),
        (execution("Executing"), None),
        (execution("Failed", nextAttemptAt="2030-01-01T10:00:05Z"), None),
    ],
)
def test_backoff_due(obj: dict[str, Any], due: datetime | None) -> None:
    assert wakeups.backoff_due(obj, NOW) == due


@pytest.mark.parametrize(
    ("obj", "due"),
    [
        (suspension("Suspended", "2030-01-01T10:00:05Z"), at("2030-01-01T10:00:05")),
        (suspension(None, "2030-01-01T10:00:05Z"), at("2030-01-01T10:00:05")),  # new: waiting
        (suspension("Suspended"), None),  # a suspend, not a sleep: someone resumes it
        (suspension("Completed", "2030-01-01T10:00:05Z"), None),
        (suspension("Canceled", "2030-01-01T10:00:05Z"), None),
    ],
)
def test_sleep_due(obj: dict[str, Any], due: datetime | None) -> None:
    assert wakeups.sleep_due(obj) == due


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        ("Execution", execution("Completed"), True),
        ("Execution", execution("Failed"), True),
        ("Execution", execution("Canceled"), True),
        ("Execution", execution("Executing"), False),
        ("Execution", execution("Backoff"), False),
        ("Execution", execution("Suspended"), False),
        ("Job", job("Complete"), True),
        ("Job", job("Failed"), True),
        ("Job", job(), False),
        ("Suspension", suspension("Completed"), True),
        ("Suspension", suspension("Canceled"), True),
        ("Suspension", suspension("Suspended"), False),
        ("Suspension", suspension("Suspended", "2030-01-01T10:00:00Z"), True),  # due: over
        ("Suspension", suspension("Suspended", "2030-01-01T10:00:01Z"), False),
    ],
)
def test_what_resolves_a_wait(kind: str, obj: dict[str, Any], expected: bool) -> None:
    assert waits.resolved(kind, obj, NOW) is expected


WAITS = [{"kind": "Execution", "name": "c0"}, {"kind": "Suspension", "name": "s1"}]
FAN_OUT = [{"kind": "Execution", "name": f"c{i}"} for i in range(3)]
AUTO = {"current": 0, "max": 3, "summary": "0/3", "automatic": True}


@pytest.mark.parametrize(
    ("obj", "resolved", "resume", "progress"),
    [
        (execution("Suspended", suspendedOn=WAITS), [True, True], True, None),
        (execution("Suspended", suspendedOn=WAITS), [True, False], False, None),
        (execution("Suspended"), [], True, None),  # nothing to wait for
        (execution("Suspended", suspendedOn=FAN_OUT, progress=AUTO), [True, False, False], False,
         {"current": 1, "max": 3, "summary": "1/3", "automatic": True}),
        (execution("Suspended", suspendedOn=FAN_OUT, progress=AUTO), [True, True, True], True,
         {"current": 3, "max": 3, "summary": "3/3", "automatic": True}),
        (execution("Suspended", suspendedOn=FAN_OUT, progress=AUTO), [False] * 3, False, None),
    ],
)  # fmt: skip
def test_wake_up(
    obj: dict[str, Any], resolved: list[bool], resume: bool, progress: dict[str, Any] | None
) -> None:
    decision = wakeups.wake_up(obj, resolved)
    assert (decision.resume, decision.progress) == (resume, progress)


@pytest.mark.parametrize(
    ("waits", "message"),
    [
        (WAITS, "resuming: execution c0, suspension s1 done"),
        ([{"kind": "Job", "name": "j"}], "resuming: job j done"),
        ([], "resuming: nothing done"),
    ],
)
def test_the_resumption_says_what_it_waited_on(waits: list[dict[str, str]], message: str) -> None:
    assert wakeups.wake_up(execution("Suspended", suspendedOn=waits), []).message == message
