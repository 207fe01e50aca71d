"""The registry of workflow functions: what ``@kontinue.function`` records, what a worker runs.

A workflow function takes the :class:`~kontinue.workflow.ExecutionContext` first and, optionally,
one argument (any JSON-convertible type: a dataclass, a pydantic model, a dict...).
:func:`define` reads that from the signature when the function is decorated, so a mistake shows
at import time, not at the first run.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kontinue.api import conversion
from kontinue.api.options import RetryOptions, TimeoutOptions

ANY_JSON: dict[str, Any] = {"description": "Any JSON value (the argument has no type annotation)."}
"""The argument schema of a function that takes an untyped argument: every value is valid. A
function that takes no argument has no schema at all, so the two are told apart."""


@dataclass(frozen=True)
class FunctionDef:
    """A registered workflow function and its metadata."""

    name: str
    fn: Callable[..., Any]
    display_name: str | None
    description: str | None
    retry: RetryOptions | None
    timeout: TimeoutOptions | None
    concurrency: int | None
    takes_arguments: bool
    argument_type: Any
    result_type: Any
    is_async: bool

    def arguments_schema(self) -> dict[str, Any] | None:
        """JSON schema of the arguments (descriptions, defaults, enums from the annotations).

        None when the function takes no arguments; :data:`ANY_JSON` when it takes one without
        a usable annotation (``def child(ktx, args)``): any JSON value is accepted.
        """
        if not self.takes_arguments:
            return None
        return conversion.json_schema(self.argument_type) or dict(ANY_JSON)

    def defaults(self) -> dict[str, Any]:
        """The registered default policy: ``{"retry": {...}, "timeout": {...}}`` (set fields)."""
        defaults: dict[str, Any] = {}
        if self.retry is not None and self.retry.to_spec():
            defaults["retry"] = self.retry.to_spec()
        if self.timeout is not None and self.timeout.to_spec():
            defaults["timeout"] = self.timeout.to_spec()
        return defaults

    def result_schema(self) -> dict[str, Any] | None:
        """JSON schema of the result, when annotated."""
        return conversion.json_schema(self.result_type)


class FunctionRegistry:
    """Workflow functions by name."""

    def __init__(self) -> None:
        self._functions: dict[str, FunctionDef] = {}

    def add(self, definition: FunctionDef) -> None:
        """Register a function; a second function under the same name is an error."""
        existing = self._functions.get(definition.name)
        if existing is not None and existing.fn is not definition.fn:
            raise ValueError(f"a function named {definition.name!r} is already registered")
        self._functions[definition.name] = definition

    def get(self, name: str) -> FunctionDef | None:
        """The function registered under ``name``."""
        return self._functions.get(name)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._functions)

    def __iter__(self) -> Iterator[FunctionDef]:
        return iter(self._functions.values())

    def __len__(self) -> int:
        return len(self._functions)


default_registry = FunctionRegistry()
"""The registry ``@kontinue.function`` uses unless given ``registry=``."""


def define(fn: Callable[..., Any], name: str | None, **meta: Any) -> FunctionDef:
    """The definition of ``fn`` under ``name`` (default: its Python name with '-' for '_').

    Raises:
        TypeError: ``fn`` does not take ``(ktx)`` or ``(ktx, arguments)``.
    """
    signature = inspect.signature(fn)
    params = [
        p for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]  # fmt: skip
    if not params or len(params) > 2:
        raise TypeError(
            f"workflow function {fn.__qualname__} must take (ktx) or (ktx, arguments), "
            f"not {signature}"
        )
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        hints = {}
    takes_arguments = len(params) == 2
    argument_type = hints.get(params[1].name, Any) if takes_arguments else None
    return FunctionDef(
        name=name or fn.__name__.replace("_", "-"),
        fn=fn,
        takes_arguments=takes_arguments,
        argument_type=argument_type,
        result_type=hints.get("return", Any),
        is_async=inspect.iscoroutinefunction(fn),
        **meta,
    )
