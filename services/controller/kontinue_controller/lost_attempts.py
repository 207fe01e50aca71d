"""The span of a claim whose worker died: ended by the controller when it takes it over.

The worker emits an attempt span when its claim ends; a worker killed mid-attempt never does,
yet the steps it finished before dying were exported under that span's (deterministic) id. The
controller, which notices the death (the Lease expired) and puts the execution back to Pending,
emits that span, with the claim's start (``status.claimedAt``) and an error, so the trace keeps
the lost attempt and its steps. A worker that finds its claim taken over emits none of its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kontinue.api.timestamps import parse_time
from kontinue.telemetry import trace_ids, tracing


def end_lost_attempt(execution: Mapping[str, Any], worker: str) -> None:
    """Emit the span of the claim of ``execution`` (as last read) that ``worker`` lost."""
    if not tracing.enabled():
        return
    meta = execution["metadata"]
    status = execution.get("status") or {}
    claim = int(status.get("claim") or 0)
    if not claim:
        return
    trace = trace_ids.execution_trace(execution)
    started = parse_time(status.get("claimedAt") or status.get("attemptStartedAt"))
    end_ns = time.time_ns()
    start_ns = int(started.timestamp() * 1_000_000_000) if started is not None else end_ns
    function = str((execution.get("spec") or {}).get("function") or "")
    message = f"worker {worker} stopped renewing its lease; taken over"
    tracing.emit_span(
        f"attempt {function}",
        trace_id=trace.trace_id,
        span_id=trace_ids.attempt_span_id(str(meta.get("uid")), claim),
        parent_span_id=trace.span_id,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes={
            "kontinue.function": function,
            "kontinue.execution": meta["name"],
            "kontinue.namespace": meta["namespace"],
            "kontinue.attempt": int(status.get("attempt") or 1),
            "kontinue.claim": claim,
            "kontinue.resumptions": int(status.get("resumptions") or 0),
            "kontinue.worker": worker,
            "kontinue.attempt.outcome": "taken",
        },
        error=message,
    )
