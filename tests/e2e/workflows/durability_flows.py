"""Workflows of the durability and bad-input end-to-end tests (loaded by real workers)."""

from __future__ import annotations

from typing import Any

import kontinue
from kontinue.api import labels


@kontinue.function("napper")
def napper(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> str:
    """Sleeps ``seconds`` (a durable timer), then says so."""
    kontinue.sleep_named(ktx, kontinue.SleepOptions(name="nap", duration=float(args["seconds"])))
    return "rested"


@kontinue.function("gate")
def gate(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> Any:
    """Waits for an approval and returns its payload with the arguments."""
    payload = kontinue.suspend(ktx, kontinue.SuspendOptions(name="approval"))
    return {"payload": payload, "arguments": args}


@kontinue.function("held-pod")
def held_pod(ktx: kontinue.ExecutionContext) -> bool:
    """Runs a pod that kwok keeps running until its label changes."""
    result = kontinue.run_pod(
        ktx,
        kontinue.PodOptions(
            name="pod",
            spec={"containers": [{"name": "main", "image": "busybox:1", "command": ["true"]}]},
            extra_labels={labels.TEST_OUTCOME: "hold"},
        ),
    )
    return result.succeeded()


@kontinue.function("loud-failure")
def loud_failure(ktx: kontinue.ExecutionContext, args: dict[str, Any]) -> None:
    """Fails with a message of ``size`` characters."""
    raise kontinue.new_non_retryable_error(None, "start " + "x" * int(args["size"]) + " end")


@kontinue.function("My_Func")
def my_func(ktx: kontinue.ExecutionContext) -> str:
    """A function whose name is no valid Kubernetes name prefix."""
    return "ok"


@kontinue.function("echo")
def echo(ktx: kontinue.ExecutionContext, args: Any) -> Any:
    """Returns its arguments."""
    return args
