"""An execution's steps laid out on a time axis for the step timeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kontinue.api.timestamps import parse_time

_MIN_WIDTH = 0.8  # percent: a step shorter than the timestamps' one-second grain stays visible


@dataclass(frozen=True)
class Step:
    """One row of the timeline."""

    name: str
    type: str
    display_name: str
    description: str
    phase: str
    started: datetime | None
    finished: datetime | None
    child: str | None
    attempt: int | None
    offset: float
    """Where the bar starts, in percent of the execution's span."""
    width: float
    """How long the bar is, in percent of the execution's span."""

    @property
    def seconds(self) -> float | None:
        """The step's duration (to now while it runs)."""
        if self.started is None:
            return None
        return max(0.0, ((self.finished or datetime.now(UTC)) - self.started).total_seconds())


def steps(execution: Mapping[str, Any], now: datetime | None = None) -> list[Step]:
    """The steps of ``execution`` in order, with bar positions relative to its whole span."""
    status = execution.get("status") or {}
    records = sorted((status.get("steps") or {}).items(), key=lambda kv: int(kv[1].get("index", 0)))
    now = now or datetime.now(UTC)
    begin = parse_time(status.get("startedAt")) or parse_time(
        (execution.get("metadata") or {}).get("creationTimestamp")
    )
    times = [parse_time(r.get("startedAt")) for _, r in records]
    starts = [t for t in times if t is not None]
    if begin is None or (starts and min(starts) < begin):
        begin = min(starts) if starts else now
    end = parse_time(status.get("finishedAt")) or now
    total = max(1.0, (end - begin).total_seconds())
    rows = []
    previous_end = begin
    for position, (name, record) in enumerate(records):
        started = parse_time(record.get("startedAt"))
        finished = parse_time(record.get("finishedAt"))
        # A step recorded without times (a child, a suspension) is drawn from where the step
        # before it ended to where the next timed one started (its own times show nothing).
        bar_start = started or previous_end
        later = [t for t in times[position + 1 :] if t is not None]
        bar_end = finished or (later[0] if later else end)
        bar_end = max(bar_end, bar_start)
        previous_end = bar_end
        offset = min(100.0 - _MIN_WIDTH, 100 * (bar_start - begin).total_seconds() / total)
        width = max(_MIN_WIDTH, 100 * (bar_end - bar_start).total_seconds() / total)
        width = min(width, 100.0 - offset)
        rows.append(
            Step(
                name=name,
                type=str(record.get("type", "")),
                display_name=str(record.get("displayName") or name),
                description=str(record.get("description") or ""),
                phase=str(record.get("phase") or "Completed"),
                started=started,
                finished=finished,
                child=record.get("child"),
                attempt=record.get("attempt"),
                offset=round(offset, 2),
                width=round(width, 2),
            )
        )
    return rows
