"""Which children a parent's close cancels, and who counts as a child."""

from __future__ import annotations

from typing import Any

import pytest

from kontinue.api import adoption, manifests, parent_close

PARENT_UID = "00000000-0000-4000-8000-000000000001"


def parent(phase: str, uid: str = PARENT_UID) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": uid},
        "spec": {"function": "f"},
        "status": {"phase": phase},
    }


def child(name: str = "p-c", policy: str | None = "cancel", **status: Any) -> dict[str, Any]:
    made = manifests.execution_manifest(
        "g", name=name, parent=manifests.Parent("p", PARENT_UID, "p", "default", "c"),
        parent_close_policy=parent_close.spec_value(policy),
    )  # fmt: skip
    made["metadata"]["namespace"] = "ns"
    made["status"] = status
    return made


def test_the_policy_is_stored_on_the_child_only_when_not_the_default() -> None:
    assert parent_close.spec_value(None) is None
    assert parent_close.spec_value("abandon") is None
    assert parent_close.spec_value("cancel") == "Cancel"
    assert parent_close.spec_value("wait") == "Wait"
    with pytest.raises(ValueError, match="one of abandon, cancel, wait"):
        parent_close.spec_value("terminate")
    assert parent_close.of(child(policy=None)) == "abandon"
    assert parent_close.of(child(policy="wait")) == "wait"
    assert "parentClosePolicy" not in child(policy=None)["spec"]


def test_the_policy_is_part_of_what_the_step_asked_for() -> None:
    # children without a policy keep the digest they had; a policy changes it
    plain, cancel = child(policy=None), child(policy="cancel")
    assert adoption.spec_digest("Execution", plain) != adoption.spec_digest("Execution", cancel)
    del cancel["spec"]["parentClosePolicy"]
    assert adoption.spec_digest("Execution", plain) == adoption.spec_digest("Execution", cancel)


@pytest.mark.parametrize(
    ("phase", "closed"),
    [
        ("Pending", False), ("Executing", False), ("Suspended", False), ("Backoff", True),
        ("Completed", True), ("Failed", True), ("Canceled", True), ("Skipped", True),
    ],
)  # fmt: skip
def test_an_attempt_ended_in_these_phases(phase: str, closed: bool) -> None:
    assert parent_close.closed(parent(phase)) is closed
    assert bool(parent_close.to_cancel(parent(phase), [child()])) is closed


def test_only_running_cancel_children_not_yet_asked_are_canceled() -> None:
    running = child("p-a", phase="Executing")
    finished = child("p-b", phase="Completed")
    asked = child("p-c")
    asked["spec"]["cancel"] = True
    abandoned = child("p-d", policy="abandon")
    waited = child("p-e", policy="wait")
    found = parent_close.to_cancel(
        parent("Completed"), [running, finished, asked, abandoned, waited]
    )
    assert [c["metadata"]["name"] for c in found] == ["p-a"]


def test_an_object_that_only_claims_to_be_a_child_is_left_alone() -> None:
    closed = parent("Completed")
    assert parent_close.is_child_of(child(), closed)
    other_owner = child()
    other_owner["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    no_owner = child()
    del no_owner["metadata"]["ownerReferences"]
    other_spec = child()
    other_spec["spec"]["parent"]["uid"] = "someone-else"
    other_label = child()
    other_label["metadata"]["labels"]["kontinue.cloud/parent"] = "q"
    elsewhere = child()
    elsewhere["metadata"]["namespace"] = "other"
    planted = [other_owner, no_owner, other_spec, other_label, elsewhere]
    for fake in planted:
        assert not parent_close.is_child_of(fake, closed)
    assert parent_close.to_cancel(closed, planted) == []
    # a parent of the same name recreated later (another uid) has none of them either
    assert parent_close.to_cancel(parent("Completed", uid="another"), [child()]) == []


def test_the_message_says_why() -> None:
    assert "it ended Completed" in parent_close.close_message(parent("Completed"))
    assert "its attempt ended" in parent_close.close_message(parent("Backoff"))
