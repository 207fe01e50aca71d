"""How deeply JSON values may nest, and what happens to objects nested deeper.

The API server stores JSON nested up to 10,000 levels inside a custom resource's free-form fields
(``spec.arguments``, stored values, results, a resume payload), but Python's decoder gives up
near 1,000 and most code that walks a value recurses. So:

- kontinue refuses values nested deeper than :data:`MAX_VALUE_DEPTH` where they enter (the
  Client, the CLI, the UI, a workflow's stored values and results), naming the field;
- a reader that meets an object too deep for the standard decoder still decodes it (see
  :mod:`kontinue.client._decode`) and replaces every part nested deeper than
  :data:`MAX_OBJECT_DEPTH` with :data:`TOO_DEEP`; the object then carries the JSON pointers of the
  parts it lost under :data:`POISONED` so whoever uses it can fail it clearly instead of crashing
  (one such object never breaks a list or a watch of its namespace);
- code that hands a value to a workflow checks it with :func:`check_depth`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kontinue.api.pointers import json_pointer

MAX_VALUE_DEPTH = 100
"""Deepest nesting of a value kontinue accepts (arguments, stored values, results, payloads)."""

MAX_OBJECT_DEPTH = 128
"""Depth at which a decoded object's too-deep parts are dropped (values sit a few levels down)."""

TOO_DEEP = "<kontinue: value nested too deeply; dropped>"
"""What replaces a part of a decoded object nested deeper than :data:`MAX_OBJECT_DEPTH`."""

POISONED = "kontinue.cloud/poisoned"
"""Key added to a decoded object whose parts were dropped: the JSON pointers of those parts."""


class TooDeep(ValueError):  # noqa: N818 - a condition, named like the JSON decoder's errors
    """A value nests deeper than allowed."""

    def __init__(self, what: str, depth: int, limit: int) -> None:
        super().__init__(
            f"{what} is nested more than {limit} levels deep (at least {depth}); "
            "flatten it or store it elsewhere"
        )
        self.what = what
        self.depth = depth
        self.limit = limit


def check_depth(value: Any, what: str, limit: int = MAX_VALUE_DEPTH) -> None:
    """Raise :class:`TooDeep` when ``value`` nests deeper than ``limit`` or lost parts.

    A value that contains :data:`TOO_DEEP` lost its deepest parts when it was read. One pass,
    without recursion.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            if item == TOO_DEEP:
                raise TooDeep(what, MAX_OBJECT_DEPTH, limit)
            continue
        depth += 1
        if depth > limit:
            raise TooDeep(what, depth, limit)
        stack.extend((child, depth) for child in children)


def contains_dropped(value: Any) -> bool:
    """Whether a decoded value holds a part that was dropped for its depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item == TOO_DEEP:
            return True
    return False


def poisoned_paths(obj: Mapping[str, Any]) -> list[str]:
    """The JSON pointers of the parts a decoded object lost (empty for a whole object)."""
    return list(obj.get(POISONED) or [])


def defuse(value: Any, limit: int = MAX_OBJECT_DEPTH) -> Any:
    """Replace every part of ``value`` nested deeper than ``limit`` with :data:`TOO_DEEP`.

    Works in place on dicts and lists, without recursion. Each Kubernetes object (a dict with
    ``metadata``) that lost parts records their JSON pointers, relative to itself, under
    :data:`POISONED`.
    """
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [value]
    # (container, key in it, depth of the child, path of the child, nearest object, its path)
    stack: list[tuple[Any, Any, int, list[str], dict[str, Any] | None, int]] = [
        (root, 0, 1, [], None, 0)
    ]
    while stack:
        parent, key, depth, path, owner, owner_len = stack.pop()
        item = parent[key]
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            parent[key] = TOO_DEEP
            target = (
                owner if owner is not None else (root[0] if isinstance(root[0], dict) else None)
            )
            if target is not None:
                target.setdefault(POISONED, []).append(json_pointer(*path[owner_len:]))
            continue
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            owner, owner_len = item, len(path)
        keys = item.keys() if isinstance(item, dict) else range(len(item))
        for child_key in list(keys):
            stack.append((item, child_key, depth + 1, [*path, str(child_key)], owner, owner_len))
    return root[0]
