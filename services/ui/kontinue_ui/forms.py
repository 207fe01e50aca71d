"""The start form: fields generated from a Function's argument schema, parsed and validated.

An object schema whose properties are strings, numbers, integers, booleans or enums becomes one
input per property (in declaration order, ``x-order``), with defaults; anything else (nested
objects, arrays, a bare scalar) falls back to one JSON editor for the whole argument. Either way
the value is checked against the schema with jsonschema and every error names its field, so a
malformed argument is a message on the form, never a failed request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from kontinue.api import nesting, schemas
from kontinue.api.durations import parse_duration

JSON_FIELD = "arguments"
"""The form field of the JSON editor."""

_SIMPLE = {"string", "integer", "number", "boolean"}


@dataclass
class Field:
    """One input of the generated form."""

    name: str
    label: str
    kind: str  # string | integer | number | boolean | enum
    required: bool
    default: Any = None
    options: list[Any] = field(default_factory=list)
    description: str = ""

    def initial(self) -> str:
        """The text the input starts with."""
        if self.default is None:
            return ""
        if self.kind == "boolean":
            return "on" if self.default else ""
        return str(self.default)


@dataclass
class Parsed:
    """The outcome of reading a submitted form."""

    arguments: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    retries: int | None = None
    backoff: str | None = None
    timeout: str | None = None
    attempt_timeout: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.errors


def fields_for(schema: Mapping[str, Any] | None) -> list[Field] | None:
    """The inputs for ``schema``; None when it needs the JSON editor instead.

    A function without arguments (no schema) has no inputs: an empty list.
    """
    if schema is None:
        return []
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), Mapping):
        return None
    fields = []
    for name, prop, required in schemas.properties_in_order(schema):
        if "enum" in prop and all(isinstance(v, str | int | float) for v in prop["enum"]):
            kind = "enum"
        elif prop.get("type") in _SIMPLE:
            kind = str(prop["type"])
        else:
            return None
        fields.append(
            Field(
                name=name,
                label=str(prop.get("title") or name),
                kind=kind,
                required=required,
                default=prop.get("default"),
                options=list(prop.get("enum") or []),
                description=str(prop.get("description") or ""),
            )
        )
    return fields


def _convert(item: Field, raw: str) -> Any:
    """The typed value of one input; raises ValueError with the message to show."""
    if item.kind == "boolean":
        return raw in ("on", "true", "1")
    if item.kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if item.kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
    if item.kind == "enum":
        for option in item.options:
            if str(option) == raw:
                return option
        raise ValueError(f"must be one of {', '.join(str(o) for o in item.options)}")
    return raw


def _schema_errors(schema: Mapping[str, Any], value: Any, fallback: str) -> dict[str, str]:
    """Schema violations keyed by input name (``fallback`` for the whole value)."""
    errors: dict[str, str] = {}
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        if fallback != JSON_FIELD and error.validator == "required" and not path:
            for missing in error.validator_value:
                if isinstance(error.instance, Mapping) and missing not in error.instance:
                    errors.setdefault(str(missing), "is required")
        elif path and fallback != JSON_FIELD:
            errors.setdefault(str(path[0]), error.message)
        else:
            where = ".".join(str(p) for p in path)
            errors.setdefault(fallback, f"{where}: {error.message}" if where else error.message)
    return errors


def parse(schema: Mapping[str, Any] | None, form: Mapping[str, str]) -> Parsed:
    """Read the arguments and options from a submitted start form."""
    parsed = Parsed()
    fields = fields_for(schema)
    if fields is None:
        text = form.get(JSON_FIELD, "").strip()
        try:
            parsed.arguments = json.loads(text) if text else None
            nesting.check_depth(parsed.arguments, "the arguments")
        except json.JSONDecodeError as exc:
            parsed.errors[JSON_FIELD] = (
                f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            )
        except (RecursionError, nesting.TooDeep):
            parsed.errors[JSON_FIELD] = (
                f"nested too deeply: at most {nesting.MAX_VALUE_DEPTH} levels of arrays and objects"
            )
            parsed.arguments = None
    elif fields:
        arguments: dict[str, Any] = {}
        for item in fields:
            raw = form.get(item.name, "").strip()
            if item.kind == "boolean":
                arguments[item.name] = _convert(item, raw)
                continue
            if not raw:
                if item.required:
                    parsed.errors[item.name] = "is required"
                continue
            try:
                arguments[item.name] = _convert(item, raw)
            except ValueError as exc:
                parsed.errors[item.name] = str(exc)
        parsed.arguments = arguments
    if schema is not None and not parsed.errors:
        value = parsed.arguments if parsed.arguments is not None else {}
        parsed.errors.update(
            _schema_errors(schema, value, JSON_FIELD if fields is None else "form")
        )
    elif schema is None and parsed.arguments not in (None, {}):
        parsed.errors[JSON_FIELD] = "this function takes no arguments"
    retries = form.get("retries", "").strip()
    if retries:
        try:
            parsed.retries = int(retries)
            if parsed.retries < 0:
                raise ValueError
        except ValueError:
            parsed.errors["retries"] = "must be a whole number, 0 or more"
    for key, attribute in (
        ("backoff", "backoff"), ("timeout", "timeout"), ("attempt_timeout", "attempt_timeout"),
    ):  # fmt: skip
        text = form.get(key, "").strip()
        if text:
            try:
                parse_duration(text)
                setattr(parsed, attribute, text)
            except ValueError as exc:
                parsed.errors[key] = str(exc)
    return parsed
