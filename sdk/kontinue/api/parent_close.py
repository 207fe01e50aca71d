"""Parent-close policy: what becomes of a spawned child when its parent's attempt ends.

A child carries its policy in ``spec.parentClosePolicy`` (immutable, set by the parent's
worker when it creates the child; absent means ``Abandon``), so whatever acts on it (the
controller after a restart, the test environment) reads it from the child alone:

- ``abandon`` (the default): the child goes on after the parent finishes.
- ``cancel``: when an attempt of the parent ends (the parent Completed, Failed, Canceled, or
  in Backoff after a failed or timed-out attempt), its unfinished children with this policy
  are canceled through ``spec.cancel`` (their own trees with them). The controller does it.
- ``wait``: the parent's attempt does not end until these children finished: the engine,
  once the workflow function returned (or raised), waits for them like a fan-out waits, and
  only then writes the outcome. A child that fails does not change the parent's result.

An explicit cancel of the parent (``kontinue cancel``, ``spec.cancel``) always cancels its whole
tree, whatever the policies (as it always did); so does an overall timeout.

A child counts as a parent's child only if its ``kontinue.cloud/parent`` label, its controlling
ownerReference and its ``spec.parent`` all name that parent (by name and uid): an object planted
in the namespace that only claims to be a child is left alone (:func:`is_child_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from kontinue.api import adoption, labels
from kontinue.api.phases import Phase, execution_phase

ParentClosePolicy = Literal["abandon", "cancel", "wait"]
"""What becomes of a child when its parent's attempt ends (see the module docs)."""

POLICIES: tuple[ParentClosePolicy, ...] = ("abandon", "cancel", "wait")
"""The policies, as the SDK spells them."""

SPEC_FIELD = "parentClosePolicy"
"""The child's spec field that stores its policy (``Abandon``, ``Cancel`` or ``Wait``)."""

DEFAULT: ParentClosePolicy = "abandon"
"""The policy of a child that states none (the behaviour of children created before it)."""

_SPEC = {"abandon": "Abandon", "cancel": "Cancel", "wait": "Wait"}
_FROM_SPEC = {v: k for k, v in _SPEC.items()}

CLOSING = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.CANCELED, Phase.SKIPPED, Phase.BACKOFF})
"""The parent phases in which an attempt has ended (Backoff: a failed or timed-out attempt)."""


def spec_value(policy: str | None) -> str | None:
    """The spec value of an SDK policy (None for the default, which is not stored).

    Not storing the default keeps children created without a policy exactly as they were
    (their spec and its digest unchanged).

    Raises:
        ValueError: not one of :data:`POLICIES`.
    """
    if policy is None or policy == DEFAULT:
        return None
    if policy not in _SPEC:
        raise ValueError(
            f"parent_close_policy must be one of {', '.join(POLICIES)}, not {policy!r}"
        )
    return _SPEC[policy]


def of(child: Mapping[str, Any]) -> ParentClosePolicy:
    """The policy a child Execution states (an unknown value reads as the default)."""
    raw = (child.get("spec") or {}).get(SPEC_FIELD)
    return cast(ParentClosePolicy, _FROM_SPEC.get(str(raw), DEFAULT))


def is_child_of(child: Mapping[str, Any], parent: Mapping[str, Any]) -> bool:
    """Whether ``child`` is really a child of ``parent``: label, owner and spec all agree.

    The parent label names the parent, the controlling ownerReference carries the parent's
    uid, and ``spec.parent`` names it by name and uid; any one missing or naming someone else
    means the object only claims to be a child.
    """
    meta = parent.get("metadata") or {}
    name, uid = meta.get("name"), meta.get("uid")
    if not name or not uid:
        return False
    child_meta = child.get("metadata") or {}
    if child_meta.get("namespace") != meta.get("namespace"):
        return False
    if (child_meta.get("labels") or {}).get(labels.PARENT) != name:
        return False
    stated = (child.get("spec") or {}).get("parent") or {}
    if stated.get("name") != name or stated.get("uid") != uid:
        return False
    return adoption.owned_by(child, str(uid))


def closed(parent: Mapping[str, Any]) -> bool:
    """Whether an attempt of ``parent`` has ended (see :data:`CLOSING`)."""
    return execution_phase(dict(parent)) in CLOSING


def to_cancel(
    parent: Mapping[str, Any], children: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The children of a closed ``parent`` that its close cancels now.

    Those with the ``cancel`` policy, really the parent's (:func:`is_child_of`), unfinished and
    not already asked to cancel; none while the parent's attempt has not ended.
    """
    if not closed(parent):
        return []
    return [
        child
        for child in children
        if of(child) == "cancel"
        and not execution_phase(dict(child)).terminal
        and not (child.get("spec") or {}).get("cancel")
        and is_child_of(child, parent)
    ]


def close_message(parent: Mapping[str, Any]) -> str:
    """Why the children are canceled (the reason their cancellation records)."""
    meta = parent.get("metadata") or {}
    phase = execution_phase(dict(parent))
    ended = "its attempt ended" if phase == Phase.BACKOFF else f"it ended {phase.value}"
    return f"parent {meta.get('name')} closed ({ended}); parent close policy: cancel"
