"""Decoding API responses so that one object nested too deeply breaks nothing else.

The standard decoder handles everything kontinue writes. An object that someone else nested
deeper than Python's recursion limit (the API server accepts 10,000 levels) makes it raise
``RecursionError``, which would fail a whole list or watch of a namespace, again on every
retry. Such a payload is decoded once more on a thread with a large stack and a raised
recursion limit, and its too-deep parts are replaced (:func:`kontinue.api.nesting.defuse`), so
the object arrives marked as poisoned and its neighbours arrive intact.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from kontinue.api import nesting

_DEEP_LIMIT = 40_000
"""Recursion limit for the fallback decode: the API server's 10,000 levels, with room."""

_DEEP_STACK = 256 * 1024 * 1024
"""Stack of the fallback decoder's thread (reserved address space, not memory)."""

_fallback = threading.Lock()


def loads(data: bytes | str) -> Any:
    """``json.loads`` that survives any nesting the API server accepts (see the module doc)."""
    try:
        return json.loads(data)
    except RecursionError:
        return _loads_deep(data)


def _loads_deep(data: bytes | str) -> Any:
    result: list[Any] = []
    failure: list[BaseException] = []

    def decode() -> None:
        try:
            result.append(nesting.defuse(json.loads(data)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)

    with _fallback:  # the recursion limit is process-wide: one deep decode at a time
        previous_limit = sys.getrecursionlimit()
        previous_stack = threading.stack_size()
        threading.stack_size(_DEEP_STACK)
        try:
            sys.setrecursionlimit(max(previous_limit, _DEEP_LIMIT))
            thread = threading.Thread(target=decode, name="deep-json", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous_stack)
        try:
            thread.join()
        finally:
            sys.setrecursionlimit(previous_limit)
    if failure:
        raise failure[0]
    return result[0]
