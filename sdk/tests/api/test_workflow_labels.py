"""Workflow labels: syntax, limits, merging, and the search labels selectors match."""

from __future__ import annotations

from typing import Any

import pytest

from kontinue import errors
from kontinue.api import selectors, workflow_labels


@pytest.mark.parametrize(
    "key", ["customer", "example.com/customer", "a_b.c-d", "x" * 63, f"{'a' * 253}/b"]
)
def test_label_syntax_keys(key: str) -> None:
    assert workflow_labels.key_problem(key) is None


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("kontinue.cloud/x", "reserved"), ("team.kontinue.cloud/x", "reserved"),
        ("-a", "its name"), ("x" * 64, "its name"), ("", "its name"),
        ("Bad_Prefix/x", "DNS subdomain"), ("/x", "DNS subdomain"), (3, "not a string"),
    ],
)  # fmt: skip
def test_bad_keys(key: Any, problem: str) -> None:
    assert problem in (workflow_labels.key_problem(key) or "")


def test_values() -> None:
    assert workflow_labels.value_problem("k", "") is None
    assert workflow_labels.value_problem("k", "a.b-c_d") is None
    assert workflow_labels.value_problem("k", "a" * 64) is not None
    assert workflow_labels.value_problem("k", "a b") is not None
    assert workflow_labels.value_problem("k", 1) is not None
    with pytest.raises(errors.ValidationError, match="value"):
        workflow_labels.validate({"k": "no spaces"})
    assert workflow_labels.validate({"k": None, "j": "v"}) == {"k": None, "j": "v"}


def test_later_values_replace_earlier_ones_and_none_removes() -> None:
    merged = workflow_labels.merged({"a": "1", "b": "2"}, {"b": "3", "a": None, "c": "4"})
    assert merged == {"b": "3", "c": "4"}
    with pytest.raises(errors.ValidationError, match="at most 32"):
        workflow_labels.merged({f"k{i}": "v" for i in range(32)}, {"one-more": "v"})
    assert workflow_labels.merged({f"k{i}": "v" for i in range(32)}, {"k0": "w"})["k0"] == "w"


def test_the_diff_is_what_a_write_carries() -> None:
    assert workflow_labels.diff({"a": "1"}, {"a": "1"}) == {}
    assert workflow_labels.diff(None, {"a": "1"}) == {"a": "1"}
    assert workflow_labels.diff({"a": "1", "b": "2"}, {"a": "2"}) == {"a": "2", "b": None}


def test_search_labels_are_metadata_and_workflow_labels() -> None:
    execution = {
        "metadata": {"labels": {"team": "pay", "kontinue.cloud/function": "f", "tier": "silver"}},
        "status": {"labels": {"tier": "gold", "customer": "acme", "kontinue.cloud/function": "x"}},
    }
    assert workflow_labels.effective(execution) == {
        "team": "pay", "kontinue.cloud/function": "f", "tier": "gold", "customer": "acme",
    }  # fmt: skip
    assert workflow_labels.effective({"metadata": {}}) == {}


def test_a_selector_splits_into_the_servers_part_and_the_rest() -> None:
    server, local = selectors.split("kontinue.cloud/function=f,customer=acme,!gone")
    assert server == "kontinue.cloud/function=f"
    assert local is not None
    assert local({"customer": "acme"})
    assert not local({"customer": "acme", "gone": "x"})
    assert selectors.split("kontinue.cloud/root in (a,b)") == ("kontinue.cloud/root in (a,b)", None)
    assert selectors.split(None) == (None, None)
    assert selectors.split("  ") == (None, None)
    server, local = selectors.split("tier notin (gold), customer!=x, k")
    assert server is None and local is not None
    assert local({"tier": "silver", "k": ""})
    assert not local({"tier": "gold", "k": ""})
    with pytest.raises(selectors.SelectorError):
        selectors.split("a=b=c")
