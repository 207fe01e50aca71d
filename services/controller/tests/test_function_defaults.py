"""A Function's defaults stand in for an execution's policy until a claim records it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kontinue.api import deadlines
from kontinue_controller.function_defaults import FunctionDefaults

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def _function(timeout: dict[str, str] | None, group: str = "default") -> dict[str, object]:
    spec: dict[str, object] = {"name": "deploy", "workerGroup": group}
    if timeout is not None:
        spec["timeout"] = timeout
    return {"metadata": {"namespace": "team", "name": f"deploy-{group}"}, "spec": spec}


def _execution(**status: object) -> dict[str, object]:
    return {
        "metadata": {
            "namespace": "team",
            "name": "run",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"function": "deploy"},
        "status": status,
    }


def test_defaults_bound_an_unclaimed_execution_and_yield_to_a_recorded_policy() -> None:
    functions = FunctionDefaults()
    pending = _execution(phase="Pending")
    assert deadlines.overall_deadline(pending, functions.of(pending)) is None
    assert functions.on_function("ADDED", _function({"overall": "5m"})) is not None
    assert deadlines.overall_deadline(pending, functions.of(pending)) == CREATED + timedelta(
        minutes=5
    )
    # once a claim recorded the policy, the record is what counts
    claimed = _execution(phase="Executing", policy={"retry": {"retries": 0}, "timeout": {}})
    assert functions.of(claimed) is None
    assert deadlines.overall_deadline(claimed, functions.of(claimed)) is None


def test_only_a_change_of_defaults_is_reported() -> None:
    functions = FunctionDefaults()
    assert functions.on_function("ADDED", _function({"overall": "5m"})) == (
        "team", "default", "deploy"
    )  # fmt: skip
    assert functions.on_function("MODIFIED", _function({"overall": "5m"})) is None
    assert functions.on_function("MODIFIED", _function({"overall": "1m"})) is not None
    assert functions.on_function("DELETED", _function({"overall": "1m"})) is not None
    assert functions.of(_execution(phase="Pending")) is None
    # another worker group's Function does not apply
    functions.on_function("ADDED", _function({"overall": "5m"}, group="gpu"))
    assert functions.of(_execution(phase="Pending")) is None
