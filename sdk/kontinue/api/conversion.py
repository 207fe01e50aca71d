"""Conversion between Python values and the JSON stored in Kubernetes objects.

Arguments, stored values and results are JSON. Dataclasses, pydantic models and the usual
containers convert both ways through pydantic; a value that cannot become JSON is a validation
error naming what was being converted.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
from typing import Any

import pydantic
import pydantic_core

from kontinue import errors
from kontinue.api import docstrings, nesting


@functools.lru_cache(maxsize=512)
def _adapter(type_: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(type_)


def _adapter_for(type_: Any) -> pydantic.TypeAdapter[Any]:
    try:
        return _adapter(type_)
    except TypeError:  # unhashable type expression
        return pydantic.TypeAdapter(type_)


_PLAIN = (str, int, float, bool, type(None))


def _plain_json(value: Any) -> bool:
    """True for values that already are JSON data (the common, fast case)."""
    if isinstance(value, _PLAIN):
        return not (
            isinstance(value, float) and (value != value or value in (float("inf"), float("-inf")))
        )
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False


def check_depth(data: Any, what: str) -> None:
    """Refuse JSON nested deeper than :data:`~kontinue.api.nesting.MAX_VALUE_DEPTH` levels.

    Raises:
        ValidationError: naming ``what``.
    """
    try:
        nesting.check_depth(data, what)
    except nesting.TooDeep as exc:
        raise errors.ValidationError(str(exc)) from None


def to_json(value: Any, what: str) -> Any:
    """Convert ``value`` to plain JSON data; ``what`` names it in the error message.

    Raises:
        ValidationError: it cannot become JSON, or nests deeper than kontinue accepts.
    """
    check_depth(value, what)
    if _plain_json(value):
        return value
    try:
        if isinstance(value, pydantic.BaseModel):
            data = value.model_dump(mode="json")
        else:
            data = _adapter_for(type(value)).dump_python(value, mode="json")
        json.dumps(data, allow_nan=False)
    except (
        pydantic_core.PydanticSerializationError,
        pydantic.PydanticSchemaGenerationError,
        TypeError,
        ValueError,
    ) as exc:
        raise errors.ValidationError(
            f"{what} is not JSON-serializable ({type(value).__name__}): {exc}"
        ) from exc
    check_depth(data, what)
    return data


def check_size(data: Any, limit: int, message: str) -> None:
    """Fail with a clear, non-retryable error when ``data`` serializes to over ``limit`` bytes.

    ``message`` may use ``{size}`` and ``{limit}``.
    """
    size = len(json.dumps(data, separators=(",", ":")))
    if size > limit:
        raise errors.ValidationError(message.format(size=size, limit=limit))


def from_json(data: Any, type_: Any, what: str) -> Any:
    """Convert JSON data to ``type_`` (returned unchanged when ``type_`` is None or Any).

    Raises:
        ValidationError: it does not match the type, or nests deeper than kontinue accepts
            (someone else wrote it: a resume payload, a forged status).
    """
    check_depth(data, what)
    if type_ is None or type_ is Any:
        return data
    try:
        return _adapter_for(type_).validate_python(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise errors.ValidationError(
            f"{what} does not match {_type_name(type_)}: {problems}", cause=exc
        ) from exc


def _type_name(type_: Any) -> str:
    return getattr(type_, "__name__", None) or str(type_)


def type_ref(value: Any) -> str | None:
    """``module:QualName`` of a dataclass or pydantic model value, so replay can rebuild it."""
    cls = type(value)
    if dataclasses.is_dataclass(value) or isinstance(value, pydantic.BaseModel):
        if "<locals>" not in cls.__qualname__:
            return f"{cls.__module__}:{cls.__qualname__}"
    return None


def resolve_type_ref(ref: str | None) -> Any:
    """The class a :func:`type_ref` names, or None when it cannot be imported."""
    if not ref or ":" not in ref:
        return None
    module_name, qualname = ref.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


def json_schema(type_: Any) -> dict[str, Any] | None:
    """JSON schema of a type (descriptions, defaults, enums), or None when there is none.

    Field descriptions come from ``Field(description=...)`` or, failing that, from the
    attribute docstrings under the fields (:mod:`kontinue.api.docstrings`).
    """
    if type_ is None or type_ is Any:
        return None
    try:
        schema: dict[str, Any] = pydantic.TypeAdapter(type_).json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError):
        return None
    docstrings.add_descriptions(schema, type_)
    _record_order(schema)
    return schema


ORDER = "x-order"
"""Schema keyword listing an object's properties in declaration order: the API server stores
JSON objects with sorted keys, so prompts and forms would otherwise ask alphabetically."""


def _record_order(node: Any) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            node[ORDER] = list(node["properties"])
        for value in node.values():
            _record_order(value)
    elif isinstance(node, list):
        for value in node:
            _record_order(value)
