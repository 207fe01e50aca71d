"""The error of a wait that ran out of time."""

from __future__ import annotations


class WaitTimeout(TimeoutError):
    """The execution did not finish within the timeout."""
