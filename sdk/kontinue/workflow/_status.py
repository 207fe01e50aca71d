"""Status updates a workflow makes for people watching it: message and progress."""

from __future__ import annotations

from kontinue.engine.context import ExecutionContext
from kontinue.engine.records import Progress


def set_message(ktx: ExecutionContext, message: str) -> None:
    """Set the execution's message (shown by the CLI and UI; later calls overwrite it)."""
    ktx.journal.set_message(message)


def set_progress(ktx: ExecutionContext, current: int, max: int) -> None:  # noqa: A002
    """Set the progress indicator, e.g. step 2 of 5."""
    if current < 0 or max < 0 or current > max:
        raise ValueError(f"invalid progress {current}/{max}")
    ktx.journal.set_progress(Progress(current, max))


def clear_progress(ktx: ExecutionContext) -> None:
    """Remove the progress indicator."""
    ktx.journal.set_progress(None)
