"""Suspensions in the environment: the manual ones a test resumes, and what the engine reads.

:class:`WaitingSuspension` is public (``kontinue.testing``): a manual suspension (an approval,
with or without a deadline) that waits for the test to resume it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kontinue.api.phases import SuspensionPhase, suspension_phase
from kontinue.api.timestamps import parse_time


@dataclass(frozen=True)
class WaitingSuspension:
    """A manual suspension (an approval) that waits to be resumed."""

    name: str
    """The Suspension's name."""
    step: str
    """The step that suspended (``SuspendOptions(name=...)`` or ``suspend-N``)."""
    execution: str
    display_name: str | None
    description: str | None
    deadline: datetime | None = None
    """When it times out (an approval with a timeout), else None."""


def waiting_suspensions(
    suspensions: Iterable[Mapping[str, Any]], owner: str | None
) -> list[WaitingSuspension]:
    """The manual suspensions among ``suspensions`` that wait (of execution ``owner``, or all)."""
    found = []
    for obj in suspensions:
        spec = obj["spec"]
        if (spec.get("resumeAt") and not spec.get("timeout")) or suspension_phase(
            obj
        ) != SuspensionPhase.SUSPENDED:
            continue
        if owner is not None and spec["execution"] != owner:
            continue
        found.append(
            WaitingSuspension(
                name=obj["metadata"]["name"],
                step=spec["step"],
                execution=spec["execution"],
                display_name=spec.get("displayName"),
                description=spec.get("description"),
                deadline=parse_time(spec.get("resumeAt")),
            )  # fmt: skip
        )
    return found
