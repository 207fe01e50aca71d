"""Manual retries and forks: which requests are pending, what reruns, what a fork copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kontinue import errors
from kontinue.api import deadlines, forks, retries
from kontinue.api.timestamps import format_time

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def execution(phase: str, **fields: Any) -> dict[str, Any]:
    spec = fields.pop("spec", {})
    return {
        "metadata": {"name": "e", "uid": "u-1", "creationTimestamp": format_time(NOW)},
        "spec": {"function": "f", **spec},
        "status": {"phase": phase, "finishedAt": format_time(NOW), **fields},
    }


def test_a_request_is_pending_until_its_id_is_recorded() -> None:
    failed = execution("Failed")
    request = retries.request("r1", failed)
    assert request == {"id": "r1", "finishedAt": format_time(NOW)}
    asked = {**failed, "spec": {**failed["spec"], "retryRequest": request}}
    assert retries.pending(asked) == request
    assert retries.stale(asked, request) is None
    done = {**asked, "status": {**asked["status"], "retried": {"id": "r1", "attempt": 2}}}
    assert retries.pending(done) is None  # the same request sent again: nothing to do


def test_a_request_about_another_end_or_leaving_the_cancel_is_stale() -> None:
    failed = execution("Failed")
    old = {"id": "r1", "finishedAt": format_time(NOW - timedelta(hours=1))}
    assert "names the end" in (retries.stale(failed, old) or "")
    canceled = execution("Canceled", spec={"cancel": True})
    fresh = retries.request("r2", canceled)
    assert "spec.cancel" in (retries.stale(canceled, fresh) or "")


@pytest.mark.parametrize("phase", ["Pending", "Executing", "Suspended", "Backoff", "Completed"])
def test_only_failed_or_canceled_roots_are_retried(phase: str) -> None:
    assert phase in (retries.refusal(execution(phase)) or "")
    assert retries.refusal(execution("Failed")) is None
    assert retries.refusal(execution("Canceled")) is None
    child = execution("Failed", spec={"parent": {"name": "p"}})
    assert "retry p instead" in (retries.refusal(child) or "")


def test_what_a_retry_runs_again() -> None:
    never = {"phase": "Executing"}
    retried = {"retried": {"id": "r", "attempt": 3}}
    # recorded by this attempt: never
    assert not retries.reruns(retried, 3, 2, "None")
    # default policy: only objects recorded before a manual retry
    assert not retries.reruns(never, 1, 1, "None")
    assert retries.reruns(retried, 2, 2, "None")
    assert not retries.reruns({"retried": {"id": "r", "attempt": 2}}, 2, 3, "None")
    # RetryFailed: anything an earlier attempt recorded
    assert retries.reruns(never, 1, 1, "RetryFailed")


def test_the_overall_clock_restarts_at_a_retry() -> None:
    base = execution("Pending", spec={"timeout": {"overall": "1h"}})
    assert deadlines.overall_deadline(base) == NOW + timedelta(hours=1)
    later = NOW + timedelta(hours=5)
    base["status"]["retried"] = {"id": "r", "at": format_time(later), "attempt": 2}
    assert deadlines.overall_deadline(base) == later + timedelta(hours=1)


STEPS = {
    "prepare": {"type": "store", "index": 0, "attempt": 1},
    "build": {"type": "execute", "index": 1, "child": "e-build", "attempt": 1},
    "approve": {"type": "suspend", "index": 2, "child": "e-approve", "attempt": 2},
    "deploy": {"type": "store", "index": 3, "attempt": 2},
}
STATE = {"prepare": {"id": 7}, "deploy": "ok"}


def test_a_step_is_named_or_numbered_and_an_unknown_one_lists_the_steps() -> None:
    assert forks.resolve_step(STEPS, "approve", "e") == ("approve", 2)
    assert forks.resolve_step(STEPS, "1", "e") == ("prepare", 0)
    assert forks.resolve_step(STEPS, "5", "e") == ("#5", 4)  # the step that did not commit
    with pytest.raises(errors.ValidationError) as refused:
        forks.resolve_step(STEPS, "ship", "e")
    assert "1. prepare, 2. build, 3. approve, 4. deploy" in str(refused.value)
    with pytest.raises(errors.ValidationError):
        forks.resolve_step(STEPS, "6", "e")


def test_the_prefix_holds_the_steps_before_and_their_values_only() -> None:
    steps, state = forks.prefix(STEPS, STATE, 2)
    assert set(steps) == {"prepare", "build"} and state == {"prepare": {"id": 7}}
    assert all("attempt" not in r for r in steps.values())


def test_a_fork_borrows_the_objects_of_the_copied_steps_only() -> None:
    status = {"forkedFrom": {"name": "e", "uid": "u-1", "step": "approve", "index": 2}}
    assert forks.borrowed(status, STEPS) == {"e-build": "u-1"}
    assert forks.borrowed({}, STEPS) == {}


def test_a_fork_is_seeded_only_from_the_very_execution_it_names() -> None:
    original = execution("Failed", spec={"arguments": {"a": 1}})
    fork = forks.fork_manifest(original, "approve", 2, "e2")
    fork["metadata"]["name"] = "e2"
    assert fork["spec"]["forkOf"] == {"name": "e", "uid": "u-1", "step": "approve", "index": 2}
    forks.check_original(fork, original)
    with pytest.raises(errors.ValidationError, match="no longer exists"):
        forks.check_original(fork, None)
    replaced = {**original, "metadata": {**original["metadata"], "uid": "u-2"}}
    with pytest.raises(errors.ValidationError, match="another one"):
        forks.check_original(fork, replaced)
    other = {**original, "spec": {**original["spec"], "arguments": {"a": 2}}}
    with pytest.raises(errors.ValidationError, match="other arguments"):
        forks.check_original(fork, other)


def test_a_long_prefix_is_laid_out_in_chunks_and_a_short_one_in_the_status() -> None:
    steps = {f"s{i}": {"type": "store", "index": i} for i in range(100)}
    state = {f"s{i}": i for i in range(100)}
    chunks, rest, rest_state = forks.layout(
        steps, state, chunk_steps=32, keep_steps=8, chunk_bytes=1 << 20, compact_bytes=1 << 20
    )
    assert [len(c[0]) for c in chunks] == [32, 32] and len(rest) == 36
    assert set(rest_state) == set(rest) and min(int(n[1:]) for n in rest) == 64
    few, rest, _ = forks.layout(
        dict(list(steps.items())[:5]), state, chunk_steps=32, keep_steps=8,
        chunk_bytes=1 << 20, compact_bytes=1 << 20,
    )  # fmt: skip
    assert few == [] and len(rest) == 5
