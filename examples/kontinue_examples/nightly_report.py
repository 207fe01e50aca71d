"""nightly-report: a job for a ScheduledExecution (see examples/schedules/nightly-report.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime

import kontinue


@kontinue.function("nightly-report", description="Collects yesterday's numbers (scheduled).")
def nightly_report(ktx: kontinue.ExecutionContext) -> dict[str, str]:
    """Stores when it ran; a real report would query systems here."""
    ran_at = kontinue.store(ktx, lambda: datetime.now(UTC).isoformat())
    return {"report": "ok", "ranAt": ran_at}
