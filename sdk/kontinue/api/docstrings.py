"""Attribute docstrings: the string literal right under a field, as in ``deploy_pipeline``.

    @dataclass
    class DeployArgs:
        service: str
        \"\"\"The service to deploy.\"\"\"

Python keeps no trace of these at run time, so they are read from the class's source (as
pydantic's ``use_attribute_docstrings`` does) and become the ``description`` of the field in the
argument schema, which the CLI's prompts and the UI's form show as help. Dataclasses and
pydantic models alike, nested ones included; a description given explicitly
(``Field(description=...)``) wins.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import pydantic


@functools.lru_cache(maxsize=256)
def attribute_docstrings(cls: type) -> Mapping[str, str]:
    """Field name -> docstring of ``cls`` and its bases (a subclass's own win)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        found.update(_own_docstrings(klass))
    return found


def _own_docstrings(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):  # built in, made at run time, or unreadable
        return {}
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if node is None:
        return {}
    docs: dict[str, str] = {}
    body = node.body
    for statement, following in zip(body, body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = inspect.cleandoc(following.value.value)
    return docs


def _documented_classes(type_: Any, seen: set[type] | None = None) -> Iterator[type]:
    """The dataclasses and pydantic models ``type_`` is made of (itself, fields, containers)."""
    seen = seen if seen is not None else set()
    for arg in typing.get_args(type_):
        yield from _documented_classes(arg, seen)
    if not isinstance(type_, type) or type_ in seen:
        return
    if not (dataclasses.is_dataclass(type_) or issubclass(type_, pydantic.BaseModel)):
        return
    seen.add(type_)
    yield type_
    try:
        hints = typing.get_type_hints(type_)
    except (NameError, TypeError):
        return
    for hint in hints.values():
        yield from _documented_classes(hint, seen)


def add_descriptions(schema: dict[str, Any], type_: Any) -> None:
    """Give each property of ``schema`` without a description its attribute docstring."""
    classes = list(_documented_classes(type_))
    if not classes:
        return
    by_name = {cls.__name__: cls for cls in classes}
    nodes: list[tuple[dict[str, Any], type | None]] = []
    root = type_ if isinstance(type_, type) else None
    nodes.append((schema, root if root in classes else by_name.get(str(schema.get("title")))))
    for key, node in (schema.get("$defs") or {}).items():
        if isinstance(node, dict):
            nodes.append((node, by_name.get(key) or by_name.get(str(node.get("title")))))
    for node, cls in nodes:
        properties = node.get("properties")
        if cls is None or not isinstance(properties, dict):
            continue
        docs = attribute_docstrings(cls)
        for name, prop in properties.items():
            if isinstance(prop, dict) and "description" not in prop and docs.get(name):
                prop["description"] = docs[name]
