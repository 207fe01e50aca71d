"""Invalid kontinue objects are rejected by the API server, naming the offending field."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from kontinue_testkit.pytest_plugin import TestCluster


def _create(
    kube_cluster: TestCluster, namespace: str, kind: str, spec: dict[str, Any], name: str = "bad"
) -> str:
    manifest = {
        "apiVersion": "kontinue.cloud/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }
    result = kube_cluster.kubectl(
        "create", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest), check=False
    )
    assert result.returncode != 0, f"{kind} {spec} was accepted"
    return result.stderr


@pytest.mark.parametrize(
    ("spec", "field", "detail"),
    [
        ({"arguments": {"a": 1}}, "spec.function", "Required value"),
        ({"function": ""}, "spec.function", "at least 1 chars long"),
        (
            {"function": "f", "retry": {"retries": -1}},
            "spec.retry.retries",
            "greater than or equal to 0",
        ),
        (
            {"function": "f", "retry": {"backoff": "5 minutes"}},
            "spec.retry.backoff",
            "should match",
        ),
        ({"function": "f", "timeout": {"attempt": "1y"}}, "spec.timeout.attempt", "should match"),
        ({"function": "f", "timeout": {"overall": "-5s"}}, "spec.timeout.overall", "should match"),
        ({"function": "f", "ttl": {"deleteAfter": "soon"}}, "spec.ttl.deleteAfter", "should match"),
        (
            {"function": "f", "retry": {"childPolicy": "Sometimes"}},
            "spec.retry.childPolicy",
            'Unsupported value: "Sometimes"',
        ),
        ({"function": "f", "mutex": {}}, "spec.mutex.name", "Required value"),
    ],
)
def test_invalid_execution_specs_are_rejected(
    kube_cluster: TestCluster, namespace: str, spec: dict[str, Any], field: str, detail: str
) -> None:
    error = _create(kube_cluster, namespace, "Execution", spec)
    assert field in error
    assert detail in error


@pytest.mark.parametrize("duration", ["5s", "1h30m", "7d", "250ms", "1.5h", "2d12h"])
def test_documented_duration_forms_are_accepted(
    kube_cluster: TestCluster, namespace: str, duration: str
) -> None:
    manifest = {
        "apiVersion": "kontinue.cloud/v1alpha1",
        "kind": "Execution",
        "metadata": {"generateName": "d-"},
        "spec": {
            "function": "f",
            "retry": {"backoff": duration},
            "timeout": {"overall": duration},
            "ttl": {"archiveAfter": duration},
        },
    }
    kube_cluster.kubectl("create", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))


@pytest.mark.parametrize(
    "schedule",
    [
        "61 * * * *",
        "* 24 * * *",
        "* * * *",
        "not a cron",
        "@every 5m",
        "0 0 32 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
    ],
)
def test_bad_cron_expressions_are_rejected(
    kube_cluster: TestCluster, namespace: str, schedule: str
) -> None:
    error = _create(
        kube_cluster, namespace, "ScheduledExecution", {"function": "f", "schedule": schedule}
    )
    assert "spec.schedule" in error
    assert f'"{schedule}" is not a cron schedule' in error


@pytest.mark.parametrize(
    "schedule",
    ["*/5 * * * *", "0 9-17 * * MON-FRI", "@hourly", "15,45 */2 1-15 jan,Jul 0", "0 0 1 1 *"],
)
def test_good_cron_expressions_are_accepted(
    kube_cluster: TestCluster, namespace: str, schedule: str
) -> None:
    manifest = {
        "apiVersion": "kontinue.cloud/v1alpha1",
        "kind": "ScheduledExecution",
        "metadata": {"generateName": "s-"},
        "spec": {"function": "f", "schedule": schedule},
    }
    out = kube_cluster.kubectl(
        "create", "-n", namespace, "-f", "-", "-o", "json", input=yaml.safe_dump(manifest)
    ).stdout
    spec = json.loads(out)["spec"]
    assert spec["historyLimit"] == 5
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False


def test_unknown_phase_in_status_is_rejected(kube_cluster: TestCluster, namespace: str) -> None:
    kube_cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump(
            {
                "apiVersion": "kontinue.cloud/v1alpha1",
                "kind": "Execution",
                "metadata": {"name": "e"},
                "spec": {"function": "f"},
            }
        ),
    )
    result = kube_cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "execution",
        "e",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Running"}}',
        check=False,
    )
    assert result.returncode != 0
    assert 'status.phase: Unsupported value: "Running"' in result.stderr
    result = kube_cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "execution",
        "e",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"progress": {"current": 6, "max": 5}}}',
        check=False,
    )
    assert "status.progress.current must not exceed status.progress.max" in result.stderr


def test_suspension_phase_and_function_immutability(
    kube_cluster: TestCluster, namespace: str
) -> None:
    kube_cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump_all(
            [
                {
                    "apiVersion": "kontinue.cloud/v1alpha1",
                    "kind": "Execution",
                    "metadata": {"name": "e"},
                    "spec": {"function": "f"},
                },
                {
                    "apiVersion": "kontinue.cloud/v1alpha1",
                    "kind": "Suspension",
                    "metadata": {"name": "s"},
                    "spec": {"resumeAt": "2030-01-01T00:00:00Z"},
                },
            ]
        ),
    )
    result = kube_cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "suspension",
        "s",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Sleeping"}}',
        check=False,
    )
    assert 'status.phase: Unsupported value: "Sleeping"' in result.stderr
    result = kube_cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "execution",
        "e",
        "--type=merge",
        "-p",
        '{"spec": {"function": "g"}}',
        check=False,
    )
    assert "spec.function is immutable" in result.stderr
    result = kube_cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "suspension",
        "s",
        "--type=merge",
        "-p",
        '{"spec": {"resumeAt": "2031-01-01T00:00:00Z"}}',
        check=False,
    )
    assert "spec.resumeAt is immutable" in result.stderr
