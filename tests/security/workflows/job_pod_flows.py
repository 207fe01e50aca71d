"""Workflows that hand what their caller chose to a job step (tests/security/test_job_pods.py).

``job-from-input`` is the unsafe pattern the chart's admission policy exists for: it forwards
its arguments into the Job's pod spec.
"""

from __future__ import annotations

from typing import Any

import kontinue


@kontinue.function("job-from-input")
def job_from_input(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """Run a Job whose pod spec takes ``args["pod"]`` and whose container ``args["container"]``."""
    container = {"name": "step", "image": args.get("image", "alpine:3"), "command": ["true"]}
    container.update(args.get("container") or {})
    pod = {"restartPolicy": "Never", "containers": [container], **(args.get("pod") or {})}
    result = kontinue.run_job(
        ktx, kontinue.JobOptions(spec={"backoffLimit": 0, "template": {"spec": pod}})
    )
    return {"ok": result.succeeded(), "job": result.name}
