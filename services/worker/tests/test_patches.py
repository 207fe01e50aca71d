from __future__ import annotations

from kontinue_worker.patches import status_operations


def test_values_keep_their_nulls_and_none_removes_only_what_exists() -> None:
    current = {"phase": "Executing", "message": "waiting", "steps": {"a": {"type": "store"}}}
    change = {
        "phase": "Completed",
        "result": {"message": None, "items": [None, 1]},
        "message": None,
        "suspendedOn": None,
    }
    assert status_operations(current, change) == [
        {"op": "add", "path": "/status/phase", "value": "Completed"},
        {"op": "add", "path": "/status/result", "value": {"message": None, "items": [None, 1]}},
        {"op": "remove", "path": "/status/message"},
    ]


def test_steps_and_state_change_entry_by_entry() -> None:
    current = {"steps": {"old": {"type": "store"}}}
    change = {"steps": {"old": None, "new/x": {"type": "store"}}, "state": {"new/x": None, "k": 0}}
    assert status_operations(current, change) == [
        {"op": "remove", "path": "/status/steps/old"},
        {"op": "add", "path": "/status/steps/new~1x", "value": {"type": "store"}},
        {"op": "add", "path": "/status/state", "value": {}},
        {"op": "add", "path": "/status/state/k", "value": 0},
    ]


def test_a_missing_status_is_created_first() -> None:
    assert status_operations(None, {"phase": "Executing"}) == [
        {"op": "add", "path": "/status", "value": {}},
        {"op": "add", "path": "/status/phase", "value": "Executing"},
    ]
