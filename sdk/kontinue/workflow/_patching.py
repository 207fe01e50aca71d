"""Changing a workflow's code safely while executions of the old code still run.

Replay runs the current code against an execution's history, so a change that adds, removes
or reorders steps would stop executions started before it with a ``NondeterminismError``.
:func:`patched` lets old and new executions take their own branch::

    if kontinue.patched(ktx, "send-receipt"):
        kontinue.execute(ktx, "send-receipt", order)   # new executions
    kontinue.execute(ktx, "ship", order)               # both

Once no execution that ran the old code remains, :func:`deprecate_patch` replaces the ``if``
(the new branch kept, unconditionally), and once no execution that recorded the marker remains,
the call goes too.
"""

from __future__ import annotations

from kontinue.engine.context import ExecutionContext


def patched(ktx: ExecutionContext, change_id: str) -> bool:
    """Whether this execution takes the new branch of the change ``change_id``.

    An execution that reaches this point for the first time records a marker step (it rides
    along with the execution's next write: no extra API call) and gets True; a replay of that
    execution finds the marker and gets True again. A replay of an execution that ran past
    this point under the old code (its history goes on without the marker) gets False, so it
    keeps following its recorded steps. ``change_id``: lowercase letters, digits and single
    '-', at most 57 characters; unique per change.

    Raises:
        ValidationError: the change id is not usable.
        NondeterminismError: the history records the marker at another position.
    """
    return ktx.patched(change_id)


def deprecate_patch(ktx: ExecutionContext, change_id: str) -> None:
    """Mark the change ``change_id`` as applied everywhere: the old branch is gone.

    Use it instead of ``if patched(...)`` once no execution that ran the old code remains: a
    history that recorded the marker replays (the marker is accepted at this position), one
    without it too, and nothing is recorded. Remove the call once no execution that recorded
    the marker remains.

    Raises:
        ValidationError: the change id is not usable.
        NondeterminismError: the history records the marker at another position.
    """
    ktx.patched(change_id, deprecated=True)
