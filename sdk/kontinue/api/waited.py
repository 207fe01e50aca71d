"""What a wait with a deadline returns: :class:`WaitResult`, and :class:`First` for a select.

The rule is one for every step that waits: a wait *with* a deadline (``suspend(...,
timeout=...)``, ``wait_for_event(..., timeout=...)``) returns a :class:`WaitResult`, whose
``timed_out`` says which branch to take and whose ``data`` holds the payload; a wait without a
deadline cannot time out and returns the payload itself. ``wait_first`` returns a
:class:`First` naming the winner (a child, the timer or an event) and its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FirstKind = Literal["child", "timer", "event"]
"""What won a :func:`~kontinue.wait_first`: a child execution, the timer, or an event."""


@dataclass(frozen=True)
class WaitResult:
    """The outcome of a wait with a deadline (an approval, an event).

    ``if result.timed_out: ...`` takes the timeout branch; otherwise ``result.data`` is the
    resume or event payload (None when none was given).
    """

    timed_out: bool
    """The deadline passed first; ``data`` is then None."""
    data: Any = None
    """The payload the resume or the event carried (JSON)."""
    event: str | None = None
    """The event's name (an event wait that received one)."""
    id: str | None = None
    """The id the event was sent with (``kontinue signal --id``)."""


@dataclass(frozen=True)
class First:
    """What won a :func:`~kontinue.wait_first`, and its value.

    - ``kind == "child"``: ``key`` is the child execution's name, ``value`` its result;
    - ``kind == "timer"``: ``key`` is ``"timer"``, ``value`` None;
    - ``kind == "event"``: ``key`` is the event's name, ``value`` its payload (``id`` the id
      it was sent with).
    """

    kind: FirstKind
    key: str
    value: Any = None
    id: str | None = None
