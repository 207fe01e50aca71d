"""Reading coordination Leases: when a holder's claim on a Lease runs out.

Workers' liveness Leases and the controller's leader-election Lease follow the same rule: the
holder must renew within ``leaseDurationSeconds`` of its last renewal (or acquisition).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kontinue.api.timestamps import parse_time

DEFAULT_DURATION_SECONDS = 15
"""Duration assumed for a Lease that does not state one."""


def lease_expiry(lease: Mapping[str, Any]) -> datetime | None:
    """When the Lease runs out unless renewed (None when it was never acquired)."""
    spec = lease.get("spec") or {}
    renewed = parse_time(spec.get("renewTime") or spec.get("acquireTime"))
    if renewed is None:
        return None
    seconds = int(spec.get("leaseDurationSeconds") or DEFAULT_DURATION_SECONDS)
    return renewed + timedelta(seconds=seconds)


def lease_expired(lease: Mapping[str, Any], now: datetime) -> bool:
    """True when the holder has not renewed the Lease within its duration."""
    expiry = lease_expiry(lease)
    return expiry is None or expiry < now
