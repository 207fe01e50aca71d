"""Duration strings as the CRDs accept them: numbers with ``ms``, ``s``, ``m``, ``h``, ``d``.

Invariant: :data:`PATTERN` is the exact pattern of every duration field in ``crds/`` (a test
compares them), so a string this module parses is one the API server accepts.
"""

from __future__ import annotations

import re
from datetime import timedelta

PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> timedelta:
    """Parse ``"1h30m"``, ``"7d"``, ``"250ms"``... into a timedelta.

    Raises:
        ValueError: the text is not a duration.
    """
    if not isinstance(text, str) or not re.fullmatch(PATTERN, text):
        raise ValueError(
            f"invalid duration {text!r}: use numbers with ms, s, m, h or d, like 30s or 1h30m"
        )
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float | str) -> str:
    """Format a timedelta (or seconds) as a duration string the CRDs accept."""
    if isinstance(value, str):
        parse_duration(value)
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}s")
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)
