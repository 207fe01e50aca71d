from __future__ import annotations

from typing import Any

from kontinue_ui import forms

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "service": {"type": "string", "title": "Service"},
        "replicas": {"type": "integer", "default": 2, "minimum": 1},
        "environment": {"type": "string", "enum": ["staging", "production"], "default": "staging"},
        "ratio": {"type": "number"},
        "dry_run": {"type": "boolean", "default": False},
    },
    "required": ["service"],
    "x-order": ["service", "replicas", "environment", "ratio", "dry_run"],
}


def test_fields_follow_declaration_order_with_kinds_and_defaults() -> None:
    fields = forms.fields_for(SCHEMA)
    assert fields is not None
    assert [(f.name, f.kind, f.required) for f in fields] == [
        ("service", "string", True),
        ("replicas", "integer", False),
        ("environment", "enum", False),
        ("ratio", "number", False),
        ("dry_run", "boolean", False),
    ]
    assert fields[1].initial() == "2"


def test_valid_form_gives_typed_arguments() -> None:
    parsed = forms.parse(
        SCHEMA,
        {"service": "web", "replicas": "3", "environment": "production", "dry_run": "on",
         "retries": "2", "timeout": "10m"},
    )  # fmt: skip
    assert parsed.ok, parsed.errors
    assert parsed.arguments == {
        "service": "web", "replicas": 3, "environment": "production", "dry_run": True,
    }  # fmt: skip
    assert (parsed.retries, parsed.timeout) == (2, "10m")


def test_each_error_names_its_field() -> None:
    parsed = forms.parse(
        SCHEMA, {"service": "", "replicas": "three", "ratio": "x", "environment": "moon",
                 "retries": "-1", "timeout": "soon"},
    )  # fmt: skip
    assert set(parsed.errors) == {
        "service",
        "replicas",
        "ratio",
        "environment",
        "retries",
        "timeout",
    }
    assert parsed.errors["replicas"] == "must be a whole number"
    assert parsed.errors["service"] == "is required"


def test_schema_constraints_are_checked_per_field() -> None:
    parsed = forms.parse(SCHEMA, {"service": "web", "replicas": "0"})
    assert list(parsed.errors) == ["replicas"]
    assert "minimum" in parsed.errors["replicas"] or "less than" in parsed.errors["replicas"]


def test_nested_schemas_use_the_json_editor() -> None:
    nested = {"type": "object", "properties": {"items": {"type": "array"}}}
    assert forms.fields_for(nested) is None
    assert forms.fields_for({"type": "integer"}) is None
    bad = forms.parse(nested, {forms.JSON_FIELD: "{oops"})
    assert bad.errors[forms.JSON_FIELD].startswith("not JSON")
    wrong = forms.parse(nested, {forms.JSON_FIELD: '{"items": 3}'})
    assert wrong.errors[forms.JSON_FIELD].startswith("items:")
    good = forms.parse(nested, {forms.JSON_FIELD: '{"items": [1]}'})
    assert good.ok and good.arguments == {"items": [1]}


def test_a_function_without_arguments() -> None:
    assert forms.fields_for(None) == []
    assert forms.parse(None, {}).ok
