"""Workflows the history tests run on the control plane (and replay from exported histories).

``history-order`` runs enough store steps that its journal is compacted into chunks, a child
and a sleep, so its exported history holds what a replay reads: steps from the chunks and from
the status, stored values, a child's result and a Suspension. ``history-marked`` is
``history-plain`` behind a patch marker.
"""

from __future__ import annotations

import functools
from typing import Any

import kontinue

STORES = 70
"""More than twice the chunk size: part of the history lives in journal chunks."""


@kontinue.function("history-child")
def history_child(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """Doubles a number."""
    return int(args["n"]) * 2


@kontinue.function("history-order")
def history_order(ktx: kontinue.ExecutionContext) -> dict[str, Any]:
    """Many stores, a child, a short sleep."""
    total = sum(kontinue.store(ktx, functools.partial(int, i)) for i in range(STORES))
    doubled = kontinue.execute(
        ktx, "history-child", {"n": 21}, kontinue.ExecuteOptions(name="child")
    )
    kontinue.sleep_named(ktx, kontinue.SleepOptions(name="pause", duration="1s"))
    return {"total": total, "doubled": doubled}


@kontinue.function("history-plain")
def history_plain(ktx: kontinue.ExecutionContext) -> int:
    """Two stores."""
    return int(kontinue.store(ktx, lambda: 1)) + int(kontinue.store(ktx, lambda: 2))


@kontinue.function("history-marked")
def history_marked(ktx: kontinue.ExecutionContext) -> int:
    """The same two stores behind a patch marker."""
    if not kontinue.patched(ktx, "two-stores"):
        return 0
    return int(kontinue.store(ktx, lambda: 1)) + int(kontinue.store(ktx, lambda: 2))
