"""Which of two copies of one object is the newer: their ``metadata.resourceVersion``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def resource_version(obj: Mapping[str, Any]) -> int:
    """The object's resourceVersion as a number (0 when it has none or a non-numeric one)."""
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0
