"""How long a failed duty waits before it runs again.

A duty that raises (the API server unreachable, a 5xx, a timeout) runs again after a pause that
doubles with each failure in a row: 0.5 s, 1 s, 2 s ... up to 30 s, until it completes.
"""

from __future__ import annotations

FIRST_PAUSE = 0.5
"""Seconds before the first retry."""
LONGEST_PAUSE = 30.0
"""The pause stops growing here."""
_DOUBLINGS = 6
"""Doublings after which the pause is past the longest anyway (0.5 * 2**6 = 32 s)."""


def retry_pause(failures: int) -> float:
    """Seconds to wait before running a duty again after ``failures`` failures in a row."""
    doublings: int = min(max(failures, 1) - 1, _DOUBLINGS)
    return min(LONGEST_PAUSE, FIRST_PAUSE * 2.0**doublings)
