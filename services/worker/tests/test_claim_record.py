"""The claim's JSON patch: policy and running attempt, and never an operation a newer version
of the execution could reject as invalid (a stale claim must be a clean 409)."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from kontinue.api.slim import slim
from kontinue_worker.claim_record import attempt_number, claim_operations

CLAIM = {"phase": "Executing", "workerName": "w2", "claim": 2, "message": None}


def _execution(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "x", "namespace": "n", "resourceVersion": "7"},
        "spec": {"function": "f"},
        "status": status,
    }


def test_a_first_claim_lists_the_attempt_and_records_the_policy() -> None:
    seen = slim(_execution(phase="Pending", message="no live worker yet"))
    ops = claim_operations(seen, CLAIM, None, "w2", "2030-01-01T10:00:00Z")
    after = jsonpatch.apply_patch(_execution(phase="Pending", message="no live worker"), ops)
    status = after["status"]
    assert status["attempts"] == [
        {"phase": "Executing", "startedAt": "2030-01-01T10:00:00Z", "workerName": "w2"}
    ]
    assert status["policy"]["retry"] == {"retries": 0, "backoff": "5s", "childPolicy": "None"}
    assert status["message"] == ""


def test_a_resumed_attempt_keeps_its_entry_and_a_retry_appends_one() -> None:
    failed = {"phase": "Failed", "message": "boom", "error": {"kind": "execution"}}
    running = {"phase": "Executing", "startedAt": "2030-01-01T10:00:00Z", "workerName": "w1"}
    stored = _execution(phase="Pending", attempt=2, attempts=[failed, running])
    seen = slim(stored)
    assert attempt_number(seen) == 2
    after = jsonpatch.apply_patch(stored, claim_operations(seen, CLAIM, None, "w2", "now"))
    assert after["status"]["attempts"] == [failed, {**running, "workerName": "w2"}]
    backoff = _execution(phase="Pending", attempt=1, attempts=[failed])
    assert attempt_number(slim(backoff)) == 2
    after = jsonpatch.apply_patch(
        backoff, claim_operations(slim(backoff), CLAIM, None, "w2", "now")
    )
    assert [a["phase"] for a in after["status"]["attempts"]] == ["Failed", "Executing"]
    assert after["status"]["attempts"][0] == failed  # the slim copy did not erase it


def test_every_operation_applies_to_a_newer_version() -> None:
    stale = _execution(phase="Pending", message="waiting", attempt=1,
                       attempts=[{"phase": "Executing", "workerName": "w1"}])  # fmt: skip
    newer = copy.deepcopy(stale)
    newer["status"] = {"phase": "Completed", "attempt": 1,
                       "attempts": [{"phase": "Completed", "workerName": "w3"}]}  # fmt: skip
    ops = claim_operations(slim(stale), CLAIM, None, "w2", "now")
    jsonpatch.apply_patch(newer, ops)  # applies: only the resourceVersion refuses it
