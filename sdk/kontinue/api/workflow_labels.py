"""Search labels a workflow sets while it runs (``kontinue.set_labels``): rules and matching.

The worker's checkpoints are writes to the Execution's status subresource, and the API server
ignores metadata in those, so the labels a workflow declares live in ``status.labels`` and ride
along with the next checkpoint (no write of their own). They follow Kubernetes label syntax
(:func:`validate`), at most :data:`MAX_LABELS` of them, and may not use the ``kontinue.cloud/``
prefix, which is kontinue's own.

An execution's *search labels* are its metadata labels with the workflow's labels over them
(:func:`effective`): the CLI's ``kontinue list -l`` and the UI's label filter match selectors
against them. A later value of a key replaces an earlier one; None removes a key the workflow
set (never a metadata label).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kontinue import errors
from kontinue.api import labels

STATUS_FIELD = "labels"
"""The status field holding the workflow's labels."""

MAX_LABELS = 32
"""Most labels a workflow may set on its execution."""

RESERVED_PREFIX = f"{labels.PREFIX}/"
"""Keys kontinue sets itself; a workflow's label may not use them."""

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def key_problem(key: Any) -> str | None:
    """Why ``key`` is not a usable label key (None when it is)."""
    if not isinstance(key, str):
        return f"label key {key!r} is not a string"
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _PREFIX.match(prefix)):
        return f"label key {key!r}: its prefix must be a DNS subdomain (at most 253 characters)"
    if not _NAME.match(name):
        return (
            f"label key {key!r}: its name must be 1 to 63 characters, letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit"
        )
    if key.startswith(RESERVED_PREFIX) or prefix.endswith(f".{labels.PREFIX}"):
        return f"label key {key!r}: the {labels.PREFIX}/ prefix is reserved for kontinue"
    return None


def value_problem(key: str, value: Any) -> str | None:
    """Why ``value`` is not a usable value of label ``key`` (None when it is)."""
    if not isinstance(value, str):
        return f"label {key!r}: its value must be a string (or None to remove it), not {value!r}"
    if not _VALUE.match(value):
        return (
            f"label {key!r}: value {value!r} must be at most 63 characters, letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    return None


def validate(change: Mapping[str, str | None]) -> dict[str, str | None]:
    """The change as a plain dict, checked.

    Raises:
        ValidationError: a key or value is not Kubernetes label syntax, or a key is reserved.
    """
    if not isinstance(change, Mapping):
        raise errors.ValidationError(f"set_labels takes a mapping of labels, not {change!r}")
    checked: dict[str, str | None] = {}
    for key, value in change.items():
        problem = key_problem(key)
        if problem is None and value is not None:
            problem = value_problem(key, value)
        if problem is not None:
            raise errors.ValidationError(problem)
        checked[key] = value
    return checked


def merged(current: Mapping[str, str] | None, change: Mapping[str, str | None]) -> dict[str, str]:
    """The workflow's labels after ``change`` (None removes a key).

    Raises:
        ValidationError: more than :data:`MAX_LABELS` labels would be set.
    """
    result = dict(current or {})
    for key, value in change.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    if len(result) > MAX_LABELS:
        raise errors.ValidationError(
            f"an execution holds at most {MAX_LABELS} workflow labels; this would set {len(result)}"
        )
    return result


def diff(current: Mapping[str, str] | None, wanted: Mapping[str, str]) -> dict[str, str | None]:
    """The per-key change that turns ``current`` into ``wanted`` (None: remove); {} if equal."""
    current = current or {}
    change: dict[str, str | None] = {k: v for k, v in wanted.items() if current.get(k) != v}
    change.update({k: None for k in current if k not in wanted})
    return change


def of(execution: Mapping[str, Any]) -> dict[str, str]:
    """The labels the workflow set (``status.labels``)."""
    raw = (execution.get("status") or {}).get(STATUS_FIELD)
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, str)}


def effective(execution: Mapping[str, Any]) -> dict[str, str]:
    """An execution's search labels: its metadata labels, the workflow's labels over them.

    A workflow label never shadows a ``kontinue.cloud/`` one (those are refused when set, and
    ignored here should a status carry one).
    """
    own = (execution.get("metadata") or {}).get("labels") or {}
    workflow = {k: v for k, v in of(execution).items() if not k.startswith(RESERVED_PREFIX)}
    return {**own, **workflow}
