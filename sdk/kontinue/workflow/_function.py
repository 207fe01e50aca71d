"""The ``@kontinue.function`` decorator: register a workflow function.

The decorator checks the signature when it decorates (see
:func:`kontinue.engine.registry.define`), so a mistake shows at import time, not at the first
run, and records the function in a registry (by default the one a worker loads its functions
from).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from kontinue.api.options import RetryOptions, TimeoutOptions
from kontinue.engine.registry import FunctionRegistry, default_registry, define

F = TypeVar("F", bound=Callable[..., Any])


@overload
def function(name: F, /) -> F: ...


@overload
def function(
    name: str | None = None,
    /,
    *,
    retry: RetryOptions | None = None,
    timeout: TimeoutOptions | None = None,
    display_name: str | None = None,
    description: str | None = None,
    concurrency: int | None = None,
    registry: FunctionRegistry | None = None,
) -> Callable[[F], F]: ...


def function(
    name: str | Callable[..., Any] | None = None,
    /,
    *,
    retry: RetryOptions | None = None,
    timeout: TimeoutOptions | None = None,
    display_name: str | None = None,
    description: str | None = None,
    concurrency: int | None = None,
    registry: FunctionRegistry | None = None,
) -> Any:
    """Register a workflow function (usable bare, ``@function``, or called).

    Args:
        name: the function's name in Executions (default: the Python name with '-' for '_').
        retry: default retry policy of its executions.
        timeout: default time limits of its executions.
        display_name: human-readable name for the CLI and UI.
        description: description for the CLI and UI (default: the docstring's first paragraph).
        concurrency: most executions running at once across the worker group.
        registry: where to register (default:
            :data:`kontinue.engine.registry.default_registry`).
    """
    if concurrency is not None and concurrency < 1:
        raise ValueError("concurrency must be at least 1")

    def decorate(fn: F) -> F:
        doc = inspect.getdoc(fn)
        definition = define(
            fn,
            name if isinstance(name, str) else None,
            display_name=display_name,
            description=description or (doc.split("\n\n")[0] if doc else None),
            retry=retry,
            timeout=timeout,
            concurrency=concurrency,
        )
        (registry if registry is not None else default_registry).add(definition)
        fn.__kontinue_function__ = definition  # type: ignore[attr-defined]
        return fn

    if callable(name):
        return decorate(name)
    return decorate
