"""Worker versions: which worker may claim an execution, and who still holds unfinished work.

An execution records the version of the worker that first claimed it (``status.workerVersion``,
written by the claim itself, see :func:`kontinue.api.transitions.claim`). From then on it is
*pinned*: only a worker of that version claims it again, so a replay always runs the code that
wrote its history. A worker may opt in to *auto-upgrade* executions of older versions
(``--upgrade-from``): it claims them as well, and its claim records its own version instead.
An execution that records no version yet (never claimed, or claimed before versions were
recorded) goes to any worker of its group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kontinue.api.phases import TERMINAL, Phase

STATUS_FIELD = "workerVersion"
"""The ``status`` key of the version an execution is pinned to."""

ANY = "*"
"""In an upgrade list: every other version."""


def recorded(execution: Mapping[str, Any]) -> str | None:
    """The version ``execution`` is pinned to (None: none yet, any worker may claim it)."""
    value = (execution.get("status") or {}).get(STATUS_FIELD)
    return str(value) if value else None


def parse_upgrade_from(values: Iterable[str]) -> frozenset[str]:
    """Versions named by ``--upgrade-from`` options: repeatable and comma-separated."""
    return frozenset(part.strip() for value in values for part in value.split(",") if part.strip())


def may_claim(pinned: str | None, version: str, upgrade_from: frozenset[str]) -> bool:
    """Whether a worker of ``version`` that upgrades ``upgrade_from`` may claim an execution.

    Pinned to ``pinned`` (None: to nothing yet).
    """
    if pinned is None or pinned == version:
        return True
    return ANY in upgrade_from or pinned in upgrade_from


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
