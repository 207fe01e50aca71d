"""How a Suspension ends: the statuses the client, the controller and the environment write."""

from __future__ import annotations

from datetime import UTC, datetime

from kontinue.api import suspension_ends
from kontinue.api.phases import SuspensionPhase

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
WAITING = {"metadata": {"name": "s", "creationTimestamp": "2026-11-30T11:00:00Z"}}


def test_a_resume_records_who_when_since_when_and_the_payload() -> None:
    assert suspension_ends.completed(WAITING, "alice", NOW, {"ok": True}) == {
        "phase": SuspensionPhase.COMPLETED,
        "startedAt": "2026-11-30T11:00:00Z",
        "finishedAt": "2026-11-30T12:00:00Z",
        "resumedBy": "alice",
        "data": {"ok": True},
    }


def test_a_sleep_ends_by_timer_without_a_payload() -> None:
    status = suspension_ends.completed(WAITING, "timer", NOW)
    assert status["resumedBy"] == "timer" and "data" not in status


def test_a_cancel_says_why_when_told() -> None:
    assert suspension_ends.canceled(WAITING, NOW, "execution e was canceled") == {
        "phase": SuspensionPhase.CANCELED,
        "startedAt": "2026-11-30T11:00:00Z",
        "finishedAt": "2026-11-30T12:00:00Z",
        "message": "execution e was canceled",
    }
    assert "message" not in suspension_ends.canceled(WAITING, NOW)


def test_no_start_is_invented_for_an_object_without_a_creation_time() -> None:
    assert "startedAt" not in suspension_ends.completed({"metadata": {"name": "s"}}, "t", NOW)
