"""Duration strings as the CRDs accept them: numbers with ``ms``, ``s``, ``m``, ``h``, ``d``.

Invariant: :data:`PATTERN` is the exact pattern of every duration field in ``crds/``, and
:data:`CEL_RULE` the rule that caps them at :data:`MAX_DURATION` there (a test compares them), so
a string this module parses is one the API server accepts, and the other way round. The cap
keeps every deadline computed from a duration (a timestamp plus it, twice over for a TTL) far
inside the years a timestamp can hold: ``9999999d`` is refused with a message naming the field,
never an overflow in the controller or a worker.
"""

from __future__ import annotations

import re
from datetime import timedelta

PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

MAX_DAYS = 36500
"""The longest duration accepted, in days (100 years)."""

MAX_DURATION = timedelta(days=MAX_DAYS)
"""The longest duration accepted."""

CEL_RULE = (
    "self.findAll('[0-9]+(\\\\.[0-9]+)?(ms|s|m|h|d)').map(p, "
    "p.endsWith('ms') ? double(p.substring(0, p.size() - 2)) / 1000.0 : "
    "p.endsWith('s') ? double(p.substring(0, p.size() - 1)) : "
    "p.endsWith('m') ? double(p.substring(0, p.size() - 1)) * 60.0 : "
    "p.endsWith('h') ? double(p.substring(0, p.size() - 1)) * 3600.0 : "
    f"double(p.substring(0, p.size() - 1)) * 86400.0).sum() <= {MAX_DAYS * 86400}.0"
)
"""The CEL rule on every duration field of the CRDs: at most :data:`MAX_DURATION` in all."""

CEL_MESSAGE = f"must be at most {MAX_DAYS}d"
"""The message of :data:`CEL_RULE` (the API server prefixes the field's path)."""


def parse_duration(text: str, *, clamp: bool = False) -> timedelta:
    """Parse ``"1h30m"``, ``"7d"``, ``"250ms"``... into a timedelta.

    With ``clamp``, a well-formed duration longer than :data:`MAX_DURATION` (one stored before
    the cap existed) counts as :data:`MAX_DURATION` instead of raising.

    Raises:
        ValueError: the text is not a duration, or it is longer than :data:`MAX_DURATION`.
    """
    if not isinstance(text, str) or not re.fullmatch(PATTERN, text):
        raise ValueError(
            f"invalid duration {text!r}: use numbers with ms, s, m, h or d, like 30s or 1h30m"
        )
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    if seconds > MAX_DURATION.total_seconds():
        if clamp:
            return MAX_DURATION
        raise ValueError(f"duration {text!r} is too long: {CEL_MESSAGE}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float | str) -> str:
    """Format a timedelta (or seconds) as a duration string the CRDs accept.

    Raises:
        ValueError: the duration is negative, malformed or longer than :data:`MAX_DURATION`.
    """
    if isinstance(value, str):
        parse_duration(value)
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}s")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration of {seconds:.0f}s is too long: {CEL_MESSAGE}")
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
