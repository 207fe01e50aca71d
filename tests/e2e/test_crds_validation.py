"""Invalid kontinue objects are rejected by the API server, naming the offending field."""

from __future__ import annotations

from typing import Any

import pytest

from kontinue_testkit.pytest_plugin import TestCluster, kontinue_object


def _rejected(kube_cluster: TestCluster, namespace: str, kind: str, spec: dict[str, Any]) -> str:
    result = kube_cluster.create(namespace, kontinue_object(kind, "bad", spec), check=False)
    assert result.returncode != 0, f"{kind} {spec} was accepted"
    return result.stderr


@pytest.mark.parametrize(
    ("spec", "field", "detail"),
    [
        ({"arguments": {"a": 1}}, "spec.function", "Required value"),
        ({"function": ""}, "spec.function", "at least 1 chars long"),
        ({"function": "f", "retry": {"retries": -1}}, "spec.retry.retries",
         "greater than or equal to 0"),
        ({"function": "f", "retry": {"backoff": "5 minutes"}}, "spec.retry.backoff",
         "should match"),
        ({"function": "f", "timeout": {"attempt": "1y"}}, "spec.timeout.attempt", "should match"),
        ({"function": "f", "timeout": {"overall": "-5s"}}, "spec.timeout.overall", "should match"),
        ({"function": "f", "ttl": {"deleteAfter": "soon"}}, "spec.ttl.deleteAfter", "should match"),
        ({"function": "f", "retry": {"childPolicy": "Sometimes"}}, "spec.retry.childPolicy",
         'Unsupported value: "Sometimes"'),
        ({"function": "f", "mutex": {}}, "spec.mutex.name", "Required value"),
    ],
)  # fmt: skip
def test_invalid_execution_specs_are_rejected(
    kube_cluster: TestCluster, namespace: str, spec: dict[str, Any], field: str, detail: str
) -> None:
    error = _rejected(kube_cluster, namespace, "Execution", spec)
    assert field in error
    assert detail in error


@pytest.mark.parametrize("duration", ["5s", "1h30m", "7d", "250ms", "1.5h", "2d12h"])
def test_documented_duration_forms_are_accepted(
    kube_cluster: TestCluster, namespace: str, duration: str
) -> None:
    spec = {"function": "f", "retry": {"backoff": duration}, "timeout": {"overall": duration},
            "ttl": {"archiveAfter": duration}}  # fmt: skip
    kube_cluster.create(namespace, kontinue_object("Execution", "d-", spec, generate_name=True))


@pytest.mark.parametrize(
    "schedule",
    ["61 * * * *", "* 24 * * *", "* * * *", "not a cron", "@every 5m", "0 0 32 * *",
     "0 0 * 13 *", "0 0 * * 8", "60 * * * * *", "0 0 0 * * * *"],
)  # fmt: skip
def test_bad_cron_expressions_are_rejected(
    kube_cluster: TestCluster, namespace: str, schedule: str
) -> None:
    spec = {"function": "f", "schedule": schedule}
    error = _rejected(kube_cluster, namespace, "ScheduledExecution", spec)
    assert "spec.schedule" in error
    assert f'"{schedule}" is not a cron schedule' in error


@pytest.mark.parametrize(
    "schedule",
    ["*/5 * * * *", "0 9-17 * * MON-FRI", "@hourly", "15,45 */2 1-15 jan,Jul 0", "*/10 * * * * *"],
)
def test_good_cron_expressions_are_accepted_with_defaults(
    kube_cluster: TestCluster, namespace: str, schedule: str
) -> None:
    kube_cluster.create(namespace, kontinue_object(
        "ScheduledExecution", "nightly", {"function": "f", "schedule": schedule}))  # fmt: skip
    spec = kube_cluster.get(namespace, "scheduledexecution", "nightly")["spec"]
    assert (spec["historyLimit"], spec["concurrencyPolicy"], spec["suspend"]) == (5, "Allow", False)


def test_unknown_phase_and_bad_progress_in_status_are_rejected(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.create(namespace, kontinue_object("Execution", "e", {"function": "f"}))
    result = kube_cluster.patch_status(namespace, "execution", "e", {"phase": "Running"},
                                       check=False)  # fmt: skip
    assert result.returncode != 0
    assert 'status.phase: Unsupported value: "Running"' in result.stderr
    result = kube_cluster.patch_status(
        namespace, "execution", "e", {"progress": {"current": 6, "max": 5}}, check=False
    )
    assert "status.progress.current must not exceed status.progress.max" in result.stderr


def test_suspension_phase_and_immutable_fields(kube_cluster: TestCluster, namespace: str) -> None:
    kube_cluster.create(
        namespace,
        kontinue_object("Execution", "e", {"function": "f"}),
        kontinue_object("Suspension", "s", {"resumeAt": "2030-01-01T00:00:00Z"}),
    )
    result = kube_cluster.patch_status(namespace, "suspension", "s", {"phase": "Sleeping"},
                                       check=False)  # fmt: skip
    assert 'status.phase: Unsupported value: "Sleeping"' in result.stderr
    result = kube_cluster.kubectl("patch", "-n", namespace, "execution", "e", "--type=merge",
                                  "-p", '{"spec": {"function": "g"}}', check=False)  # fmt: skip
    assert "spec.function is immutable" in result.stderr
    result = kube_cluster.kubectl(
        "patch", "-n", namespace, "suspension", "s", "--type=merge",
        "-p", '{"spec": {"resumeAt": "2031-01-01T00:00:00Z"}}', check=False,
    )  # fmt: skip
    assert "spec.resumeAt is immutable" in result.stderr


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        ({"event": "go", "id": "1"}, "spec.execution: Required value"),
        ({"execution": "e", "id": "1"}, "spec.event: Required value"),
        ({"execution": "e", "event": "go"}, "spec.id: Required value"),
        ({"execution": "e", "event": "no spaces", "id": "1"}, "spec.event: Invalid value"),
        ({"execution": "e", "event": "-go", "id": "1"}, "spec.event: Invalid value"),
        ({"execution": "e", "event": "go", "id": ""}, "spec.id: Invalid value"),
    ],
)  # fmt: skip
def test_invalid_signals_are_rejected(
    kube_cluster: TestCluster, namespace: str, spec: dict[str, Any], detail: str
) -> None:
    assert detail in _rejected(kube_cluster, namespace, "Signal", spec)


def test_a_signal_is_immutable_and_listed_with_its_event(
    kube_cluster: TestCluster, namespace: str
) -> None:
    signal = {"execution": "e", "event": "approve.v1_ok", "id": "a-1", "data": {"count": [1, 2]}}
    kube_cluster.create(namespace, kontinue_object("Signal", "s", signal))
    assert kube_cluster.get(namespace, "signal", "s")["spec"] == signal
    result = kube_cluster.kubectl("patch", "-n", namespace, "signal", "s", "--type=merge",
                                  "-p", '{"spec": {"data": 2}}', check=False)  # fmt: skip
    assert "a Signal is immutable" in result.stderr
    listed = kube_cluster.kubectl("get", "-n", namespace, "sig").stdout
    assert listed.split("\n")[0].split() == ["NAME", "EXECUTION", "EVENT", "AGE"]
    assert "approve.v1_ok" in listed
    assert "kontinue" in kube_cluster.kubectl("api-resources", "--categories=kontinue").stdout


def test_a_suspension_timeout_needs_its_deadline_and_never_changes(
    kube_cluster: TestCluster, namespace: str
) -> None:
    assert "a suspension with a timeout needs spec.resumeAt" in _rejected(
        kube_cluster, namespace, "Suspension", {"timeout": True}
    )
    deadline = {"resumeAt": "2030-01-01T00:00:00Z", "timeout": True}
    kube_cluster.create(namespace, kontinue_object("Suspension", "s", deadline))
    result = kube_cluster.kubectl("patch", "-n", namespace, "suspension", "s", "--type=merge",
                                  "-p", '{"spec": {"timeout": false}}', check=False)  # fmt: skip
    assert "spec.timeout is immutable" in result.stderr
    result = kube_cluster.patch_status(namespace, "suspension", "s", {"timedOut": "yes"},
                                       check=False)  # fmt: skip
    assert "status.timedOut" in result.stderr
