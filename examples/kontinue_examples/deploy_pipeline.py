"""deploy-pipeline: build, test in parallel, wait for an approval, then roll out region by region.

Try it: ``kontinue execute deploy-pipeline --interactive --follow``, then approve with
``kontinue resume <name> --data '{"approved": true, "by": "you"}'``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Literal

import kontinue


@dataclass
class DeployArgs:
    """What to deploy, where."""

    service: str
    """The service to deploy."""
    version: str = "1.0.0"
    """The version to roll out."""
    environment: Literal["staging", "production"] = "staging"
    """Where to deploy."""
    replicas: int = 2
    """Replicas per region."""


@dataclass
class Check:
    """One test suite to run against a build."""

    suite: str


def run_suite(suite: str) -> None:
    """Stands in for running a test suite (the side effect a test of the workflow replaces)."""
    time.sleep(0.5)


def roll_out(image: str, region: str) -> None:
    """Stands in for rolling ``image`` out to ``region``."""
    time.sleep(0.3)


@kontinue.function("run-checks", description="Runs one test suite against a build.")
def run_checks(ktx: kontinue.ExecutionContext, check: Check) -> str:
    """A child: runs one test suite."""
    kontinue.store(ktx, functools.partial(run_suite, check.suite))
    return f"{check.suite}: passed"


@kontinue.function(
    "deploy-pipeline",
    display_name="Deploy pipeline",
    description="Builds, tests in parallel, waits for approval, rolls out region by region.",
)
def deploy_pipeline(ktx: kontinue.ExecutionContext, args: DeployArgs) -> dict[str, object]:
    """The whole pipeline; every step survives a worker crash."""
    regions = ["eu-west", "us-east", "ap-south"]
    kontinue.set_progress(ktx, 0, 3 + len(regions))
    image = kontinue.store(ktx, lambda: f"registry.local/{args.service}:{args.version}")
    kontinue.set_progress(ktx, 1, 3 + len(regions))
    results = kontinue.execute_parallel(
        ktx,
        [
            kontinue.ChildExecutionOptions(function="run-checks", arguments=Check(suite=suite))
            for suite in ("unit", "integration", "security")
        ],
    )
    kontinue.set_progress(ktx, 2, 3 + len(regions))
    approval = None
    if args.environment == "production":
        kontinue.set_message(ktx, f"waiting for approval to deploy {image}")
        approval = kontinue.suspend(
            ktx, kontinue.SuspendOptions(name="approval", display_name="Approve production")
        )
    kontinue.set_progress(ktx, 3, 3 + len(regions))
    for done, region in enumerate(regions, start=4):
        kontinue.set_message(ktx, f"rolling out to {region}")
        kontinue.store(ktx, functools.partial(roll_out, image, region))
        kontinue.set_progress(ktx, done, 3 + len(regions))
    kontinue.set_message(ktx, f"{image} is live in {len(regions)} regions")
    return {"image": image, "checks": results, "approval": approval}
