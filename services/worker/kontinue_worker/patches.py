"""Status writes as JSON patches, so that JSON nulls inside values survive.

The engine describes a status change as a merge patch (a key set to None means "remove it"),
but a merge patch cannot carry a null inside a value: ``{"result": {"a": None}}`` would store
``{}``. :func:`status_operations` turns the change into RFC 6902 operations against the status
the write is conditional on: ``add`` replaces a key with its value verbatim (nulls included),
``remove`` only for keys that exist. ``steps``, ``state`` and ``labels`` are changed key by key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kontinue.api.pointers import json_pointer

PER_KEY = frozenset({"steps", "state", "labels"})
"""Status maps that a write changes entry by entry, not as a whole."""


def status_operations(
    current: Mapping[str, Any] | None, change: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """JSON patch operations that apply the merge-patch-style ``change`` to ``current``."""
    ops: list[dict[str, Any]] = []
    if current is None:
        current = {}
        ops.append({"op": "add", "path": "/status", "value": {}})
    for key, value in change.items():
        if key in PER_KEY and isinstance(value, Mapping):
            existing = current.get(key)
            if not isinstance(existing, Mapping):
                existing = {}
                ops.append({"op": "add", "path": json_pointer("status", key), "value": {}})
            for entry, entry_value in value.items():
                path = json_pointer("status", key, entry)
                if entry_value is not None:
                    ops.append({"op": "add", "path": path, "value": entry_value})
                elif entry in existing:
                    ops.append({"op": "remove", "path": path})
        elif value is not None:
            ops.append({"op": "add", "path": json_pointer("status", key), "value": value})
        elif key in current:
            ops.append({"op": "remove", "path": json_pointer("status", key)})
    return ops


def merged_status(current: Mapping[str, Any] | None, change: Mapping[str, Any]) -> dict[str, Any]:
    """The status that :func:`status_operations` (``current``, ``change``) leaves on the server.

    What a write that asks only for the object's metadata back keeps as its copy of the
    status. The change is taken through JSON first, read back the way the API server reads and
    writes numbers (see :func:`_server_float`, :func:`_server_int`), so tuples become lists,
    keys strings and ``1.0`` becomes ``1``; ``current`` is not modified.
    """
    change = json.loads(json.dumps(change), parse_float=_server_float, parse_int=_server_int)
    status = dict(current or {})
    for key, value in change.items():
        if key in PER_KEY and isinstance(value, dict):
            existing = status.get(key)
            entries = dict(existing) if isinstance(existing, Mapping) else {}
            for entry, entry_value in value.items():
                if entry_value is not None:
                    entries[entry] = entry_value
                else:
                    entries.pop(entry, None)
            status[key] = entries
        elif value is not None:
            status[key] = value
        else:
            status.pop(key, None)
    return status


_INT64 = 2**63


def _server_float(text: str) -> float | int:
    """A JSON number with a fraction or exponent as the API server stores it.

    It reads such a number as a float64 and writes a whole one below 1e21 without a fraction
    (``1.0`` comes back as ``1``), which JSON then reads as an integer.
    """
    value = float(text)
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _server_int(text: str) -> int | float:
    """A JSON integer as the API server stores it: beyond int64 it becomes a float64."""
    value = int(text)
    if -_INT64 <= value < _INT64:
        return value
    return _server_float(str(float(value)))
