"""Workflows the retry and fork tests run (loaded by real worker processes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kontinue


def _note(ktx: kontinue.ExecutionContext, ledger: str, step: str) -> str:
    """Append ``<execution>:<step>`` to the ledger file (the effect the tests count)."""
    with open(ledger, "a") as f:
        f.write(f"{ktx.name}:{step}\n")
    return step


@kontinue.function("approval-flow")
def approval_flow(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """A stored value, a child that waits for its own approval, then a last stored value."""
    ledger = args["ledger"]
    first = kontinue.store_named(
        ktx, kontinue.StoreOptions(name="first"), lambda: _note(ktx, ledger, "first")
    )
    child = kontinue.execute(
        ktx, "approval-child", {"ledger": ledger}, kontinue.ExecuteOptions(name="child")
    )
    last = kontinue.store_named(
        ktx, kontinue.StoreOptions(name="last"), lambda: _note(ktx, ledger, "last")
    )
    return {"first": first, "child": child, "last": last}


@kontinue.function("approval-child")
def approval_child(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> Any:
    """Waits for an approval and returns its payload."""
    return kontinue.suspend(ktx, kontinue.SuspendOptions(name="gate"))


@kontinue.function("blocking")
def blocking(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Runs one store step until the file ``go`` exists (the execution stays Executing)."""

    def wait() -> str:
        while not Path(args["go"]).exists():
            time.sleep(0.05)
        return "went"

    return kontinue.store_named(ktx, kontinue.StoreOptions(name="wait"), wait)


@kontinue.function("needs-fix")
def needs_fix(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Fails (non-retryable) until the file ``fixed`` exists."""

    def check() -> str:
        if not Path(args["fixed"]).exists():
            raise kontinue.new_non_retryable_error(None, "not fixed yet")
        return "fixed"

    return kontinue.store_named(ktx, kontinue.StoreOptions(name="check"), check)
