"""Signals: which belong to an execution, their order, consumption, and the wake-up rules."""

from __future__ import annotations

from typing import Any

from kontinue.api import labels, signals, transitions, waits

EXECUTION = {
    "metadata": {"name": "ex", "uid": "uid-1"},
    "spec": {"function": "f", "workerGroup": "default"},
}


def _sent(event: str, version: int, signal_id: str, data: Any = None) -> dict[str, Any]:
    manifest = signals.signal_manifest(EXECUTION, event, data, signal_id)
    manifest["metadata"]["resourceVersion"] = str(version)
    return manifest


def test_only_the_executions_own_signals_count_in_acceptance_order() -> None:
    planted = _sent("go", 1, "p")
    planted["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    relabelled = _sent("go", 2, "r")
    relabelled["metadata"]["labels"][labels.PARENT] = "other"
    late, early = _sent("go", 30, "b", 2), _sent("go", 20, "a", 1)

    found = signals.of_execution([planted, relabelled, late, early], "ex", "uid-1")

    assert [(s.id, s.order, s.data) for s in found] == [("a", 20, 1), ("b", 30, 2)]


def test_the_earliest_unconsumed_signal_of_the_events_is_taken() -> None:
    found = signals.of_execution(
        [_sent("go", 1, "a"), _sent("stop", 2, "b"), _sent("go", 3, "c")], "ex", "uid-1"
    )
    first = found[0].name

    assert signals.first_unconsumed(found, ["go"], set()) == found[0]
    assert signals.first_unconsumed(found, ["go"], {first}) == found[2]
    assert signals.first_unconsumed(found, ["go", "stop"], {first}) == found[1]
    assert signals.first_unconsumed(found, ["other"], set()) is None
    assert signals.waiting_after(found, "go") == 3


def test_a_signal_name_depends_on_the_execution_and_the_id_only() -> None:
    assert signals.signal_name("ex", "a") == signals.signal_name("ex", "a")
    assert signals.signal_name("ex", "a") != signals.signal_name("ex", "b")
    assert signals.same_signal(_sent("go", 1, "a", 1), _sent("go", 9, "a", 1))
    assert not signals.same_signal(_sent("go", 1, "a", 1), _sent("go", 1, "a", 2))


def test_event_names_are_label_values() -> None:
    assert signals.is_event_name("approve.v1_ok-2")
    for bad in ("", "-go", "go-", "no spaces", "x" * 64):
        assert not signals.is_event_name(bad)


def test_a_signal_item_wakes_on_a_later_signal_of_its_event_and_group() -> None:
    released = transitions.suspend(
        [("Signal", "go"), ("Suspension", "timer")],
        "waiting",
        {("Signal", "go"): {"first": True, "after": "5"}, ("Suspension", "timer"): {"first": True}},
    )
    item, timer = released["suspendedOn"]
    assert item == {"kind": "Signal", "name": "go", "first": True, "after": "5"}

    assert not waits.signal_resolved(item, EXECUTION, [_sent("go", 5, "a")])  # consumed already
    assert not waits.signal_resolved(item, EXECUTION, [_sent("stop", 6, "b")])
    other_group = _sent("go", 7, "c")
    other_group["metadata"]["labels"][labels.WORKER_GROUP] = "gpu"
    assert not waits.signal_resolved(item, EXECUTION, [other_group])
    assert waits.signal_resolved(item, EXECUTION, [_sent("go", 6, "d")])

    assert waits.wakes([item, timer], [True, False])  # either one, marked first
    assert waits.wakes([item, timer], [False, True])
    assert not waits.wakes([item, timer], [False, False])
    plain = [{"kind": "Execution", "name": "a"}, {"kind": "Execution", "name": "b"}]
    assert not waits.wakes(plain, [True, False])  # a fan-out waits for all
    assert waits.wakes(plain, [True, True])
