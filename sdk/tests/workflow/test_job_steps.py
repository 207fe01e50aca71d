"""Job steps driven by the in-memory journal: one Job per step, recorded outcomes, policies."""

from __future__ import annotations

from typing import Any

import pytest

import kontinue
from kontinue import errors
from kontinue.engine.outcomes import Outcome
from kontinue.engine.registry import FunctionRegistry
from kontinue.engine.run import run_attempt
from kontinue.testing import MemoryJournal

LOG = (
    "starting\nfetching config\nconnecting to db\nerror: connection refused\nretrying\ngiving up\n"
)


def _run(registry: FunctionRegistry, journal: MemoryJournal) -> Outcome:
    definition = registry.get("deploy")
    assert definition is not None
    return run_attempt(definition, journal, hold=0)


def _registry() -> FunctionRegistry:
    registry = FunctionRegistry()

    @kontinue.function("deploy", registry=registry)
    def deploy(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
        result = kontinue.run_script(
            ktx,
            kontinue.ScriptOptions(
                image="alpine:3", command="echo hi && exit 3", extra_labels={"team": "a"}
            ),
        )
        summary = None if result.succeeded() else result.log_error_summary(ktx)
        return {"ok": result.succeeded(), "message": result.message, "summary": summary}

    return registry


def test_a_script_runs_once_and_its_failure_is_an_outcome() -> None:
    registry, journal = _registry(), MemoryJournal("d")
    assert _run(registry, journal).kind == "released"
    assert list(journal.jobs) == ["d--script-1"]
    job = journal.jobs["d--script-1"]
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["/bin/sh", "-c", "echo hi && exit 3"]
    assert job["labels"] == {"team": "a"}
    assert _run(registry, journal).kind == "released"  # a replay waits on the same Job
    assert len(journal.jobs) == 1
    journal.finish_job("d--script-1", exit_codes={"script": 3}, message="boom", logs=LOG)
    outcome = _run(registry, journal)
    assert outcome.result == {
        "ok": False,
        "message": "boom",
        "summary": "container script exited with 3: boom\n" + "\n".join(LOG.splitlines()[:4]),
    }
    journal.jobs.clear()
    journal.job_states.clear()
    assert _run(registry, journal).result == outcome.result  # the recorded outcome replays


@pytest.mark.parametrize("policy", ["None", "RetryFailed"])
def test_child_policy_decides_whether_a_retry_runs_a_failed_job_again(policy: str) -> None:
    registry = _registry()
    journal = MemoryJournal("d", spec={"retry": {"retries": 1, "childPolicy": policy}})
    _run(registry, journal)
    journal.finish_job("d--script-1", exit_codes={"script": 1}, message="boom", logs=LOG)
    assert _run(registry, journal).result["ok"] is False
    journal.execution()["status"]["attempts"] = [{"phase": "Failed"}]  # the second attempt
    outcome = _run(registry, journal)
    if policy == "None":
        assert outcome.result["ok"] is False and list(journal.jobs) == ["d--script-1"]
        return
    assert outcome.kind == "released"
    assert list(journal.jobs) == ["d--script-1", "d--script-1-a2"]
    journal.finish_job("d--script-1-a2", exit_codes={"script": 0})
    assert _run(registry, journal).result == {"ok": True, "message": None, "summary": None}


def test_succeeded_needs_every_container_to_exit_zero() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n"},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0}}},
                {"name": "b", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}},
            ],
        },
    }
    result = kontinue.PodResult.from_pod(pod)
    assert not result.succeeded()
    assert result.message == "b exited with 2"
    assert kontinue.PodResult.from_json(result.to_json()) == result


def test_missing_logs_are_an_error_not_an_empty_success() -> None:
    registry, journal = _registry(), MemoryJournal("d")
    _run(registry, journal)
    journal.finish_job("d--script-1", exit_codes={"script": 1}, message="boom")
    del journal.logs["d--script-1-pod"]
    outcome = _run(registry, journal)
    assert isinstance(outcome.error, errors.InfrastructureError)


def test_a_job_without_a_pod_template_is_a_validation_error() -> None:
    registry = FunctionRegistry()

    @kontinue.function("deploy", registry=registry)
    def deploy(ktx: kontinue.ExecutionContext) -> None:
        kontinue.run_job(ktx, kontinue.JobOptions(spec={"backoffLimit": 1}))

    outcome = _run(registry, MemoryJournal("d"))
    assert isinstance(outcome.error, errors.ValidationError)


def test_a_replayed_pod_keeps_what_the_workflow_reads_and_failures_can_raise() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n", "uid": "u", "labels": {"a": "b"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "img:1",
                                                       "env": [{"name": "SECRET"}]}]},
        "status": {"phase": "Failed", "podIP": "10.0.0.1",
                   "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 4}}}]},
    }  # fmt: skip
    result = kontinue.PodResult.from_pod(pod)
    replayed = kontinue.PodResult.from_json(result.to_json())
    assert replayed.pod is not None
    assert replayed.pod["spec"] == {"nodeName": "node-1", "containers": [
        {"name": "c", "image": "img:1"}]}  # fmt: skip
    assert replayed.pod["status"]["podIP"] == "10.0.0.1"
    assert replayed.pod["metadata"]["labels"] == {"a": "b"}
    with pytest.raises(errors.JobFailedError, match="pod p failed: c exited with 4") as raised:
        replayed.raise_if_failed()
    assert raised.value.retryable and raised.value.child == "p"
    job = kontinue.JobResult("j", 0, 1, "BackoffLimitExceeded", (replayed,))
    with pytest.raises(errors.JobFailedError, match="job j failed"):
        job.raise_if_failed()
    kontinue.JobResult("j", 1, 0, None, ()).raise_if_failed()  # a success raises nothing


def test_a_failed_child_carries_its_own_error_as_an_execution_error() -> None:
    from kontinue.api.phases import Phase
    from kontinue.engine.records import ChildState

    registry = FunctionRegistry()

    @kontinue.function("deploy", registry=registry)
    def deploy(ktx: kontinue.ExecutionContext) -> None:
        kontinue.execute(ktx, "child")

    journal = MemoryJournal("d")
    assert _run(registry, journal).kind == "released"
    journal.child_states["d--execute-1"] = ChildState(
        "d--execute-1", Phase.FAILED, error={"kind": "timeout", "message": "too slow",
                                             "retryable": True},
    )  # fmt: skip
    outcome = _run(registry, journal)
    assert isinstance(outcome.error, errors.ChildFailedError)
    cause = outcome.error.cause
    assert isinstance(cause, errors.ExecutionError)
    assert (cause.kind, str(cause), cause.retryable) == ("timeout", "too slow", True)
