"""What a claim records beside the claim itself: the running attempt and the policy in effect.

Both ride on the claim's one status write (see :mod:`kontinue.api.attempts` and
:mod:`kontinue.api.policy`), so a trivial execution still costs create, claim, complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kontinue.api import attempts, policy
from kontinue.workflow import FunctionDef


def attempt_number(execution: Mapping[str, Any]) -> int:
    """The number of the attempt a claim of ``execution`` runs (1 for the first)."""
    return attempts.previous(execution.get("status")) + 1


def claim_additions(
    execution: Mapping[str, Any], definition: FunctionDef | None, worker: str, now: str
) -> dict[str, Any]:
    """Status fields a claim by ``worker`` adds: ``attempts`` and, the first time, ``policy``."""
    fields: dict[str, Any] = {"attempts": attempts.claimed(execution.get("status"), worker, now)}
    defaults = definition.defaults() if definition is not None else None
    fields.update(policy.claim_fields(execution, defaults))
    return fields
