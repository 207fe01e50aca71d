"""A release train: build in a child execution, wait for a person's approval, then ship.

``release-smoke-test`` runs a command in a container of the given image (a Job step) and
returns what it printed; a command that fails fails the execution.

The example worker image (``examples/worker-image/Dockerfile``) ships this module; the chart's
end-to-end test runs it through the processes the chart's Deployments describe.
"""

from __future__ import annotations

from dataclasses import dataclass

import kontinue


@dataclass
class Release:
    """What to release."""

    service: str
    """The service to release."""
    version: str = "1.0.0"
    """Its version."""


@kontinue.function("release-build", description="Builds one release (a child of release-train).")
def release_build(ktx: kontinue.ExecutionContext, release: Release) -> str:
    """The child: produces the image reference."""
    return kontinue.store(ktx, lambda: f"registry.local/{release.service}:{release.version}")


@kontinue.function(
    "release-train",
    display_name="Release train",
    description="Builds a release in a child, waits for approval, then ships it.",
)
def release_train(ktx: kontinue.ExecutionContext, release: Release) -> dict[str, object]:
    """Build (child), approval (suspension), ship (a stored step)."""
    image = kontinue.execute(
        ktx, "release-build", release, kontinue.ExecuteOptions(name="build"), result_type=str
    )
    kontinue.set_message(ktx, f"waiting for approval to ship {image}")
    approval = kontinue.suspend(
        ktx, kontinue.SuspendOptions(name="approval", display_name=f"Approve {image}")
    )
    shipped = kontinue.store_named(
        ktx, kontinue.StoreOptions(name="ship"), lambda: f"{image} shipped"
    )
    kontinue.set_message(ktx, shipped)
    return {"image": image, "approval": approval, "shipped": shipped}


@dataclass
class SmokeTest:
    """A command to run in a container."""

    image: str
    """The container image (it must provide ``/bin/sh``)."""
    command: str = "echo smoke test passed"
    """The shell command."""


@kontinue.function(
    "release-smoke-test",
    display_name="Smoke test",
    description="Runs a command in a container (a Job step) and returns what it printed.",
)
def release_smoke_test(ktx: kontinue.ExecutionContext, test: SmokeTest) -> dict[str, object]:
    """One Job step; its pod's output is the result."""
    pod = kontinue.run_script(
        ktx, kontinue.ScriptOptions(name="smoke", image=test.image, command=test.command)
    )
    if not pod.succeeded():
        raise kontinue.new_non_retryable_error(None, pod.log_error_summary(ktx))
    return {"pod": pod.name, "output": pod.logs(ktx).strip()}
