"""The environment's public names keep their import paths, whichever module defines them."""

from __future__ import annotations

import kontinue.testing
import kontinue.testing.environment

ENVIRONMENT_NAMES = [
    "ExecutionHandle",
    "JobOutcome",
    "JobRequest",
    "StuckError",
    "WaitingSuspension",
    "WorkflowEnvironment",
    "WorkflowEnvironmentError",
]


def test_kontinue_testing_and_its_environment_module_export_the_same_objects() -> None:
    for name in ENVIRONMENT_NAMES:
        assert name in kontinue.testing.__all__
        assert getattr(kontinue.testing, name) is getattr(kontinue.testing.environment, name)
    assert "MemoryJournal" in kontinue.testing.__all__


def test_the_environment_module_still_names_its_worker_and_run_limit() -> None:
    assert kontinue.testing.environment.WORKER == "test-worker"
    assert kontinue.testing.environment.MAX_RUNS == 10_000
