"""The parent-close policy ``wait``: an attempt ends only once those children finished.

When the workflow function returned (or raised an error), :func:`await_close_waits` waits for
the children it spawned with ``parent_close_policy="wait"`` that are still running, exactly as
a fan-out waits for its children: in the worker for the hold time, then by releasing the
execution (Suspended on those children) until the controller wakes it when they finished.
The replay that follows runs the function again from the top, which reaches the same spawn
calls (so the same set of children) and the same return or error; no step is recorded for
the wait, so it costs no write and changes no step position.

A child's result or failure does not change the parent's outcome: the workflow did not ask
for it (it would have waited with ``wait_execution``); the policy only keeps the parent from
ending before its children did. A child deleted meanwhile is not waited for.
"""

from __future__ import annotations

from kontinue.engine.context import ExecutionContext


def await_close_waits(ktx: ExecutionContext) -> None:
    """Wait until every ``wait``-policy child of this attempt finished.

    Raises:
        Released: they outlast the hold time; the execution is released until they finish.
        Canceled: the execution was canceled meanwhile.
    """
    children = ktx.close_waits
    if not children:
        return

    def unfinished() -> list[str]:
        running = []
        for child in children:
            state = ktx.journal.child(child)
            if state is not None and not state.phase.terminal:
                running.append(child)
        return running

    if not unfinished():
        return
    listed = ", ".join(children) if len(children) <= 3 else f"{len(children)} child executions"
    ktx.await_resolution(
        [("Execution", c) for c in children],
        lambda: True if not unfinished() else None,
        f"{listed} to finish (parent close policy: wait)",
    )
