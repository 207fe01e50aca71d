"""Worker versions: which worker may claim an execution, and who still holds unfinished work.

An execution records the version of the worker that first claimed it (``status.workerVersion``,
written by the claim itself, see :func:`kontinue.api.transitions.claim`). From then on it is
*pinned*: only a worker of that version claims it again, so a replay always runs the code that
wrote its history. A worker may opt in to *auto-upgrade* executions of older versions
(``--upgrade-from``): it claims them as well, and its claim records its own version instead.
A child inherits its parent's version (an annotation, until its own first claim records it).
An execution that records no version yet (never claimed, or claimed before versions were
recorded) goes to any worker of its group, except a *draining* one (``--drain``: an old version
kept running only to finish what is pinned to it), which takes no new work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kontinue.api import labels
from kontinue.api.phases import TERMINAL, Phase

STATUS_FIELD = "workerVersion"
"""The ``status`` key of the version an execution is pinned to."""

ANY = "*"
"""In an upgrade list: every other version."""


PIN_ANNOTATION = f"{labels.PREFIX}/worker-version"
"""On a child created by a pinned parent: the parent's version, which the child inherits until
its first claim records it in its own status."""


def recorded(execution: Mapping[str, Any]) -> str | None:
    """The version ``execution`` is pinned to (None: none yet, any worker may claim it).

    Its ``status.workerVersion``, else the version it inherited from its parent.
    """
    value = (execution.get("status") or {}).get(STATUS_FIELD)
    if not value:
        value = ((execution.get("metadata") or {}).get("annotations") or {}).get(PIN_ANNOTATION)
    return str(value) if value else None


def inherited(parent: Mapping[str, Any]) -> dict[str, str]:
    """The annotations that pin a child of ``parent`` to the parent's version (none if unpinned)."""
    version = recorded(parent)
    return {PIN_ANNOTATION: version} if version else {}


def parse_upgrade_from(values: Iterable[str]) -> frozenset[str]:
    """Versions named by ``--upgrade-from`` options: repeatable and comma-separated."""
    return frozenset(part.strip() for value in values for part in value.split(",") if part.strip())


def started(execution: Mapping[str, Any]) -> bool:
    """Whether ``execution`` was claimed before (it is not new work)."""
    return int((execution.get("status") or {}).get("claim") or 0) > 0


@dataclass(frozen=True)
class Claims:
    """Which executions a worker claims, by the version they are pinned to."""

    version: str
    """The worker's own version: what its first claims record."""
    upgrade_from: frozenset[str] = frozenset()
    """Versions whose executions it takes over (auto-upgrade); :data:`ANY` for every other."""
    drain: bool = False
    """Take no new work: only executions pinned to its version (or upgraded), and executions
    some worker started before versions were recorded."""

    def claims(self, pinned: str | None, *, started: bool) -> bool:
        """Whether it claims an execution pinned to ``pinned`` (None: to nothing yet).

        ``started``: whether the execution was claimed before (see :func:`started`).
        """
        if pinned is None:
            return started or not self.drain
        return pinned == self.version or ANY in self.upgrade_from or pinned in self.upgrade_from

    def claims_execution(self, execution: Mapping[str, Any]) -> bool:
        """Whether it claims ``execution``."""
        return self.claims(recorded(execution), started=started(execution))


UNFINISHED_SELECTOR = ",".join(f"status.phase!={phase}" for phase in sorted(TERMINAL))
"""A field selector for the executions that are not finished yet."""

UNPINNED = ""
"""The key under which executions pinned to no version yet are counted."""


def unfinished_by_version(
    executions: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str, str], dict[str, int]]:
    """Unfinished executions per (namespace, worker group, function), counted by version.

    Executions pinned to no version yet count under :data:`UNPINNED` (any worker takes them).
    """
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for execution in executions:
        status = execution.get("status") or {}
        raw = status.get("phase")
        if raw and Phase(raw).terminal:
            continue
        spec = execution.get("spec") or {}
        key = (
            str((execution.get("metadata") or {}).get("namespace") or ""),
            str(spec.get("workerGroup") or "default"),
            str(spec.get("function") or ""),
        )
        per_version = counts.setdefault(key, {})
        version = recorded(execution) or UNPINNED
        per_version[version] = per_version.get(version, 0) + 1
    return counts


def serving(function: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """The workers a Function object lists, by version (the newest registration first)."""
    workers = [
        w for w in (function.get("status") or {}).get("workers") or [] if isinstance(w, Mapping)
    ]
    workers.sort(key=lambda w: str(w.get("lastSeen") or ""), reverse=True)
    by_version: dict[str, list[Mapping[str, Any]]] = {}
    for worker in workers:
        by_version.setdefault(str(worker.get("version") or "?"), []).append(worker)
    return by_version


def describe_counts(counts: Mapping[str, int]) -> str:
    """``v1=20 v2=3 (unpinned)=1``: unfinished executions by version, largest first."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return " ".join(f"{version or '(unpinned)'}={count}" for version, count in ordered)
