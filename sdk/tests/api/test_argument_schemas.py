from __future__ import annotations

from kontinue.api import schemas


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
