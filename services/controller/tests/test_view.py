"""The controller's view: its own writes' answers never move a copy back in time."""

from __future__ import annotations

from typing import Any

from kontinue_controller.view import ObjectView


def execution(version: str, phase: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "e", "resourceVersion": version},
        "status": {"phase": phase},
    }


def test_a_write_answer_replaces_the_copy_it_was_based_on() -> None:
    view = ObjectView()
    view.remember("Execution", "MODIFIED", execution("10", "Suspended"))
    assert view.advance("Execution", "10", execution("11", "Pending"))
    cached = view.cached("Execution", "ns", "e")
    assert cached is not None
    assert cached["metadata"]["resourceVersion"] == "11"
    assert cached["status"]["phase"] == "Pending"


def test_a_write_answer_leaves_a_copy_the_watch_moved_on() -> None:
    view = ObjectView()
    view.remember("Execution", "MODIFIED", execution("10", "Suspended"))
    # the watch brought the write back and a worker's claim, then the write's answer comes
    view.remember("Execution", "MODIFIED", execution("11", "Pending"))
    view.remember("Execution", "MODIFIED", execution("12", "Executing"))
    assert not view.advance("Execution", "10", execution("11", "Pending"))
    cached = view.cached("Execution", "ns", "e")
    assert cached is not None
    assert cached["status"]["phase"] == "Executing"


def test_a_write_answer_for_an_object_the_view_lost_is_not_taken() -> None:
    view = ObjectView()
    view.remember("Execution", "MODIFIED", execution("10", "Suspended"))
    view.remember("Execution", "DELETED", execution("10", "Suspended"))
    assert not view.advance("Execution", "10", execution("11", "Pending"))
    assert view.cached("Execution", "ns", "e") is None
