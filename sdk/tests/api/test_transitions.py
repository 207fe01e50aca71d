"""The Execution's lifecycle table: every transition from every phase it may start from."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kontinue import errors
from kontinue.api import attempts, transitions
from kontinue.api.phases import TERMINAL, Phase
from kontinue.api.timestamps import format_time, format_time_ceil

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
EARLIER = format_time(NOW - timedelta(minutes=5))


def status_in(phase: Phase) -> dict[str, Any]:
    """A plausible status of an execution in ``phase`` (a running attempt while it runs)."""
    status: dict[str, Any] = {"phase": phase, "claim": 2, "attempt": 1, "startedAt": EARLIER}
    if phase.terminal:
        status["finishedAt"] = EARLIER
    if phase in (Phase.EXECUTING, Phase.SUSPENDED):
        status.update(attemptStartedAt=EARLIER, workerName="w-1", workerId="w-1-ab")
        status["attempts"] = attempts.claimed({}, "w-1", EARLIER)
    if phase in (Phase.SUSPENDED, Phase.BACKOFF):
        status["grants"] = {"slot": "held"}
    return status


# Every transition, called the way its writers call it; one retryable failure with retries
# left (Backoff) and one without (Failed), a cancel and a skip.
CALLS: dict[str, list[Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "claim": [lambda s: transitions.claim(s, worker="w-2", identity="w-2-cd", attempt=1, now=NOW)],
    "note": [lambda s: transitions.note("no worker serves function f")],
    "release": [lambda s: transitions.release("worker w-1 shut down; resuming")],
    "wake": [lambda s: transitions.wake(s, "woken", nextAttemptAt=None)],
    "complete": [lambda s: transitions.complete(s, {"ok": True}, NOW)],
    "suspend": [lambda s: transitions.suspend([("Suspension", "approve")], "waiting")],
    "fail": [
        lambda s: transitions.fail(s, RuntimeError("boom"), {"retries": 3, "backoff": "10s"}, NOW),
        lambda s: transitions.fail(s, errors.ValidationError("bad"), {"retries": 3}, NOW),
    ],
    "refuse": [lambda s: transitions.refuse("it would wait forever", NOW)],
    "cancel": [
        lambda s: transitions.cancel(s, "canceled", NOW),
        lambda s: transitions.cancel(s, "slot skipped", NOW, skip=True),
    ],
    "retry": [
        lambda s: transitions.retry(s, {"id": "r1"}, NOW),
        lambda s: transitions.retry(s, {"id": "r2", "version": "v2"}, NOW),
    ],
}


def test_every_transition_is_in_the_table_and_called_here() -> None:
    assert set(CALLS) == set(transitions.LIFECYCLE)


@pytest.mark.parametrize(
    ("name", "source"),
    [(name, source) for name, t in transitions.LIFECYCLE.items() for source in sorted(t.sources)],
)
def test_a_transition_reaches_only_its_targets(name: str, source: Phase) -> None:
    for call in CALLS[name]:
        patch = call(status_in(source))
        assert Phase(patch["phase"]) in transitions.LIFECYCLE[name].targets


def test_the_written_phase_pairs_are_exactly_the_allowed_ones() -> None:
    written = {
        (source, Phase(call(status_in(source))["phase"]))
        for name, t in transitions.LIFECYCLE.items()
        for source in t.sources
        for call in CALLS[name]
    }
    assert written == transitions.ALLOWED


def test_only_a_retry_leaves_a_terminal_phase_and_only_failed_or_canceled() -> None:
    for name, transition in transitions.LIFECYCLE.items():
        if name == "retry":
            assert transition.sources == {Phase.FAILED, Phase.CANCELED}
            assert transition.targets == {Phase.PENDING}
            continue
        assert not transition.sources & TERMINAL, name
        for phase in TERMINAL:
            assert not transitions.allows(name, phase)
    assert not transitions.allows("retry", Phase.COMPLETED)
    assert not transitions.allows("retry", Phase.SKIPPED)
    assert not transitions.allows("retry", Phase.EXECUTING)


def test_every_phase_is_reachable_and_every_unfinished_phase_can_end() -> None:
    reached = {target for _, target in transitions.ALLOWED}
    assert reached == set(Phase)
    for phase in Phase:
        if not phase.terminal:
            assert transitions.allows("cancel", phase)
            assert transitions.allows("fail", phase)


def test_a_claim_counts_claims_resumptions_and_starts_the_clocks_once() -> None:
    first = transitions.claim({}, worker="w", identity="w-1", attempt=1, now=NOW)
    assert first["claim"] == 1 and "resumptions" not in first
    assert first["startedAt"] == first["attemptStartedAt"] == format_time(NOW)
    assert first["claimedAt"].startswith("2026-11-30T12:00:00.")
    again = transitions.claim(
        {"claim": 1, "attempt": 1, "attemptStartedAt": EARLIER, "startedAt": EARLIER},
        worker="w",
        identity="w-2",
        attempt=1,
        now=NOW,
    )
    assert again["claim"] == 2 and again["resumptions"] == 1
    assert "startedAt" not in again and "attemptStartedAt" not in again
    retry = transitions.claim(
        {"claim": 2, "attempt": 1, "attemptStartedAt": EARLIER, "startedAt": EARLIER},
        worker="w",
        identity="w-3",
        attempt=2,
        now=NOW,
    )
    assert retry["attemptStartedAt"] == format_time(NOW) and "startedAt" not in retry


def test_the_first_claim_pins_the_version_and_an_upgrading_claim_moves_it() -> None:
    first = transitions.claim({}, worker="w", identity="w-1", attempt=1, now=NOW, version="v1")
    assert first["workerVersion"] == "v1"
    pinned = {"claim": 1, "attempt": 1, "startedAt": EARLIER, "workerVersion": "v1"}
    again = transitions.claim(pinned, worker="w", identity="w-2", attempt=1, now=NOW, version="v1")
    assert "workerVersion" not in again  # kept as it is: nothing more to write
    moved = transitions.claim(pinned, worker="w", identity="w-3", attempt=1, now=NOW, version="v2")
    assert moved["workerVersion"] == "v2"
    unversioned = transitions.claim(pinned, worker="w", identity="w-4", attempt=1, now=NOW)
    assert "workerVersion" not in unversioned


def test_a_release_hands_the_execution_back_without_a_worker() -> None:
    patch = transitions.release("lost")
    assert patch["workerName"] is None and patch["workerId"] is None
    assert patch["suspendedOn"] is None


def test_a_woken_execution_asks_for_its_slot_again_only_after_waiting() -> None:
    assert transitions.wake(status_in(Phase.SUSPENDED), "up")["grants"] == {"slot": None}
    assert transitions.wake(status_in(Phase.BACKOFF), "up")["grants"] == {"slot": None}
    taken = {**status_in(Phase.EXECUTING), "grants": {"slot": "held"}}
    assert "grants" not in transitions.wake(taken, "taken over")


def test_a_failure_backs_off_while_retries_are_left_then_fails() -> None:
    running = status_in(Phase.EXECUTING)
    backoff = transitions.fail(running, RuntimeError("x"), {"retries": 1, "backoff": "10s"}, NOW)
    assert backoff["phase"] == Phase.BACKOFF
    assert backoff["nextAttemptAt"] == format_time_ceil(NOW + timedelta(seconds=10))
    assert backoff["attempts"][-1]["phase"] == Phase.FAILED
    assert backoff["error"] == {
        "kind": "execution",
        "message": "RuntimeError: x",
        "retryable": True,
    }
    second = {**running, "attempts": backoff["attempts"]}
    final = transitions.fail(second, RuntimeError("x"), {"retries": 1}, NOW)
    assert final["phase"] == Phase.FAILED and final["finishedAt"] == format_time(NOW)
    assert final["nextAttemptAt"] is None
    unretryable = transitions.fail(running, errors.ValidationError("bad"), {"retries": 5}, NOW)
    assert unretryable["phase"] == Phase.FAILED


def test_a_cancel_ends_the_running_attempt_in_the_same_phase() -> None:
    patch = transitions.cancel(status_in(Phase.EXECUTING), "canceled while running on w-1", NOW)
    assert patch["attempts"][-1]["phase"] == Phase.CANCELED
    assert patch["attempts"][-1]["message"] == "canceled while running on w-1"
    assert "attempts" not in transitions.cancel({"phase": Phase.PENDING}, "canceled", NOW)
    skipped = transitions.cancel({"phase": Phase.PENDING}, "slot skipped", NOW, skip=True)
    assert skipped["phase"] == Phase.SKIPPED


def test_a_refusal_is_a_validation_error_that_is_never_retried() -> None:
    patch = transitions.refuse("deadlock", NOW)
    assert patch["error"] == {"kind": "validation", "message": "deadlock", "retryable": False}


def test_patches_serialize_phases_as_their_plain_names() -> None:
    assert json.loads(json.dumps(transitions.note("x")))["phase"] == "Pending"


def test_a_retry_clears_the_end_records_the_request_and_moves_the_version_on_demand() -> None:
    failed = transitions.fail(
        {**status_in(Phase.EXECUTING), "grants": {"mutex": "m"}, "workerVersion": "v1"},
        errors.ValidationError("bug"),
        {"retries": 0},
        NOW,
    )
    status = {**status_in(Phase.EXECUTING), "grants": {"mutex": "m"}, "workerVersion": "v1"}
    status.update(failed)
    patch = transitions.retry(status, {"id": "abc"}, NOW)
    assert patch["phase"] == Phase.PENDING
    for cleared in ("finishedAt", "error", "nextAttemptAt", "grants", "workerName", "workerId"):
        assert cleared in patch and patch[cleared] is None
    assert patch["retried"] == {"id": "abc", "at": format_time(NOW), "attempt": 2, "count": 1}
    assert "workerVersion" not in patch and "attempts" not in patch  # history kept as it is
    again = transitions.retry({**status, **patch}, {"id": "def", "version": "v2"}, NOW)
    assert again["retried"]["count"] == 2 and again["workerVersion"] == "v2"


def test_a_manual_retry_grants_a_fresh_retry_budget() -> None:
    spent = {
        "phase": Phase.EXECUTING,
        "attempts": [{"phase": "Failed"}, {"phase": "Failed"}, {"phase": "Executing"}],
    }
    policy = {"retries": 1, "backoff": "1s"}
    assert transitions.fail(spent, RuntimeError("x"), policy, NOW)["phase"] == Phase.FAILED
    retried = {**spent, "retried": {"id": "r", "at": EARLIER, "attempt": 3, "count": 1}}
    assert transitions.fail(retried, RuntimeError("x"), policy, NOW)["phase"] == Phase.BACKOFF
    after = {
        **retried,
        "attempts": [*spent["attempts"][:2], {"phase": "Failed"}, {"phase": "Executing"}],
    }
    assert transitions.fail(after, RuntimeError("x"), policy, NOW)["phase"] == Phase.FAILED
