"""Workflows of the UI's browser tests (loaded by real worker processes)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import kontinue


@dataclass
class PaceArgs:
    """How many paced steps to take before and after the approval."""

    before: int = 4
    after: int = 2
    pause: float = 0.8


def _pause(seconds: float) -> int:
    time.sleep(seconds)
    return 0


@kontinue.function("ui-child", description="A child that takes a moment.")
def ui_child(ktx: kontinue.ExecutionContext, label: str) -> str:
    """A short child execution."""
    kontinue.store(ktx, lambda: _pause(0.3))
    return f"child {label} done"


@kontinue.function(
    "paced-approval",
    display_name="Paced approval",
    description="Steps at a visible pace, a child, an approval, then a few more steps.",
)
def paced_approval(ktx: kontinue.ExecutionContext, args: PaceArgs) -> dict[str, object]:
    """Progress that advances slowly enough to watch, around an approval gate."""
    total = args.before + args.after + 1
    kontinue.set_progress(ktx, 0, total)
    for done in range(1, args.before + 1):
        kontinue.set_message(ktx, f"warming up {done}/{args.before}")
        kontinue.store(ktx, lambda: _pause(args.pause))
        kontinue.set_progress(ktx, done, total)
    child = kontinue.execute(ktx, "ui-child", "one")
    kontinue.set_message(ktx, "waiting for approval")
    approval = kontinue.suspend(
        ktx, kontinue.SuspendOptions(name="approval", display_name="Approve the rollout")
    )
    kontinue.set_progress(ktx, args.before + 1, total)
    for done in range(args.before + 2, total + 1):
        kontinue.store(ktx, lambda: _pause(0.2))
        kontinue.set_progress(ktx, done, total)
    kontinue.set_message(ktx, "rolled out")
    return {"child": child, "approval": approval}


@kontinue.function("long-wait", description="Sleeps for an hour.")
def long_wait(ktx: kontinue.ExecutionContext, args: None = None) -> str:
    """Waits long enough to be canceled."""
    kontinue.set_message(ktx, "sleeping for an hour")
    kontinue.sleep(ktx, "1h")
    return "woke up"
