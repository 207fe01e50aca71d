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


@kontinue.function("bulk-flaky", description="Fails its first attempt, completes any later one.")
def bulk_flaky(ktx: kontinue.ExecutionContext, args: Any = None) -> Any:
    """A store, then a failure on the first attempt only (no automatic retries: Failed)."""
    first = kontinue.store_named(ktx, kontinue.StoreOptions(name="first"), lambda: ktx.attempts)
    if ktx.attempts == 0:
        raise RuntimeError("a bug fixed by the next attempt")
    return {"stored_on_attempt": first, "finished_on_attempt": ktx.attempts}
