from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kontinue_controller.logic import deadlines


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def execution(phase: str, spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {"spec": {"function": "f", **(spec or {})}, "status": {"phase": phase, **status}}


def test_timeouts_count_from_the_attempt_and_the_creation() -> None:
    running = execution(
        "Executing",
        {"timeout": {"attempt": "15m", "overall": "1h30m"}},
        startedAt="2030-01-01T10:00:00Z",
        attemptStartedAt="2030-01-01T10:40:00Z",
    )
    running["metadata"] = {"creationTimestamp": "2030-01-01T09:59:00Z"}
    assert deadlines.attempt_deadline(running) == at("2030-01-01T10:55:00")
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


def test_an_ended_attempt_has_no_deadline_until_the_next_claim() -> None:
    timeout = {"timeout": {"attempt": "3s"}}
    first = {"startedAt": "2030-01-01T10:00:00Z", "attemptStartedAt": "2030-01-01T10:00:00Z"}
    ended = [{"phase": "Failed", "startedAt": "2030-01-01T10:00:00Z"}]
    running = execution("Executing", timeout, attempt=1, attempts=[], **first)
    assert deadlines.attempt_deadline(running) == at("2030-01-01T10:00:03")
    taken_over = execution("Pending", timeout, attempt=1, attempts=[], **first)
    assert deadlines.attempt_deadline(taken_over) == at("2030-01-01T10:00:03")
    for phase in ("Backoff", "Pending"):  # after the timeout, before the next claim
        waiting = execution(phase, timeout, attempt=1, attempts=ended, **first)
        assert deadlines.attempt_deadline(waiting) is None
    second = execution(
        "Executing",
        timeout,
        attempt=2,
        attempts=ended,
        startedAt="2030-01-01T10:00:00Z",
        attemptStartedAt="2030-01-01T10:00:05Z",
    )
    assert deadlines.attempt_deadline(second) == at("2030-01-01T10:00:08")


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
