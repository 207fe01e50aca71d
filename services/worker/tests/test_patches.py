from __future__ import annotations

import copy
from typing import Any

import pytest

from kontinue_worker.patches import merged_status, status_operations


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


def _apply(status: dict[str, Any] | None, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 add/remove on ``{"status": status}``, as the API server applies them."""
    doc: dict[str, Any] = {} if status is None else {"status": copy.deepcopy(status)}
    for op in ops:
        keys = [k.replace("~1", "/").replace("~0", "~") for k in op["path"].split("/")[1:]]
        parent = doc
        for key in keys[:-1]:
            parent = parent[key]
        if op["op"] == "add":
            parent[keys[-1]] = copy.deepcopy(op["value"])
        else:
            del parent[keys[-1]]
    result: dict[str, Any] = doc["status"]
    return result


@pytest.mark.parametrize(
    ("current", "change"),
    [
        (None, {"phase": "Executing", "steps": {"a": {"type": "store", "index": 0}}}),
        ({}, {"steps": {"a/b~c": {"type": "store"}}, "state": {"a/b~c": [1, None, (2, 3)]}}),
        (
            {"phase": "Executing", "message": "m", "steps": {"old": {"i": 0}}, "state": {"old": 1}},
            {
                "steps": {"old": None, "new": {"i": 1}},
                "state": {"old": None, "new": None},
                "message": None,
                "progress": None,
                "result": {"x": None},
            },
        ),  # fmt: skip
        ({"steps": "not a map"}, {"steps": {"a": {"i": 0}}, "journal": {"chunks": 1}}),
        ({"state": {"k": {"deep": 1}}}, {"state": {"k": {"other": 2}}}),
    ],
)
def test_merged_status_is_what_the_operations_leave(
    current: dict[str, Any] | None, change: dict[str, Any]
) -> None:
    before = copy.deepcopy(current)
    expected = _apply(current, status_operations(current, change))
    assert merged_status(current, change) == merged_status(current, copy.deepcopy(change))
    assert merged_status(current, change) == _normalized(expected)
    assert current == before  # the copy the write was conditional on is left alone


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    return value


def test_merged_status_shares_nothing_with_the_change() -> None:
    values: list[int] = [1]
    result = {"r": 1}
    change = {"state": {"k": {"v": values}}, "result": result}
    merged = merged_status({}, change)
    values.append(2)
    result["r"] = 2
    assert merged == {"state": {"k": {"v": [1]}}, "result": {"r": 1}}


def test_merged_status_keeps_numbers_as_the_api_server_stores_them() -> None:
    change = {"state": {"k": [1.0, -0.0, 1.5, 2**63, 2**62, 1e21, 3]}}
    assert merged_status(None, change)["state"]["k"] == [1, 0, 1.5, 9223372036854775808, 2**62,
                                                         1e21, 3]  # fmt: skip
    kinds = [type(v) for v in merged_status(None, change)["state"]["k"]]
    assert kinds == [int, int, float, int, int, float, int]
