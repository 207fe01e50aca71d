from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kontinue.api import deadlines


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def execution(phase: str, spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {"spec": {"function": "f", **(spec or {})}, "status": {"phase": phase, **status}}


def test_timeouts_count_from_the_claim_and_the_creation() -> None:
    running = execution(
        "Executing",
        {"timeout": {"attempt": "15m", "overall": "1h30m"}},
        startedAt="2030-01-01T10:00:00Z",
        attemptStartedAt="2030-01-01T10:40:00Z",
        claimedAt="2030-01-01T10:45:00.250000Z",
    )
    running["metadata"] = {"creationTimestamp": "2030-01-01T09:59:00Z"}
    assert deadlines.attempt_deadline(running) == at("2030-01-01T11:00:00.250000")
    assert deadlines.overall_deadline(running) == at("2030-01-01T11:29:00")
    done = execution(
        "Completed", {"timeout": {"attempt": "15m"}}, attemptStartedAt="2030-01-01T10:40:00Z"
    )
    assert deadlines.attempt_deadline(done) is None
    never_started = execution("Pending", {"timeout": {"overall": "1h"}})
    never_started["metadata"] = {"creationTimestamp": "2030-01-01T10:00:00Z"}
    assert deadlines.overall_deadline(never_started) == at("2030-01-01T11:00:00")


def test_durations_stored_before_the_cap_count_as_the_cap() -> None:
    huge = execution(
        "Executing",
        {"timeout": {"attempt": "9999999d", "overall": "9999999d"}},
        attemptStartedAt="2030-01-01T10:00:00Z",
    )
    huge["metadata"] = {"creationTimestamp": "2030-01-01T10:00:00Z"}
    assert deadlines.attempt_deadline(huge) == at("2129-12-08T10:00:00")
    assert deadlines.overall_deadline(huge) == at("2129-12-08T10:00:00")


def test_the_attempt_timeout_runs_only_while_a_worker_runs_it() -> None:
    timeout = {"timeout": {"attempt": "3s"}}
    first = {"startedAt": "2030-01-01T10:00:00Z", "attemptStartedAt": "2030-01-01T10:00:00Z"}
    running = execution("Executing", timeout, claimedAt="2030-01-01T10:00:00.5Z", **first)
    assert deadlines.attempt_deadline(running) == at("2030-01-01T10:00:03.5")
    for phase in ("Pending", "Suspended", "Backoff"):  # released, taken over, between attempts
        assert deadlines.attempt_deadline(execution(phase, timeout, **first)) is None
    resumed = execution("Executing", timeout, claimedAt="2030-01-01T11:00:00Z", **first)
    assert deadlines.attempt_deadline(resumed) == at("2030-01-01T11:00:03")  # restarts


def test_limits_come_from_the_recorded_policy_unless_the_spec_sets_them() -> None:
    policy = {"retry": {"retries": 2}, "timeout": {"attempt": "1m", "overall": "1h"}}
    stamps = {"startedAt": "2030-01-01T10:00:00Z", "claimedAt": "2030-01-01T10:00:00Z"}
    defaulted = execution("Executing", None, policy=policy, **stamps)
    assert deadlines.attempt_deadline(defaulted) == at("2030-01-01T10:01:00")
    assert deadlines.overall_deadline(defaulted) == at("2030-01-01T11:00:00")
    own = execution("Executing", {"timeout": {"attempt": "5s"}}, policy=policy, **stamps)
    assert deadlines.attempt_deadline(own) == at("2030-01-01T10:00:05")
    assert deadlines.overall_deadline(own) == at("2030-01-01T11:00:00")


def test_backoff_end() -> None:
    assert deadlines.backoff_end(execution("Backoff", nextAttemptAt="2030-01-01T10:00:05Z")) == at(
        "2030-01-01T10:00:05"
    )
    assert deadlines.backoff_end(execution("Pending", nextAttemptAt="2030-01-01T10:00:05Z")) is None


def test_ttl_applies_to_finished_roots_only() -> None:
    spec = {"ttl": {"archiveAfter": "1d", "deleteAfter": "7d"}}
    root = execution("Failed", spec, finishedAt="2030-01-01T00:00:00Z")
    assert deadlines.ttl_deadlines(root) == (at("2030-01-02T00:00:00"), at("2030-01-08T00:00:00"))
    child = execution(
        "Failed", {**spec, "parent": {"name": "p"}}, finishedAt="2030-01-01T00:00:00Z"
    )
    assert deadlines.ttl_deadlines(child) == (None, None)
    assert deadlines.ttl_deadlines(execution("Executing", spec)) == (None, None)


def test_a_released_fan_out_progress_moves_with_its_children() -> None:
    from kontinue.api.fan_out import progress_update

    waits = [{"kind": "Execution", "name": f"c{i}"} for i in range(3)]
    auto = {"current": 1, "max": 3, "summary": "1/3", "automatic": True}
    released = execution("Suspended", progress=auto, suspendedOn=waits)
    assert progress_update(released, 2) == {
        "current": 2, "max": 3, "summary": "2/3", "automatic": True,
    }  # fmt: skip
    assert progress_update(released, 1) is None  # nothing new
    own = execution("Suspended", progress={"current": 1, "max": 3}, suspendedOn=waits)
    assert progress_update(own, 3) is None  # the workflow's own progress
    sleeping = execution(
        "Suspended", progress={**auto, "max": 1}, suspendedOn=[{"kind": "Suspension", "name": "s"}]
    )
    assert progress_update(sleeping, 1) is None
