"""Workflows of the events-and-deadlines end-to-end tests (loaded by real worker processes)."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import kontinue

importlib.import_module("event_child_flows")  # the select's child: served here too


def _wait_for_file(path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.05)


@kontinue.function("approval-with-deadline")
def approval_with_deadline(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """An approval that times out after ``deadline`` seconds; each branch says what it did."""
    answer = kontinue.suspend(
        ktx,
        kontinue.SuspendOptions(
            name="approve", display_name="Approve the deploy", timeout=args["deadline"]
        ),
    )
    if answer.timed_out:
        return {"branch": "timeout"}
    return {"branch": "approved", "by": answer.data}


@kontinue.function("one-event")
def one_event(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> Any:
    """Waits for a go file (if given), then for one event."""
    if args.get("go"):
        _wait_for_file(args["go"])
    return kontinue.wait_for_event(ktx, args.get("event", "go"))


@kontinue.function("two-events")
def two_events(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> list[Any]:
    """Two waits for the same event; the second one with an optional deadline."""
    first = kontinue.wait_for_event(ktx, "item")
    if args.get("deadline"):
        second = kontinue.wait_for_event(ktx, "item", timeout=args["deadline"])
        return [first, "timed out" if second.timed_out else second.data]
    return [first, kontinue.wait_for_event(ktx, "item")]


@kontinue.function("select")
def select(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> dict[str, Any]:
    """The first of a child, a timer and an event; then waits for a go file (if given)."""
    child = kontinue.spawn_execution(
        ktx, "event-child", args["child"], kontinue.ExecuteOptions(name="child")
    )
    first = kontinue.wait_first(ktx, children=[child], timer=args["timer"], events=["stop"])
    if args.get("go"):
        _wait_for_file(args["go"])
    return {"kind": first.kind, "key": first.key, "value": first.value}
