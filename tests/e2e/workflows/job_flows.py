"""Workflows of the job-step end-to-end tests (loaded by real worker processes).

kwok plays the kubelet: a pod labelled ``kontinue.test/outcome=fail`` fails with the exit code
and message of its annotations, ``hold`` keeps it running until the label changes.
"""

from __future__ import annotations

from typing import Any

import kontinue
from kontinue.api import labels


def _script(outcome: str | None, **annotations: str) -> kontinue.ScriptOptions:
    return kontinue.ScriptOptions(
        image="alpine:3",
        command="./deploy.sh",
        extra_labels={labels.TEST_OUTCOME: outcome} if outcome else {},
        extra_annotations=annotations,
    )


def _summary(result: kontinue.PodResult) -> dict[str, Any]:
    return {"ok": result.succeeded(), "phase": result.phase, "message": result.message}


@kontinue.function("two-scripts")
def two_scripts(ktx: kontinue.ExecutionContext) -> list[dict[str, Any]]:
    """One script that succeeds and one whose pod exits 3 with a message."""
    good = kontinue.run_script(ktx, _script(None))
    bad = kontinue.run_script(
        ktx,
        _script("fail", **{labels.TEST_EXIT_CODE: "3", labels.TEST_MESSAGE: "disk full"}),
    )
    return [_summary(good), _summary(bad)]


@kontinue.function("script-until-it-works")
def script_until_it_works(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    """A script whose pod fails in the first attempt; a failure asks for a retry."""
    outcome = "fail" if ktx.attempts == 0 else None
    result = kontinue.run_script(ktx, _script(outcome, **{labels.TEST_MESSAGE: "flaky"}))
    if not result.succeeded():
        raise kontinue.new_retryable_error(None, f"script failed: {result.message}")
    return _summary(result)


@kontinue.function("held-script")
def held_script(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    """A script whose pod runs until the test releases it."""
    return _summary(kontinue.run_script(ktx, _script("hold")))


@kontinue.function("script-with-logs")
def script_with_logs(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """A failing script that printed ``args["printed"]`` (absent: it printed nothing)."""
    annotations = {labels.TEST_EXIT_CODE: "2", labels.TEST_MESSAGE: "migration failed"}
    if "printed" in args:
        annotations[labels.TEST_LOGS] = args["printed"]
    result = kontinue.run_script(ktx, _script("fail", **annotations))
    try:
        return {
            "tail": result.logs(ktx, kontinue.LogOptions(tail_lines=2)),
            "summary": result.log_error_summary(ktx),
        }
    except kontinue.InfrastructureError as exc:
        return {"error": str(exc)}
