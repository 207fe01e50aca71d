from __future__ import annotations

from typing import Any

from kontinue.api import worker_versions


def execution(
    function: str, phase: str | None, version: str | None, group: str = "default"
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if phase:
        status["phase"] = phase
    if version:
        status["workerVersion"] = version
    return {
        "metadata": {"namespace": "ns", "name": f"{function}-{phase}-{version}"},
        "spec": {"function": function, "workerGroup": group},
        "status": status,
    }


def test_a_worker_claims_its_own_version_unpinned_work_and_what_it_upgrades() -> None:
    pinned = worker_versions.Claims("v2")
    assert pinned.claims(None, started=False) and pinned.claims(None, started=True)
    assert pinned.claims("v2", started=True)
    assert not pinned.claims("v1", started=True)
    upgrading = worker_versions.Claims("v2", frozenset({"v1"}))
    assert upgrading.claims("v1", started=True) and upgrading.claims("v2", started=True)
    assert not upgrading.claims("v0", started=True)
    assert worker_versions.Claims("v2", frozenset({"*"})).claims("v0", started=True)


def test_a_draining_worker_takes_no_new_work() -> None:
    draining = worker_versions.Claims("v1", drain=True)
    assert not draining.claims(None, started=False)
    assert draining.claims(None, started=True)  # started before versions were recorded
    assert draining.claims("v1", started=True)
    assert not draining.claims("v2", started=True)
    assert not draining.claims_execution(execution("f", "Pending", None))
    started = execution("f", "Pending", "v1")
    started["status"]["claim"] = 2
    assert draining.claims_execution(started)


def test_upgrade_lists_are_comma_separated_and_repeatable() -> None:
    parsed = worker_versions.parse_upgrade_from(["v1, v2", "v3", "", " , "])
    assert parsed == {"v1", "v2", "v3"}


def test_the_recorded_version_is_read_from_the_status() -> None:
    assert worker_versions.recorded(execution("f", "Pending", "v1")) == "v1"
    assert worker_versions.recorded(execution("f", None, None)) is None
    assert worker_versions.recorded({"metadata": {}}) is None


def test_unfinished_executions_are_counted_per_function_and_version() -> None:
    counts = worker_versions.unfinished_by_version([
        execution("f", "Suspended", "v1"),
        execution("f", "Executing", "v1"),
        execution("f", "Pending", "v2"),
        execution("f", None, None),
        execution("f", "Completed", "v1"),
        execution("g", "Failed", "v2"),
        execution("f", "Pending", "v1", group="other"),
    ])  # fmt: skip
    assert counts == {
        ("ns", "default", "f"): {"v1": 2, "v2": 1, "": 1},
        ("ns", "other", "f"): {"v1": 1},
    }
    assert worker_versions.describe_counts(counts[("ns", "default", "f")]) == (
        "v1=2 (unpinned)=1 v2=1"
    )


def test_the_workers_serving_a_function_are_grouped_by_version_newest_first() -> None:
    function = {
        "status": {
            "workers": [
                {"name": "a", "version": "v1", "lastSeen": "2026-11-30T10:00:00Z"},
                {"name": "b", "version": "v2", "lastSeen": "2026-11-30T11:00:00Z"},
                {"name": "c", "version": "v1", "lastSeen": "2026-11-30T09:00:00Z"},
            ]
        }
    }
    served = worker_versions.serving(function)
    assert list(served) == ["v2", "v1"]
    assert [w["name"] for w in served["v1"]] == ["a", "c"]


def test_the_unfinished_selector_excludes_every_terminal_phase() -> None:
    selector = worker_versions.UNFINISHED_SELECTOR
    for phase in ("Completed", "Failed", "Canceled", "Skipped"):
        assert f"status.phase!={phase}" in selector
    assert "Pending" not in selector


def test_a_child_inherits_its_parent_s_version_until_its_own_claim() -> None:
    parent = execution("f", "Executing", "v1")
    annotations = worker_versions.inherited(parent)
    assert annotations == {worker_versions.PIN_ANNOTATION: "v1"}
    child = execution("g", None, None)
    child["metadata"]["annotations"] = annotations
    assert worker_versions.recorded(child) == "v1"
    child["status"]["workerVersion"] = "v2"  # upgraded by its first claim
    assert worker_versions.recorded(child) == "v2"
    assert worker_versions.inherited(execution("f", "Executing", None)) == {}
