"""The effective policy (spec, else function defaults, else built-in) and the attempt list."""

from __future__ import annotations

from kontinue.api import attempts, policy
from kontinue.engine.registry import FunctionRegistry
from kontinue.workflow import RetryOptions, TimeoutOptions, function


def test_each_field_comes_from_the_spec_else_the_function_else_the_builtin() -> None:
    defaults = {"retry": {"retries": 3, "backoff": "10s"}, "timeout": {"attempt": "1m"}}
    assert policy.resolve({}, defaults) == {
        "retry": {"retries": 3, "backoff": "10s", "childPolicy": "None"},
        "timeout": {"attempt": "1m"},
    }
    own = {"retry": {"retries": 0}, "timeout": {"overall": "1h"}}
    assert policy.resolve(own, defaults) == {
        "retry": {"retries": 0, "backoff": "10s", "childPolicy": "None"},
        "timeout": {"overall": "1h", "attempt": "1m"},
    }
    assert policy.resolve({}) == {
        "retry": {"retries": 0, "backoff": "5s", "childPolicy": "None"},
        "timeout": {},
    }


def test_a_claim_records_the_policy_once() -> None:
    execution = {"spec": {"function": "f"}, "status": {}}
    first = policy.claim_fields(execution, {"retry": {"retries": 2}})
    assert first["policy"]["retry"]["retries"] == 2
    again = {"spec": {"function": "f"}, "status": {"policy": first["policy"]}}
    assert policy.claim_fields(again, {"retry": {"retries": 9}}) == {}  # a redeploy changes none
    assert policy.retry_of(again)["retries"] == 2
    assert "retries 2 (backoff 5s)" in policy.describe(first["policy"])


def test_function_defaults_hold_only_the_fields_set() -> None:
    registry = FunctionRegistry()

    @function(
        "with-defaults",
        retry=RetryOptions(retries=2, backoff="1s"),
        timeout=TimeoutOptions(attempt="30s"),
        registry=registry,
    )
    def with_defaults(ktx: object) -> None:
        """Has defaults."""

    definition = registry.get("with-defaults")
    assert definition is not None
    assert definition.defaults() == {
        "retry": {"retries": 2, "backoff": "1s"},
        "timeout": {"attempt": "30s"},
    }
    assert RetryOptions(backoff="2s").to_spec() == {"backoff": "2s"}


def test_claims_list_the_running_attempt_and_ends_replace_it() -> None:
    claimed = attempts.claimed({}, "w1", "2030-01-01T10:00:00Z")
    assert claimed == [
        {"phase": "Executing", "startedAt": "2030-01-01T10:00:00Z", "workerName": "w1"}
    ]
    status = {"attempt": 1, "attempts": claimed}
    resumed = attempts.claimed(status, "w2", "2030-01-01T10:05:00Z")
    assert resumed == [
        {"phase": "Executing", "startedAt": "2030-01-01T10:00:00Z", "workerName": "w2"}
    ]
    assert attempts.previous({"attempts": resumed}) == 0
    failed = attempts.finished({"attempts": resumed}, {"phase": "Failed", "message": "x"})
    assert failed == [
        {"phase": "Failed", "startedAt": "2030-01-01T10:00:00Z", "workerName": "w2",
         "message": "x"}
    ]  # fmt: skip
    assert attempts.previous({"attempts": failed}) == 1
    second = attempts.claimed({"attempt": 1, "attempts": failed}, "w3", "2030-01-01T10:06:00Z")
    assert [a["phase"] for a in second] == ["Failed", "Executing"]
    assert attempts.end({"attempts": []}, "Canceled", "2030-01-01T10:07:00Z") == []


def test_a_digest_agrees_with_the_value_read_back_from_the_api_server() -> None:
    from kontinue.api.digests import json_digest

    # the API server stores 3.0 as 3: an argument's digest must not change on the way
    assert json_digest({"seconds": [3.0, 3.4]}) == json_digest({"seconds": [3, 3.4]})
    assert json_digest(2.5) != json_digest(2)


def test_a_failure_with_no_attempt_under_way_adds_no_attempt() -> None:
    failed = {"phase": "Failed", "startedAt": "t0", "finishedAt": "t1", "workerName": "w"}
    # in Backoff after attempt 1 failed, then timed out overall: still one attempt
    backoff = {"attempt": 1, "attempts": [failed]}
    timeout = {"phase": "Failed", "finishedAt": "t2", "message": "timed out"}
    assert attempts.finished(backoff, timeout) == [failed]
    # never claimed (Pending), timed out overall: no attempt at all
    assert attempts.finished({}, timeout) == []
    # an attempt that started before attempts were listed is still recorded when it ends
    older = {"attempt": 1, "attemptStartedAt": "t0"}
    assert attempts.finished(older, {**timeout, "startedAt": "t0"}) == [
        {**timeout, "startedAt": "t0"}
    ]
