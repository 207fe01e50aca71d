"""Slim copies of objects for the caches that follow many of them (controller view, worker queue).

A cache of thousands of executions must not hold their arguments, stored values, step logs and
results: :func:`slim` keeps the metadata (without managed fields and kubectl's last-applied
copy), the spec without arguments, and the status without its bulky parts. The attempts list
keeps its length and each entry's phase only: the next attempt's number, and whether the last
one is still running (see :mod:`kontinue.api.attempts`), are derived from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_BULKY_STATUS = frozenset({"state", "steps", "result", "data"})
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def slim(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an object a cache keeps (no arguments, results, step logs or payloads).

    A Signal's payload (``spec.data``) goes as well.
    """
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    if _LAST_APPLIED in (metadata.get("annotations") or {}):
        annotations = dict(metadata["annotations"])
        del annotations[_LAST_APPLIED]
        metadata["annotations"] = annotations
    kept = {**obj, "metadata": metadata}
    spec = obj.get("spec")
    if isinstance(spec, Mapping) and ("arguments" in spec or "data" in spec):
        kept["spec"] = {k: v for k, v in spec.items() if k not in ("arguments", "data")}
    status = obj.get("status")
    if isinstance(status, Mapping):
        small = {k: v for k, v in status.items() if k not in _BULKY_STATUS}
        attempts = status.get("attempts")
        if isinstance(attempts, list):  # the phase says whether the last one still runs
            small["attempts"] = [
                {"phase": a["phase"]} if isinstance(a, Mapping) and a.get("phase") else {}
                for a in attempts
            ]
        kept["status"] = small
    return kept
