"""Workflows of the parent-close policy and search-label tests (loaded by real workers)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kontinue
from kontinue import errors


def _wait_for_file(path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.05)


@kontinue.function("close-hold")
def close_hold(ktx: kontinue.ExecutionContext) -> Any:
    """A child that waits for a person (until resumed or canceled)."""
    return kontinue.suspend(ktx, kontinue.SuspendOptions(name="approve"))


@kontinue.function("close-nap")
def close_nap(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """A child that sleeps ``seconds``, then returns or fails (``fail``)."""
    kontinue.sleep(ktx, float(args["seconds"]))
    if args.get("fail"):
        raise errors.new_non_retryable_error(None, "the child gave up")
    return "rested"


@kontinue.function("close-parent")
def close_parent(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Spawns ``child`` (step "child") with ``policy``, then completes, fails or waits."""
    options = kontinue.ExecuteOptions(name="child", parent_close_policy=args.get("policy"))
    kontinue.spawn_execution(ktx, args.get("child", "close-hold"), args.get("arguments"), options)
    outcome = args.get("outcome", "complete")
    if outcome == "fail":
        raise errors.new_non_retryable_error(None, "the parent gave up")
    if outcome == "suspend":
        kontinue.suspend(ktx, kontinue.SuspendOptions(name="hold-parent"))
    return "parent done"


@kontinue.function("close-slow-parent")
def close_slow_parent(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Spawns a ``cancel`` child; its first attempt then hangs past its attempt timeout."""
    options = kontinue.ExecuteOptions(name="child", parent_close_policy=args["policy"])
    kontinue.spawn_execution(ktx, "close-hold", None, options)

    def hang() -> str:
        if not ktx.attempts:
            time.sleep(float(args["hang"]))
        return "answered"

    return kontinue.store(ktx, hang)


@kontinue.function("labels-plain")
def labels_plain(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Two stores: the write count of :func:`labels_set` without its labels."""
    kontinue.store_named(ktx, kontinue.StoreOptions(name="one"), lambda: 1)
    kontinue.store_named(ktx, kontinue.StoreOptions(name="two"), lambda: 2)
    return "ok"


@kontinue.function("labels-set")
def labels_set(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """The same two stores, with labels set before, between and after them."""
    kontinue.set_labels(ktx, {"customer": args["customer"], "stage": "ordered"})
    kontinue.store_named(ktx, kontinue.StoreOptions(name="one"), lambda: 1)
    kontinue.set_labels(ktx, {"stage": "paid", "tier": "gold"})
    kontinue.store_named(ktx, kontinue.StoreOptions(name="two"), lambda: 2)
    kontinue.set_labels(ktx, {"tier": None, "done": "yes"})  # only the finish write follows
    return "ok"


@kontinue.function("labels-crashy")
def labels_crashy(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Labels, a store, then a store that blocks until ``go`` exists (a worker dies there)."""
    kontinue.set_labels(ktx, {"customer": args["customer"]})
    kontinue.store_named(ktx, kontinue.StoreOptions(name="one"), lambda: 1)
    kontinue.store_named(ktx, kontinue.StoreOptions(name="two"), lambda: _wait_for_file(args["go"]))
    kontinue.set_labels(ktx, {"stage": "after-crash"})
    return "ok"
