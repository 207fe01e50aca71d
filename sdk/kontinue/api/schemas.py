"""Reading a Function's argument schema (``spec.argumentsSchema``) as the SDK writes it.

Properties keep their declaration order in ``x-order`` (the API server sorts object keys), and
dataclass fields of dataclass type are ``$ref``s into ``$defs``. The CLI's prompts and the UI's
start form both walk a schema through these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` itself, or the ``$defs`` entry of ``root`` its ``#/$defs/...`` ``$ref`` names."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = (root.get("$defs") or {}).get(ref.rsplit("/", 1)[1], {})
        return resolved
    return node


def properties_in_order(
    schema: Mapping[str, Any], root: Mapping[str, Any] | None = None
) -> list[tuple[str, Mapping[str, Any], bool]]:
    """``(name, property schema, required)`` of an object schema, in declaration order.

    The names ``x-order`` lists come first, then any others; each property's ``$ref`` is
    resolved against ``root`` (default: ``schema``).
    """
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    order = [n for n in schema.get("x-order") or [] if n in properties]
    order += [n for n in properties if n not in order]
    base = schema if root is None else root
    return [(name, resolve(properties[name], base), name in required) for name in order]
