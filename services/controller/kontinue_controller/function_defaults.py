"""Each function's retry and timeout defaults, as its Function object states them.

A worker records an execution's policy (its own fields over its function's defaults) with the
first claim. Before that claim the controller needs the defaults too: an execution whose
function defaults to ``timeout.overall: 5m`` and that waits ten minutes for a mutex, a slot or
a worker must time out at five, as one with the limit in its own spec does.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from kontinue.api import policy

FunctionKey = tuple[str, str, str]
"""Namespace, worker group, function name."""


def function_key(execution: Mapping[str, Any]) -> FunctionKey:
    """The function an execution runs, as its Function objects are keyed."""
    meta, spec = execution.get("metadata") or {}, execution.get("spec") or {}
    return (
        str(meta.get("namespace") or ""),
        str(spec.get("workerGroup") or "default"),
        str(spec.get("function") or ""),
    )


def function_object_key(function: Mapping[str, Any]) -> FunctionKey:
    """The function a Function object describes (the key of :func:`function_key`)."""
    meta, spec = function.get("metadata") or {}, function.get("spec") or {}
    return (
        str(meta.get("namespace") or ""),
        str(spec.get("workerGroup") or "default"),
        str(spec.get("name") or ""),
    )


class FunctionDefaults:
    """The defaults of the functions the controller has seen; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._defaults: dict[FunctionKey, dict[str, Any]] = {}

    def on_function(self, event: str | None, obj: Mapping[str, Any]) -> FunctionKey | None:
        """Learn from a Function event; the function's key when its defaults changed."""
        key, spec = function_object_key(obj), obj.get("spec") or {}
        stated = {k: spec[k] for k in ("retry", "timeout") if isinstance(spec.get(k), Mapping)}
        with self._lock:
            before = self._defaults.get(key)
            if event == "DELETED" or not stated:
                self._defaults.pop(key, None)
            else:
                self._defaults[key] = stated
            after = self._defaults.get(key)
        return key if before != after else None

    def of(self, execution: Mapping[str, Any]) -> dict[str, Any] | None:
        """The defaults that apply to ``execution``: None once a claim recorded its policy."""
        if policy.recorded(execution):
            return None
        with self._lock:
            return self._defaults.get(function_key(execution))
