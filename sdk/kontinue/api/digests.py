"""Digests of JSON values: what was read once, checked when it is read again.

A digest is the SHA-256 of the value's canonical JSON (keys sorted, no spaces, a whole
number written as an integer), written ``sha256:<hex>``, so two readers of the same value agree
whatever order its keys came in, and a value agrees with itself read back from the API server
(which stores ``3.0`` as ``3``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_EXACT = 2**53
"""Whole numbers below this are exact as floats; the API server writes them as integers."""


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT:
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def json_digest(value: Any) -> str:
    """The digest of a JSON value."""
    canonical = json.dumps(
        _canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
