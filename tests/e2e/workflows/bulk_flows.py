"""Workflows of the bulk action tests (loaded by real worker processes)."""

from __future__ import annotations

from typing import Any

import kontinue


@kontinue.function("bulk-approval", description="Waits for an approval, returns its payload.")
def bulk_approval(ktx: kontinue.ExecutionContext, args: Any = None) -> Any:
    """One approval gate (step ``approval``); the result is what the resume handed over."""
    return kontinue.suspend(ktx, kontinue.SuspendOptions(name="approval"))


@kontinue.function("bulk-other", description="Waits for an approval too (another function).")
def bulk_other(ktx: kontinue.ExecutionContext, args: Any = None) -> Any:
    """Two gates, ``first`` then ``second``; the result is both payloads."""
    first = kontinue.suspend(ktx, kontinue.SuspendOptions(name="first"))
    second = kontinue.suspend(ktx, kontinue.SuspendOptions(name="second"))
    return [first, second]
