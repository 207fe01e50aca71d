"""What an attempt's outcome does to the execution's status (retries and backoff)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kontinue import errors
from kontinue.engine.outcomes import Outcome, finish_status

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def _execution(retries: int, previous: int) -> dict[str, Any]:
    return {
        "spec": {"function": "f", "retry": {"retries": retries, "backoff": "10s"}},
        "status": {
            "phase": "Executing",
            "attemptStartedAt": "2030-01-01T11:59:00Z",
            "workerName": "w1",
            "attempts": [{"phase": "Failed"} for _ in range(previous)],
        },
    }


def test_retryable_failure_with_retries_left_backs_off() -> None:
    patch = finish_status(Outcome("failed", error=RuntimeError("flaky")), _execution(2, 1), NOW)
    assert patch["phase"] == "Backoff"
    assert patch["nextAttemptAt"] == "2030-01-01T12:00:10.000Z"
    assert len(patch["attempts"]) == 2
    assert patch["attempts"][-1] == {
        "phase": "Failed",
        "message": "RuntimeError: flaky",
        "startedAt": "2030-01-01T11:59:00Z",
        "finishedAt": "2030-01-01T12:00:00Z",
        "workerName": "w1",
        "error": {"kind": "execution", "message": "RuntimeError: flaky", "retryable": True},
    }


def test_retries_spent_fails() -> None:
    patch = finish_status(Outcome("failed", error=RuntimeError("x")), _execution(2, 2), NOW)
    assert patch["phase"] == "Failed"
    assert patch["finishedAt"] == "2030-01-01T12:00:00Z"
    assert len(patch["attempts"]) == 3


def test_non_retryable_fails_at_once() -> None:
    error = errors.ChildFailedError("child x failed", child="x")
    patch = finish_status(Outcome("failed", error=error), _execution(5, 0), NOW)
    assert patch["phase"] == "Failed"
    assert patch["error"] == {
        "kind": "child_failed",
        "message": "child x failed",
        "retryable": False,
        "child": "x",
    }


def test_completed_released_canceled() -> None:
    assert finish_status(Outcome("completed", result={"a": 1}), _execution(0, 0), NOW)[
        "result"
    ] == {"a": 1}
    released = finish_status(
        Outcome("released", waiting_on=[("Suspension", "s")], message="waiting for s"),
        _execution(0, 0),
        NOW,
    )
    assert released["phase"] == "Suspended"
    assert released["suspendedOn"] == [{"kind": "Suspension", "name": "s"}]
    assert finish_status(Outcome("canceled"), _execution(0, 0), NOW)["phase"] == "Canceled"


def _claimed(spec: dict[str, Any], **status: Any) -> dict[str, Any]:
    running = {"phase": "Executing", "startedAt": "2030-01-01T11:59:00Z", "workerName": "w2"}
    return {
        "spec": {"function": "f", **spec},
        "status": {"phase": "Executing", "attempt": 1, "attempts": [running], **status},
    }


def test_the_running_attempt_is_listed_and_replaced_by_its_outcome() -> None:
    done = finish_status(Outcome("completed", result=1), _claimed({}), NOW)
    assert done["attempts"] == [
        {"phase": "Completed", "startedAt": "2030-01-01T11:59:00Z", "workerName": "w2",
         "finishedAt": "2030-01-01T12:00:00Z"},
    ]  # fmt: skip
    canceled = finish_status(Outcome("canceled", message="stop"), _claimed({}), NOW)
    assert [(a["phase"], a["message"]) for a in canceled["attempts"]] == [("Canceled", "stop")]
    released = finish_status(
        Outcome("released", waiting_on=[("Suspension", "s")], message="m"), _claimed({}), NOW
    )
    assert "attempts" not in released  # the attempt goes on


def test_the_recorded_policy_decides_retries_unless_the_spec_sets_them() -> None:
    policy = {"retry": {"retries": 2, "backoff": "1s", "childPolicy": "None"}}
    failure = Outcome("failed", error=RuntimeError("x"))
    defaulted = finish_status(failure, _claimed({}, policy=policy), NOW)
    assert (defaulted["phase"], defaulted["nextAttemptAt"]) == (
        "Backoff",
        "2030-01-01T12:00:01.000Z",
    )
    own = finish_status(failure, _claimed({"retry": {"retries": 0}}, policy=policy), NOW)
    assert own["phase"] == "Failed"  # the Execution's own field wins
    unrecorded = finish_status(failure, _claimed({}), NOW)
    assert unrecorded["phase"] == "Failed"  # built-in default: no retries
