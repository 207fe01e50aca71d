"""Digests of JSON values: what was read once, checked when it is read again.

A digest is the SHA-256 of the value's canonical JSON (keys sorted, no spaces), written
``sha256:<hex>``, so two readers of the same value agree whatever order its keys came in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def json_digest(value: Any) -> str:
    """The digest of a JSON value."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
