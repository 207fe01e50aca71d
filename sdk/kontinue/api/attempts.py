"""``status.attempts``: every attempt of an execution, the running one included.

An attempt starts at its first claim and ends when it completes, fails, is canceled or times
out. While it runs (claims, releases and takeovers of the same attempt included) it is listed
last with phase ``Executing``, its start and the worker that holds (or last held) it; its end
replaces that entry with the outcome (phase, message, error, finishedAt). Both are part of
writes that happen anyway (the claim, the end), so listing the running attempt costs nothing.

"Previous attempts" (``ExecutionContext.attempts``, the retry count) are the ended ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RUNNING = "Executing"
"""The phase of the attempt under way."""


def listed(status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every attempt entry, oldest first."""
    return [dict(a) for a in (status or {}).get("attempts") or [] if isinstance(a, Mapping)]


def ended(status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The attempts that ended (every entry but a running one)."""
    return [a for a in listed(status) if a.get("phase") != RUNNING]


def running(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The attempt under way, if one is listed."""
    entries = listed(status)
    return entries[-1] if entries and entries[-1].get("phase") == RUNNING else None


def previous(status: Mapping[str, Any] | None) -> int:
    """How many attempts ended before the current (or next) one."""
    return len(ended(status))


def claimed(status: Mapping[str, Any] | None, worker: str, now: str) -> list[dict[str, Any]]:
    """``status.attempts`` after a claim by ``worker``: the running attempt listed (or moved).

    A claim that continues the running attempt (a wake-up, a takeover) keeps its start and
    names the new worker; a claim after an ended attempt starts the next one.
    """
    current = running(status)
    done = ended(status)
    if current is not None:
        return [*done, {**current, "workerName": worker}]
    started = (status or {}).get("attemptStartedAt") if _continues(status) else None
    return [*done, {"phase": RUNNING, "startedAt": started or now, "workerName": worker}]


def _continues(status: Mapping[str, Any] | None) -> bool:
    """Whether the status describes an attempt that started but is not listed (older status)."""
    status = status or {}
    number = status.get("attempt")
    return number is not None and int(number) > len(ended(status))


def finished(status: Mapping[str, Any] | None, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``status.attempts`` with the running attempt ended as ``entry``.

    An attempt under way but not listed (an older status) is appended; with no attempt under
    way (an overall timeout while Pending or in Backoff) the list stays as it is.
    """
    current = running(status)
    executing = (status or {}).get("phase") == RUNNING
    if current is None and not executing and not _continues(status):
        return ended(status)
    base = {"startedAt": current.get("startedAt")} if current else {}
    if current and current.get("workerName"):
        base["workerName"] = current["workerName"]
    merged = {**base, **{k: v for k, v in entry.items() if v is not None}}
    return [*ended(status), merged]


def end(
    status: Mapping[str, Any] | None, phase: str, stamp: str, message: str | None = None
) -> list[dict[str, Any]]:
    """``status.attempts`` with the running attempt ended in ``phase`` at ``stamp``."""
    status = status or {}
    entry: dict[str, Any] = {"phase": phase, "finishedAt": stamp, "message": message or None}
    if running(status) is None:
        if not _continues(status):
            return ended(status)  # no attempt under way (never claimed, or already ended)
        entry["startedAt"] = status.get("attemptStartedAt") or status.get("startedAt") or stamp
        entry["workerName"] = status.get("workerName")
    return finished(status, entry)
