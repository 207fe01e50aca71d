from __future__ import annotations

from dataclasses import dataclass

import pydantic

from kontinue.api import schemas
from kontinue.api.conversion import json_schema


def test_properties_come_in_declaration_order_with_refs_resolved() -> None:
    schema = {
        "type": "object",
        "properties": {"b": {"$ref": "#/$defs/Inner"}, "a": {"type": "string"}, "z": {}},
        "required": ["b"],
        "x-order": ["b", "a"],
        "$defs": {"Inner": {"type": "object", "title": "Inner"}},
    }
    assert schemas.properties_in_order(schema) == [
        ("b", {"type": "object", "title": "Inner"}, True),
        ("a", {"type": "string"}, False),
        ("z", {}, False),
    ]
    assert schemas.resolve({"$ref": "#/$defs/Missing"}, schema) == {}
    assert schemas.resolve({"type": "integer"}, schema) == {"type": "integer"}


@dataclass
class _Target:
    """Where to."""

    cluster: str
    """The cluster's name."""
    zone: str = "a"


class _Rollout(pydantic.BaseModel):
    target: _Target
    """Where the rollout goes."""
    waves: int = pydantic.Field(3, description="explicit wins")
    """Not this one."""
    note: str = ""
    """A free
    note (cleaned)."""


def test_attribute_docstrings_become_descriptions_for_dataclasses_and_models() -> None:
    schema = json_schema(_Rollout)
    assert schema is not None
    props = schema["properties"]
    assert props["target"]["description"] == "Where the rollout goes."
    assert props["waves"]["description"] == "explicit wins"
    assert props["note"]["description"] == "A free\nnote (cleaned)."
    nested = schema["$defs"]["_Target"]["properties"]
    assert nested["cluster"]["description"] == "The cluster's name."
    assert "description" not in nested["zone"]
    listed = json_schema(list[_Target])
    assert listed is not None
    assert listed["$defs"]["_Target"]["properties"]["cluster"]["description"]


def test_untyped_arguments_are_any_json_and_no_argument_is_no_schema() -> None:
    from kontinue.engine.registry import FunctionRegistry
    from kontinue.workflow import function

    registry = FunctionRegistry()

    @function("untyped", registry=registry)
    def untyped(ktx, args):  # type: ignore[no-untyped-def]  # noqa: ANN001
        return args

    @function("none", registry=registry)
    def none(ktx: object) -> None:
        return None

    untyped_def, none_def = registry.get("untyped"), registry.get("none")
    assert untyped_def is not None and none_def is not None
    schema = untyped_def.arguments_schema()
    assert schema is not None and "type" not in schema  # any JSON value validates
    assert none_def.arguments_schema() is None
