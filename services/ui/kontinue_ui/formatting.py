"""Jinja filters: durations, ages, JSON and phases as the pages show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from kontinue.api import nesting
from kontinue.api.timestamps import parse_time


def duration(seconds: float | None) -> str:
    """``950ms``, ``12s``, ``3m 04s``, ``2h 05m``, ``3d 4h``; empty for None."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def age(moment: datetime | str | None, now: datetime | None = None) -> str:
    """How long ago, as kubectl prints it (``5s``, ``3m 04s``...)."""
    when = parse_time(moment) if isinstance(moment, str) else moment
    if when is None:
        return ""
    return duration(max(0.0, ((now or datetime.now(UTC)) - when).total_seconds()))


def span(start: datetime | str | None, end: datetime | str | None) -> str:
    """The duration between two timestamps (to now when ``end`` is empty)."""
    first = parse_time(start) if isinstance(start, str) else start
    last = parse_time(end) if isinstance(end, str) else end
    if first is None:
        return ""
    return duration(max(0.0, ((last or datetime.now(UTC)) - first).total_seconds()))


def pretty_json(value: Any) -> str:
    """Indented JSON for a ``<pre>`` block (the deepest parts cut from a too-deep value)."""
    try:
        return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)
    except RecursionError:
        cut = nesting.defuse(value, limit=nesting.MAX_VALUE_DEPTH)
        return json.dumps(cut, indent=2, sort_keys=False, ensure_ascii=False)


def timestamp(moment: datetime | str | None) -> str:
    """``2030-01-01 10:00:00 UTC``."""
    when = parse_time(moment) if isinstance(moment, str) else moment
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def percent(progress: tuple[float, float] | None) -> int | None:
    """A progress pair as a whole percentage (None when it has no maximum)."""
    if progress is None or not progress[1]:
        return None
    return max(0, min(100, round(100 * progress[0] / progress[1])))


def register(app: Flask) -> None:
    """Add the filters to the app's Jinja environment."""
    app.jinja_env.filters.update(
        duration=duration,
        age=age,
        span=span,
        pretty_json=pretty_json,
        timestamp=timestamp,
        percent=percent,
    )
