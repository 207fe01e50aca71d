"""Whether a worker's Lease is stale, judged on the controller's own monotonic clock.

The controller notes when it *saw* a Lease's ``renewTime`` (or holder) change, on its own
monotonic clock, as the node lifecycle controller does: the workers' wall clocks and its own
may disagree, a watch may lag. A Lease is stale once ``leaseDurationSeconds`` passed since that
sighting with no new renewal on a fresh read, and not before the same duration passed since the
controller's own last API trouble (while it could not reach the API server it could not have
seen a renewal, so that time does not count against a worker).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kontinue.api import labels, leases

POD_ANNOTATION = f"{labels.PREFIX}/worker-pod"
"""The annotation of a worker Lease naming its pod (the ``status.workerName`` it claims as)."""

Signature = tuple[str | None, str | None]
"""A Lease's holder and its last renewal (or acquisition) time, as written."""


@dataclass(frozen=True)
class Observed:
    """What the controller last saw of one worker Lease, and when (monotonic seconds)."""

    holder: str | None
    renewed: str | None
    seen_at: float
    duration: float
    pod: str


def pod_of(lease: Mapping[str, Any]) -> str:
    """The worker pod a Lease stands for: its annotation, else its holder."""
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(POD_ANNOTATION) or (lease.get("spec") or {}).get("holderIdentity"))


def signature(lease: Mapping[str, Any]) -> Signature:
    """The Lease's holder and last renewal: a change of either is a sign of life."""
    spec = lease.get("spec") or {}
    return spec.get("holderIdentity"), spec.get("renewTime") or spec.get("acquireTime")


def duration_of(lease: Mapping[str, Any]) -> float:
    """Seconds without a renewal after which the Lease expires."""
    spec = lease.get("spec") or {}
    return float(spec.get("leaseDurationSeconds") or leases.DEFAULT_DURATION_SECONDS)


@dataclass(frozen=True)
class Sighting:
    """What one look at a Lease changes."""

    observed: Observed
    """What is now known of the Lease (the previous observation when nothing changed)."""
    changed: bool
    """The holder or the renewal changed (or the Lease is new to the controller)."""
    new_holder: bool
    """A process other than the one seen before holds it (or it is new to the controller)."""


def observe(previous: Observed | None, lease: Mapping[str, Any], now: float) -> Sighting:
    """Update what is known of a Lease seen at monotonic time ``now``."""
    holder, renewed = signature(lease)
    changed = previous is None or (previous.holder, previous.renewed) != (holder, renewed)
    new_holder = previous is None or previous.holder != holder
    if previous is None or changed:
        observed = Observed(holder, renewed, now, duration_of(lease), pod_of(lease))
    else:
        observed = previous
    return Sighting(observed, changed, new_holder)


def stale_at(observed: Observed, trouble_at: float | None) -> float:
    """The monotonic time from which the Lease counts as stale if it is still unchanged then.

    Its duration after the last renewal seen, and at least its duration after the controller's
    last API trouble (``trouble_at``, monotonic; None when it had none).
    """
    blind_until = float("-inf") if trouble_at is None else trouble_at + observed.duration
    return max(observed.seen_at + observed.duration, blind_until)


class Verdict(enum.Enum):
    """The outcome of checking a Lease on a fresh read."""

    RENEWED = "renewed"
    """It changed since it was last seen: the watch was behind."""
    WAIT = "wait"
    """Unchanged, but not stale yet."""
    STALE = "stale"
    """Unchanged for its duration: what its holder held goes back."""


def verdict(
    observed: Observed, fresh: Mapping[str, Any], now: float, trouble_at: float | None
) -> Verdict:
    """Judge a Lease on a fresh read at monotonic time ``now``."""
    if signature(fresh) != (observed.holder, observed.renewed):
        return Verdict.RENEWED
    return Verdict.WAIT if now < stale_at(observed, trouble_at) else Verdict.STALE


def hands_back(process: str | None, *, only: str | None, keep: str | None) -> bool:
    """Whether an execution claimed by worker ``process`` goes back to Pending.

    ``only``: just those of that process (a deleted Lease's holder; an unknown process too);
    ``keep``: all but those of that process (the new holder; an unknown process is kept).
    """
    if only is not None and process not in (only, None):
        return False
    return not (keep is not None and process in (keep, None))
