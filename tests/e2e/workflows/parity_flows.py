"""The scenario the environment-parity test runs in both places (tests/e2e)."""

from __future__ import annotations

from typing import Any

import kontinue


@kontinue.function("parity-quote")
def parity_quote(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """A child: prices an order."""
    return kontinue.store(ktx, lambda: int(args["amount"]) * 3)


@kontinue.function("parity-order")
def parity_order(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """Stores, a child, a sleep, an approval, then one more store."""
    order_id = kontinue.store_named(
        ktx, kontinue.StoreOptions(name="order-id"), lambda: f"order-{args['n']}"
    )
    price = kontinue.execute(
        ktx, "parity-quote", {"amount": args["n"]}, kontinue.ExecuteOptions(name="quote")
    )
    kontinue.sleep(ktx, "2s")
    approval = kontinue.suspend(
        ktx, kontinue.SuspendOptions(name="approval", display_name="Approve the order")
    )
    total = kontinue.store(ktx, lambda: price + 1)
    kontinue.set_progress(ktx, 1, 1)
    return {"order": order_id, "total": total, "approval": approval}


@kontinue.function("parity-events")
def parity_events(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    """An approval with a 3 s deadline nobody gives, then an event (with a deadline)."""
    answer = kontinue.suspend(ktx, kontinue.SuspendOptions(name="approve", timeout="3s"))
    got = kontinue.wait_for_event(ktx, "go", timeout="1h")
    return {
        "approval": "timed out" if answer.timed_out else answer.data,
        "event": "timed out" if got.timed_out else got.data,
    }
