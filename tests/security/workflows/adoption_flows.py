"""Workflows whose steps create named objects: a child, a pod, an approval, a long history."""

from __future__ import annotations

import functools
from typing import Any

import kontinue


@kontinue.function("builds-a-child")
def builds_a_child(ktx: kontinue.ExecutionContext) -> Any:
    """Runs one child, named after the step ``build``."""
    return kontinue.execute(ktx, "echo-back", {"ok": True}, kontinue.ExecuteOptions(name="build"))


@kontinue.function("echo-back")
def echo_back(ktx: kontinue.ExecutionContext, args: Any) -> Any:
    """Returns its arguments."""
    return args


@kontinue.function("runs-a-pod")
def runs_a_pod(ktx: kontinue.ExecutionContext) -> bool:
    """Runs one pod, named after the step ``pod``."""
    result = kontinue.run_pod(
        ktx,
        kontinue.PodOptions(
            name="pod",
            spec={"containers": [{"name": "main", "image": "busybox:1", "command": ["true"]}]},
        ),
    )
    return result.succeeded()


@kontinue.function("waits-for-approval")
def waits_for_approval(ktx: kontinue.ExecutionContext) -> Any:
    """Waits for a person, at the step ``approval``."""
    return kontinue.suspend(ktx, kontinue.SuspendOptions(name="approval"))


@kontinue.function("long-history")
def long_history(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> int:
    """``steps`` store steps (enough to be compacted into journal chunks), then an approval."""
    total = 0
    for i in range(int(args["steps"])):
        total += int(kontinue.store(ktx, functools.partial(int, i)))
    kontinue.suspend(ktx, kontinue.SuspendOptions(name="approval"))
    return total
